"""Round trips and invariances, checked on many inputs (Hypothesis): a collection explained in one call says what each
image's own explanation says, whatever the batches, the order or an interruption; a saved mapper or bottleneck is
the one that was saved (and a damaged file is refused); a bottleneck's prediction, explanation and interventions are
one arithmetic. Each property reads as a rule a user can rely on."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlexnb
from nlexnb.bottleneck import concept_bottleneck, load_bottleneck
from nlexnb.collection import explain_collection, read_errors, read_explanations
from nlexnb.concepts import ConceptBank

# a bank of 400 concepts writes most class rows poorly: the bottleneck's warning is noise here
pytestmark = pytest.mark.filterwarnings(
    "ignore::nlexnb.bottleneck.PoorFitWarning", "ignore:explain_collection skipped", "ignore::UserWarning"
)


def few(n: int):
    """A short Hypothesis profile: each property within seconds on two cores."""
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


BANK = ConceptBank.visual().texts[::8] + ["tabby cat", "cat", "espresso", "cup", "a cup of espresso", "daisy"]


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    """Every eighth concept of the visual bank (~430), plus class names that must never explain their own class."""
    return nlexnb.Explainer(classifier, ridge_mapper, BANK)


@pytest.fixture(scope="module")
def space(explainer):
    return explainer.space


@pytest.fixture(scope="module")
def cbm(space):
    return concept_bottleneck(space, n_concepts=6)


# ---- images of a few kinds -------------------------------------------------------------------------------------------
SHAPES = [(32, 32, 3), (80, 56, 3), (224, 224, 3), (150, 300, 3), (48, 48), (40, 64, 4)]


def noise(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def an_image():
    """A random uint8 array of one of a few sizes (grey, RGB, RGBA), or one of two real photos, by name."""
    return st.one_of(
        st.sampled_from(["chelsea", "coffee"]),
        st.tuples(st.sampled_from(SHAPES), st.integers(0, 2**16)),
    )


def realise(specs, photos) -> list:
    return [photos[s] if isinstance(s, str) else noise(*s) for s in specs]


def same_as_explain(explainer, images, frame, k, foil, tol=1e-5):
    """Each row of ``frame`` says what ``explainer.explain(image, k=k, foil=foil)`` says about its image; an image
    predicted as the foil has no row (it is listed in the errors)."""
    rows = frame.set_index("id")
    for i, image in enumerate(images):
        try:
            e = explainer.explain(image, k=k, foil=foil, heatmaps=False)
        except ValueError as refused:  # predicted as the foil: nothing to contrast
            assert foil is not None and "predicted as the foil" in str(refused) and i not in rows.index
            continue
        row = rows.loc[i]
        assert row.predicted == e.target and row.predicted_name == e.target_name
        assert list(row.concepts) == list(e.concepts["concept"]), i
        np.testing.assert_allclose(row.contributions, e.concepts["contribution"], atol=tol)
        assert row.total == pytest.approx(e.total, abs=tol) and row.measured == pytest.approx(e.measured, abs=tol)
        assert row.explained == pytest.approx(e.explained, abs=tol)
        assert row.probability == pytest.approx(e.probability, abs=tol)


def same_rows(a: pd.DataFrame, b: pd.DataFrame, tol: float = 1e-6, skip=()) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        if column in skip:
            continue
        if column in ("concepts", "path", "label", "predicted_name", "id", "predicted", "fingerprint"):
            assert [list(v) if isinstance(v, (list, np.ndarray)) else v for v in a[column]] == [
                list(v) if isinstance(v, (list, np.ndarray)) else v for v in b[column]
            ], column
        elif column in ("contributions", "shares"):
            for x, y in zip(a[column], b[column]):
                np.testing.assert_allclose(x, y, atol=tol)
        else:
            np.testing.assert_allclose(a[column], b[column], atol=tol)


FOILS = st.sampled_from([None, None, 282, 967, "first"])  # "first": the class the first image is predicted as


def the_foil(foil, explainer, images):
    if foil == "first":
        return explainer.classifier.class_names.index(explainer.classifier.predict(images[0])[0].names[0])
    return foil


# ---- 1. a collection says what each image's explanation says --------------------------------------------------------
@few(6)
@given(
    specs=st.lists(an_image(), min_size=1, max_size=4),
    batch_size=st.integers(1, 5),
    k=st.integers(1, 6),
    foil=FOILS,
)
def test_each_row_of_a_collection_is_the_explanation_of_its_image(explainer, photos, specs, batch_size, k, foil):
    images = realise(specs, photos)
    foil = the_foil(foil, explainer, images)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.parquet"
        run = explain_collection(explainer, images, out, k=k, foil=foil, batch_size=batch_size, progress=False)
        frame = read_explanations(out)
        errors = read_errors(out)
    assert run.rows + run.errors == len(images) == len(frame) + len(errors)
    assert sorted(frame["id"].tolist() + errors["id"].tolist()) == list(range(len(images)))
    same_as_explain(explainer, images, frame, k, foil)


@few(5)
@given(
    specs=st.lists(an_image(), min_size=2, max_size=5),
    order=st.randoms(use_true_random=False),
    batch_size=st.integers(1, 4),
)
def test_reordering_the_images_only_reorders_the_rows(explainer, photos, specs, order, batch_size):
    images = realise(specs, photos)
    perm = list(range(len(images)))
    order.shuffle(perm)
    with tempfile.TemporaryDirectory() as folder:
        a = explain_collection(explainer, images, Path(folder) / "a.parquet", batch_size=batch_size, progress=False)
        b = explain_collection(
            explainer, [images[i] for i in perm], Path(folder) / "b.parquet", batch_size=batch_size, progress=False
        )
        first, second = a.read(), b.read()
    moved = first.iloc[perm].reset_index(drop=True).assign(id=range(len(perm)))
    same_rows(moved, second, tol=1e-5)


class Flaky(torch.utils.data.Dataset):
    """Images that fail once: item ``at`` raises ``error`` the first time it is read (a crash, Ctrl-C, or a file
    that cannot be read at the moment), then reads normally."""

    def __init__(self, images, at, error):
        self.images, self.at, self.error, self.failed = images, at, error, False

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i == self.at and not self.failed:
            self.failed = True
            raise self.error
        return self.images[i]


@few(6)
@given(
    specs=st.lists(an_image(), min_size=2, max_size=6),
    at=st.integers(0, 5),
    error=st.sampled_from(["ctrl-c", "crash", "unreadable"]),
    batch_size=st.integers(1, 4),
    resumed_batch_size=st.integers(1, 4),
    checkpoint_every=st.integers(1, 8),
    k=st.integers(1, 5),
    foil=FOILS,
)
def test_an_interrupted_run_resumed_gives_the_file_of_an_uninterrupted_one(
    explainer, photos, specs, at, error, batch_size, resumed_batch_size, checkpoint_every, k, foil
):
    images = realise(specs, photos)
    foil = the_foil(foil, explainer, images)
    at = at % len(images)
    raised = {"ctrl-c": KeyboardInterrupt(), "crash": RuntimeError("disk gone"), "unreadable": OSError("busy")}[error]
    flaky = Flaky(images, at, raised)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.parquet"
        kwargs = dict(k=k, foil=foil, checkpoint_every=checkpoint_every, progress=False)
        whole = explain_collection(explainer, images, Path(folder) / "whole.parquet", batch_size=batch_size, **kwargs)
        if error == "unreadable":  # skipped and listed, then tried again by the next call
            first = explain_collection(explainer, flaky, out, batch_size=batch_size, **kwargs)
            assert at in read_errors(out)["id"].tolist() and first.errors == whole.errors + 1
        else:
            with pytest.raises(type(raised)):
                explain_collection(explainer, flaky, out, batch_size=batch_size, **kwargs)
            assert not out.exists()
            if out.with_name("run.parquet.partial").is_dir():  # the batches finished before it are kept, as written
                kept = read_explanations(out, partial=True)
                assert set(kept["id"]) <= set(range(at))
                done = whole.read().set_index("id").loc[kept["id"]].reset_index()
                same_rows(kept, done, tol=1e-5)
        again = explain_collection(explainer, flaky, out, batch_size=resumed_batch_size, **kwargs)
        assert (again.rows, again.errors) == (whole.rows, whole.errors)
        same_rows(read_explanations(out), whole.read(), tol=1e-5)
        pd.testing.assert_frame_equal(read_errors(out), whole.read_errors())


@few(8)
@given(
    specs=st.lists(an_image(), min_size=1, max_size=3),
    options=st.fixed_dictionaries(
        {
            "selector": st.sampled_from(["greedy", "greedy", "nonnegative"]),
            "shortlist": st.integers(1, 24),
            "relevance": st.sampled_from([0.0, 0.0, 1.0, 3.0]),
            "max_alignment": st.sampled_from([0.2, 0.5, 1.0]),
            "echo_margin": st.sampled_from([None, 0.1, 0.0]),
            "sense_margin": st.sampled_from([None, 0.05]),
            "other_animals": st.booleans(),
            "unlisted_things": st.booleans(),
            "unlisted_colours": st.booleans(),
        }
    ),
    k=st.integers(1, 6),
    foil=FOILS,
    batch_size=st.integers(1, 3),
)
def test_any_explainer_settings_give_rows_equal_to_its_explanations(space, photos, specs, options, k, foil, batch_size):
    explainer = nlexnb.Explainer(space, **options)
    images = realise(specs, photos)
    foil = the_foil(foil, explainer, images)
    with tempfile.TemporaryDirectory() as folder:
        run = explain_collection(
            explainer, images, Path(folder) / "rows.parquet", k=k, foil=foil, batch_size=batch_size, progress=False
        )
        frame = run.read()
    same_as_explain(explainer, images, frame, k, foil)


@few(4)
@given(specs=st.lists(an_image(), min_size=1, max_size=4), labelled=st.booleans())
def test_a_folder_of_png_files_says_what_the_images_in_memory_say(explainer, photos, specs, labelled):
    from PIL import Image

    images = realise(specs, photos)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, image in enumerate(images):
            picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
            paths.append(str(Path(folder) / f"{i:03d}.png"))
            picture.save(paths[-1])
        given = [(p, f"label {i}") for i, p in enumerate(paths)] if labelled else folder
        from_files = explain_collection(explainer, given, Path(folder) / "files.parquet", progress=False).read()
        in_memory = [(im, f"label {i}") for i, im in enumerate(images)] if labelled else images
        from_memory = explain_collection(explainer, in_memory, Path(folder) / "memory.parquet", progress=False).read()
    assert from_files["path"].tolist() == paths and from_memory["path"].isna().all()
    same_rows(from_files, from_memory, tol=1e-5, skip=("path", "file_size", "file_mtime_ns"))


class OnceEach(torch.utils.data.Dataset):
    """Images each of which may fail once: ``failures`` maps an item to what it raises the first time it is read."""

    def __init__(self, images, failures):
        self.images, self.failures = images, dict(failures)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i in self.failures:
            raise self.failures.pop(i)
        return self.images[i]


@few(4)
@given(
    specs=st.lists(an_image(), min_size=2, max_size=6),
    failures=st.dictionaries(
        st.integers(0, 5), st.sampled_from(["ctrl-c", "crash", "unreadable"]), min_size=1, max_size=3
    ),
    batch_size=st.integers(1, 3),
    checkpoint_every=st.integers(1, 4),
)
def test_running_again_after_any_failures_ends_with_the_file_of_one_clean_run(
    explainer, photos, specs, failures, batch_size, checkpoint_every
):
    images = realise(specs, photos)
    make = {
        "ctrl-c": KeyboardInterrupt,
        "crash": lambda: RuntimeError("disk gone"),
        "unreadable": lambda: OSError("busy"),
    }
    flaky = OnceEach(images, {i % len(images): make[kind]() for i, kind in failures.items()})
    kwargs = dict(batch_size=batch_size, checkpoint_every=checkpoint_every, progress=False)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run.parquet"
        for _ in range(len(failures) + 2):  # as a user would: run the same call again until it finishes cleanly
            try:
                run = explain_collection(explainer, flaky, out, **kwargs)
            except (KeyboardInterrupt, RuntimeError):
                continue
            if run.errors == 0:
                break
        whole = explain_collection(explainer, images, Path(folder) / "whole.parquet", **kwargs)
        assert run.errors == 0 and not flaky.failures and read_errors(out).empty
        same_rows(read_explanations(out), whole.read(), tol=1e-5)


@few(6)
@given(
    specs=st.lists(an_image(), min_size=1, max_size=4),
    which=st.integers(0, 3),
    change=st.sampled_from(["other pixels", "same pixels saved again", "touched", "removed"]),
    as_folder=st.booleans(),
)
def test_a_finished_run_over_files_resumes_only_while_its_files_hold_the_same_pictures(
    explainer, photos, specs, which, change, as_folder
):
    from PIL import Image

    images = realise(specs, photos)
    which = which % len(images)
    with tempfile.TemporaryDirectory() as folder:
        pictures = Path(folder) / "pictures"
        pictures.mkdir()
        paths = []
        for i, image in enumerate(images):
            paths.append(str(pictures / f"{i:03d}.png"))
            (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(paths[-1])
        given = str(pictures) if as_folder else paths
        out = Path(folder) / "run.parquet"
        first = explain_collection(explainer, given, out, progress=False).read()
        target = Path(paths[which])
        stat = target.stat()
        if change == "other pixels":
            Image.fromarray(noise((64, 64, 3), 12345 + which)).save(target)
        elif change == "same pixels saved again":
            Image.open(target).save(target, compress_level=1)  # its own mode: an RGBA file stays RGBA
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        elif change == "touched":
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        else:
            target.unlink()
        if change in ("other pixels", "removed"):
            with pytest.raises(ValueError):
                explain_collection(explainer, given, out, progress=False)
        else:
            again = explain_collection(explainer, given, out, progress=False)
            assert again.written == 0 and again.rows == len(images)
            same_rows(again.read(), first, tol=0, skip=("file_size", "file_mtime_ns"))


# ---- 2. a saved mapper is the mapper that was saved ------------------------------------------------------------------
TEMPLATES = ["a photo of a {}.", "{}", "a blurry photo of the {}.", "art of a {}."]
PROBES = ["striped fur", "a small cup", "snow", "tabby", "espresso", "a red car in the rain"]


def mapper_options():
    return st.fixed_dictionaries(
        {
            "method": st.sampled_from(["ridge", "kernel"]),
            "seed": st.integers(0, 2**31 - 1),
            "memorize": st.booleans(),
            "glosses": st.sampled_from([None, False]),
            "descriptions": st.sampled_from([None, False]),
            "classes": st.one_of(st.none(), st.lists(st.integers(0, 999), min_size=2, max_size=40, unique=True)),
            "templates": st.one_of(
                st.none(), st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=3, unique=True)
            ),
            "calibrate": st.booleans(),  # on a subset of the classes (on all of them it takes seconds more)
        }
    )


@few(8)
@given(options=mapper_options(), alpha=st.sampled_from([None, 0.01, 0.3, 3.0]))
def test_a_saved_mapper_loads_bit_for_bit_whatever_it_was_fitted_with(classifier, encoder, options, alpha):
    hparams = {} if alpha is None else {"alpha": alpha}
    if options["method"] == "kernel" and alpha is not None:
        hparams["sigma"] = 0.1 + alpha / 10
    options["calibrate"] = options["calibrate"] and options["classes"] is not None
    mapper = nlexnb.fit_mapper(classifier, encoder, **options, **hparams)
    with tempfile.TemporaryDirectory() as folder:
        path = mapper.save(Path(folder) / "mapper")
        loaded = nlexnb.load_mapper(path, classifier, encoder)
        assert loaded.fingerprint == mapper.fingerprint and loaded.templates == mapper.templates
        assert {k: v for k, v in loaded.meta.items()} == {k: v for k, v in mapper.meta.items()}
        assert torch.equal(loaded.encode(PROBES), mapper.encode(PROBES))
        names = ["tabby", "espresso", "a new label"]
        assert torch.equal(loaded.encode_labels(names), mapper.encode_labels(names))
        # the mapped-vector cache too: the loaded mapper reads the original's entries (a text encoded within a larger
        # batch, the visual bank's, may differ from a batch of six in the last bit, so both read the cache)
        assert torch.equal(loaded.encode(PROBES, cache=True), mapper.encode(PROBES, cache=True))
        torch.testing.assert_close(loaded.encode(PROBES, cache=True), mapper.encode(PROBES), rtol=1e-5, atol=1e-6)


@few(15)
@given(part=st.sampled_from(["header", "tensors"]), where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_a_mapper_file_with_one_byte_changed_is_refused(classifier, ridge_mapper, part, where, mask):
    with tempfile.TemporaryDirectory() as folder:
        path = ridge_mapper.save(Path(folder) / "mapper")
        data = bytearray(path.read_bytes())
        header = 8 + int.from_bytes(data[:8], "little")  # safetensors: length, JSON header, then the tensors
        at = int(where * header) if part == "header" else header + int(where * (len(data) - header))
        data[at] ^= mask
        path.write_bytes(bytes(data))
        with pytest.raises(ValueError, match="mapper"):
            nlexnb.load_mapper(path, classifier, ridge_mapper.text_encoder)


# ---- 3. the bottleneck: one arithmetic for logits, predictions, explanations and interventions ----------------------
@few(4)
@given(specs=st.lists(an_image(), min_size=1, max_size=3))
def test_a_saved_bottleneck_predicts_as_the_one_saved(cbm, space, photos, specs):
    images = realise(specs, photos)
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_bottleneck(cbm.save(Path(folder) / "cbm"), space)
    assert torch.equal(loaded.logits(images), cbm.logits(images))
    assert [p.names for p in loaded.predict(images)] == [p.names for p in cbm.predict(images)]


@few(15)
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_a_bottleneck_whose_sidecar_has_one_byte_changed_is_refused_or_unchanged(cbm, space, where, mask):
    """The sidecar says what the bottleneck was made for; a changed byte there is refused, or changes nothing."""
    with tempfile.TemporaryDirectory() as folder:
        path = cbm.save(Path(folder) / "cbm")
        sidecar = path.with_suffix(".json")
        data = bytearray(sidecar.read_bytes())
        data[int(where * len(data))] ^= mask
        sidecar.write_bytes(bytes(data))
        try:
            loaded = load_bottleneck(path, space)
        except ValueError:
            return
    assert torch.equal(loaded.weights, cbm.weights) and torch.equal(loaded.residual, cbm.residual)
    assert (loaded.n_concepts, loaded.default_fit) == (cbm.n_concepts, cbm.default_fit)


@few(5)
@given(digit=st.sampled_from("0123457"))
def test_a_bottleneck_whose_sidecar_says_another_budget_is_refused(cbm, space, digit):
    """The budget was trusted as written: a sidecar edited from 6 to 7 loaded, and tradeoff filed its 6-concept recipes
    under 7. The sidecar's fields now carry their own hash."""
    with tempfile.TemporaryDirectory() as folder:
        path = cbm.save(Path(folder) / "cbm")
        sidecar = path.with_suffix(".json")
        text = sidecar.read_text()
        assert f'"n_concepts": {cbm.n_concepts},' in text and cbm.n_concepts == 6
        sidecar.write_text(text.replace('"n_concepts": 6,', f'"n_concepts": {digit},'))  # one byte changed
        with pytest.raises(ValueError, match="sidecar .* was changed after it was saved"):
            load_bottleneck(path, space)


@few(10)
@given(spec=an_image(), target=st.sampled_from([None, "tabby", 967, 0, 999]))
def test_a_bottleneck_explains_what_it_predicts_and_its_parts_add_up(cbm, photos, spec, target):
    image = realise([spec], photos)[0]
    explanation = cbm.explain(image, target=target)
    prediction = cbm.predict(image)[0]
    logits = cbm.logits(image)[0]
    if target is None:
        assert explanation.target_name == prediction.label == str(prediction)
        assert explanation.probability == pytest.approx(prediction.probability, abs=1e-5)
    assert explanation.logit == pytest.approx(float(logits[explanation.target]), abs=1e-4)
    assert explanation.total + explanation.shared == pytest.approx(explanation.logit, abs=1e-3)


@few(10)
@given(
    spec=an_image(),
    which=st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True),
    value=st.sampled_from([0.0, 0.0, 1.5, -2.0]),
)
def test_setting_concepts_moves_each_logit_by_activation_times_weight(cbm, photos, spec, which, value):
    image = realise([spec], photos)[0]
    used = torch.nonzero((cbm.weights > 0).any(0)).flatten().tolist()  # concepts some recipe uses
    concepts = list(dict.fromkeys(cbm.space.texts[used[j % len(used)]] for j in which))
    result = cbm.intervene(image, {c: value for c in concepts}, k=10)
    f = cbm.space.classifier.features(image)
    scores = cbm.concept_scores(f)[0].double()
    columns = [cbm.concept_index(c) for c in concepts]
    for name, before, after in zip(
        result.table["class_name"], result.table["logit_before"], result.table["logit_after"]
    ):
        c = cbm.space.classifier.class_index(name)
        expected = float((cbm.weights[c, columns].double() * (value - scores[columns])).sum())
        assert after - before == pytest.approx(expected, abs=1e-4)
    if value == 0.0:  # switching off is removing the concepts from every recipe
        without = cbm.without(concepts).logits_from_features(f)[0]
        for name, after in zip(result.table["class_name"], result.table["logit_after"]):
            assert float(without[cbm.space.classifier.class_index(name)]) == pytest.approx(after, abs=1e-4)


# ---- 4. more round trips and invariances ----------------------------------------------------------------------------
@few(5)
@given(specs=st.lists(an_image(), min_size=1, max_size=4), k=st.integers(1, 5))
def test_explaining_a_list_is_explaining_each_image(explainer, photos, specs, k):
    images = realise(specs, photos)
    together = explainer.explain(images, k=k, heatmaps=False)
    for image, e in zip(images, together):
        alone = explainer.explain(image, k=k, heatmaps=False)
        assert list(e.concepts["concept"]) == list(alone.concepts["concept"])
        np.testing.assert_allclose(e.concepts["contribution"], alone.concepts["contribution"], atol=1e-5)


WEIGHED = ["striped fur", "whiskers", "a sofa", "foam", "a small cup", "grass", "metal", "snow"]


@few(8)
@given(
    spec=an_image(),
    texts=st.lists(st.sampled_from(WEIGHED), min_size=1, max_size=5, unique=True),
    order=st.randoms(use_true_random=False),
)
def test_weighing_texts_does_not_depend_on_the_order_they_are_given(explainer, photos, spec, texts, order):
    image = realise([spec], photos)[0]
    shuffled = list(texts)
    order.shuffle(shuffled)
    a = explainer.weigh(image, texts, heatmaps=False)
    b = explainer.weigh(image, shuffled, heatmaps=False)
    assert a.total == pytest.approx(b.total, abs=1e-4) and a.measured == pytest.approx(b.measured, abs=1e-4)
    carry = a.concepts[a.concepts["contribution"] > 1e-6]
    assert list(carry["concept"]) == list(b.concepts["concept"][: len(carry)])
    np.testing.assert_allclose(carry["contribution"], b.concepts["contribution"][: len(carry)], atol=1e-4)


@pytest.fixture(scope="module")
def explained(explainer, photos, tmp_path_factory):
    """A small explained collection with labels (every sample photo, some twice, and noise)."""
    names = list(photos)
    images = [(photos[n], n.split("_")[0]) for n in names] + [(photos[n], "again") for n in names[:4]]
    images += [(noise((64, 64, 3), s), "noise") for s in range(4)]
    folder = tmp_path_factory.mktemp("explained")
    run = explain_collection(explainer, images, Path(folder) / "set.parquet", batch_size=4, progress=False)
    return run


def test_read_explanations_reads_back_the_rows_written(explainer, photos, explained):
    """What the file holds is what each image's explanation says, in the collection's order."""
    frame = read_explanations(explained.path)
    assert frame["id"].tolist() == list(range(len(frame))) and frame.equals(explained.read())
    assert frame.attrs["nlexnb"]["k"] == 5
    raw = pd.read_parquet(explained.path).sort_values("id").reset_index(drop=True)
    same_rows(frame, raw, tol=0)


def ties_in_any_order(table: pd.DataFrame) -> pd.DataFrame:
    """The surroundings named per class, "most frequent first": concepts named equally often may come in any order."""

    def canonical(listed: str) -> str:
        items = [item.rsplit(" (", 1) for item in listed.split("; ")] if listed else []
        return "; ".join(f"{c} ({n}" for c, n in sorted(items, key=lambda cn: (-int(cn[1].rstrip(")")), cn[0])))

    return table.assign(surroundings=[canonical(v) for v in table["surroundings"]])


@few(8)
@given(order=st.randoms(use_true_random=False), by=st.sampled_from(["predicted_name", "label"]))
def test_discovery_tables_do_not_depend_on_the_order_of_the_images(explained, explainer, order, by):
    frame = read_explanations(explained.path)
    perm = list(range(len(frame)))
    order.shuffle(perm)
    shuffled = frame.iloc[perm].reset_index(drop=True)
    shuffled.attrs = frame.attrs
    named = sorted({c for concepts in frame["concepts"] for c in concepts})
    surroundings = named[::3]  # any list of named concepts standing for the surroundings

    def right(label, predicted):  # any fixed rule of what is right
        return (len(label) + len(predicted)) % 2 == 0

    for summary in (
        lambda f: nlexnb.discover.collection_concepts(f, by=by, min_images=1).table,
        lambda f: ties_in_any_order(nlexnb.discover.context_reliance(f, surroundings=surroundings, by=by).table),
        lambda f: nlexnb.discover.context_reliance(f, surroundings=surroundings, by=by).per_image.sort_values("id"),
        lambda f: nlexnb.discover.error_concepts(f, correct=right, min_images=1).table,
    ):
        a, b = summary(frame), summary(shuffled)
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, atol=1e-9)
