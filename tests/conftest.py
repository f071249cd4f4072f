"""Shared fixtures: the real embedded default (tf_efficientnet_lite0 + all-MiniLM-L6-v2), loaded once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the hub; loading code is tested up to the download


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
def photos():
    import nlexnb

    return nlexnb.sample_images()
