"""Bad input to whole-collection calls (explain_collection, read_explanations, discover's views of a collection and
its other functions) is refused with a message naming it, rather than answered silently and wrongly."""

from __future__ import annotations

import json
import os
import time
import warnings

import pandas as pd
import pytest
import torch

import nlexnb
from nlexnb import discover
from nlexnb._checks import UnnormalisedWarning
from nlexnb.collection import errors_path, explain_collection, read_errors, read_explanations

CONCEPTS = ["striped fur", "whiskers", "a sofa", "brew", "small cup", "sky", "snow", "grass", "petals", "black gown"]


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    """A bank of ten concepts: every run below takes a fraction of a second per photo."""
    return nlexnb.Explainer(classifier, ridge_mapper, CONCEPTS, progress=False)


@pytest.fixture(scope="module")
def written(explainer, photos, tmp_path_factory):
    """Four labelled photos and one broken file, explained: the explanations file (and its errors file)."""
    folder = tmp_path_factory.mktemp("written")
    (folder / "broken.jpg").write_bytes(b"not an image")
    pairs = [
        (photos["coffee"], "drink"),  # espresso
        (photos["chelsea"], "cat"),  # tiger cat
        (photos["grace_hopper"], "person"),  # academic gown, academic robe, judge's robe
        (photos["flower"], "plant"),  # daisy
        (str(folder / "broken.jpg"), "none"),
    ]
    with pytest.warns(UserWarning, match="skipped 1 image"):
        run = explain_collection(explainer, pairs, folder / "x.parquet", k=3, progress=False)
    return run.path


class Labelled(torch.utils.data.Dataset):
    """A map-style dataset of (image, class index) items named by ``classes``, as torchvision's are."""

    classes = ["a", "b"]

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


# ---- 1. a resumed run checks that the collection is the same -------------------------------------------------------
def test_resuming_with_other_in_memory_images_is_refused(explainer, photos, tmp_path):
    """In-memory images have no path to compare: other images at the same positions used to resume as '0 new, 2
    resumed', keeping the first images' rows."""
    out = tmp_path / "m.parquet"
    explain_collection(explainer, [photos["coffee"], photos["chelsea"]], out, progress=False)
    with pytest.raises(ValueError, match=r"another collection: image 0 is not the image it holds now \(its pixels"):
        explain_collection(explainer, [photos["rocket"], photos["astronaut"]], out, progress=False)
    again = explain_collection(explainer, [photos["coffee"], photos["chelsea"]], out, progress=False)
    assert (again.written, again.resumed) == (0, 2)  # the same images resume as before
    assert read_explanations(out)["fingerprint"].str.fullmatch("[0-9a-f]{16}").all()
    # every in-memory image is read again, not a sample of 8: two swapped among twelve are found
    twelve = [im.rotate(angle) for im in photos.values() for angle in (0, 90)][:12]
    explain_collection(explainer, twelve, tmp_path / "twelve.parquet", progress=False)
    twelve[1], twelve[4] = twelve[4], twelve[1]
    with pytest.raises(ValueError, match=r"image 1 is not the image it holds now \(its pixels differ"):
        explain_collection(explainer, twelve, tmp_path / "twelve.parquet", progress=False)


def test_a_file_replaced_under_the_same_name_is_refused(explainer, photos, tmp_path):
    """A path that now holds another photo used to keep the old photo's row."""
    a, b = str(tmp_path / "a.png"), str(tmp_path / "b.png")
    photos["coffee"].save(a)
    photos["chelsea"].save(b)
    out = tmp_path / "files.parquet"
    explain_collection(explainer, [a, b], out, progress=False)
    photos["rocket"].save(a)
    with pytest.raises(ValueError, match=r"image 0 \('.*a.png'\) is not the image it holds now"):
        explain_collection(explainer, [a, b], out, progress=False)


def test_every_file_edited_since_its_row_is_read_again_not_a_sample(explainer, photos, tmp_path):
    """Files are checked by size and modification time, every one of them: an edit to a file outside the 8 read
    again at random used to keep its stale row. A file only touched (same pixels) resumes."""
    views = [im.rotate(angle) for im in photos.values() for angle in (0, 90)][:12]
    paths = [str(tmp_path / f"{i:02d}.png") for i in range(12)]
    for view, path in zip(views, paths):
        view.save(path)
    out = tmp_path / "twelve.parquet"
    explain_collection(explainer, paths, out, progress=False)
    rows = read_explanations(out)
    assert (rows["file_size"] == [os.path.getsize(p) for p in paths]).all()
    assert (rows["file_mtime_ns"] == [os.stat(p).st_mtime_ns for p in paths]).all()

    os.utime(paths[4], ns=(0, 10**18))  # touched: the same pixels under a new time
    again = explain_collection(explainer, paths, out, progress=False)
    assert (again.written, again.resumed) == (0, 12)

    views[1].save(paths[4])  # image 4 is not among the 8 spread over the ids (0, 2, 3, 5, 6, 8, 9, 11)
    with pytest.raises(ValueError, match=r"image 4 \('.*04.png'\) is not the image it holds now \(its pixels"):
        explain_collection(explainer, paths, out, progress=False)
    views[4].save(paths[4])  # written again with its own pixels: resumes
    os.remove(paths[7])
    with pytest.raises(ValueError, match=r"image 7 \('.*07.png'\) is not the image it holds now \(it cannot be read"):
        explain_collection(explainer, paths, out, progress=False)


def test_pairs_whose_labels_changed_are_refused(explainer, photos, tmp_path):
    """The labels of (image, label) pairs are known before any image is read: new labels used to keep old rows."""
    out = tmp_path / "pairs.parquet"
    explain_collection(explainer, [(photos["coffee"], "cup"), (photos["chelsea"], "cat")], out, progress=False)
    with pytest.raises(ValueError, match="image id 0 is labelled 'cup' there and 'mug' here"):
        explain_collection(explainer, [(photos["coffee"], "mug"), (photos["chelsea"], "cat")], out, progress=False)


def test_a_dataset_whose_labels_changed_is_refused(explainer, photos, tmp_path):
    """A Dataset's labels are read with its images: the images read again on resuming have their labels checked."""
    out = tmp_path / "dataset.parquet"
    explain_collection(explainer, Labelled([(photos["coffee"], 0), (photos["chelsea"], 1)]), out, progress=False)
    with pytest.raises(ValueError, match="image id 0 is labelled 'a' there and 'b' here"):
        explain_collection(explainer, Labelled([(photos["coffee"], 1), (photos["chelsea"], 1)]), out, progress=False)


def test_a_file_of_the_earlier_format_is_refused_but_still_read(explainer, photos, tmp_path):
    """A file written before fingerprints cannot be checked on resuming: it is refused, with a reason, and read."""
    import pyarrow.parquet as pq

    out = tmp_path / "old.parquet"
    explain_collection(explainer, [photos["coffee"]], out, progress=False)
    table = pq.read_table(out)
    meta = dict(table.schema.metadata)
    identity = json.loads(meta[b"nlexnb.identity"])
    meta[b"nlexnb.identity"] = json.dumps({**identity, "format": 1}).encode()
    pq.write_table(table.drop_columns(["fingerprint"]).replace_schema_metadata(meta), out)
    with pytest.raises(ValueError, match=r"written in explanations file format 1 .* read_explanations still reads it"):
        explain_collection(explainer, [photos["coffee"]], out, progress=False)
    frame = read_explanations(out)
    assert len(frame) == 1 and "fingerprint" not in frame.columns


def test_resuming_after_the_backbone_changed_under_the_same_head_is_refused(classifier, ridge_mapper, photos, tmp_path):
    """The file named the classifier by its head alone: a backbone fine-tuned under a frozen head resumed without a
    word, its new rows beside the old model's."""
    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "foam", "a small cup"])
    out = tmp_path / "tuned.parquet"
    explain_collection(explainer, [photos["coffee"]], out, k=2, progress=False)
    other = nlexnb.load_classifier(classifier.name, device="cpu")  # a copy of its own, tuned below
    with torch.no_grad():
        next(p for n, p in other.model.named_parameters() if "conv_stem" in n).mul_(1.5)
    assert other.fingerprint == classifier.fingerprint  # the same head
    assert other.weights_digest() != classifier.weights_digest()
    moved = nlexnb.Explainer(other, ridge_mapper, ["striped fur", "foam", "a small cup"])
    with pytest.raises(ValueError, match=r"classifier_weights: '[0-9a-f]{16}' there, '[0-9a-f]{16}' now"):
        explain_collection(moved, [photos["coffee"], photos["chelsea"]], out, k=2, progress=False)


# ---- 2. a dataset's class index -------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", [-1, 5])
def test_a_dataset_label_outside_its_classes_is_refused(explainer, photos, tmp_path, label):
    """-1 used to name the last class ('b'), and 5 raised a bare IndexError."""
    with pytest.raises(ValueError, match=rf"label {label} of images\[0\] is not an index into the dataset's 2 classes"):
        explain_collection(explainer, Labelled([(photos["coffee"], label)]), tmp_path / "x.parquet", progress=False)


# ---- 3. what counts as a right prediction ---------------------------------------------------------------------------
def test_class_names_in_correct_are_read_as_class_names(written):
    """A misspelt class name in correct= used to count every right prediction of its label as wrong. Names are read
    as class_index reads them: a synonym in any case stands for its class."""
    explanations = read_explanations(written)
    with pytest.raises(ValueError, match=r"correct\['drink'\] names 'expresso', .* close matches: \['espresso'"):
        discover.error_concepts(explanations, correct={"drink": ["expresso"], "cat": ["tabby"]}, min_images=1)
    right = {"drink": ["espresso"], "cat": ["tabby"], "person": ["Academic Gown"]}
    verdicts = discover.error_concepts(explanations, correct=right, min_images=1).per_image["correct"]
    assert verdicts.tolist() == [True, False, True, None]  # the daisy's label is not judged


def test_a_frame_without_class_names_checks_them_against_classes(written):
    """A frame built by hand records no class names: classes= checks them, and without it a warning names the ones
    that no image is predicted as."""
    hand_made = read_explanations(written)
    hand_made.attrs = {}
    with pytest.warns(UserWarning, match=r"correct= names 1 class\(es\) that no image here is predicted as"):
        discover.error_concepts(hand_made, correct={"drink": ["expresso"], "cat": ["tiger cat"]}, min_images=1)
    with pytest.raises(ValueError, match="names 'expresso', which is not one of the classifier's class names"):
        discover.error_concepts(hand_made, correct={"drink": ["expresso"]}, classes=["espresso", "tiger cat"])


def test_a_rule_must_take_a_label_and_a_predicted_name(written):
    """A function of one argument used to fail inside pandas' loop with Python's own words."""
    with pytest.raises(TypeError, match=r"correct must take \(label, predicted_name\)"):
        discover.error_concepts(read_explanations(written), correct=lambda label: True)


# ---- 4. what counts as surroundings ---------------------------------------------------------------------------------
def test_surroundings_no_explanation_or_bank_knows_are_named(written):
    """A typo in surroundings= used to report 0.0% reliance; beside a known text it is warned about."""
    explanations = read_explanations(written)
    with pytest.raises(ValueError, match=r"surroundings \['snwo'\] is not a concept: .* did you mean \['snow'\]"):
        discover.context_reliance(explanations, surroundings=["snwo"])
    with pytest.warns(UserWarning, match=r"surroundings \['snwo'\] is not a concept"):
        discover.context_reliance(explanations, surroundings=["sky", "snwo"])


def test_every_kind_must_be_one_the_bank_records(written):
    """kinds=['scene', 'scenery'] used to ignore the unknown kind silently (while ['scen'] alone was an error)."""
    with pytest.raises(ValueError, match=r"bank 'visual' records no concept of kind \['scenery'\]"):
        discover.context_reliance(read_explanations(written), kinds=["scene", "scenery"])


# ---- 5. sub-concepts of copies --------------------------------------------------------------------------------------
def test_subconcepts_of_copies_of_one_image_are_refused(explainer, photos, classifier):
    """Four copies of one photo in two clusters used to give an empty cluster, a NaN score and concepts all the same."""
    with pytest.raises(ValueError, match="the 4 images are one and the same .* nothing varies"):
        discover.subconcepts(explainer.space, [photos["coffee"]] * 4, n_clusters=2)
    features = classifier.features([photos["coffee"], photos["chelsea"]])[[0, 0, 1, 1, 1]]
    with pytest.raises(ValueError, match="hold only 2 distinct images .* n_clusters must be at most 2, got 3"):
        discover.subconcepts(explainer.space, features, n_clusters=3, precomputed=True)


# ---- 6. the file read back ------------------------------------------------------------------------------------------
def test_the_errors_file_is_not_read_as_explanations(written):
    """read_errors of the errors file itself used to give an empty frame, and read_explanations of it the errors as
    explanations."""
    errors = written.with_name("x.errors.parquet")
    assert read_errors(written)["label"].tolist() == ["none"]
    with pytest.raises(ValueError, match=r"is the errors file .* read_errors\('.*x\.parquet'\)"):
        read_errors(errors)
    with pytest.raises(ValueError, match=r"is the errors file .* read_explanations\('.*x\.parquet'\)"):
        read_explanations(errors)


def test_a_foreign_file_or_no_path_is_named(tmp_path):
    """A Parquet file nlexnb did not write used to give KeyError: Index(['id']), and None a pathlib TypeError."""
    foreign = tmp_path / "foreign.parquet"
    pd.DataFrame({"id": [0], "score": [1.0]}).to_parquet(foreign)
    with pytest.raises(ValueError, match="was not written by explain_collection"):
        read_explanations(foreign)
    for path in (None, [str(foreign)]):
        with pytest.raises(TypeError, match=r"path must be the explanations file .* got (NoneType|list)"):
            read_explanations(path)


# ---- 7, 8. discover's other arguments --------------------------------------------------------------------------------
def test_grouping_by_a_list_column_is_refused(written):
    """by='concepts' used to fail with "unhashable type: 'list'"."""
    with pytest.raises(TypeError, match="by='concepts' holds a list per image .* one value per image"):
        discover.collection_concepts(read_explanations(written), by="concepts", min_images=1)


def test_concept_words_takes_one_text():
    """concept_words(None) used to raise an AttributeError from inside."""
    assert {"stripe", "fur"} <= discover.concept_words("striped fur")
    with pytest.raises(TypeError, match="concept_words takes one concept text .* got NoneType None"):
        discover.concept_words(None)


# ---- 9, 10, 11. explain_collection's other arguments ----------------------------------------------------------------
def test_an_empty_iterable_dataset_is_refused_as_an_empty_dataset(explainer, tmp_path):
    """An empty IterableDataset used to write an empty explanations file silently."""

    class Nothing(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([])

    out = tmp_path / "empty.parquet"
    with pytest.raises(ValueError, match="images is an empty IterableDataset: it yielded no item"):
        explain_collection(explainer, Nothing(), out, progress=False)
    assert not out.exists() and not (tmp_path / "empty.parquet.partial").exists()


def test_progress_is_a_switch(explainer, photos, tmp_path):
    """progress='no' is a true string: it used to show the bar."""
    with pytest.raises(TypeError, match="progress must be True, False or None .* got 'no'"):
        explain_collection(explainer, [photos["coffee"]], tmp_path / "x.parquet", progress="no")


def test_one_pair_is_not_a_collection_of_two_images(explainer, photos, tmp_path):
    """(path, 'cup') used to be read as two images, the label as a missing file."""
    path = str(tmp_path / "coffee.png")
    photos["coffee"].save(path)
    with pytest.raises(TypeError, match=r"images is one \(image, label\) pair; pass a list of pairs: \[\('.*'"):
        explain_collection(explainer, (path, "cup"), tmp_path / "x.parquet", progress=False)


# ---- 12, 13. discovery tables and what discovery takes --------------------------------------------------------------
@pytest.mark.parametrize("max_rows", [0, -1, "5"])
def test_a_table_plot_takes_a_positive_number_of_rows(explainer, max_rows):
    """max_rows=0, -1 or '5' used to reach matplotlib or pandas."""
    table = discover.class_concepts(explainer, "espresso", k=3)
    with pytest.raises(ValueError, match=f"max_rows must be a positive number of rows .* got {max_rows!r}"):
        table.plot(max_rows=max_rows)


def test_discovery_takes_an_explainer_for_its_space(explainer):
    """class_concepts(explainer, 'espresso') used to say "After a classifier comes its mapper ... got str"."""
    by_explainer = discover.class_concepts(explainer, "espresso", k=3)
    pd.testing.assert_frame_equal(by_explainer.table, discover.class_concepts(explainer.space, "espresso", k=3).table)
    with pytest.raises(ValueError, match="An Explainer already holds its bank"):
        discover.class_concepts(explainer, "espresso", bank="visual")


# ---- 14. the lock of a run ------------------------------------------------------------------------------------------
def test_an_empty_lock_is_a_run_starting_then_a_dead_one(explainer, photos, tmp_path):
    """An empty lock file used to say 'pid None on None' and could never be taken over."""
    out, lock = tmp_path / "locked.parquet", tmp_path / ".locked.parquet.lock"
    lock.write_text("")
    with pytest.raises(RuntimeError, match="is starting to write .* not yet written") as caught:
        explain_collection(explainer, [photos["coffee"]], out, progress=False)
    assert "None" not in str(caught.value)
    old = time.time() - 120
    os.utime(lock, (old, old))  # left by a run killed two minutes ago
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert explain_collection(explainer, [photos["coffee"]], out, progress=False).rows == 1
    assert not lock.exists()


def test_float_tensors_that_are_not_preprocessed_images_are_refused_naming_the_item(explainer, photos, tmp_path):
    """A Dataset's float tensor [3, H, W] is taken as preprocessed: pixel values 0-255 were explained silently, then
    skipped one by one, giving a "successful" run of 0 rows. It is the collection's mistake, not one image's."""
    from torchvision.transforms import ToTensor

    pixels = ToTensor()(photos["chelsea"].resize((224, 224))) * 255
    out = tmp_path / "p.parquet"
    with pytest.raises(ValueError, match=r"images\[1\] is a float tensor taken as preprocessed.*Pixel values 0-255\?"):
        explain_collection(explainer, Labelled([(photos["coffee"], 0), (pixels, 0)]), out, progress=False)
    assert not out.exists() and not errors_path(out).exists()
    scaled = Labelled([(photos["coffee"], 0), (pixels / 255 * 2 - 1, 0)])  # what the classifier's transform gives
    assert explain_collection(explainer, scaled, out, progress=False).rows == 2


def test_a_collection_none_of_whose_images_can_be_read_is_an_error_and_the_corrected_run_starts_afresh(
    explainer, photos, tmp_path, monkeypatch
):
    """Relative paths from another working folder used to give "0 explanations, 2 skipped" and a 0-row file, and
    the rerun with the right paths was refused as "another collection"."""
    (tmp_path / "photos").mkdir()
    photos["coffee"].save(tmp_path / "photos" / "coffee.png")
    photos["chelsea"].save(tmp_path / "photos" / "chelsea.png")
    out = tmp_path / "runs" / "x.parquet"
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path / "runs")
    relative = ["photos/coffee.png", "photos/chelsea.png"]  # relative to tmp_path, not to the working folder
    with pytest.raises(ValueError, match="could not read any of the 2 images") as refused:
        explain_collection(explainer, relative, out, progress=False)
    message = str(refused.value)
    assert "images[0] ('photos/coffee.png'): FileNotFoundError" in message and "images[1] (" in message
    assert f"working folder {str(tmp_path / 'runs')!r}" in message
    assert sorted(os.listdir(tmp_path / "runs")) == []  # nothing that would block the corrected run
    monkeypatch.chdir(tmp_path)
    run = explain_collection(explainer, relative, out, progress=False)
    assert (run.rows, run.errors) == (2, 0)
    with pytest.raises(ValueError, match="could not read its one image"):
        explain_collection(explainer, [str(tmp_path / "gone.png")], tmp_path / "one.parquet", progress=False)


def test_a_dataset_normalised_for_another_model_is_refused(explainer, photos, tmp_path):
    """An ImageFolder normalised with ImageNet's mean and std was explained as this classifier (mean = std = 0.5)
    never sees it: the chelsea photo as 'Egyptian cat' with other concepts, without a word."""
    from torchvision import transforms as T
    from torchvision.datasets import ImageFolder

    (tmp_path / "cat").mkdir()
    photos["chelsea"].save(tmp_path / "cat" / "a.jpg")
    imagenet = T.Compose(
        [T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    )
    for dataset in (
        ImageFolder(tmp_path, transform=imagenet),
        torch.utils.data.Subset(ImageFolder(tmp_path, imagenet), [0]),
    ):
        with pytest.raises(
            ValueError, match=r"normalises with mean \[0.485, 0.456, 0.406\] .* mean \[0.5, 0.5, 0.5\]"
        ) as e:
            explain_collection(explainer, dataset, tmp_path / "x.parquet", progress=False)
        assert "transform=explainer.classifier.transform" in str(e.value)
    own = ImageFolder(tmp_path, transform=explainer.classifier.transform)  # the classifier's own: the same rows
    rows = explain_collection(explainer, own, tmp_path / "own.parquet", progress=False).read()
    by_path = explain_collection(explainer, [str(tmp_path / "cat" / "a.jpg")], tmp_path / "p.parquet", progress=False)
    assert rows["concepts"].tolist() == by_path.read()["concepts"].tolist()
    assert rows["predicted_name"].tolist() == by_path.read()["predicted_name"].tolist()


def test_a_dataset_normalised_with_one_value_per_channel_or_for_all_is_the_same(explainer, photos, tmp_path):
    """Normalize(0.5, 0.5) and Normalize([0.5], [0.5]) are this classifier's Normalize([0.5] * 3, [0.5] * 3) on three
    channels: the check refused the one and failed on the other with a TypeError of its own."""
    from torchvision import transforms as T
    from torchvision.datasets import ImageFolder

    (tmp_path / "cat").mkdir()
    photos["chelsea"].save(tmp_path / "cat" / "a.jpg")
    resize = [T.Resize(224), T.CenterCrop(224), T.ToTensor()]
    three = explain_collection(
        explainer,
        ImageFolder(tmp_path, T.Compose([*resize, T.Normalize([0.5] * 3, [0.5] * 3)])),
        tmp_path / "3.parquet",
        progress=False,
    ).read()
    for i, normalize in enumerate([T.Normalize(0.5, 0.5), T.Normalize([0.5], [0.5])]):
        dataset = ImageFolder(tmp_path, transform=T.Compose([*resize, normalize]))
        rows = explain_collection(explainer, dataset, tmp_path / f"{i}.parquet", progress=False).read()
        assert rows["concepts"].tolist() == three["concepts"].tolist()


def test_tensors_without_normalize_are_warned_of_once_per_run(explainer, photos, tmp_path):
    """A Dataset of ToTensor() output gave one warning per image (and one more per batch): 50,000 for 50,000."""
    from torchvision.transforms import ToTensor

    unnormalised = [ToTensor()(photo.convert("RGB").resize((224, 224))) for photo in list(photos.values())[:6]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = explain_collection(
            explainer, Labelled([(x, 0) for x in unnormalised]), tmp_path / "t.parquet", batch_size=4, progress=False
        )
    about = [str(w.message) for w in caught if "ToTensor() output without Normalize" in str(w.message)]
    assert len(about) == 1 and run.rows == 6
    assert [w.category for w in caught if str(w.message) == about[0]] == [UnnormalisedWarning]  # what is silenced
    assert about[0].startswith("6 float tensors taken as preprocessed (images[0], images[1], images[2] and 3 more)")
    assert "Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])" in about[0]


def test_a_channels_last_tensor_is_named_with_the_fix(explainer, photos, tmp_path):
    """A float tensor [H, W, 3] said "Images [0, 1] have different shapes" or "must be channels-first [N,C,H,W], got
    (3, 224, 224, 3)", about a batch the user never built."""
    last = explainer.classifier.transform(photos["chelsea"]).permute(1, 2, 0)
    with pytest.raises(
        ValueError,
        match=r"images\[0\] is a float tensor \[224, 224, 3\] \(channels last\?\): .* "
        r"must be \[3, H, W\]; use x.permute\(2, 0, 1\)",
    ):
        explain_collection(explainer, Labelled([(last, 0), (last, 1)]), tmp_path / "c.parquet", progress=False)


def test_a_refused_resume_says_how_to_start_again(explainer, photos, tmp_path):
    """Refusals listed files to delete by hand (some of which did not exist) instead of remove_explanations, which
    removes what a run wrote; after an edited photo they did not say how to redo."""
    from nlexnb.collection import remove_explanations

    paths = [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    photos["coffee"].save(paths[0])
    photos["chelsea"].save(paths[1])
    out = tmp_path / "e.parquet"
    explain_collection(explainer, paths, out, k=2, progress=False)
    photos["chelsea"].rotate(90).save(paths[1])  # edited in place
    with pytest.raises(ValueError, match=r"image 1 \('.*b.png'\) is not the image it holds now") as refused:
        explain_collection(explainer, paths, out, k=2, progress=False)
    assert f"start again with nlexnb.collection.remove_explanations({str(out)!r})" in str(refused.value)
    assert "delete" not in str(refused.value)
    with pytest.raises(ValueError, match=r"\(k: 2 there, 3 now\).* nlexnb.collection.remove_explanations\("):
        explain_collection(explainer, paths, out, k=3, progress=False)
    remove_explanations(out)  # as the message says
    assert explain_collection(explainer, paths, out, k=2, progress=False).written == 2
