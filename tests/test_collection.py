"""explain_collection: a whole collection explained in batches, streamed to Parquet, resumable, bad images listed."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import nlexnb
from nlexnb.collection import COLUMNS, errors_path, explain_collection, read_errors, read_explanations
from nlexnb.concepts import ConceptBank
from nlexnb.explain import Explainer

TIGER_CAT = 282  # what the classifier says about skimage's chelsea


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    """Every eighth concept of the visual bank (~430), plus class names that must never explain their own class: big
    enough that the shortlist, the name filters and the echo test all matter."""
    texts = ConceptBank.visual().texts[::8] + ["tabby cat", "cat", "espresso", "cup", "a cup of espresso", "daisy"]
    return Explainer(classifier, ridge_mapper, texts)


@pytest.fixture(scope="module")
def pictures(photos):
    return list(photos.values())


def same_as_explain(explainer, images, frame, k=5, foil=None, tol=1e-5):
    """Each row of ``frame`` says what ``explainer.explain`` says about the same image."""
    assert list(frame["id"]) == list(range(len(images)))
    for image, row in zip(images, frame.itertuples()):
        e = explainer.explain(image, k=k, foil=foil, heatmaps=False)
        assert row.predicted == e.target and row.predicted_name == e.target_name
        assert row.concepts == list(e.concepts["concept"]), row.path
        np.testing.assert_allclose(row.contributions, e.concepts["contribution"], atol=tol)
        np.testing.assert_allclose(row.shares, e.concepts["share"], atol=tol)
        assert row.total == pytest.approx(e.total, abs=tol) and row.measured == pytest.approx(e.measured, abs=tol)
        assert row.explained == pytest.approx(e.explained, abs=tol)
        assert row.probability == pytest.approx(e.probability, abs=tol)


def same_rows(a: pd.DataFrame, b: pd.DataFrame, tol: float = 1e-6) -> None:
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for column in a.columns:
        if column in ("concepts", "path", "label", "predicted_name", "id", "predicted", "fingerprint"):
            assert a[column].tolist() == b[column].tolist(), column
        elif column in ("contributions", "shares"):
            for x, y in zip(a[column], b[column]):
                np.testing.assert_allclose(x, y, atol=tol)
        else:
            np.testing.assert_allclose(a[column], b[column], atol=tol)


def save(image, path, fmt=None):
    image.save(path, format=fmt)
    return str(path)


# ---- the same answers as one image at a time ------------------------------------------------------------------------
def test_rows_are_the_explanations_of_each_photo(explainer, pictures, tmp_path):
    out = tmp_path / "explanations.parquet"
    run = explain_collection(explainer, pictures, out, k=5, batch_size=3, progress=False)
    assert (run.rows, run.written, run.resumed, run.errors) == (len(pictures), len(pictures), 0, 0)
    frame = read_explanations(out)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(COLUMNS)
    assert frame["path"].isna().all() and frame["label"].isna().all()  # in-memory photos: no path, no label
    same_as_explain(explainer, pictures, frame)
    # contributions add up to the measured drop, as in every explanation
    np.testing.assert_allclose(frame["total"], frame["measured"], atol=1e-4)
    assert frame.attrs["nlexnb"]["k"] == 5 and frame.attrs["nlexnb"]["mapper_fingerprint"]
    assert not (tmp_path / "explanations.parquet.partial").exists() and read_errors(out).empty


def test_rows_are_the_explanations_of_stamp_photos_with_labels(explainer, stamp_set, tmp_path):
    pairs = stamp_set[::15]  # ~20 labelled photos from every folder
    run = explain_collection(explainer, pairs, tmp_path / "stamps.parquet", batch_size=8, progress=False)
    frame = run.read()
    assert frame["label"].tolist() == [label for _, label in pairs]
    assert frame["path"].tolist() == [str(p) for p, _ in pairs]
    same_as_explain(explainer, [p for p, _ in pairs], frame)


def test_contrast_with_a_foil_and_a_photo_predicted_as_the_foil(explainer, pictures, tmp_path):
    out = tmp_path / "contrast.parquet"
    with pytest.warns(UserWarning, match="skipped 1 image"):
        run = explain_collection(explainer, pictures, out, k=3, foil=TIGER_CAT, progress=False)
    errors = run.read_errors()
    assert errors["id"].tolist() == [0] and "predicted as the foil 282" in errors["reason"][0]  # chelsea
    frame = run.read()
    assert frame["id"].tolist() == list(range(1, len(pictures)))
    same_as_explain(explainer, pictures[1:], frame.assign(id=frame["id"] - 1), k=3, foil=TIGER_CAT)


def test_another_selection_method_runs_per_image_with_the_same_answers(explainer, pictures, tmp_path):
    nonnegative = Explainer(explainer.space, selector="nonnegative")
    run = explain_collection(nonnegative, pictures[:4], tmp_path / "nn.parquet", k=4, progress=False)
    same_as_explain(nonnegative, pictures[:4], run.read(), k=4)


def test_a_preference_for_relevant_concepts_is_batched_with_the_same_answers(explainer, pictures, tmp_path):
    relevant = Explainer(explainer.space, relevance=1, shortlist=50)
    run = explain_collection(relevant, pictures, tmp_path / "relevant.parquet", progress=False)
    same_as_explain(relevant, pictures, run.read())


def test_a_torchvision_image_folder_with_a_broken_file_decoded_in_workers(explainer, photos, tmp_path):
    torchvision = pytest.importorskip("torchvision")
    (tmp_path / "cat").mkdir(), (tmp_path / "drink").mkdir()
    cat = save(photos["chelsea"], tmp_path / "cat" / "chelsea.jpg")
    see_through = photos["coffee"].convert("RGBA")  # a PNG with transparency: torchvision's loader drops it
    see_through.putalpha(Image.linear_gradient("L").resize(see_through.size))
    coffee = save(see_through, tmp_path / "drink" / "coffee.png")
    broken = tmp_path / "drink" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    data = torchvision.datasets.ImageFolder(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 image"):
        run = explain_collection(explainer, data, tmp_path / "out.parquet", num_workers=2, progress=False)
    frame = run.read()
    assert frame["label"].tolist() == ["cat", "drink"] and frame["path"].tolist() == [cat, coffee]
    same_as_explain(explainer, [cat, coffee], frame.assign(id=[0, 1]))  # each row is about the file it names
    assert run.read_errors()["path"].tolist() == [str(broken)]
    save(photos["rocket"], broken)  # repaired: the image skipped gets its row when the run is resumed
    again = explain_collection(explainer, data, tmp_path / "out.parquet", progress=False)
    assert (again.written, again.resumed, again.errors) == (1, 2, 0)
    assert again.read()["path"].tolist() == [cat, str(broken), coffee] and again.read_errors().empty


def test_a_random_split_of_an_image_folder_keeps_its_class_names_and_paths(explainer, photos, tmp_path):
    """A Subset (random_split gives them) of an ImageFolder wrote labels "0"/"1" and no paths, file sizes or times,
    so a resumed run could not tell edited files."""
    torchvision = pytest.importorskip("torchvision")
    for folder, names in {"cat": ["chelsea"], "drink": ["coffee"], "plant": ["flower"]}.items():
        (tmp_path / folder).mkdir()
        for name in names:
            save(photos[name], tmp_path / folder / f"{name}.jpg")
    folder = torchvision.datasets.ImageFolder(tmp_path)
    part, _ = torch.utils.data.random_split(folder, [2, 1], generator=torch.Generator().manual_seed(1))
    inner = torch.utils.data.Subset(part, [1])  # a Subset of a Subset: item 0 is folder[part.indices[1]]
    for subset in (part, inner):
        files = [folder.samples[i][0] for i in (part.indices if subset is part else [part.indices[1]])]
        run = explain_collection(explainer, subset, tmp_path / f"{len(files)}.parquet", progress=False)
        frame = run.read()
        assert frame["path"].tolist() == files
        assert frame["label"].tolist() == [os.path.basename(os.path.dirname(f)) for f in files]
        assert frame["file_size"].tolist() == [os.path.getsize(f) for f in files]
        same_as_explain(explainer, files, frame)
    again = explain_collection(explainer, part, tmp_path / "2.parquet", progress=False)
    assert (again.written, again.resumed) == (0, 2)
    shown = torchvision.datasets.ImageFolder(tmp_path, transform=explainer.classifier.transform)
    frame = explain_collection(explainer, torch.utils.data.Subset(shown, [2]), tmp_path / "t.parquet", progress=False)
    frame = frame.read()
    assert frame["path"].tolist() == [shown.samples[2][0]] and frame["label"].tolist() == ["plant"]


def test_a_large_k_names_what_explain_names(explainer, photos, tmp_path):
    """k as large as the bank: explain names far fewer concepts than asked (the rest add nothing), and the batched
    engine, which stops its greedy steps once every image has, names the same ones with the same contributions."""
    images = [photos["chelsea"], photos["coffee"]]
    k = len(explainer.space)
    explanations = [explainer.explain(image, k=k, heatmaps=False) for image in images]
    run = explain_collection(explainer, images, tmp_path / "k.parquet", k=k, progress=False)
    assert all(len(e.concepts) < k / 4 for e in explanations)  # far fewer named than asked
    same_as_explain(explainer, images, run.read(), k=k)


# ---- bad images are skipped, counted and listed ---------------------------------------------------------------------
def test_a_truncated_jpeg_and_a_text_file_named_jpg_are_skipped_and_listed(explainer, photos, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = save(photos["coffee"], folder / "a_coffee.jpg")
    data = open(save(photos["chelsea"], folder / "b_cat.jpg"), "rb").read()
    (folder / "b_cat.jpg").write_bytes(data[: len(data) // 2])  # truncated
    (folder / "c_notes.jpg").write_text("not an image, whatever its name says")
    (folder / "readme.txt").write_text("left out: not an image by its extension")
    with pytest.warns(UserWarning) as caught:
        run = explain_collection(explainer, folder, tmp_path / "out.parquet", batch_size=2, progress=False)
    assert any("left out 1 file" in str(w.message) for w in caught)
    assert any("skipped 2 image" in str(w.message) for w in caught)
    assert (run.rows, run.errors) == (1, 2)  # the run went on
    assert run.read()["path"].tolist() == [good]
    errors = read_errors(tmp_path / "out.parquet")
    assert errors["path"].tolist() == [str(folder / "b_cat.jpg"), str(folder / "c_notes.jpg")]
    assert "truncated" in errors["reason"][0] and "corrupt, truncated or not an image" in errors["reason"][1]
    assert errors_path(tmp_path / "out.parquet") == tmp_path / "out.errors.parquet"
    written = (tmp_path / "out.parquet").stat().st_mtime_ns
    with pytest.warns(UserWarning, match="skipped 2 image"):  # tried again, and they fail again
        again = explain_collection(explainer, folder, tmp_path / "out.parquet", batch_size=2, progress=False)
    assert (again.written, again.resumed, again.errors) == (0, 1, 2)
    assert (tmp_path / "out.parquet").stat().st_mtime_ns == written  # the finished file is not rewritten for nothing
    assert not errors_path(tmp_path / "out.parquet").with_name("out.parquet.partial").exists()


# ---- interruption and resume ----------------------------------------------------------------------------------------
class Photos(torch.utils.data.Dataset):
    """Photos that stop the run (as a crash or Ctrl-C would) at item ``fail_at``, and remember what was asked."""

    def __init__(self, images, fail_at=None):
        self.images, self.fail_at, self.asked = images, fail_at, []

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyboardInterrupt
        self.asked.append(i)
        return self.images[i]


def test_a_file_that_is_not_parquet_is_named_not_parsed(tmp_path):
    notes = tmp_path / "notes.parquet"
    notes.write_text("my notes, not explanations")
    with pytest.raises(ValueError, match=r"notes\.parquet' cannot be read as an explanations file: .* not a Parquet"):
        read_explanations(notes)
    with pytest.raises(FileNotFoundError, match="No explanations file at"):
        read_explanations(tmp_path / "missing.parquet")


def test_an_interrupted_run_resumes_where_it_stopped(explainer, pictures, tmp_path):
    out = tmp_path / "run.parquet"
    with pytest.raises(KeyboardInterrupt):
        explain_collection(explainer, Photos(pictures, fail_at=5), out, batch_size=3, progress=False)
    assert not out.exists()  # nothing half-written under the final name
    with pytest.raises(FileNotFoundError, match="partial=True"):
        read_explanations(out)
    assert read_explanations(out, partial=True)["id"].tolist() == [0, 1, 2]  # the finished batch was kept
    (tmp_path / "run.parquet.partial" / ".rows-dead-00001.parquet.tmp").write_bytes(b"PAR1 killed mid-write")

    rest = Photos(pictures)
    run = explain_collection(explainer, rest, out, batch_size=3, progress=False)
    assert rest.asked[:3] == [0, 1, 2]  # the written images read again: still the collection's (fingerprints)
    assert sorted(rest.asked[3:]) == list(range(3, len(pictures)))  # only the rest was explained
    assert (run.resumed, run.written, run.rows) == (3, len(pictures) - 3, len(pictures))
    assert not (tmp_path / "run.parquet.partial").exists()

    whole = explain_collection(explainer, pictures, tmp_path / "whole.parquet", batch_size=3, progress=False)
    same_rows(read_explanations(out), whole.read())


def test_a_finished_file_grows_with_its_collection(explainer, pictures, tmp_path):
    out = tmp_path / "grow.parquet"
    explain_collection(explainer, pictures[:3], out, progress=False)
    again = explain_collection(explainer, pictures[:3], out, progress=False)
    assert (again.written, again.resumed) == (0, 3)  # nothing to do
    more = explain_collection(explainer, pictures[:5], out, progress=False)
    assert (more.written, more.resumed, more.rows) == (2, 3, 5)
    same_as_explain(explainer, pictures[:5], more.read())


# ---- refused, with the reason ---------------------------------------------------------------------------------------
def test_a_file_from_another_mapper_or_setting_is_refused(explainer, classifier, encoder, pictures, tmp_path):
    out = tmp_path / "one.parquet"
    explain_collection(explainer, pictures[:2], out, progress=False)
    other = Explainer(classifier, nlexnb.fit_mapper(classifier, encoder, method="ridge", alpha=10.0), explainer.bank)
    with pytest.raises(ValueError, match="mapper_fingerprint: '[0-9a-f]+' there, '[0-9a-f]+' now"):
        explain_collection(other, pictures[:2], out, progress=False)
    with pytest.raises(ValueError, match="k: 5 there, 3 now"):
        explain_collection(explainer, pictures[:2], out, k=3, progress=False)
    with pytest.raises(ValueError, match="foil: None there, 282 now"):
        explain_collection(explainer, pictures[:2], out, foil="tiger cat", progress=False)
    smaller = Explainer(explainer.space.classifier, explainer.mapper, explainer.bank.texts[:100])
    with pytest.raises(ValueError, match="bank_digest"):
        explain_collection(smaller, pictures[:2], out, progress=False)
    assert read_explanations(out)["id"].tolist() == [0, 1]  # untouched


@pytest.mark.parametrize(
    "option, value",
    [
        ("relevance", 2.0),
        ("sense_margin", 0.2),
        ("sense_floor", 0.5),
        ("other_animals", True),
        ("unlisted_things", True),
        ("unlisted_colours", True),
        ("max_alignment", 0.4),
        ("selector", "nonnegative"),
    ],
)
def test_resuming_with_any_other_explainer_option_is_refused(explainer, pictures, tmp_path, option, value):
    """A resumed run took another relevance, sense test or animal rule without a word, and mixed rows made both
    ways in one file; every option of the explainer is now part of what a file was made with."""
    out = tmp_path / "one.parquet"
    explain_collection(explainer, pictures[:2], out, progress=False)
    other = Explainer(explainer.space, **{option: value})
    with pytest.raises(ValueError, match=rf"{option}: .* there, .* now"):
        explain_collection(other, pictures[:3], out, progress=False)
    assert read_explanations(out)["id"].tolist() == [0, 1]  # untouched


def test_resuming_with_another_selector_setting_is_refused(explainer, pictures, tmp_path):
    """Two selectors of one name chose differently and the resumed run kept the first one's rows: a selector's
    class and settings are part of what a file was made with."""
    from nlexnb.selection import NonNegativeSelector

    out = tmp_path / "one.parquet"
    explain_collection(Explainer(explainer.space, selector=NonNegativeSelector(steps=5)), pictures[:2], out)
    with pytest.raises(ValueError, match=r"selector: .*'steps': 5\} there, .*'steps': 400\} now"):
        explain_collection(Explainer(explainer.space, selector=NonNegativeSelector(steps=400)), pictures[:3], out)
    assert read_explanations(out)["id"].tolist() == [0, 1]  # untouched


def test_a_file_for_another_collection_is_refused(explainer, photos, tmp_path):
    a, b = save(photos["coffee"], tmp_path / "a.jpg"), save(photos["rocket"], tmp_path / "b.jpg")
    out = tmp_path / "ab.parquet"
    explain_collection(explainer, [a, b], out, progress=False)
    with pytest.raises(ValueError, match="another collection: image id 0 is '.*a.jpg' there and '.*b.jpg' here"):
        explain_collection(explainer, [b, a], out, progress=False)


def test_a_file_that_is_not_ours_is_never_overwritten(explainer, pictures, tmp_path):
    out = tmp_path / "mine.parquet"
    out.write_text("someone's notes")
    with pytest.raises(ValueError, match="not a Parquet file"):
        explain_collection(explainer, pictures[:1], out, progress=False)
    assert out.read_text() == "someone's notes"


def test_remove_explanations_removes_a_run_and_nothing_else(explainer, pictures, tmp_path):
    """It deleted whatever path it was given: a CSV of results, a photo, someone else's Parquet file."""
    from nlexnb.collection import remove_explanations

    out = tmp_path / "run.parquet"
    with pytest.warns(UserWarning, match="skipped 1 image"):
        explain_collection(explainer, [*pictures[:2], tmp_path / "missing.jpg"], out, progress=False)
    assert out.exists() and errors_path(out).exists()
    remove_explanations(out)
    assert not out.exists() and not errors_path(out).exists()
    results = tmp_path / "results.csv"
    results.write_text("image,accuracy\n1,0.9\n")
    pd.DataFrame({"a": [1]}).to_parquet(theirs := tmp_path / "theirs.parquet")
    for path in (results, theirs):
        with pytest.raises(ValueError, match="was not written by explain_collection .* nothing removed"):
            remove_explanations(path)
        assert path.exists()
    with pytest.raises(ValueError, match="is a folder, not an explanations file; nothing removed"):
        remove_explanations(tmp_path)
    mine = tmp_path / "new.parquet.partial"  # a user's folder that happens to have a run's parts' name
    mine.mkdir()
    (mine / "mydata.txt").write_text("x")
    with pytest.raises(ValueError, match="holds files explain_collection did not write .*'mydata.txt'"):
        remove_explanations(tmp_path / "new.parquet")
    assert (mine / "mydata.txt").exists()
    parts = tmp_path / "old.parquet.partial"  # what an interrupted run leaves: its parts go, and the folder
    parts.mkdir()
    for name in (
        "rows-18c5a2b3f-4242-00000.parquet",
        "errors-18c5a2b3f-4242-123456.parquet",
        ".rows-1-2-00001.parquet.tmp",
    ):
        (parts / name).write_bytes(b"")
    remove_explanations(tmp_path / "old.parquet")
    assert not parts.exists()


def test_one_run_at_a_time_writes_a_file_and_a_killed_runs_lock_is_taken_over(explainer, pictures, tmp_path):
    import json
    import socket
    import subprocess
    import sys

    out, lock = tmp_path / "locked.parquet", tmp_path / ".locked.parquet.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))  # a live writer
    with pytest.raises(RuntimeError, match="Another explain_collection run .* is writing"):
        explain_collection(explainer, pictures[:1], out, progress=False)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": int(gone.stdout)}))  # a killed writer
    assert explain_collection(explainer, pictures[:1], out, progress=False).rows == 1
    assert not lock.exists()


def test_the_ray_engine_names_the_extra_to_install(explainer, pictures, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` raises ImportError
    with pytest.raises(ImportError, match=r"pip install nlexnb\[ray\]"):
        explain_collection(explainer, pictures, tmp_path / "x.parquet", engine="ray")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance for this module's Ray tests (CI installs nlexnb[ray]); shut down afterwards."""
    ray = pytest.importorskip("ray", reason="the Ray engine is tested where nlexnb[ray] is installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


def test_ray_writes_the_same_rows_as_one_process(explainer, stamp_set, local_ray, tmp_path):
    pairs = stamp_set[::15] + [(tmp_path / "broken.jpg", "none")]
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    one = explain_collection(explainer, pairs, tmp_path / "local.parquet", batch_size=4, progress=False)
    with pytest.warns(UserWarning, match="skipped 1 image"):
        on_ray = explain_collection(
            explainer, pairs, tmp_path / "ray.parquet", batch_size=4, num_workers=2, engine="ray", progress=False
        )
    # same concepts; numbers within 1e-5 (a Ray actor runs the convolutions on one thread, summing in another order)
    ordered = [run.read().sort_values("id", ignore_index=True) for run in (one, on_ray)]
    same_rows(*ordered, tol=1e-5)
    assert read_errors(on_ray.path)["path"].tolist() == [str(tmp_path / "broken.jpg")]
    # the same file layout: a local run finds nothing left to do in the Ray run's file
    again = explain_collection(explainer, pairs, on_ray.path, progress=False)
    assert again.written == 0 and again.rows == len(pairs) - 1


def test_an_error_in_a_ray_worker_is_raised_as_the_local_engine_raises_it(explainer, pictures, local_ray, tmp_path):
    """Ray wrapped a worker's ValueError in 40 to 76 lines of its own, of another type."""

    class Labelled(torch.utils.data.Dataset):
        classes = ["a", "b"]

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return pictures[0], 5 if i == 2 else 0

    label = r"label 5 of images\[2\] is not an index into the dataset's 2 classes"
    with pytest.raises(ValueError, match=label) as info:
        explain_collection(explainer, Labelled(), tmp_path / "x.parquet", batch_size=2, engine="ray", progress=False)
    assert "raised in a Ray worker; the batches that reached this process before it are kept" in "".join(
        getattr(info.value, "__notes__", [])
    )
    assert read_explanations(tmp_path / "x.parquet", partial=True)["id"].tolist() == [0, 1]  # Ray dropped them


def test_a_warning_in_a_ray_worker_reaches_the_caller(explainer, pictures, local_ray, tmp_path):
    """A worker's log stays in the worker: "only 1x1 pixels" was said by the local engine and lost on Ray."""
    from PIL import Image

    tiny = [pictures[0], Image.new("RGB", (1, 1), "red")]
    with pytest.warns(UserWarning, match=r"1x1 pixels.* \(in a Ray worker\)"):
        run = explain_collection(explainer, tiny, tmp_path / "x.parquet", batch_size=1, engine="ray", progress=False)
    assert run.rows == 2


def test_ray_needs_images_it_can_read_by_position(explainer, pictures, local_ray, tmp_path):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(pictures)

    with pytest.raises(ValueError, match="not an IterableDataset"):
        explain_collection(explainer, Stream(), tmp_path / "x.parquet", engine="ray")


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(images="/no/such/folder"), FileNotFoundError, "images: folder not found"),
        (dict(images="EMPTY"), ValueError, "no image files"),
        (dict(images=[]), ValueError, "images is an empty list"),
        (dict(images=42), TypeError, "images must be a folder, a list"),
        (dict(images=iter([])), TypeError, "iterator"),
        (dict(images="PHOTO_AND_NUMBER"), TypeError, r"images\[1\] is a int"),
        (dict(images="PAIR_AND_PHOTO"), TypeError, "mixes"),
        (dict(k=0), ValueError, "k must be a positive number of concepts"),
        (dict(batch_size=0), ValueError, "batch_size must be a positive"),
        (dict(num_workers=-1), ValueError, "num_workers must be"),
        (dict(engine="spark"), ValueError, "engine must be one of"),
        (dict(foil="no such class"), ValueError, "Unknown foil"),
        (dict(out="DIR"), ValueError, "out is a folder"),
        (dict(out="CSV"), ValueError, "out must be a .parquet file"),
        (dict(explainer="CLASSIFIER"), TypeError, "explainer must be an nlexnb.Explainer"),
    ],
)
def test_mistakes_name_the_parameter(explainer, classifier, pictures, tmp_path, change, error, match):
    (tmp_path / "empty").mkdir()
    args = dict(explainer=explainer, images=pictures[:2], out=tmp_path / "x.parquet")
    args.update(change)
    special = {
        "EMPTY": tmp_path / "empty",
        "PHOTO_AND_NUMBER": [pictures[0], 3],
        "PAIR_AND_PHOTO": [(pictures[0], "cat"), pictures[1]],
        "DIR": tmp_path,
        "CSV": tmp_path / "explanations.csv",
        "CLASSIFIER": classifier,
    }
    args = {key: special.get(v, v) if isinstance(v, str) else v for key, v in args.items()}
    with pytest.raises(error, match=match):
        explain_collection(args.pop("explainer"), args.pop("images"), **args, progress=False)


def test_an_iterable_dataset_is_numbered_in_its_order(explainer, pictures, tmp_path):
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield from ((p, "photo") for p in pictures[:3])

    with pytest.raises(ValueError, match="num_workers must be 0 for an IterableDataset"):
        explain_collection(explainer, Stream(), tmp_path / "s.parquet", num_workers=2)
    run = explain_collection(explainer, Stream(), tmp_path / "s.parquet", batch_size=2, progress=False)
    frame = run.read()
    assert frame["label"].tolist() == ["photo"] * 3 and run.images is None
    same_as_explain(explainer, pictures[:3], frame)


@pytest.mark.slow
def test_the_default_bank_and_kernel_mapper_give_the_same_answers(classifier, mapper, pictures, tmp_path):
    explainer = Explainer(classifier, mapper)  # ~3,400 concepts: encoded once (slow the first time)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing skipped
        run = explain_collection(explainer, pictures, tmp_path / "default.parquet", batch_size=4, progress=False)
    same_as_explain(explainer, pictures, run.read())
    assert os.path.getsize(run.path) > 0
