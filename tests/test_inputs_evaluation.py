"""Bad input to zero-shot, the evaluations, the metrics and the figures: each used to give a silent wrong answer or an
error in torch's, pandas' or Python's words; each is now refused naming the parameter (or, where the meaning is clear,
accepted: one mapper for a dict of them, one class name for a list of one, "tabby" for "tabby, tabby cat")."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import nlexnb
from nlexnb import evaluate, metrics, plots
from nlexnb.concepts import ConceptBank
from nlexnb.zeroshot import ZeroShotClassifier, ZeroShotEvaluation, check_labels


@pytest.fixture(scope="module")
def other_head():
    """The same architecture with random weights: features of the same width, another head."""
    return nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, device="cpu")


@pytest.fixture(scope="module")
def other_width():
    """A classifier with 512-dimensional features, where lite0's mappers map into 1280."""
    return nlexnb.load_classifier("resnet18", pretrained=False, device="cpu")


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    return nlexnb.Explainer(classifier, ridge_mapper, ConceptBank(["striped fur", "foam", "a small cup", "snow"]))


@pytest.fixture(scope="module")
def features(classifier, photos):
    """Features of chelsea (a tabby) and coffee (an espresso), in that order."""
    return classifier.features([photos["chelsea"], photos["coffee"]])


# ---- 1. a mapper of another classifier ---------------------------------------------------------------------------
def test_evaluations_check_the_mapper_was_fitted_on_this_classifier(
    classifier, ridge_mapper, photos, other_head, other_width
):
    """head_agreement, free_text and head_replacement ran silently with the mapper of another head of the same width
    (numbers about a classifier the mapper never saw), and failed in a matmul's words for another width. They now
    check it as ZeroShotClassifier does: a warning for another head, an error for another width."""
    data = [(photos["coffee"], "espresso")]
    calls = {
        "head_agreement": lambda clf: evaluate.head_agreement(clf, ridge_mapper, [photos["coffee"]]),
        "free_text": lambda clf: evaluate.free_text(clf, ridge_mapper, [("a small cup of dark coffee", ["espresso"])]),
        "head_replacement": lambda clf: evaluate.head_replacement(clf, ridge_mapper, data),
    }
    for who, call in calls.items():
        with pytest.warns(UserWarning, match=rf"{who}.*the mapper was fitted on head .*results will not be faithful"):
            call(other_head)
        with pytest.raises(ValueError, match=rf"{who}.*maps into 1280 dimensions .*'resnet18' has 512-dimensional"):
            call(other_width)


def test_an_explainer_on_another_head_says_so_once_in_its_own_name(ridge_mapper, other_head):
    """Explainer checked the fit and so did the space it builds: the user read the same warning twice, once under
    a name (ConceptSpace) they never called."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nlexnb.Explainer(other_head, ridge_mapper, concepts=["dark liquid", "white foam", "handle"])
    about_fit = [str(w.message) for w in caught if "the mapper was fitted on head" in str(w.message)]
    assert len(about_fit) == 1 and about_fit[0].startswith("Explainer: "), about_fit


def test_compare_zero_shot_on_another_head_says_so_once_per_mapper(ridge_mapper, photos, other_head):
    """compare_zero_shot checks each mapper, then builds a ZeroShotClassifier with it, which checks it again: the
    second warning is silenced by its category (MapperMismatchWarning, a UserWarning), not by its wording."""
    from nlexnb._checks import MapperMismatchWarning

    data = [(photos["coffee"], "espresso"), (photos["chelsea"], "tabby")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate.compare_zero_shot(other_head, {"ridge": ridge_mapper}, data)
    about_fit = [w for w in caught if "the mapper was fitted on head" in str(w.message)]
    assert len(about_fit) == 1 and str(about_fit[0].message).startswith("compare_zero_shot (mapper 'ridge'): ")
    assert about_fit[0].category is MapperMismatchWarning and issubclass(MapperMismatchWarning, UserWarning)


# ---- 2. what comes first, and the text encoder -------------------------------------------------------------------
def test_heldout_refuses_a_mapper_where_the_text_encoder_goes(classifier, ridge_mapper):
    """heldout(clf, mapper, methods="text") ran with the mapper's encoder-like attributes, and the other methods
    failed with an AttributeError; a fitted mapper has seen every class, so it could only leak."""
    with pytest.raises(
        TypeError, match=r"text_encoder must be a TextEncoder \(nlexnb.load_text_encoder\(\)\), got Mapper"
    ):
        evaluate.heldout(classifier, ridge_mapper, folds=3, methods="text")


def test_evaluations_and_metrics_say_what_they_take_first(classifier, ridge_mapper, encoder, explainer, photos):
    """A classifier where an explainer goes, or a classifier where a zero-shot head goes, failed on a missing
    attribute deep inside; each now says what it takes first."""
    image, data = photos["coffee"], [(photos["coffee"], "espresso")]
    calls = {
        "heldout takes a classifier first": lambda: evaluate.heldout(ridge_mapper, encoder, methods="text"),
        "head_agreement takes a classifier first": lambda: evaluate.head_agreement(ridge_mapper, classifier, [image]),
        "head_replacement takes a classifier first": lambda: evaluate.head_replacement(ridge_mapper, {}, data),
        "free_text takes a classifier first": lambda: evaluate.free_text(encoder, ridge_mapper),
        "compare_zero_shot takes a classifier first": lambda: evaluate.compare_zero_shot(ridge_mapper, {}, data),
        "zero_shot takes a ZeroShotClassifier first": lambda: evaluate.zero_shot(classifier, data),
        "bottleneck_accuracy takes a ConceptBottleneck first": lambda: evaluate.bottleneck_accuracy(classifier, data),
        "concept_ablation takes an Explainer first": lambda: metrics.concept_ablation(classifier, [image]),
        "ablation_drop takes an Explainer first": lambda: metrics.ablation_drop(classifier, torch.zeros(1280), [0], 0),
        "faithfulness takes an Explainer first": lambda: metrics.faithfulness(explainer.space, [image]),
        "randomization_check takes an Explainer first": lambda: metrics.randomization_check(classifier, [image]),
    }
    for message, call in calls.items():
        with pytest.raises(TypeError, match=message):
            call()


# ---- 3. centring a zero-shot head ----------------------------------------------------------------------------------
def test_centring_takes_finite_float_features_of_at_least_two_images(classifier, ridge_mapper, photos, features):
    """center_on(features=f * nan) made every later answer NaN, int features were taken, a numpy array failed with an
    AttributeError, and one image was accepted: its own centred feature is then 0, every label scores its bias."""
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"])
    with pytest.raises(ValueError, match="features must hold finite floating-point numbers"):
        zs.center_on(features=features * float("nan"))
    with pytest.raises(ValueError, match="features must hold finite floating-point numbers"):
        zs.center_on(features=features.int())
    with pytest.raises(TypeError, match=r"features must be a tensor \[N, 1280\] .*got ndarray"):
        zs.center_on(features=features.numpy())
    with pytest.raises(ValueError, match="center_on needs at least 2 images .*got 1"):
        zs.center_on(photos["chelsea"])
    with pytest.raises(ValueError, match="center_on needs at least 2 images"):
        zs.center_on(features=features[:1])
    assert zs.center is None  # nothing was set by the refused calls
    torch.testing.assert_close(zs.center_on(features=features).center, features.mean(0))


def test_a_centre_set_by_hand_is_checked_when_set(classifier, ridge_mapper, photos, features):
    """zs.center = torch.zeros(5) was stored, and the next prediction failed in a matrix product's words."""
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"])
    with pytest.raises(ValueError, match=r"center must be one feature vector \[1280\] .*got \[5\]"):
        zs.center = torch.zeros(5)
    with pytest.raises(TypeError, match=r"center must be None or a tensor \[1280\] .*got ndarray"):
        zs.center = features.mean(0).numpy()
    with pytest.raises(ValueError, match="center must hold finite floating-point numbers"):
        zs.center = torch.full((1280,), float("nan"))
    assert zs.center is None  # nothing was set by the refused assignments
    zs.center = features.mean(0).double()  # a mean of one's own is taken as center_on takes it
    torch.testing.assert_close(
        zs.center, ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"]).center_on(features=features).center
    )
    assert zs.predict(photos["chelsea"]) == ["cat"]
    zs.center = None
    assert zs.center is None


# ---- 4. k second ---------------------------------------------------------------------------------------------------
def test_zero_shot_predict_takes_k_second_as_top_k_and_the_classifier_do(classifier, ridge_mapper, photos):
    """zs.predict(images, 2) read 2 as progress= and answered the top 5; it is k, as in zs.top_k and clf.predict."""
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink", "vehicle"])
    images = [photos["chelsea"], photos["coffee"]]
    two = zs.predict(images, 2)
    assert [p.names for p in two] == [p.names for p in zs.top_k(images, 2)] and all(len(p.names) == 2 for p in two)
    assert two == ["cat", "drink"] and [p.names for p in zs.predict(images, k=2)] == [p.names for p in two]
    with pytest.raises(TypeError, match=r"progress must be True, False or None \(the default: a progress bar .*got 2"):
        zs.predict_proba(images, 2)


# ---- 5. labels that name one thing ---------------------------------------------------------------------------------
def test_labels_that_name_one_thing_are_duplicates(classifier, ridge_mapper):
    """["cat", "cat,", "kitty, cat"] made three columns for one answer, splitting the cats' probability."""
    with pytest.raises(ValueError, match=r"Duplicate labels: 'cat' and 'cat,' \(positions 0 and 1\) both name 'cat'"):
        ZeroShotClassifier(classifier, ridge_mapper, ["cat", "cat,", "kitty, cat"])
    with pytest.raises(ValueError, match=r"Duplicate labels: 'cat' and 'kitty, cat' \(positions 0 and 2\)"):
        check_labels(["cat", "dog", "kitty, cat"])
    with pytest.raises(ValueError, match=r"labels\[1\] '\.\.\.' is empty once its punctuation is left out"):
        check_labels(["cat", "..."])
    assert check_labels(["cat", "a cat", "cat food"]) == ["cat", "a cat", "cat food"]  # other things
    with pytest.raises(ValueError, match=r"'t-shirt' and 'T shirt' \(positions 0 and 1\) both name 't-shirt'"):
        check_labels(["t-shirt", "T shirt"])  # one word written with a hyphen or a space
    assert check_labels(["glass", "glasses"]) == ["glass", "glasses"]  # a plural may be another thing: both stay
    assert check_labels(["co-op", "coop"]) == ["co-op", "coop"]  # and so may the word run together
    # a classifier's own names may share a synonym (ImageNet has two "partridge" classes): they stay apart
    grouse, partridge = "ruffed grouse, partridge, Bonasa umbellus", "partridge"
    assert check_labels([grouse, partridge], classifier.class_names) == [grouse, partridge]
    with pytest.raises(ValueError, match="Duplicate labels"):
        check_labels([grouse, partridge])


def test_a_label_naming_a_kept_class_in_other_words_is_refused(classifier, ridge_mapper):
    """With include_original_classes=True, "espresso" was refused but "Espresso" and "tabby" (a synonym of "tabby,
    tabby cat") were taken, and split those classes' images with the original rows."""
    for label, cls in (("Espresso", "espresso"), ("tabby", "tabby, tabby cat"), ("espresso", "espresso")):
        with pytest.raises(ValueError, match=rf"Labels '{label}' \(class '{cls}'\) are already classes"):
            ZeroShotClassifier(classifier, ridge_mapper, [label, "a red fox"], include_original_classes=True)
    kept = [classifier.class_index("tiger cat")]  # only the listed classes are kept: "tabby" is then a new label
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["tabby", "a red fox"], include_original_classes=kept)
    assert zs.labels == ["tabby", "a red fox", "tiger cat"]


def test_original_classes_may_be_an_array_or_a_tensor_of_indices_not_a_mask(classifier, ridge_mapper):
    """np.array([1, 2]) failed with numpy's "truth value of an array ... is ambiguous", torch.tensor([1, 2]) with
    torch's or a refusal of valid indices, and a mask of the 1000 classes printed its 1000 values."""
    listed = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"], include_original_classes=[1, 2])
    for kept in (np.array([1, 2]), torch.tensor([1, 2])):
        zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"], include_original_classes=kept)
        assert zs.labels == listed.labels and zs.original == [1, 2]
    one = ZeroShotClassifier(classifier, ridge_mapper, ["cat"], include_original_classes=np.array([1, 2]))
    assert one.labels[1:] == listed.labels[2:]
    mask = np.arange(classifier.num_classes) < 5
    for given in (mask, torch.from_numpy(mask), mask.tolist()):
        with pytest.raises(
            TypeError, match=r"is a mask of 1000 True/False values; .* np.flatnonzero\(mask\).tolist\(\)"
        ) as refused:
            ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"], include_original_classes=given)
        assert len(str(refused.value)) < 300
    flag = ZeroShotClassifier(classifier, ridge_mapper, ["cat"], include_original_classes=torch.tensor(True))
    assert len(flag.labels) == 1 + classifier.num_classes


def test_a_seen_penalty_set_without_original_classes_warns_as_the_constructor_does(classifier, ridge_mapper, photos):
    """Set after building on a head without the original classes, it was stored and did nothing, without a word."""
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"])
    before = zs.predict_proba(photos["chelsea"])
    with pytest.warns(UserWarning, match="seen_penalty=0.5 has no effect without include_original_classes"):
        zs.seen_penalty = 0.5
    assert zs.seen_penalty == 0.5 and torch.equal(zs.predict_proba(photos["chelsea"]), before)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zs.seen_penalty = 0  # no penalty is what it has: nothing to say
        kept = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"], include_original_classes=True)
        kept.seen_penalty = 0.5  # a penalty with classes to lower
    assert kept.seen_penalty == 0.5


# ---- 6. metrics ------------------------------------------------------------------------------------------------------
def test_ablation_drop_takes_whole_bank_positions_and_finite_features(explainer, features):
    """[1.9, 2.7] was truncated to [1, 2], ['1', '2'] and [True, False] were read as positions, and NaN features gave
    (nan, nan)."""
    f = features[1]
    for concepts in ([1.9, 2.7], ["1", "2"], [True, False]):
        with pytest.raises(TypeError, match="concepts must be positions in the bank"):
            metrics.ablation_drop(explainer, f, concepts, 967)
    with pytest.raises(TypeError, match=r"concepts must be a list of positions in the bank \(ints\), got 3"):
        metrics.ablation_drop(explainer, f, 3, 967)
    with pytest.raises(ValueError, match="features must hold finite floating-point numbers"):
        metrics.ablation_drop(explainer, f * float("nan"), [1, 2], 967)
    with pytest.raises(ValueError, match=r"one image's features \[1280\], got \[2, 1280\] \(one row of a batch"):
        metrics.ablation_drop(explainer, features, [1, 2], 967)
    assert metrics.ablation_drop(explainer, f, np.array([1, 2]), 967) == metrics.ablation_drop(
        explainer, f, [1, 2], 967
    )


def test_faithfulness_takes_a_true_switch_and_distinct_image_names(explainer, photos):
    """deletion='no' ran the deletion curves ('no' is true); {1: a, '1': b} named both images '1' and kept one."""
    with pytest.raises(TypeError, match="deletion must be True or False, got 'no'"):
        metrics.faithfulness(explainer, [photos["coffee"]], deletion="no")
    with pytest.raises(ValueError, match=r"images has the keys 1 and '1', which both name an image '1'"):
        metrics.faithfulness(explainer, {1: photos["coffee"], "1": photos["chelsea"]}, deletion=False)


def test_faithfulness_tables_name_the_columns_they_read():
    """Another table failed in pandas' words (a query of a missing column)."""
    with pytest.raises(
        ValueError,
        match=r"frame must be the frame of nlexnb.metrics.faithfulness, with columns 'image', 'metric', 'method', "
        r"'value'; it lacks 'image', 'metric', 'value' \(its columns: 'method', 'accuracy'\)",
    ):
        metrics.ablation_table(pd.DataFrame({"method": ["named"], "accuracy": [0.5]}))
    with pytest.raises(
        TypeError, match=r"^frame must be the frame of nlexnb.metrics.faithfulness \(a DataFrame\), got list$"
    ):
        metrics.curve_table([])


# ---- 7. the evaluations' own arguments -----------------------------------------------------------------------------
def test_heldout_refuses_repeated_methods_and_folds_it_cannot_rank(classifier, encoder):
    """methods=['text', 'text'] reported 6 folds of 3; folds=1000 held out one class per fold (ZSL top-1 1.0, always
    right); folds=2.5 and '10' failed in torch's words. Asking for 400 folds gave 334 (torch.chunk)."""
    with pytest.raises(ValueError, match=r"methods names \['text'\] more than once"):
        evaluate.heldout(classifier, encoder, folds=3, methods=["text", "text"])
    with pytest.raises(ValueError, match=r"folds must be between 2 and 500 \(half the 1000 classes"):
        evaluate.heldout(classifier, encoder, folds=1000, methods="text")
    for folds in (2.5, "10"):
        with pytest.raises(ValueError, match="folds must be a positive number of held-out class sets"):
            evaluate.heldout(classifier, encoder, folds=folds, methods="text")
    splits = evaluate.fold_splits(1000, 400)
    assert len(splits) == 400 and {len(s) for s in splits} == {2, 3} and sum(map(len, splits)) == 1000


def test_free_text_probes_are_pairs_of_a_text_and_its_classes(classifier, ridge_mapper):
    """[("a thing", [])] returned an empty frame, ("...", "espresso") ranked the characters of "espresso", and a list
    of texts or one string failed in Python's words. One name is a list of one; a synonym ("tabby") is that class."""
    coffee, cat = "a small cup of dark coffee with foam on top", "a grey cat with dark stripes"
    expected = evaluate.free_text(classifier, ridge_mapper, [(coffee, ["espresso"]), (cat, ["tabby, tabby cat"])])
    for probes in ([(coffee, "espresso"), (cat, "tabby")], {coffee: "espresso", cat: ["Tabby"]}):
        pd.testing.assert_frame_equal(evaluate.free_text(classifier, ridge_mapper, probes), expected)
    with pytest.raises(ValueError, match=r"probes\[0\] \('a thing'\) names no class"):
        evaluate.free_text(classifier, ridge_mapper, [("a thing", [])])
    with pytest.raises(TypeError, match=r"probes\[0\] must be a \(text, \[intended class names\]\) pair"):
        evaluate.free_text(classifier, ridge_mapper, [coffee])
    with pytest.raises(TypeError, match="got the single string 'text'"):
        evaluate.free_text(classifier, ridge_mapper, "text")
    with pytest.raises(ValueError, match=r"Unknown probes\[0\] class 'espreso' .*close matches: \['espresso'"):
        evaluate.free_text(classifier, ridge_mapper, [(coffee, "espreso")])


def test_one_mapper_or_a_dict_of_them_and_labels_read_as_class_index_reads_them(classifier, ridge_mapper, photos):
    """head_replacement(clf, [mapper], ...) and compare_zero_shot(clf, mapper, ...) failed on a missing .items(); a
    synonym such as "tabby" as a true label was refused. One mapper is now the row "mapper" ("mapped class names" for
    head replacement), a list is a TypeError, and a label is read as Classifier.class_index reads a class."""
    data = [(photos["chelsea"], "tabby, tabby cat"), (photos["coffee"], "espresso")]
    table = evaluate.head_replacement(classifier, ridge_mapper, data)
    synonyms = evaluate.head_replacement(classifier, ridge_mapper, [(photos["chelsea"], "tabby"), data[1]])
    pd.testing.assert_frame_equal(synonyms, table)
    for call in (evaluate.head_replacement, evaluate.compare_zero_shot):
        with pytest.raises(TypeError, match=r"mappers must be a mapper or a dict name -> mapper .*got list"):
            call(classifier, [ridge_mapper], data)
    coarse = [(photos["chelsea"], "cat"), (photos["coffee"], "drink")]
    compared = evaluate.compare_zero_shot(classifier, ridge_mapper, coarse)
    assert list(compared["method"]) == ["mapper", evaluate.TOP1_NAME]
    with pytest.raises(ValueError, match=r"label 'panda' is ambiguous: .*Head replacement scores"):
        evaluate.head_replacement(classifier, ridge_mapper, [(photos["chelsea"], "panda")])


@pytest.mark.filterwarnings("ignore::nlexnb.bottleneck.PoorFitWarning")  # 4 concepts write no class well
def test_bottleneck_accuracy_reads_correct_as_class_names(explainer, photos, features):
    """correct={"cat": "tabby, tabby cat"} iterated the characters, correct=["espresso"] failed with an
    AttributeError, and "tabby" was not a class name. An empty list stays what datasets.label_classes means by it
    (no class is right for a coin: its images count as wrong)."""
    from nlexnb.bottleneck import concept_bottleneck

    cbm = concept_bottleneck(explainer.space, n_concepts=2)
    data = [(photos["chelsea"], "cat"), (photos["coffee"], "drink")]
    lists = {"cat": ["tabby, tabby cat", "tiger cat"], "drink": ["espresso"]}
    expected = evaluate.bottleneck_accuracy(cbm, data, correct=lists, features=features)
    assert expected.loc[0, "top1"] == 1.0  # the head's tiger cat and espresso are right
    other = {"cat": ["Tabby", "tiger cat"], "drink": "espresso"}
    pd.testing.assert_frame_equal(evaluate.bottleneck_accuracy(cbm, data, correct=other, features=features), expected)
    with pytest.raises(TypeError, match=r"correct must be a dict label -> the class names right for it .*got list"):
        evaluate.bottleneck_accuracy(cbm, data, correct=["espresso"], features=features)
    none_right = evaluate.bottleneck_accuracy(cbm, data, correct={"cat": [], "drink": "espresso"}, features=features)
    assert none_right.loc[0, "top1"] == 0.5
    tabby = evaluate.bottleneck_accuracy(cbm, [(photos["chelsea"], "tabby")], features=features[:1])  # a synonym
    assert tabby.loc[0, "top1"] == 0.0 and tabby.loc[0, "top5"] == 1.0  # the head says tiger cat, then tabby
    with pytest.raises(ValueError, match=r"'a cat' .*A label that is not a class name .*needs correct="):
        evaluate.bottleneck_accuracy(cbm, [(photos["chelsea"], "a cat")], features=features[:1])
    misspelt = {"Cat": ["tiger cat"], "drink": "espresso"}  # the cat photo silently left the accuracy
    with pytest.warns(UserWarning, match=r"no entry for the label\(s\) \['cat'\], so their 1 image\(s\) .*'Cat' for"):
        table = evaluate.bottleneck_accuracy(cbm, data, correct=misspelt, features=features)
    assert table.attrs["not_judged"] == 1


def test_paired_difference_takes_true_or_false_not_their_names():
    """["True", "False"] failed in torch's words (and both strings would be true)."""
    with pytest.raises(TypeError, match=r"correct\[0\] is str 'True', not True/False \(or 1/0\)"):
        evaluate.paired_difference(["True", "False"], [True, False])
    result = evaluate.paired_difference(np.array([True, True]), torch.tensor([True, False]))
    assert result["difference"] == 0.5


def test_one_labelled_pair_not_in_a_list_is_refused_saying_so(classifier, ridge_mapper, photos):
    """zero_shot(zs, (image, 'cat')) read the pair as a list of two items: "data[0] must be an (image, label) pair,
    got Image"."""
    zs = ZeroShotClassifier(classifier, ridge_mapper, ["cat", "drink"])
    one = r"data is one \(image, label\) pair, not a list of them: wrap it in a list, \[\(image, 'cat'\)\]"
    with pytest.raises(ValueError, match=one):
        evaluate.zero_shot(zs, (photos["chelsea"], "cat"))
    with pytest.raises(ValueError, match=one):
        evaluate.compare_zero_shot(classifier, ridge_mapper, (photos["chelsea"], "cat"))
    assert evaluate.zero_shot(zs, [(photos["chelsea"], "cat")]).accuracy == 1.0
    pairs = ((photos["chelsea"], "cat"), (photos["coffee"], "drink"))  # a tuple of pairs is a list of them
    assert evaluate.zero_shot(zs, pairs).accuracy == 1.0


# ---- 8. figures ------------------------------------------------------------------------------------------------------
def test_overlay_image_upsamples_a_coarse_map_to_the_image_and_takes_arrays():
    """A 7x7 map over a photo returned a 7x7 picture (the photo shrunk to the map); an array failed with an
    AttributeError."""
    image = Image.new("RGB", (40, 30), "white")
    grid = np.random.default_rng(0).random((7, 7))
    overlay = plots.overlay_image(image, grid)
    assert overlay.size == (40, 30)
    assert np.array_equal(np.asarray(plots.overlay_image(np.asarray(image), grid)), np.asarray(overlay))
    with pytest.raises(ValueError, match=r"values must be a 2-D array of numbers \[h, w\] .*got shape \(7,\)"):
        plots.overlay_image(image, grid[0])


def test_heatmap_row_takes_one_heat_map_as_a_row_of_one():
    from nlexnb.explain import HeatMap

    heat = HeatMap("stripes", np.random.default_rng(0).random((32, 32)), np.zeros((2, 2)), Image.new("RGB", (32, 32)))
    assert [ax.get_title() for ax in plots.heatmap_row(heat).axes] == ["stripes"]
    with pytest.raises(TypeError, match=r"heatmaps must be HeatMaps .*\['0: str'\]"):
        plots.heatmap_row(["stripes"])


def test_figures_refuse_values_they_cannot_draw():
    """chance=25 drew a line far off the axis, max_labels=0 or -1 drew nothing (or all but the last), and an empty
    confusion matrix failed in seaborn's words."""
    table = pd.DataFrame(
        {
            "method": ["a", "b"],
            "accuracy": [0.5, 0.4],
            "difference": [np.nan, 0.1],
            "low": [np.nan, 0],
            "high": [np.nan, 0.2],
        }
    )
    with pytest.raises(ValueError, match=r"chance must be an accuracy in \[0, 1\] .*got 25"):
        plots.zero_shot_comparison_figure(table, chance=25)
    evaluation = ZeroShotEvaluation(["cat", "drink"], ["cat", "cat"], [0.9, 0.6], ["cat", "drink"])
    for bad in (0, -1):
        with pytest.raises(ValueError, match=f"max_labels must be a positive number of labels to show, got {bad}"):
            evaluation.plot(max_labels=bad)
    with pytest.raises(ValueError, match=r"confusion is empty \(0 rows x 0 columns\)"):
        plots.confusion_figure(pd.DataFrame(), "t")


def test_the_no_mapper_baseline_and_small_helpers_name_what_they_cannot_take(
    classifier, encoder, ridge_mapper, tmp_path
):
    from nlexnb.datasets import image_files
    from nlexnb.zeroshot import top1_name_baseline

    features = torch.randn(2, classifier.num_features)
    with pytest.raises(ValueError, match="features"):  # NaN features answered "cat"
        top1_name_baseline(classifier, encoder, ["cat", "dog"], torch.full_like(features, float("nan")))
    with pytest.raises(ValueError, match=r"\{\}"):  # one prompt for every label
        top1_name_baseline(classifier, encoder, ["cat", "dog"], features, templates=["a photo"])
    with pytest.raises(TypeError, match="recursive must be True or False, got 'no'"):
        image_files(tmp_path, recursive="no")  # a true string: it listed the sub-folders
    with pytest.raises(ValueError, match=r"summarize takes the per-fold table .*missing: \['fold'\]"):
        evaluate.summarize(pd.DataFrame({"method": ["ridge"], "zsl_top1": [0.5]}))
    with pytest.warns(UserWarning, match="seen_penalty=0.5 has no effect: include_original_classes names no class"):
        ZeroShotClassifier(classifier, ridge_mapper, ["cat", "dog"], include_original_classes=[], seen_penalty=0.5)
