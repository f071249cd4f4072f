"""Labelled image sets for zero-shot evaluation: ImageFolders, Tux Paint's photo stamps, and a tiny bundled set.

A labelled set is a list of ``(image, label)`` pairs, where the image is anything :func:`nlexnb.images.to_pil` reads
(a path, a PIL image, an array). :func:`image_folder` reads the usual ``root/<class>/<image>`` layout;
:func:`stamp_photo_set` reads about 290 cut-out photos of Tux Paint's stamps (a Debian package, unpacked by
``scripts/fetch_stamps.sh``) labelled with coarse words that are not ImageNet class names ("bird", "fruit", "coin",
...): the labelled zero-shot set the benchmarks rank mappers on. :func:`coarse_photo_set` builds a tiny one (19
pictures in a few views) from photos that install with nlexnb's own dependencies.
"""

from __future__ import annotations

import difflib
import os
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image, ImageOps

from ._checks import folded, positive_int, spelled_alike, warn_user, yes_or_no
from .images import ImageLike, to_pil

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFiles",
    "image_files",
    "image_folder",
    "as_labelled",
    "coarse_photo_set",
    "COARSE_LABELS",
    "stamp_photo_set",
    "find_stamps",
    "STAMP_LABELS",
    "STAMP_LABEL_CLASSES",
    "COARSE_LABEL_CLASSES",
    "label_classes",
    "labelled_set",
    "labelled_set_labels",
    "LABELLED_SETS",
    "imagenet_folder",
    "with_label",
    "picture_names",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
"""What counts as an image file (by extension, in any case): every folder of images is listed by :func:`image_files`."""


class ImageFiles(NamedTuple):
    """What :func:`image_files` finds in a folder, each list sorted by path."""

    images: list[Path]
    """The image files (by extension)."""
    others: list[Path]
    """The other visible files, left out (callers warn about them)."""


def image_files(folder: str | os.PathLike, *, recursive: bool = True) -> ImageFiles:
    """The image files of a folder, sorted by path, and the other files it holds: the one place that decides which
    files of a folder are images (:data:`IMAGE_EXTENSIONS`) and in which order they come.

    Hidden files (names starting with ".", such as ``.DS_Store`` or macOS's ``._photo.jpg``) are neither, nor the
    files of hidden sub-folders (``.thumbnails/``, ``.ipynb_checkpoints/``). Images are not opened here.

    Args:
        folder: the folder.
        recursive: also list the files of its sub-folders, at any depth.

    Raises:
        FileNotFoundError: ``folder`` is not a directory.
    """
    recursive = yes_or_no(recursive, "recursive")  # "no" is a true string: it listed the sub-folders
    path = Path(folder)
    if not path.is_dir():
        raise FileNotFoundError(f"Image folder not found (or not a directory): {str(path)!r}")
    entries = _walk(path) if recursive else path.iterdir()
    files = sorted(p for p in entries if p.is_file() and not _hidden(p, path))
    images = [p for p in files if p.suffix.lower() in IMAGE_EXTENSIONS]
    return ImageFiles(images, [p for p in files if p.suffix.lower() not in IMAGE_EXTENSIONS])


def _walk(folder: Path) -> list[Path]:
    """Every entry below ``folder``, through linked sub-folders too (``rglob`` skips them before Python 3.13, so a
    class's photos linked in from elsewhere were left out without a word), each real folder once (a link to a parent
    would loop)."""
    seen, found = set(), []
    for here, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]  # hidden folders (.git) are not read at all
        found += [Path(here) / name for name in (*dirs, *names)]
    return found


def _hidden(file: Path, folder: Path) -> bool:
    """Whether ``file`` or a folder it is in below ``folder`` is hidden (``.thumbnails/``, ``.ipynb_checkpoints/``)."""
    return any(part.startswith(".") for part in file.relative_to(folder).parts)


Labelled = list[tuple[ImageLike, str]]


def image_folder(root: str | os.PathLike, labels: Mapping[str, str] | Sequence[str] | None = None) -> Labelled:
    """Read an ImageFolder-style directory (``root/<class folder>/<image files>``) into ``(path, label)`` pairs.

    Files whose extension is not in :data:`IMAGE_EXTENSIONS` and hidden files are skipped (with a warning). Images are
    not opened here; a file that cannot be decoded is skipped, listed and warned about by the evaluations
    (:func:`nlexnb.evaluate.labelled_features`), and fails, naming its path, anywhere else.

    Args:
        root: the directory.
        labels: how folder names become labels. None: the folder name is the label. A mapping: folder name -> label
            (every class folder must be a key). A list: the allowed labels (every folder name must be one of them;
            the label is written as in the list). Folder names and labels are matched in one Unicode form (NFC):
            macOS names "café" with a decomposed accent, which a typed "café" would otherwise not match.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        ValueError: no class folders, a class folder without images, or a folder whose label is unknown (the message
            names the path).
    """
    root_path = Path(root)
    if not root_path.is_dir():
        raise FileNotFoundError(f"Image folder not found (or not a directory): {str(root_path)!r}")
    folders = _class_folders(root_path)
    if not folders:
        raise ValueError(
            f"No class folders in {str(root_path)!r}: expected root/<class>/<image> (e.g. root/cat/001.jpg)"
        )
    mapping = _folder_labels([p.name for p in folders], labels, root_path)
    pairs: Labelled = []
    skipped: list[Path] = []
    for folder in folders:
        images, others = image_files(folder)
        skipped += others
        if not images:
            raise ValueError(f"Class folder {str(folder)!r} holds no images (extensions {', '.join(IMAGE_EXTENSIONS)})")
        pairs += [(p, mapping[folder.name]) for p in images]
    if skipped:
        warn_user(f"Skipped {len(skipped)} file(s) that are not images by extension, e.g. {str(skipped[0])!r}")
    loose = image_files(root_path, recursive=False).images
    if loose:  # root/cat.jpg beside root/cat/: in no class folder, so in no class
        warn_user(
            f"Left out {len(loose)} image(s) directly in {str(root_path)!r}, e.g. {loose[0].name!r}: an image's "
            "class is the folder it is in (root/<class>/<image>); move them into their class's folder"
        )
    return pairs


def _class_folders(root: Path) -> list[Path]:
    """The class folders of an ImageFolder: its visible sub-directories, sorted."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def imagenet_folder(root: str | os.PathLike, class_names: Sequence[str] | None = None) -> Labelled:
    """ImageNet-1k images in the usual layout (``root/n01440764/<image>``, e.g. the validation set sorted into
    synset folders), labelled with class names, ready for :func:`nlexnb.evaluate.head_replacement` or a zero-shot
    head over the 1,000 names.

    Args:
        root: the folder of synset (WordNet id) folders; a subset of the 1,000 is fine.
        class_names: the names to label with, in ImageNet class order; default the unique names nlexnb gives
            ImageNet classifiers (``classifier.class_names`` of the embedded default).

    Raises:
        ValueError: a folder that is not an ImageNet-1k synset id (named), or ``class_names`` not of length 1000.
    """
    from timm.data import ImageNetInfo

    from .labels import imagenet_class_names

    wnids = ImageNetInfo().label_names()
    names = list(class_names) if class_names is not None else imagenet_class_names()
    if len(names) != len(wnids):
        raise ValueError(f"class_names must name the {len(wnids)} ImageNet-1k classes in order, got {len(names)}")
    return image_folder(root, labels=dict(zip(wnids, names)))


def _folder_labels(names: list[str], labels, root: Path) -> dict[str, str]:
    if labels is None:
        _check_label_values({n: n for n in names}, f"The class folders of {str(root)!r} give", case=False)
        return {n: n for n in names}
    if isinstance(labels, Mapping):
        keys = {_nfc(k): k for k in labels}
        unknown = [n for n in names if _nfc(n) not in keys]
        if unknown:
            named = {_nfc(n) for n in names}
            spare = [str(k) for k in labels if _nfc(k) not in named]  # keys no folder has: a misspelt one is among them
            close = difflib.get_close_matches(unknown[0], spare, n=3)
            hint = f"; keys close to its name: {close}" if close else ""
            raise ValueError(
                f"Folder {str(root / unknown[0])!r} has no entry in labels= (folders without one: {unknown[:5]}; "
                f"the mapping's keys are {list(labels)[:10]}{hint})"
            )
        chosen = {n: labels[n] if n in labels else labels[keys[_nfc(n)]] for n in names}
        _check_label_values(chosen)
        return chosen
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a mapping folder -> label or a list of labels, got {type(labels).__name__}")
    written = {_nfc(label): label for label in labels}
    for n in names:
        _among(n, labels, set(written), f"Folder {str(root / n)!r} is not one of the labels")
    return {n: written[_nfc(n)] for n in names}


def _nfc(text):
    """``text`` in Unicode's composed form (NFC), in which folder names and labels are compared: a macOS folder name
    spells "café" with a decomposed accent ("cafe\u0301"). Anything but a string as it is."""
    return unicodedata.normalize("NFC", text) if isinstance(text, str) else text


def _among(label: str, labels: Sequence[str], allowed: set, refusal: str) -> None:
    """A ValueError, ``refusal`` then the labels and close matches, unless ``label`` is in ``allowed`` (the labels in
    NFC, :func:`_nfc`)."""
    if _nfc(label) not in allowed:
        close = difflib.get_close_matches(label, [str(x) for x in labels], n=3)
        hint = f"; close: {close}" if close else ""
        raise ValueError(f"{refusal} {list(labels)[:10]}{hint}")


def _check_label_values(chosen: Mapping[str, Any], source: str = "labels= gives", case: bool = True) -> None:
    """The labels of folders or pairs (``chosen``: where -> label): non-empty strings, no two that differ only by
    case, spaces, Unicode form or an invisible character ("cat" and "Cat ", or "café" typed and "café" from a
    macOS file name, would split one class in two). ``source`` says where they came from, for the message;
    ``case=False`` lets labels differ by case alone (ImageNet's "Cardigan" and "cardigan" are two classes)."""
    seen: dict[str, str] = {}
    for where, label in chosen.items():
        if not isinstance(label, str) or not folded(label).strip():
            raise ValueError(f"labels[{where!r}] is {label!r}: the label for a folder must be a non-empty string")
        key = spelled_alike(label, case)
        if key in seen and seen[key] != label:
            show = ascii if folded(seen[key], False) == folded(label, False) else repr  # alike on screen: escaped
            raise ValueError(
                f"{source} the labels {show(seen[key])} and {show(label)}, which differ only by "
                f"{'case, ' if case else ''}spaces, Unicode form or an invisible character: they would count as two "
                "classes; write them alike"
            )
        seen[key] = label


def as_labelled(data, labels: Mapping[str, str] | Sequence[str] | None = None) -> Labelled:
    """Normalise ``data`` (an ImageFolder directory or a list of ``(image, label)`` pairs) to a list of pairs.

    Raises:
        ValueError: empty data, an item that is not a pair, or a label that is not a non-empty string.
    """
    if isinstance(data, (str, os.PathLike)):
        return image_folder(data, labels)
    if not isinstance(data, Sequence) or isinstance(data, (bytes, Mapping)):
        raise TypeError(
            f"data must be an ImageFolder directory or a list of (image, label) pairs, got {type(data).__name__}"
        )
    if not data:
        raise ValueError("data is empty: give an ImageFolder directory or a non-empty list of (image, label) pairs")
    pairs: Labelled = []
    for i, item in enumerate(data):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError(f"data[{i}] must be an (image, label) pair, got {type(item).__name__}")
        image, label = item
        if not isinstance(label, str) or not folded(label).strip():
            raise ValueError(f"data[{i}] has label {label!r}: labels must be non-empty strings")
        pairs.append((image, label))
    _check_label_values({f"data[{i}]": label for i, (_, label) in enumerate(pairs)}, "data holds", case=False)
    if labels is not None:  # it was ignored: accuracy over every pair, whatever labels= said
        _check_pair_labels(pairs, labels)
    return pairs


def _check_pair_labels(pairs: Labelled, labels) -> None:
    """``labels=`` with (image, label) pairs: the labels they may hold (a list), each pair's checked against it. A
    mapping renames the folders of a directory; pairs carry their own labels, so it is refused."""
    if isinstance(labels, Mapping):
        raise TypeError(
            "labels= as a mapping renames the folders of an ImageFolder directory; (image, label) pairs carry their "
            "own labels: rename them in the pairs, or pass the list of labels they may hold"
        )
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a list of the labels the pairs may hold, got {type(labels).__name__}")
    allowed = {_nfc(x) for x in labels}
    for i, (_, label) in enumerate(pairs):
        _among(label, labels, allowed, f"data[{i}] has label {label!r}, which is not one of labels=")


# ---- the coarse photo set ------------------------------------------------------------------------------------------
COARSE_LABELS: dict[str, str] = {
    "chelsea": "cat",
    "coffee": "drink",
    "astronaut": "person",
    "grace_hopper": "person",
    "camera": "person",
    "rocket": "rocket",
    "motorcycle": "vehicle",
    "china": "building",
    "flower": "flower",
    "coins": "money",
    "moon": "moon",
    "horse": "horse",
    "page": "text",
    "text": "text",
    "clock": "clock",
    "brick": "wall",
    "grass": "grass",
    "hubble_deep_field": "galaxy",
    "gift": "gift",
}
"""Source photo -> coarse label. None of the labels is an ImageNet class name or synonym."""


def _coarse_sources() -> dict[str, Image.Image]:
    import matplotlib
    from skimage import data

    from .images import sample_images

    photos = dict(sample_images())
    for name in ("camera", "coins", "moon", "horse", "page", "text", "clock", "brick", "grass", "hubble_deep_field"):
        try:
            photos[name] = to_pil(getattr(data, name)())
        except Exception:  # a scikit-image build without this picture (or needing a download)
            pass
    gift = Path(matplotlib.get_data_path()) / "sample_data" / "Minduka_Present_Blue_Pack.png"
    if gift.is_file():
        photos["gift"] = to_pil(gift)
    return {k: v for k, v in photos.items() if k in COARSE_LABELS}


def _views(img: Image.Image, n: int) -> list[Image.Image]:
    w, h = img.size
    views = [img, ImageOps.mirror(img)]
    for frac, (ax, ay) in ((0.75, (0.5, 0.5)), (0.8, (0.0, 0.0)), (0.8, (1.0, 1.0)), (0.6, (0.5, 0.5))):
        cw, ch = int(w * frac), int(h * frac)
        x0, y0 = int((w - cw) * ax), int((h - ch) * ay)
        views.append(img.crop((x0, y0, x0 + cw, y0 + ch)))
    return views[:n]


def coarse_photo_set(views: int = 4) -> Labelled:
    """A small labelled zero-shot set from offline photos, with coarse labels that are not ImageNet class names.

    About 19 pictures (the :func:`~nlexnb.sample_images` photos, greyscale scikit-image pictures such as a man with a
    camera, coins, the moon, a horse silhouette, a clock and a page of text, and matplotlib's gift-box drawing), each
    in ``views`` versions: the original, a mirror image, and crops (centre 75 %, top-left 80 %, bottom-right 80 %,
    centre 60 %). Labels: see :data:`COARSE_LABELS` ("cat", "drink", "person", "vehicle", "building", ...).

    Args:
        views: versions per picture, 1 to 6.

    Returns:
        ``(PIL image, label)`` pairs, grouped by picture.
    """
    views = positive_int(views, "views", "versions per picture (1 to 6)")  # True was read as 1, 2.5 failed in slicing
    if views > 6:
        raise ValueError(f"views must be between 1 and 6, got {views}")
    return [(v, COARSE_LABELS[name]) for name, img in _coarse_sources().items() for v in _views(img, views)]


# ---- Tux Paint's photo stamps ----------------------------------------------------------------------------------------
STAMP_LABELS: dict[str, str] = {
    "animals/birds": "bird",
    "animals/fish": "fish",
    "animals/insects": "insect",
    "animals/mammals": "mammal",
    "food/fruit": "fruit",
    "food/vegetables": "vegetable",
    "plants/flowers": "flower",
    "plants/trees": "tree",
    "symbols/money": "coin",
    "hobbies/music": "musical instrument",
    "household/tools": "tool",
    "vehicles": "vehicle",
    "military/vehicles": "vehicle",
    "space/planets": "planet",
    "clothes/hats": "hat",
    "symbols/chess": "chess piece",
    "town/roadsigns": "road sign",
    "town/flags": "flag",
}
"""Stamp folder (and everything under it) -> coarse label. None of the labels is an ImageNet class name or synonym."""

_STAMPS_LEFT_OUT: tuple[str, ...] = (
    # pictures whose folder label would be wrong
    "animals/fish/lobster",
    "animals/fish/shrimp",
    "animals/insects/Brown_slug",
    "animals/insects/Woodlouse",
    "animals/mammals/bears/toys/",
    "military/vehicles/ww2_german_gun",
    "plants/trees/holly_leaves",
    "plants/trees/pinecone",
    "plants/trees/rambutan",
    "space/planets/0_sun",
    "vehicles/7spoke256",
    # drawn currency symbols, not coins
    "symbols/money/00_symbols/",
)

STAMPS_ENV = "NLEXNB_STAMPS"
SYSTEM_STAMPS = Path("/usr/share/tuxpaint/stamps")


def find_stamps(root: str | os.PathLike | None = None) -> Path:
    """The folder of Tux Paint's stamps: ``root``, else ``$NLEXNB_STAMPS``, else the system-wide install, else the
    copy ``scripts/fetch_stamps.sh`` unpacks into nlexnb's data folder (``~/.local/share/nlexnb``, see
    ``nlexnb._store.data_dir``).

    Raises:
        FileNotFoundError: none of them holds the stamps (the message says how to get them).
    """
    from ._store import data_dir, folder_from_env

    if root is not None:
        candidates = [Path(root)]
    elif os.environ.get(STAMPS_ENV):
        candidates = [folder_from_env(STAMPS_ENV)]  # "~/stamps" expanded, as for the cache
    else:
        candidates = [SYSTEM_STAMPS, data_dir() / "tuxpaint-stamps"]
    for folder in candidates:
        if (folder / "animals").is_dir():
            return folder
    raise FileNotFoundError(
        f"Tux Paint's stamps were not found in {', '.join(repr(str(c)) for c in candidates)} (expected a folder "
        "holding animals/, food/, vehicles/ ...). On Debian or Ubuntu run `bash scripts/fetch_stamps.sh` (no root "
        "needed) or `apt-get install tuxpaint-stamps-default`; elsewhere download tuxpaint-stamps from "
        f"https://tuxpaint.org/download/ and pass root= or set ${STAMPS_ENV} to its stamps folder."
    )


GCOMPRIS_ENV = "NLEXNB_GCOMPRIS"


def find_gcompris_photos(root: str | os.PathLike | None = None) -> Path:
    """The folder of GCompris's photos (whole, uncut photos of animals, tools, buildings; the plausibility
    benchmark's photos beside the stamp cut-outs): ``root``, else ``$NLEXNB_GCOMPRIS``, else the copy
    ``scripts/fetch_photos.sh`` unpacks into nlexnb's data folder (``~/.local/share/nlexnb``).

    Raises:
        FileNotFoundError: the photos are not there (the message says how to get them).
    """
    from ._store import data_dir, folder_from_env

    if root is not None:
        folder = Path(root)
    elif os.environ.get(GCOMPRIS_ENV):
        folder = folder_from_env(GCOMPRIS_ENV)
    else:
        folder = data_dir() / "gcompris-photos"
    if (folder / "explore_world_animals").is_dir():
        return folder
    raise FileNotFoundError(
        f"GCompris's photos were not found in {str(folder)!r} (expected a folder holding explore_world_animals/, "
        "erase/, ...). On Debian or Ubuntu run `bash scripts/fetch_photos.sh` (no root needed); elsewhere unpack the "
        f"WebP files of gcompris-qt-data's Qt resources with scripts/unpack_qt_resources.py and set ${GCOMPRIS_ENV} "
        "to that folder."
    )


def stamp_photo_set(root: str | os.PathLike | None = None, min_size: int = 48) -> Labelled:
    """A labelled zero-shot set of real photos: Tux Paint's photo stamps, labelled by their folder.

    About 290 cut-out photos (transparent background, composited on white when read) of birds, mammals, fish,
    insects, fruit, vegetables, flowers, trees, coins, musical instruments, tools, vehicles, planets, hats, chess
    pieces, road signs and flags; labels in :data:`STAMP_LABELS`, none an ImageNet class name. Cartoon stamps,
    mirrored duplicates, pictures smaller than ``min_size`` pixels and the few pictures whose folder would label
    them wrongly (a lobster among the fish, a slug among the insects, a teddy bear among the mammals, ...) are left
    out.

    Args:
        root: the stamps folder; None: see :func:`find_stamps`.
        min_size: the smallest width or height kept, in pixels.

    Returns:
        ``(path, label)`` pairs, sorted by path.
    """
    min_size = positive_int(min_size, "min_size", "pixels")  # NaN, -5 and True kept every picture
    folder = find_stamps(root)
    pairs: Labelled = []
    for path in sorted(folder.rglob("*.png")):
        rel = path.relative_to(folder).as_posix()
        label = next((v for k, v in STAMP_LABELS.items() if rel.startswith(k + "/")), None)
        if label is None or "/cartoon/" in rel or path.stem.endswith("_mirror"):
            continue
        if any(rel.startswith(prefix) for prefix in _STAMPS_LEFT_OUT):
            continue
        with Image.open(path) as img:
            if min(img.size) < min_size:
                continue
        pairs.append((path, label))
    if not pairs:
        raise ValueError(f"No photo stamps under {str(folder)!r}: expected PNG files in folders such as animals/birds")
    return pairs


_MUSICAL_INSTRUMENTS = (401, 402, 420, 432, 486, 494, 513, 541, 546, 558, 566, 577, 579, 593, 594, 641, 642, 683, 684)
_MUSICAL_INSTRUMENTS += (687, 699, 776, 822, 875, 881, 889)

STAMP_LABEL_CLASSES: dict[str, tuple[int, ...]] = {
    "bird": (*range(7, 25), *range(80, 101), *range(127, 147)),
    "fish": (*range(0, 7), *range(389, 398)),
    "insect": tuple(range(300, 327)),
    "mammal": (*range(101, 107), *range(147, 300), *range(330, 389)),
    "fruit": tuple(range(948, 958)),
    "vegetable": tuple(range(936, 948)),
    "flower": (985, 986),
    "musical instrument": _MUSICAL_INSTRUMENTS,
    "road sign": (919, 920),
    "coin": (),
    "planet": (),
    "chess piece": (),
}
"""Stamp label -> the ImageNet-1k class indices that are a right prediction for a photo with that label.

Where ImageNet-1k's class order keeps a whole WordNet subtree together the ranges are that subtree: birds (7-24, 80-100,
127-146), fish (0-6, tench and goldfish then sharks and rays; 389-397, barracouta to puffer), insects (300-326, beetles
to butterflies; spiders, ticks and crabs are not insects), mammals (101-106, 147-299, 330-388), edible fruit (948-957,
Granny Smith to pomegranate), vegetables (936-947, head cabbage to mushroom); flowers are daisy and yellow lady's
slipper, musical instruments the 26 classes of WordNet's musical instrument, road signs street sign and traffic light
(the stamps' road-sign folder holds traffic lights). ImageNet-1k has no class for a coin, a planet or a chess piece,
so every prediction for those is wrong. Labels not listed (vehicle, tool, hat, flag, tree) have no agreed set of classes
here and are not judged (:func:`label_classes` gives the table with class names).
"""


COARSE_LABEL_CLASSES: dict[str, tuple[int, ...]] = {
    "cat": tuple(range(281, 286)),
    "drink": (966, 967, 969),
    "person": (981, 982, 983),
    "rocket": (657,),
    "flower": (985, 986),
    "horse": (339,),
    "clock": (409, 530, 892),
    "money": (),
    "moon": (),
    "galaxy": (),
}
"""Label of :func:`coarse_photo_set` -> the ImageNet-1k class indices that are a right prediction for it: domestic cats
(tabby to Egyptian cat), beverages (red wine, espresso, eggnog), the three classes that are people (ballplayer, groom,
scuba diver), missile (a rocket carrying a warhead), daisy and yellow lady's slipper, sorrel (ImageNet-1k's one
horse), analog, digital and wall clocks; none for money, the moon or a galaxy. Vehicle, building, text, wall, grass
and gift are not judged."""

_LABEL_CLASSES = {"stamps": STAMP_LABEL_CLASSES, "photos": COARSE_LABEL_CLASSES}


def label_classes(source: str = "stamps", class_names: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Label -> the ImageNet-1k classes whose prediction is right for it, for a built-in labelled set.

    What :func:`nlexnb.discover.error_concepts` takes as ``correct=`` to judge the classifier's predictions at the
    coarse level of the set's labels ("lemon" for an orange is right: both are fruit; "face powder" for a coin is
    wrong). Labels that are not keys are not judged; a key with no classes (a coin, a planet) makes every prediction
    for it wrong. The tables and where they come from: :data:`STAMP_LABEL_CLASSES`, :data:`COARSE_LABEL_CLASSES`.

    Args:
        source: ``"stamps"`` (:func:`stamp_photo_set`) or ``"photos"`` (:func:`coarse_photo_set`).
        class_names: the classifier's 1,000 class names, in ImageNet-1k order (default
            :func:`nlexnb.labels.imagenet_class_names`, the names the default classifier uses).

    Raises:
        ValueError: another source (a folder's labels are its own: if they are class names, ``error_concepts`` needs
            no mapping), or ``class_names`` that are not 1,000 names (the tables hold ImageNet-1k class indices).
    """
    if not isinstance(source, str) or source not in _LABEL_CLASSES:
        raise ValueError(
            f"label_classes knows the labels of {sorted(_LABEL_CLASSES)}, got {source!r}; for an ImageNet folder whose "
            "labels are class names, discover.error_concepts needs no mapping"
        )
    if class_names is None:
        from .labels import imagenet_class_names

        class_names = imagenet_class_names()
    names = list(class_names)
    if len(names) != 1000:
        raise ValueError(
            f"label_classes maps labels to ImageNet-1k class indices: class_names must be the 1,000 ImageNet-1k class "
            f"names in their order, got {len(names)} names"
        )
    return {label: [names[i] for i in indices] for label, indices in _LABEL_CLASSES[source].items()}


LABELLED_SETS: dict[str, str] = {
    "stamps": "Tux Paint's photo stamps, about 290 photos, 17 coarse labels (stamp_photo_set)",
    "photos": "19 bundled pictures in a few views, 16 coarse labels (coarse_photo_set)",
}
"""The labelled zero-shot sets :func:`labelled_set` knows by name."""


def labelled_set(source: str | os.PathLike, views: int = 4) -> Labelled:
    """A labelled zero-shot set by name (a key of :data:`LABELLED_SETS`) or an ImageFolder directory.

    ``"stamps"`` is :func:`stamp_photo_set`, ``"photos"`` is :func:`coarse_photo_set` (with ``views``); anything else
    must be a directory of class folders (:func:`image_folder`), e.g. an ImageNet val copy with re-named folders.

    Raises:
        ValueError: neither a known name nor an existing directory (the message lists both options).
        FileNotFoundError: ``"stamps"`` where the stamps are not installed (see :func:`find_stamps`).
    """
    known = _known_set_or_folder(source)
    if isinstance(known, Path):
        return image_folder(known)
    return stamp_photo_set() if known == "stamps" else coarse_photo_set(views)


def labelled_set_labels(source: str | os.PathLike) -> list[str]:
    """The labels of a labelled set (as :func:`labelled_set` takes it), without reading any image: sorted."""
    known = _known_set_or_folder(source)
    if isinstance(known, Path):
        return [p.name for p in _class_folders(known)]
    return sorted(set((STAMP_LABELS if known == "stamps" else COARSE_LABELS).values()))


def _known_set_or_folder(source: str | os.PathLike) -> str | Path:
    """A key of :data:`LABELLED_SETS`, or an existing directory; else a ValueError listing both options."""
    if isinstance(source, str) and source in LABELLED_SETS:
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"A labelled set is a name ({list(LABELLED_SETS)}) or an ImageFolder directory, got {type(source).__name__}"
        )
    if Path(source).is_dir():
        return Path(source)
    known = "; ".join(f"{k!r}: {v}" for k, v in LABELLED_SETS.items())
    raise ValueError(
        f"Unknown labelled set {str(source)!r}: it must be one of {list(LABELLED_SETS)} or an ImageFolder directory "
        f"({known})"
    )


def with_label(data: Sequence[tuple[Any, str]], label: str | None) -> list[tuple[Any, str]]:
    """The pairs of a labelled set (:func:`nlexnb.datasets.labelled_set`) that have one label, in their order;
    ``label=None`` keeps them all.

    Raises:
        ValueError: no pair has the label (the message lists the labels there are).
    """
    if label is None:
        return list(data)
    kept = [(image, lab) for image, lab in data if lab == label]
    if not kept:
        present = sorted({lab for _, lab in data})
        raise ValueError(f"No image has the label {label!r}; the labels are {present} (or None for every image)")
    return kept


def picture_names(data: Sequence[tuple[Any, str]]) -> list[str]:
    """A short name per pair of a labelled set, to show which pictures ended up where: the file name without its
    extension for an image given as a path, else its label. Files of one name in different folders (an ImageFolder's
    ``cat/001.png`` and ``dog/001.png``) are told apart by as many of their folders as it takes (``'cat/001'``)."""
    parts = [_name_parts(image) for image, _ in data]
    depth = [1] * len(parts)
    while True:
        names = ["/".join(p[-d:]) if p is not None else None for p, d in zip(parts, depth)]
        counts = Counter(n for n in names if n is not None)
        longer = [i for i, (p, n) in enumerate(zip(parts, names)) if p and counts[n] > 1 and depth[i] < len(p)]
        if not longer:
            return [name if name is not None else label for name, (_, label) in zip(names, data)]
        for i in longer:
            depth[i] += 1


def _name_parts(image) -> tuple[str, ...] | None:
    """An image path's folders (below its root) and its file name without extension; None for an image that is not
    a path."""
    if not isinstance(image, (str, os.PathLike)):
        return None
    path = Path(image)
    folders = path.parent.parts[1:] if path.anchor else path.parent.parts
    return (*folders, path.stem)
