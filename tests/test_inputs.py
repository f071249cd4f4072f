"""Bad input gets a clear error or a correct result, never a silent wrong answer: examples, then properties.

The property tests (Hypothesis) generate images of any size, dtype and value range, label and template lists, and
parameter values; each must end in a correct result or an error that names what was wrong. The "ci" profile keeps
them within a minute; HYPOTHESIS_PROFILE=long runs many more examples.
"""

import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import nlexnb
from nlexnb.images import MAX_ASPECT, to_pil
from nlexnb.mapper import check_templates
from nlexnb.zeroshot import check_labels

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "long", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ---- examples: the most common ways to hold an image ---------------------------------------------------------------
def test_a_uint8_tensor_from_read_image_is_an_image_not_a_preprocessed_batch(classifier, photos):
    array = np.array(photos["coffee"])
    chw = torch.from_numpy(array).permute(2, 0, 1).contiguous()  # what torchvision.io.read_image returns
    assert classifier.predict(chw, k=1)[0].names[0] == "espresso"
    batch = classifier.predict(torch.stack([chw, chw]), k=1)
    assert [p.names[0] for p in batch] == ["espresso", "espresso"]


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
    ],
)
def test_images_that_cannot_work_are_named(classifier, bad, error, message):
    with pytest.raises(error, match=message):
        classifier.predict(bad)


def test_preprocessed_batches_must_be_finite_and_channels_first(classifier):
    with pytest.raises(ValueError, match="NaN or infinite"):
        classifier.logits(torch.full((1, 3, 224, 224), float("nan")))
    with pytest.raises(ValueError, match="channels-first"):
        classifier.logits(torch.zeros(1, 224, 224, 3))


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


def test_a_damaged_mapper_file_is_refused(classifier, mapper, tmp_path):
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
    with pytest.raises(ValueError, match="NaN or infinite"):
        nlexnb.load_mapper(tmp_path / "nan.safetensors", classifier, mapper.text_encoder)


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
        image = to_pil(array)
    except ValueError as exc:
        assert any(word in str(exc) for word in ("shape", "NaN", "[0, 1]", "[0, 255]", "dtype", "longer", "empty"))
        return
    assert image.mode == "RGB" and image.size == (array.shape[1], array.shape[0])
    assert max(image.size) <= MAX_ASPECT * min(image.size)


@given(st.integers(1, 4000), st.integers(1, 4000))
def test_image_sizes_are_accepted_exactly_when_they_can_be_resized(w, h):
    image = Image.new("RGB", (w, h))
    if max(w, h) > MAX_ASPECT * min(w, h):
        with pytest.raises(ValueError, match="longer than wide"):
            to_pil(image)
    else:
        assert to_pil(image).size == (w, h)


@given(st.lists(st.one_of(st.text(max_size=30), st.integers()), max_size=6))
def test_label_lists_are_accepted_or_refused_with_the_reason(labels):
    try:
        out = check_labels(labels)
    except TypeError as exc:
        assert "string" in str(exc)
    except ValueError as exc:
        assert any(word in str(exc) for word in ("empty", "duplicate", "Duplicate"))
    else:
        assert out == labels and len(set(out)) == len(out) and all(isinstance(x, str) and x.strip() for x in out)


@given(st.one_of(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=4)))
def test_templates_hold_one_placeholder_or_are_refused(templates):
    try:
        out = check_templates(templates)
    except (TypeError, ValueError) as exc:
        assert "template" in str(exc).lower()
    else:
        assert out and all(t.format("cat").count("cat") == t.count("cat") + 1 for t in out)


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
