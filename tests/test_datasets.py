"""Labelled image sets: Tux Paint's photo stamps, the bundled coarse photos, ImageFolders by name."""

from __future__ import annotations

from collections import Counter

import pytest

import nlexnb
from nlexnb.datasets import LABELLED_SETS, STAMP_LABELS, find_stamps, labelled_set, stamp_photo_set
from nlexnb.evaluate import paired_difference
from nlexnb.labels import class_name_set


def test_stamp_photo_set_has_coarse_labels_that_are_not_imagenet_classes(stamp_set, classifier):
    counts = Counter(label for _, label in stamp_set)
    assert len(stamp_set) >= 250
    assert set(counts) == set(STAMP_LABELS.values())
    assert min(counts.values()) >= 4 and counts["bird"] >= 30
    assert not set(counts) & class_name_set(classifier.class_names)
    paths = [str(path) for path, _ in stamp_set]
    assert not any("cartoon" in p or p.endswith("_mirror.png") or "lobster" in p for p in paths)


def test_stamps_are_found_through_the_environment(stamp_set, monkeypatch):
    folder = find_stamps()  # conftest points NLEXNB_STAMPS at the installed copy
    monkeypatch.setenv("NLEXNB_STAMPS", str(folder))
    assert labelled_set("stamps") == stamp_photo_set()


def test_missing_stamps_say_how_to_get_them(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="fetch_stamps.sh.*tuxpaint.org"):
        find_stamps(tmp_path)
    monkeypatch.setenv("NLEXNB_STAMPS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="nowhere"):
        stamp_photo_set()


def test_labelled_set_by_name_or_folder(photos, tmp_path):
    assert len(labelled_set("photos", views=1)) >= 15
    (tmp_path / "cat").mkdir()
    photos["chelsea"].save(tmp_path / "cat" / "chelsea.png")
    assert [label for _, label in labelled_set(tmp_path)] == ["cat"]
    with pytest.raises(ValueError, match="Unknown labelled set 'stamp'.*'stamps'"):
        labelled_set("stamp")
    assert set(LABELLED_SETS) == {"stamps", "photos"}


def test_labels_given_with_pairs_are_checked_and_a_folders_labels_are_one_per_class(photos, tmp_path):
    """labels= was ignored with (image, label) pairs (an accuracy over every pair), and a mapping for folders could
    give 1 or split "cat" and "Cat " into two classes."""
    from nlexnb.datasets import as_labelled, image_folder

    pairs = [(photos["chelsea"], "cat"), (photos["coffee"], "drink")]
    assert as_labelled(pairs, ["cat", "drink", "dog"]) == pairs
    with pytest.raises(ValueError, match=r"data\[1\] has label 'drink', which is not one of labels= \['cat'\]"):
        as_labelled(pairs, ["cat"])
    with pytest.raises(TypeError, match="labels= as a mapping renames the folders of an ImageFolder directory"):
        as_labelled(pairs, {"cat": "feline"})
    for name in ("cat", "kitty"):
        (tmp_path / name).mkdir()
        photos["chelsea"].save(tmp_path / name / "chelsea.png")
    with pytest.raises(ValueError, match=r"labels\['kitty'\] is 1: the label for a folder must be a non-empty"):
        image_folder(tmp_path, {"cat": "cat", "kitty": 1})
    with pytest.raises(ValueError, match="labels 'cat' and 'Cat ', which differ only by case, spaces, Unicode form"):
        image_folder(tmp_path, {"cat": "cat", "kitty": "Cat "})
    assert {label for _, label in image_folder(tmp_path, {"cat": "cat", "kitty": "cat"})} == {"cat"}
    # a label pasted with a zero-width space, or a folder named on a Mac, would be a second class of the same name
    with pytest.raises(ValueError, match=r"data holds the labels 'cat' and 'cat\\u200b', which differ only by spaces"):
        as_labelled([(photos["chelsea"], "cat"), (photos["coffee"], "cat\u200b")])
    assert len(as_labelled([(photos["chelsea"], "Cardigan"), (photos["coffee"], "cardigan")])) == 2  # a corgi, a coat
    for name in ("café", "cafe\u0301"):
        (tmp_path / "drinks" / name).mkdir(parents=True)
        photos["coffee"].save(tmp_path / "drinks" / name / "coffee.png")
    with pytest.raises(ValueError, match=r"folders of .*drinks' give the labels 'cafe\\u0301' and 'caf\\xe9'"):
        image_folder(tmp_path / "drinks")
    for views in (True, 2.5, "2"):
        with pytest.raises(ValueError, match="views must be a positive number of versions per picture"):
            nlexnb.datasets.coarse_photo_set(views=views)
    with pytest.raises(TypeError, match="A labelled set is a name"):
        labelled_set(5)


def test_folders_named_on_a_mac_match_labels_typed_in_composed_form(photos, tmp_path):
    """macOS names a folder "café" with a decomposed accent ("cafe\u0301"): it was "not one of the labels ['café',
    'cat']; close: ['café']"."""
    from nlexnb.datasets import as_labelled, image_folder

    for name, photo in (("cafe\u0301", "coffee"), ("cat", "chelsea")):
        (tmp_path / name).mkdir()
        photos[photo].save(tmp_path / name / f"{photo}.png")
    assert sorted({label for _, label in image_folder(tmp_path, labels=["café", "cat"])}) == ["café", "cat"]
    assert {label for _, label in image_folder(tmp_path, labels={"café": "drink", "cat": "cat"})} == {"drink", "cat"}
    assert len(as_labelled([(photos["coffee"], "cafe\u0301")], labels=["café"])) == 1
    with pytest.raises(
        ValueError, match=r"Folder .*cat' is not one of the labels \['café', 'cats'\]; close: \['cats'\]"
    ):
        image_folder(tmp_path, labels=["café", "cats"])


def test_paired_difference_interval():
    better = [True] * 80 + [False] * 20
    worse = [True] * 50 + [False] * 50
    result = paired_difference(better, worse)
    assert result["difference"] == pytest.approx(0.3)
    assert 0 < result["low"] < 0.3 < result["high"]
    same = paired_difference(better, better)
    assert same == {"difference": 0.0, "low": 0.0, "high": 0.0}
    with pytest.raises(ValueError, match="same length"):
        paired_difference([True], [True, False])
    with pytest.raises(
        ValueError, match=r"correct must hold True/False \(or 1/0\) per item, got values such as \[2.0\]"
    ):
        paired_difference([1, 0, 2], [0, 0, 0])  # a count is not a right-or-wrong: the "difference" would pass 1
    with pytest.raises(ValueError, match="resamples must be a positive number of bootstrap draws"):
        paired_difference(better, worse, resamples=0)


def test_unpacked_stamps_live_in_the_data_folder_not_the_cache(tmp_path, monkeypatch):
    from nlexnb.datasets import SYSTEM_STAMPS

    (tmp_path / "tuxpaint-stamps" / "animals").mkdir(parents=True)
    monkeypatch.setenv("NLEXNB_DATA", str(tmp_path))
    monkeypatch.delenv("NLEXNB_STAMPS", raising=False)
    monkeypatch.setenv("NLEXNB_CACHE", str(tmp_path / "elsewhere"))  # redirecting the cache does not lose them
    if not SYSTEM_STAMPS.is_dir():  # a system-wide install comes first
        assert find_stamps() == tmp_path / "tuxpaint-stamps"
    with pytest.raises(ValueError, match="No photo stamps"):
        stamp_photo_set(tmp_path / "tuxpaint-stamps")


def test_notebook_parameters_for_labelled_sets_are_checked_before_any_work(tmp_path, monkeypatch):
    from nlexnb.reports import validate_parameters

    validate_parameters(LABELLED_SET="photos", SUBCONCEPT_LABEL="cat")
    (tmp_path / "dog").mkdir()
    validate_parameters(LABELLED_SET=str(tmp_path), SUBCONCEPT_LABEL="dog")
    with pytest.raises(ValueError, match="must be one of \\['stamps', 'photos'\\] or an ImageFolder"):
        validate_parameters(LABELLED_SET="stamp")
    with pytest.raises(ValueError, match="'mammal' is not a label of LABELLED_SET 'photos'.*'cat'"):
        validate_parameters(LABELLED_SET="photos", SUBCONCEPT_LABEL="mammal")
    with pytest.raises(TypeError, match="SUBCONCEPT_LABEL must be str or None"):
        validate_parameters(LABELLED_SET="photos", SUBCONCEPT_LABEL=3)
    monkeypatch.setenv("NLEXNB_STAMPS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="LABELLED_SET is 'stamps'.*fetch_stamps.sh"):
        validate_parameters(LABELLED_SET="stamps")


def test_the_plausibility_photo_set_parameter_is_checked_before_any_work(tmp_path, monkeypatch):
    from nlexnb.reports import validate_parameters

    validate_parameters(PLAUSIBILITY_SET="cutouts")
    with pytest.raises(ValueError, match="PLAUSIBILITY_SET must be one of \\['cutouts', 'whole'\\], got 'wholes'"):
        validate_parameters(PLAUSIBILITY_SET="wholes")
    monkeypatch.setenv("NLEXNB_GCOMPRIS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="PLAUSIBILITY_SET is 'whole'.*fetch_photos.sh"):
        validate_parameters(PLAUSIBILITY_SET="whole")


def test_label_filter_and_picture_names(tmp_path):
    data = [(tmp_path / "cow.png", "mammal"), ("x/owl.jpg", "bird"), (object(), "mammal")]
    kept = nlexnb.datasets.with_label(data, "mammal")
    assert [label for _, label in kept] == ["mammal", "mammal"] and kept[0] == data[0]
    assert nlexnb.datasets.with_label(data, None) == data
    with pytest.raises(ValueError, match=r"No image has the label 'fish'; the labels are \['bird', 'mammal'\]"):
        nlexnb.datasets.with_label(data, "fish")
    assert nlexnb.datasets.picture_names(data) == ["cow", "owl", "mammal"]


def test_pictures_of_one_file_name_in_two_class_folders_get_two_names(photos, tmp_path):
    """An ImageFolder's cat/001.png and dog/001.png were both '001', which defeats showing where pictures ended up."""
    for folder, photo in (("cat", "chelsea"), ("dog", "chelsea"), ("drink", "coffee")):
        (tmp_path / folder).mkdir()
        photos[photo].save(tmp_path / folder / ("001.png" if folder != "drink" else "espresso.png"))
    data = nlexnb.datasets.image_folder(tmp_path)
    assert nlexnb.datasets.picture_names(data) == ["cat/001", "dog/001", "espresso"]


def test_the_fish_that_are_right_for_a_fish_stamp_begin_with_tench_and_goldfish():
    fish = nlexnb.datasets.label_classes("stamps")["fish"]
    assert [name.split(",")[0] for name in fish[:3]] == ["tench", "goldfish", "great white shark"]
    assert fish[-1].startswith("puffer") and len(fish) == 16


def test_one_lister_decides_which_files_of_a_folder_are_images(tmp_path):
    """image_files is what image_folder, the notebooks' images and explain_collection see of a folder."""
    import warnings

    from PIL import Image

    from nlexnb.datasets import image_files, image_folder
    from nlexnb.reports import notebook_images

    hidden_folders = ["cat/.thumbnails/b.jpg", "cat/.ipynb_checkpoints/A.PNG"]  # copies: they were extra cats
    for name in ["cat/b.jpg", "cat/A.PNG", "cat/deeper/c.webp", "cat/.hidden.jpg", "cat/._b.jpg", *hidden_folders]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), "red").save(tmp_path / name, format="PNG")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    cat = tmp_path / "cat"
    assert image_files(cat) == ([cat / "A.PNG", cat / "b.jpg", cat / "deeper" / "c.webp"], [cat / "notes.txt"])
    assert image_files(cat, recursive=False).images == [cat / "A.PNG", cat / "b.jpg"]
    with pytest.warns(UserWarning, match="Skipped 1 file.*notes.txt"):
        assert [path for path, _ in image_folder(tmp_path)] == image_files(cat).images
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(notebook_images(cat)) == ["A", "b"]
        Image.new("RGB", (16, 16), "blue").save(cat / "b.png")  # one name, two photos: both kept, by file name
        assert list(notebook_images(cat)) == ["A", "b.jpg", "b.png"]
        (cat / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="not a directory"):
        image_files(cat / "b.jpg")


def test_linked_sub_folders_are_read_once_and_loose_images_are_named(tmp_path):
    """A sub-folder linked into a class folder was skipped without a word (rglob does not follow links before Python
    3.13), and images directly under the root, in no class, too."""
    import os

    from PIL import Image

    from nlexnb.datasets import image_folder

    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    for name in [root / "cat" / "a.jpg", elsewhere / "more" / "b.jpg", root / "loose.jpg"]:
        name.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), "red").save(name)
    os.symlink(elsewhere / "more", root / "cat" / "linked")
    os.symlink(root / "cat", root / "cat" / "loop")  # a link to a parent is read once, not forever
    with pytest.warns(UserWarning, match=r"Left out 1 image\(s\) directly in .*'loose.jpg'"):
        pairs = image_folder(root)
    assert [(path.relative_to(root).as_posix(), label) for path, label in pairs] == [
        ("cat/a.jpg", "cat"),
        ("cat/linked/b.jpg", "cat"),
    ]


def _bundle(entries: list[tuple[str, bytes, bool]]) -> bytes:
    """A Qt resource bundle (format 2) holding files at the root: (name, content, zlib-compressed)."""
    import struct
    import zlib

    names, blobs = b"", b""
    tree = struct.pack(">IHII", 0, 2, len(entries), 1) + bytes(8)  # the root directory, its children next
    for name, content, packed in entries:
        tree += struct.pack(">IHHHI", len(names), 1 if packed else 0, 0, 0, len(blobs)) + bytes(8)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        stored = struct.pack(">I", len(content)) + zlib.compress(content) if packed else content
        blobs += struct.pack(">I", len(stored)) + stored
    header_size = 20
    return (
        b"qres"
        + struct.pack(">IIII", 2, header_size, header_size + len(tree), header_size + len(tree) + len(blobs))
        + tree
        + blobs
        + names
    )


def test_qt_resource_bundles_unpack_plain_and_zlib_files(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "unpack_qt_resources.py"
    spec = importlib.util.spec_from_file_location("unpack_qt_resources", script)
    unpack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(unpack)
    data = _bundle([("gibbon.webp", b"RIFF....WEBP", False), ("notes.txt", b"hello " * 50, True)])
    assert unpack.read_bundle(data) == {"/gibbon.webp": b"RIFF....WEBP", "/notes.txt": b"hello " * 50}
    (tmp_path / "erase.rcc").write_bytes(data)
    assert unpack.main([str(tmp_path / "out"), str(tmp_path / "erase.rcc"), "--suffix", ".webp"]) == 0
    assert [p.name for p in (tmp_path / "out" / "erase").iterdir()] == ["gibbon.webp"]
    with pytest.raises(ValueError, match="not a Qt resource bundle"):
        unpack.read_bundle(b"PK\x03\x04" + data[4:])
