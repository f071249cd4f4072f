"""Shared fixtures: the real embedded default (tf_efficientnet_lite0 + all-MiniLM-L6-v2), loaded once per session."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub; loading code is tested up to the download
REQUIRE_STAMPS = os.environ.get("NLEXNB_REQUIRE_STAMPS") == "1"  # CI: the stamp photo set must be there

# Property tests (Hypothesis): the "ci" profile keeps each within seconds; HYPOTHESIS_PROFILE=long runs many more
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "long", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _stamps_folder():
    """Where Tux Paint's stamps are (scripts/fetch_stamps.sh unpacks them); None where they are not installed."""
    from nlexnb.datasets import find_stamps

    try:
        return find_stamps()
    except FileNotFoundError:
        return None


STAMPS = _stamps_folder()


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Each test session gets its own cache folder, so tests never read a developer's cache."""
    if "NLEXNB_TEST_CACHE" in os.environ:  # reuse across runs when a developer asks for it
        os.environ["NLEXNB_CACHE"] = os.environ["NLEXNB_TEST_CACHE"]
    else:
        os.environ["NLEXNB_CACHE"] = str(tmp_path_factory.mktemp("nlexnb-cache"))
    yield


@pytest.fixture(scope="session")
def classifier():
    import nlexnb

    return nlexnb.load_classifier("tf_efficientnet_lite0", device="cpu")


@pytest.fixture(scope="session")
def encoder():
    import nlexnb

    return nlexnb.load_text_encoder(device="cpu")


@pytest.fixture(scope="session")
def mapper(classifier, encoder):
    """The default mapper, fitted on all classes."""
    import nlexnb

    return nlexnb.fit_mapper(classifier, encoder)


@pytest.fixture(scope="session")
def ridge_mapper(classifier, encoder):
    import nlexnb

    return nlexnb.fit_mapper(classifier, encoder, method="ridge")


@pytest.fixture(scope="session")
def stamps_folder():
    """Folder of Tux Paint's stamps, or None where they are not installed (a failure under NLEXNB_REQUIRE_STAMPS=1)."""
    if STAMPS is None and REQUIRE_STAMPS:
        pytest.fail(
            "Tux Paint's stamps are not installed (NLEXNB_REQUIRE_STAMPS=1): run `bash scripts/fetch_stamps.sh`"
        )
    return STAMPS


@pytest.fixture(scope="session")
def stamp_set(stamps_folder):
    """Tux Paint's photo stamps with coarse labels: ``(path, label)`` pairs; skipped where not installed."""
    from nlexnb.datasets import stamp_photo_set

    if stamps_folder is None:
        pytest.skip("Tux Paint's stamps are not installed: run `bash scripts/fetch_stamps.sh`")
    return stamp_photo_set(stamps_folder)


@pytest.fixture(scope="session")
def photos():
    import nlexnb

    return nlexnb.sample_images()


IMAGENET_TRUTH = {"coffee": "espresso", "chelsea": "tabby, tabby cat", "motorcycle": "moped"}


@pytest.fixture
def imagenet_style_folder(classifier, photos, tmp_path):
    """Three sample photos sorted into ImageNet synset folders, as ImageNet val is sorted: ``(folder, photo -> true
    class name)``. The user-side ImageNet runs are tested on it."""
    from timm.data import ImageNetInfo

    wnids = ImageNetInfo().label_names()
    for photo, name in IMAGENET_TRUTH.items():
        folder = tmp_path / wnids[classifier.class_names.index(name)]
        folder.mkdir()
        photos[photo].save(folder / f"{photo}.png")
    return tmp_path, dict(IMAGENET_TRUTH)


@pytest.fixture
def undeletable(monkeypatch):
    """``undeletable(path)``: removing that file raises PermissionError from then on, as in a read-only cache."""
    from pathlib import Path

    unlink, kept = Path.unlink, set()

    def read_only(path, missing_ok=False):
        if path in kept:
            raise PermissionError(13, "Permission denied", str(path))
        unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    return kept.add
