"""What can be picked by name, in one place: maps, concept banks, text encoders, labelled sets, selection methods.

``nlexnb.available()`` lists them all (``available("banks")`` one kind), with a line on each, so a notebook parameter
or a call like ``fit_mapper(..., method="ridge")`` never needs a look at the source. Each registry lives beside the
code it names (``maps.MAPS``, ``concepts.BANKS``, ``text.PACKAGED_ENCODERS``, ``datasets.LABELLED_SETS``,
``selection.SELECTORS``); adding an entry there is all it takes to make a new one available here.
"""

from __future__ import annotations

__all__ = ["available", "KINDS"]

KINDS = ("maps", "banks", "encoders", "labelled_sets", "selectors")


def available(kind: str | None = None) -> dict:
    """Names that can be passed where nlexnb takes a name, with a short description of each.

    Args:
        kind: one of :data:`KINDS`, or None for all of them (a dict of dicts).
    """
    if kind is None:
        return {k: available(k) for k in KINDS}
    if kind == "maps":
        from .maps import MAPS

        return {name: _first_line(cls) for name, cls in MAPS.items()}
    if kind == "banks":
        from .concepts import BANKS

        return {name: what for name, (_, what) in BANKS.items()}
    if kind == "encoders":
        from .text import DEFAULT_ENCODER, PACKAGED_ENCODERS, packaged_encoder_installed

        return {
            name: ("the default; " if name == DEFAULT_ENCODER else "")
            + (
                "installed offline"
                if packaged_encoder_installed(name)
                else "from the hub (its packages are not installed)"
            )
            for name in PACKAGED_ENCODERS
        } | {"<any sentence-transformers name or folder>": "loaded through sentence-transformers"}
    if kind == "labelled_sets":
        from .datasets import LABELLED_SETS

        return dict(LABELLED_SETS) | {"<a folder>": "an ImageFolder: one sub-folder per label"}
    if kind == "selectors":
        from .selection import SELECTORS

        return {name: cls.description for name, cls in SELECTORS.items()}
    raise ValueError(f"Unknown kind {kind!r}; choose one of {list(KINDS)}")


def _first_line(obj) -> str:
    """The first sentence of a docstring, as plain text: without reStructuredText's double backticks, which a listing
    shows as they are typed."""
    paragraph = " ".join((obj.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "")
    return paragraph.split(". ")[0].rstrip(".")
