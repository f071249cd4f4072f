"""Held-out classes: the default mapper against ridge and a text-only baseline, on the same folds."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

import nlexnb
from nlexnb.evaluate import fold_splits


def test_folds_are_disjoint_and_cover_every_class():
    splits = fold_splits(1000, 10, seed=0)
    flat = [k for fold in splits for k in fold]
    assert sorted(flat) == list(range(1000)) and all(len(f) == 100 for f in splits)
    assert fold_splits(1000, 10, seed=0) == splits
    with pytest.raises(ValueError, match="folds must be between 2"):
        fold_splits(10, 1)


def test_a_rank_counts_ties_against_the_true_class_and_reads_no_rank_off_nan():
    """A map that scores every class alike (collapsed, all zeros) was ranked top-1 on every row."""
    import torch

    from nlexnb.evaluate import rank_of_true

    assert rank_of_true(torch.tensor([[0.1, 0.9, 0.5], [0.2, 0.1, 0.0]]), torch.tensor([2, 0])).tolist() == [1, 0]
    assert rank_of_true(torch.zeros(3, 1000), torch.tensor([5, 17, 999])).tolist() == [999, 999, 999]
    with pytest.raises(ValueError, match="scores hold NaN or infinite values"):
        rank_of_true(torch.tensor([[0.3, float("nan"), 0.1]]), torch.tensor([1]))
    with pytest.raises(ValueError, match="true_columns must be whole numbers from 0 to 2"):
        rank_of_true(torch.zeros(1, 3), torch.tensor([-1]))  # not the last column
    with pytest.raises(TypeError, match="true_columns must be a 1-D tensor of 2 column indices"):
        rank_of_true(torch.zeros(2, 3), [0, 1])
    with pytest.raises(ValueError, match="seed must be a whole number from 0"):
        fold_splits(10, 2, seed=-1)


def test_heldout_table_has_every_method_side_by_side(classifier, encoder):
    table = nlexnb.evaluate.heldout(classifier, encoder, folds=10, methods=("ridge", "text"), progress=False)
    assert list(table["method"]) == ["ridge", "text"]
    assert {"zsl_top1", "zsl_top5", "gzsl_top1", "gzsl_top5", "fit_seconds"} <= set(table.columns)
    ridge, text = table.set_index("method").loc["ridge"], table.set_index("method").loc["text"]
    assert 0.35 < ridge.zsl_top1 < 0.7  # METHOD.md: about 0.43-0.48 on lite0 + MiniLM
    assert ridge.zsl_top1 > text.zsl_top1
    assert ridge.zsl_top5 >= ridge.zsl_top1
    # generalised: held-out and seen names among all classes, and their harmonic mean; the text baseline names a seen
    # class's own row for every held-out name, so it has no GZSL score (it read 0.000, by construction)
    assert 0 < ridge.gzsl_top1 <= ridge.zsl_top1 and 0 < ridge.gzsl_seen_top1 <= 1
    h = 2 * ridge.gzsl_top1 * ridge.gzsl_seen_top1 / (ridge.gzsl_top1 + ridge.gzsl_seen_top1)
    assert ridge.gzsl_h == pytest.approx(h, rel=0.2)  # a mean over folds of each fold's harmonic mean
    assert text[["gzsl_top1", "gzsl_top5", "gzsl_seen_top1", "gzsl_h"]].isna().all()


def test_heldout_refuses_an_unknown_method_before_fitting_anything(classifier, encoder):
    with pytest.raises(ValueError, match=r"methods must name mapper methods \['kernel', 'mlp', 'ridge'\] or 'text'"):
        nlexnb.evaluate.heldout(classifier, encoder, methods=("kernel", "ridge", "rigde"), progress=False)


def test_a_mapped_head_replaces_the_rows_and_keeps_the_bias(classifier, mapper, photos):
    """With its label memory the map reproduces the rows, so the mapped head is the real one: without the bias it
    disagreed wherever the bias decides between the top two classes."""
    from nlexnb.evaluate import head_agreement, mapped_head

    features = classifier.features(list(photos.values()))
    torch.testing.assert_close(mapped_head(classifier, mapper, features), classifier.head(features), atol=1e-3, rtol=0)
    assert head_agreement(classifier, mapper, list(photos.values())) == 1.0


def test_head_replacement_on_an_imagenet_style_folder(classifier, encoder, mapper, photos, imagenet_style_folder):
    """ImageNet val sorted into synset folders is a user-side run; the same code runs here on three photos."""
    from nlexnb.datasets import imagenet_folder
    from nlexnb.evaluate import head_replacement

    tmp_path, truth = imagenet_style_folder
    data = imagenet_folder(tmp_path)
    assert sorted(label for _, label in data) == sorted(truth.values())

    no_memory = nlexnb.fit_mapper(classifier, encoder, memorize=False)
    table = head_replacement(classifier, {"mapped names": mapper, "mapped names, no memory": no_memory}, data)
    assert list(table["head"]) == ["real head", "mapped names", "mapped names, no memory"]
    real = table.set_index("head").loc["real head"]
    assert real.top1 == pytest.approx(2 / 3) and real.top5 == 1.0  # chelsea's top-1 is "tiger cat", not "tabby"
    assert real.agreement == 1.0 and (table["n"] == 3).all()
    assert table.set_index("head").loc["mapped names"].agreement == 1.0  # label memory reproduces the rows

    (tmp_path / "n99999999").mkdir()
    with pytest.raises(ValueError, match="n99999999"):
        imagenet_folder(tmp_path)
    with pytest.raises(ValueError, match="'a cat' .*not a class name"):
        head_replacement(classifier, mapper, [(photos["chelsea"], "a cat")])


def test_a_synset_folder_read_as_a_plain_folder_is_pointed_to_imagenet_folder(
    classifier, mapper, imagenet_style_folder
):
    from nlexnb.evaluate import head_replacement

    root, _ = imagenet_style_folder
    with pytest.raises(ValueError, match=r"is a WordNet id.*nlexnb\.datasets\.imagenet_folder\(root\)"):
        head_replacement(classifier, mapper, str(root))


def test_free_text_says_which_intended_class_its_rank_is_of(classifier, mapper):
    from nlexnb.evaluate import free_text

    table = free_text(classifier, mapper, [("a small striped house cat", ["tabby", "tiger cat", "Egyptian cat"])])
    row = table.iloc[0]
    assert list(table.columns) == ["text", "intended_class", "nearest_class", "rank"]
    assert row.intended_class in {"tabby, tabby cat", "tiger cat", "Egyptian cat"}
    ranks = [free_text(classifier, mapper, [("a small striped house cat", [c])]).iloc[0]["rank"] for c in
             ["tabby", "tiger cat", "Egyptian cat"]]  # fmt: skip
    assert row["rank"] == min(ranks)


def test_a_heldout_evaluation_needs_at_least_four_classes():
    """With 3 classes the message read "folds must be between 2 and 1"."""
    splits = fold_splits(4, 2)  # the fewest: two folds of two
    assert sorted(k for fold in splits for k in fold) == [0, 1, 2, 3] and [len(fold) for fold in splits] == [2, 2]
    for few in (1, 2, 3):
        with pytest.raises(ValueError, match=f"A held-out evaluation needs at least 4 classes .*got {few}"):
            fold_splits(few, 2)


def test_heldout_sets_each_fits_classes_and_method_itself_and_takes_progress_none(classifier, encoder):
    """classes= and method= failed in Python's words ("got multiple values for keyword argument"), and
    progress=None was refused where every other evaluation takes it."""
    with pytest.raises(
        TypeError, match=r"heldout takes the mapper methods as methods=, not method=: methods=\['ridge'\]"
    ):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods=["ridge"], method="ridge")
    with pytest.raises(TypeError, match="heldout chooses the classes of each fit itself .*give no classes="):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods=["ridge"], classes=[1, 2, 3])
    quiet = nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods="text", progress=False)
    pd.testing.assert_frame_equal(
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods="text", progress=None).drop(
            columns="fit_seconds"
        ),
        quiet.drop(columns="fit_seconds"),
    )
    with pytest.raises(TypeError, match=r"progress must be True, False or None .*got 'no'"):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods="text", progress="no")


def test_a_mapped_head_checks_its_features_as_the_zero_shot_head_does(classifier, ridge_mapper, photos):
    """Features of another width failed in a matmul's words, a numpy array in .to()'s, one vector [d] gave [1000]
    logits (not [1, 1000]) and NaN features NaN logits."""
    from nlexnb.evaluate import mapped_head

    features = classifier.features([photos["coffee"]])
    assert mapped_head(classifier, ridge_mapper, features).shape == (1, classifier.num_classes)
    with pytest.raises(
        ValueError, match=r"features must be \[N, 1280\] .*got \[1280\] \(one image\? use features\[None\]\)"
    ):
        mapped_head(classifier, ridge_mapper, features[0])
    with pytest.raises(ValueError, match=r"features must be \[N, 1280\] .*got \[2, 512\]"):
        mapped_head(classifier, ridge_mapper, torch.zeros(2, 512))
    with pytest.raises(TypeError, match=r"features must be a tensor \[N, 1280\] .*got ndarray"):
        mapped_head(classifier, ridge_mapper, features.numpy())
    with pytest.raises(ValueError, match="features must hold finite floating-point numbers"):
        mapped_head(classifier, ridge_mapper, features * float("nan"))


def test_heldout_checks_every_methods_options_before_the_first_fit(classifier, encoder):
    """sigma=0.5 with methods=["kernel", "ridge"] ran the kernel fits, then failed on the first ridge fit: heldout
    passes every option to every method, and now says so before any fit."""
    with pytest.raises(
        TypeError,
        match=r"heldout passes every option to every method, and 'ridge' has no \['sigma'\] \(its options: \['alpha'\]"
        r"\): run one heldout per method instead, heldout\(classifier, encoder, methods=\['kernel'\], sigma=0.5\) "
        r"and heldout\(classifier, encoder, methods=\['ridge'\]\)",
    ):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods=["kernel", "ridge", "text"], sigma=0.5)
    with pytest.raises(TypeError, match=r"Unknown hyper-parameter\(s\) \['sigmaa'\] for method 'kernel'"):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods=["kernel"], sigmaa=0.5)
    with pytest.raises(ValueError, match="Hyper-parameter sigma must be a positive finite number, got 0"):
        nlexnb.evaluate.heldout(classifier, encoder, folds=2, methods=["kernel"], sigma=0)
