"""The on-disk stores: where the cache and the data live, and a cache that only saves time, never costs a result."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors import SafetensorError

from nlexnb._store import TensorCache, cache_dir, data_dir


def full_disk(monkeypatch) -> None:
    """Make every safetensors write fail as it does on a full disk: safetensors raises its own error, not OSError."""

    def no_space(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("safetensors.torch.save_file", no_space)


def test_a_full_disk_keeps_the_computed_vectors_and_warns_that_they_are_not_cached(tmp_path, monkeypatch):
    """The run crashed on safetensors' error and lost what it had computed."""
    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    full_disk(monkeypatch)
    cache = TensorCache("vectors")
    with pytest.warns(UserWarning, match=r"cannot be written \(No space left on device\); results are computed"):
        got = cache.get_or_compute(["striped fur", "foam"], lambda todo: torch.ones(len(todo), 4), 4)
    assert torch.equal(got, torch.ones(2, 4))
    assert not list(cache.folder.glob("*"))  # no temporary file left behind


def test_a_damaged_cache_file_that_cannot_be_removed_is_skipped_and_named(tmp_path, monkeypatch, undeletable):
    """In a read-only cache, removing the damaged file raised PermissionError and stopped the run."""
    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    cache = TensorCache("vectors")
    cache.folder.mkdir(parents=True)
    damaged = cache.folder / "shard-x.safetensors"
    damaged.write_bytes(b"not a safetensors file")
    undeletable(damaged)
    with pytest.warns(UserWarning, match=r"Skipping damaged cache file .*could not be removed \(Permission denied\)"):
        got = cache.get_or_compute(["striped fur"], lambda todo: torch.zeros(len(todo), 4), 4)
    assert torch.equal(got, torch.zeros(1, 4)) and damaged.is_file()


def test_the_cache_and_data_folders_expand_home_and_are_absolute(tmp_path, monkeypatch):
    """NLEXNB_CACHE=~/nlx made a folder named "~" in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NLEXNB_CACHE", "~/nlx")
    monkeypatch.setenv("NLEXNB_DATA", "~/data")
    assert cache_dir() == tmp_path / "home" / "nlx" and data_dir() == tmp_path / "home" / "data"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NLEXNB_CACHE", "relative/cache")
    monkeypatch.setenv("NLEXNB_DATA", "./data")
    assert cache_dir() == tmp_path / "relative" / "cache" and data_dir() == tmp_path / "data"
    assert cache_dir().is_absolute() and os.path.isabs(data_dir())


def test_the_photo_folders_named_in_the_environment_expand_home(tmp_path, monkeypatch):
    """NLEXNB_STAMPS=~/stamps and NLEXNB_GCOMPRIS=~/photos were looked for in a folder named "~"."""
    from nlexnb.datasets import find_gcompris_photos, find_stamps

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "stamps" / "animals").mkdir(parents=True)
    (tmp_path / "photos" / "explore_world_animals").mkdir(parents=True)
    monkeypatch.setenv("NLEXNB_STAMPS", "~/stamps")
    monkeypatch.setenv("NLEXNB_GCOMPRIS", "~/photos")
    assert find_stamps() == tmp_path / "stamps"
    assert find_gcompris_photos() == tmp_path / "photos"
