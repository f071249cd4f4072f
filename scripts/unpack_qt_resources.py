"""Unpack the files of Qt resource bundles (``.rcc``, format versions 1-3) into a folder; standard library only.

    python scripts/unpack_qt_resources.py OUT erase.rcc explore_world_animals.rcc --suffix .webp

Used by ``scripts/fetch_photos.sh`` to take the photos out of GCompris's data package. A bundle is a header (magic
``qres``, version, offsets of the tree, data and names), a tree of nodes (name offset, flags, then either a
directory's child count and first child, or a file's locale and data offset) and the file data, each blob stored
plain, with zlib (flag 1: a 4-byte length first) or with zstd (flag 4, refused here: none of GCompris's photos use
it). Files are written under OUT/<bundle name>/<file name>, keeping only the file names (paths inside bundles are
long and unique per bundle); a name seen twice in one bundle is an error rather than a silent overwrite.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path


def read_bundle(data: bytes) -> dict[str, bytes]:
    """{path inside the bundle: file bytes} for one ``.rcc`` bundle's bytes."""
    if data[:4] != b"qres":
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    version, tree, blobs, names = struct.unpack(">IIII", data[4:20])
    if version not in (1, 2, 3):
        raise ValueError(f"Qt resource format version {version} is not supported (1 to 3 are)")
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        return data[names + offset + 6 : names + offset + 6 + 2 * length].decode("utf-16-be")

    out: dict[str, bytes] = {}
    todo = [(0, "")]
    while todo:
        index, prefix = todo.pop()
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = "" if index == 0 else f"{prefix}/{name(name_offset)}"
        if flags & 2:  # a directory: its children are consecutive nodes
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            todo.extend((first + k, path) for k in range(count))
            continue
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (length,) = struct.unpack(">I", data[blobs + offset : blobs + offset + 4])
        blob = data[blobs + offset + 4 : blobs + offset + 4 + length]
        if flags & 4:
            raise ValueError(f"{path}: zstd-compressed, which this reader does not unpack")
        out[path] = zlib.decompress(blob[4:]) if flags & 1 else blob
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write <bundle>/<file> into")
    parser.add_argument("bundles", type=Path, nargs="+", help=".rcc files")
    parser.add_argument("--suffix", action="append", default=[], help="keep only files ending so (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not say how many files were unpacked")
    args = parser.parse_args(argv)
    written = 0
    for bundle in args.bundles:
        files = read_bundle(bundle.read_bytes())
        folder = args.out / bundle.stem
        folder.mkdir(parents=True, exist_ok=True)
        seen: set[str] = set()
        for path, blob in sorted(files.items()):
            base = path.rsplit("/", 1)[-1]
            if args.suffix and not base.lower().endswith(tuple(args.suffix)):
                continue
            if base in seen:
                raise SystemExit(f"{bundle}: two files named {base!r}; unpack without --suffix to see them")
            seen.add(base)
            (folder / base).write_bytes(blob)
            written += 1
    if not args.quiet:
        print(f"{written} files unpacked into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
