"""Faithfulness: ablation closed form vs measured, baselines, deletion/insertion, randomisation, thresholds."""

from __future__ import annotations

import copy
import math
import re
import time

import numpy as np
import pandas as pd
import pytest
import torch

from nlexnb import metrics
from nlexnb.concepts import ConceptBank
from nlexnb.explain import Explainer

CONCEPTS = [
    "cat",
    "a domestic cat",
    "striped fur",
    "whiskers",
    "a small cup",
    "dark brown liquid",
    "foam",
    "a saucer",
    "coffee",
    "a spoon",
    "a blue sky",
    "grass",
    "a car wheel",
    "snow",
    "a brick wall",
    "water",
    "a helmet",
]


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    words = ConceptBank.common_words(400)
    return Explainer(classifier, ridge_mapper, ConceptBank(CONCEPTS) + words)


def lstsq_drop(classifier, features, directions, target, foil=None) -> tuple[float, float]:
    """Oracle independent of nlexnb's projector and head: ``f_perp`` is the numpy least-squares residual of ``f`` on the
    directions; returns ``(w . (f - f_perp), z(f) - z(f_perp))`` with the timm model's own classifier layer."""
    head = copy.deepcopy(classifier.model.get_classifier()).double()
    f = features.detach().cpu().double().numpy()
    dirs = directions.detach().cpu().double().numpy()
    x, *_ = np.linalg.lstsq(dirs.T, f, rcond=None)
    perp = f - dirs.T @ x
    weight = head.weight.detach().numpy()
    w = weight[target] - (weight[foil] if foil is not None else 0.0)
    with torch.no_grad():
        z = head(torch.from_numpy(np.stack([f, perp])))
    gap = z[:, target] - (z[:, foil] if foil is not None else 0.0)
    return float(w @ (f - perp)), float(gap[0] - gap[1])


def test_ablation_closed_form_equals_measured(explainer, photos, classifier):
    """Closed form and measured drop each equal the least-squares oracle (``w . P f == head(f) - head(f - P f)`` holds
    for any matrix ``P``, so comparing the two with each other alone cannot catch a wrong projector)."""
    f = classifier.features([photos["coffee"]])[0]
    target = int(classifier.head_weight.matmul(f).argmax())
    for concepts, foil in (([0], None), ([7, 8, 9], None), (list(range(20)), None), ([7, 8], 968)):
        closed, measured = metrics.ablation_drop(explainer, f, concepts, target, foil=foil)
        linear, rerun = lstsq_drop(classifier, f, explainer.directions[concepts], target, foil)
        assert math.isclose(linear, rerun, rel_tol=1e-6, abs_tol=1e-9)
        assert math.isclose(closed, linear, rel_tol=1e-4, abs_tol=1e-6), (concepts, closed, linear)
        assert math.isclose(measured, rerun, rel_tol=1e-4, abs_tol=1e-6), (concepts, measured, rerun)


def test_concept_ablation_reports_every_baseline(explainer, photos, classifier):
    frame = metrics.concept_ablation(explainer, {"coffee": photos["coffee"], "chelsea": photos["chelsea"]}, n_random=5)
    assert set(frame["method"]) == {"named", "separate", "naive", "frequent", "random"}
    assert (frame["abs_error"] < 1e-4).all()
    feats = dict(zip(["coffee", "chelsea"], classifier.features([photos["coffee"], photos["chelsea"]])))
    for row in frame[frame.concepts != ""].itertuples():  # one concept set per row (not the random draws)
        concepts = [explainer.bank.texts.index(c) for c in row.concepts.split("; ")]
        linear, _ = lstsq_drop(classifier, feats[row.image], explainer.directions[concepts], row.target)
        assert math.isclose(row.drop_closed, linear, rel_tol=1e-4, abs_tol=1e-6), (row.method, row.drop_closed, linear)
    named = frame[frame.method == "named"].set_index("image")["drop_pct_margin"]
    rand = frame[frame.method == "random"].set_index("image")["drop_pct_margin"]
    assert (named > 3 * rand).all()


def test_metric_arguments_that_cannot_work_are_named(explainer, photos, classifier):
    """Each would otherwise answer: a wrapped-round class, a silent fallback to the whole bank, an empty concept."""
    f = classifier.features([photos["coffee"]])[0]
    with pytest.raises(ValueError, match="target -5 is out of range"):
        metrics.ablation_drop(explainer, f, [1, 2], -5)  # not class 995
    with pytest.raises(ValueError, match=r"concepts \[99999\] are not positions in the bank"):
        metrics.ablation_drop(explainer, f, [99999], 967)
    with pytest.raises(ValueError, match=r"random_source='wordz' is not a source of the bank .*\(its sources: \["):
        metrics.concept_ablation(explainer, [photos["coffee"]], random_source="wordz")
    with pytest.raises(ValueError, match="n_random must be a positive number of random draws, got 0"):
        metrics.concept_ablation(explainer, [photos["coffee"]], n_random=0)
    with pytest.raises(ValueError, match="images is empty"):
        metrics.concept_ablation(explainer, {})
    with pytest.raises(ValueError, match="k must be a positive number of concepts, got 0"):
        metrics.randomization_check(explainer, [photos["coffee"]], k=0)
    with pytest.raises(ValueError, match="concept must be a concept's text, e.g. 'striped fur'"):
        metrics.deletion_insertion(explainer, photos["coffee"], concept=" ")
    with pytest.raises(TypeError, match=r"selectors must be a list .*single string 'nonnegative'"):
        metrics.concept_ablation(explainer, [photos["coffee"]], selectors="nonnegative")  # "Unknown selector 'n'"


def test_a_random_source_smaller_than_k_says_so_in_a_warning_and_in_its_rows(explainer, photos):
    texts = [*CONCEPTS, "table", "chair", "window"]
    bank = ConceptBank(texts, name="three words", sources=["concept"] * len(CONCEPTS) + ["words"] * 3)
    small = Explainer(explainer.space.classifier, explainer.space.mapper, bank)  # random draws come from its words
    fewer = r"from the bank's words \(the default\), are 3 that may be named, fewer than k=8"
    with pytest.warns(UserWarning, match=fewer):
        rows = metrics.concept_ablation(small, [photos["coffee"]], k=8, n_random=2)
    random = rows[rows["method"] == "random"]
    named = rows[rows["method"] == "named"].iloc[0]
    assert (random["k"] == 3).all() and named["k"] == len(named["concepts"].split("; "))  # what each row removed


def test_the_baselines_do_not_depend_on_the_order_of_the_images_nor_stop_at_the_shortlist(explainer, photos):
    """The 'frequent' baseline broke its ties by first appearance, so with a few images it was the first image's own
    explanation (51% of the margin in one order, 0.3% in the other); 'separate' stopped at the shortlist (8) and
    still said k=12."""
    order = ["coffee", "chelsea", "rocket"]
    one = metrics.concept_ablation(explainer, {n: photos[n] for n in order}, k=12, n_random=2)
    other = metrics.concept_ablation(explainer, {n: photos[n] for n in reversed(order)}, k=12, n_random=2)
    columns = ["image", "method", "k", "concepts", "drop_closed"]
    key = ["image", "method"]
    pd.testing.assert_frame_equal(
        one.loc[one["method"] != "random", columns].sort_values(key).reset_index(drop=True),
        other.loc[other["method"] != "random", columns].sort_values(key).reset_index(drop=True),
    )
    separate = one[one["method"] == "separate"]
    assert (separate["k"] == 12).all() and (separate["concepts"].str.count("; ") == 11).all()
    with pytest.warns(UserWarning, match="over one image: its 'frequent' concepts are its own named concepts"):
        metrics.concept_ablation(explainer, [photos["coffee"]], k=2, n_random=1)


def test_deletion_of_a_concept_map_beats_a_random_map(explainer, photos):
    frame = metrics.deletion_insertion(explainer, photos["chelsea"], concept="a domestic cat", steps=8)
    auc = frame.set_index(["curve", "map", "score"])["auc"]
    assert auc["deletion", "concept", "concept"] < auc["deletion", "random", "concept"]
    assert auc["insertion", "concept", "concept"] > auc["insertion", "random", "concept"]
    assert auc["deletion", "class", "class"] < auc["deletion", "random", "class"]


def test_deletion_of_a_concept_the_image_does_not_hold_is_refused(explainer, photos):
    """Divided by a score at or under 0, the curves of "a rocket" on a cat photo came out as deletion 2.4 and
    insertion -2.1: the concept map then read as worse than random, backwards."""
    f = explainer.classifier.features(explainer.space.preprocess_one(photos["chelsea"]))[0]
    absent = explainer.bank.texts[int((explainer.directions @ f).argmin())]  # the concept the cat photo holds least
    refused = re.escape(repr(absent)) + " is not present in this image .* would read backwards"
    with pytest.raises(ValueError, match=refused):
        metrics.deletion_insertion(explainer, photos["chelsea"], concept=absent, steps=4)


def test_randomised_head_changes_the_explanation(explainer, photos):
    frame = metrics.randomization_check(explainer, {"coffee": photos["coffee"], "chelsea": photos["chelsea"]})
    assert (frame["rank_correlation"].abs() < 0.5).all()
    assert (frame["topk_overlap"] < 1).all()


def test_one_call_gives_a_tidy_frame_to_plot(explainer, photos):
    import matplotlib

    matplotlib.use("Agg")
    from nlexnb.plots import faithfulness_figure

    frame = metrics.faithfulness(explainer, {"coffee": photos["coffee"]}, n_random=3, deletion=False)
    assert list(frame.columns) == ["image", "metric", "method", "value"]
    assert {"drop_pct_margin", "abs_error", "rank_correlation"} <= set(frame["metric"])
    assert isinstance(faithfulness_figure(frame), matplotlib.figure.Figure)
    matplotlib.pyplot.close("all")


def test_two_selection_methods_of_one_name_are_refused_and_told_apart_by_name(explainer, photos):
    """NonNegativeSelector(steps=1) beside steps=500 both gave the rows 'named (nonnegative)': one set was kept."""
    from nlexnb.selection import NonNegativeSelector

    images = {"coffee": photos["coffee"], "chelsea": photos["chelsea"]}
    for repeated in ([NonNegativeSelector(steps=1), NonNegativeSelector(steps=500)], ["nonnegative", "nonnegative"]):
        with pytest.raises(ValueError, match=r"selectors\[0\] and selectors\[1\] are both named 'nonnegative'"):
            metrics.concept_ablation(explainer, images, k=3, n_random=1, selectors=repeated)
    quick = NonNegativeSelector(steps=1)
    quick.name = "nonnegative, steps=1"
    frame = metrics.concept_ablation(explainer, images, k=3, n_random=1, selectors=[quick, NonNegativeSelector()])
    methods = frame.loc[frame["image"] == "coffee", "method"].tolist()
    assert methods[:3] == ["named", "named (nonnegative, steps=1)", "named (nonnegative)"]
    with pytest.raises(ValueError, match="both named 'greedy'"):
        metrics.faithfulness(explainer, images, n_random=1, deletion=False, selectors=["greedy", "greedy"])


def test_deletion_and_insertion_take_at_least_two_steps(explainer, photos):
    """With one step every map's curve joins the same two points: the concept map and the random ones got one AUC."""
    with pytest.raises(ValueError, match="steps must be at least 2, got 1: with one step each curve joins"):
        metrics.deletion_insertion(explainer, photos["chelsea"], steps=1)
    with pytest.raises(ValueError, match="steps must be at least 2, got 1"):  # refused before the ablations run
        metrics.faithfulness(explainer, [photos["chelsea"]], steps=1)
    two = metrics.deletion_insertion(explainer, photos["chelsea"], concept="a domestic cat", steps=2, n_random=1)
    assert two["auc"].nunique() > 1


@pytest.mark.slow
def test_default_bank_meets_the_faithfulness_targets(classifier, mapper, photos):
    """The issue's numbers: named-5 >= 3x random-5 words and >= 30% of the margin on average; ablation exact.

    Encodes the default bank (about 23,000 texts: one to four minutes on 2 CPU cores, once per cache).
    """
    explainer = Explainer(classifier, mapper)
    start = time.perf_counter()
    Explainer(classifier, mapper)  # warm cache: loads, no encoding
    assert time.perf_counter() - start < 3.0
    frame = metrics.concept_ablation(explainer, photos, k=5, n_random=20)
    by = frame.groupby("method")["drop_pct_margin"].mean()
    assert by["named"] >= 30.0, by
    assert by["named"] >= 3 * by["random"], by
    assert (frame["abs_error"] < 1e-4).all()
    named = frame[frame.method == "named"]
    for target, concepts in zip(named["target"], named["concepts"]):
        indices = [explainer.bank.texts.index(c) for c in concepts.split("; ")]
        assert not any(explainer.space.mentions(indices, [target])), concepts


# ---- tables of a faithfulness frame ------------------------------------------------------------------------------
def _faithfulness_frame() -> pd.DataFrame:
    rows = []
    for image, base in (("zebra", 1.0), ("apple", 2.0)):  # not in sorted order: the tables keep the images' order
        for i, method in enumerate(["random", "named", "frequent", "naive", "separate"]):
            rows.append({"image": image, "metric": "drop_pct_margin", "method": method, "value": base * (i + 1)})
            rows.append({"image": image, "metric": "abs_error", "method": method, "value": 1e-7})
        for i, method in enumerate(["random map (class)", "class map", "random map (concept)", "concept map"]):
            rows.append({"image": image, "metric": "deletion_auc", "method": method, "value": base * i})
            rows.append({"image": image, "metric": "insertion_auc", "method": method, "value": -base * i})
        rows.append({"image": image, "metric": "rank_correlation", "method": "randomised head", "value": base / 10})
        rows.append({"image": image, "metric": "topk_overlap", "method": "randomised head", "value": base / 4})
    return pd.DataFrame(rows)


def test_faithfulness_tables():
    frame = _faithfulness_frame()
    drop = metrics.ablation_table(frame)
    assert list(drop.columns) == ["named", "separate", "naive", "frequent", "random"]
    other = frame[frame["method"] == "named"].assign(method="named (nonnegative)")
    assert list(metrics.ablation_table(pd.concat([frame, other])).columns)[-1] == "named (nonnegative)"
    assert list(drop.index) == ["zebra", "apple", "mean"]
    assert drop.loc["mean", "named"] == pytest.approx(3.0) and drop.loc["apple", "random"] == 2.0
    auc = metrics.curve_table(frame)
    assert list(auc.index) == ["concept map", "random map (concept)", "class map", "random map (class)"]
    assert list(auc.columns) == ["deletion_auc", "insertion_auc"]
    assert auc.loc["concept map", "deletion_auc"] == pytest.approx(4.5)
    sanity = metrics.randomization_table(frame)
    assert list(sanity.index) == ["zebra", "apple", "mean"]
    assert sanity.loc["mean", "rank_correlation"] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="no deletion/insertion rows"):
        metrics.curve_table(frame[~frame["metric"].str.endswith("_auc")])
    with pytest.raises(ValueError, match="metrics.faithfulness"):
        metrics.randomization_table(frame[frame["method"] != "randomised head"])
    with pytest.raises(ValueError, match=r"The image name 'zebra' appears in more than one run .*dict \{name: image\}"):
        metrics.ablation_table(pd.concat([frame, frame]))  # two runs on lists both name "image 0"
    assert metrics.ablation_table(frame, "abs_error").loc["mean", "named"] == pytest.approx(1e-7)
    with pytest.raises(
        ValueError, match=r"metric must be one of the ablation metrics \['drop_pct_margin', 'drop_closed'"
    ):
        metrics.ablation_table(frame, "drop_pct")  # was "The frame holds no 'drop_pct' rows; is it the frame of ...?"
    with pytest.raises(ValueError, match=r"got 'deletion_auc' \('deletion_auc' is shown by metrics.curve_table"):
        metrics.ablation_table(frame, "deletion_auc")  # a table of maps, with a "mean" of them, under "ablation"
    with pytest.raises(ValueError, match=r"'rank_correlation' is shown by metrics.randomization_table\(frame\)"):
        metrics.ablation_table(frame, "rank_correlation")
    named_mean = metrics.ablation_table(frame.replace({"image": {"apple": "mean"}}))  # a photo of a dict named "mean"
    assert list(named_mean.index) == ["zebra", "mean", "mean of all images"]
    assert named_mean.loc["mean", "random"] == 2.0 and named_mean.loc["mean of all images", "named"] == pytest.approx(3)
