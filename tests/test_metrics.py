"""Faithfulness: ablation closed form vs measured, baselines, deletion/insertion, randomisation, thresholds."""

from __future__ import annotations

import time

import pytest

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


def test_ablation_closed_form_equals_measured(explainer, photos, classifier):
    f = classifier.features([photos["coffee"]])[0]
    target = int(classifier.head_weight.matmul(f).argmax())
    for concepts in ([0], [7, 8, 9], list(range(20))):
        closed, measured = metrics.ablation_drop(explainer, f, concepts, target)
        assert abs(closed - measured) < 1e-4
    closed, measured = metrics.ablation_drop(explainer, f, [7, 8], target, foil=968)
    assert abs(closed - measured) < 1e-4


def test_concept_ablation_reports_every_baseline(explainer, photos):
    frame = metrics.concept_ablation(explainer, {"coffee": photos["coffee"], "chelsea": photos["chelsea"]}, n_random=5)
    assert set(frame["method"]) == {"named", "separate", "naive", "frequent", "random"}
    assert (frame["abs_error"] < 1e-4).all()
    named = frame[frame.method == "named"].set_index("image")["drop_pct_margin"]
    rand = frame[frame.method == "random"].set_index("image")["drop_pct_margin"]
    assert (named > 3 * rand).all()


def test_deletion_of_a_concept_map_beats_a_random_map(explainer, photos):
    frame = metrics.deletion_insertion(explainer, photos["chelsea"], concept="a domestic cat", steps=8)
    auc = frame.set_index(["curve", "map", "score"])["auc"]
    assert auc["deletion", "concept", "concept"] < auc["deletion", "random", "concept"]
    assert auc["insertion", "concept", "concept"] > auc["insertion", "random", "concept"]
    assert auc["deletion", "class", "class"] < auc["deletion", "random", "class"]


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
    class_words = [explainer._class_words[t] for t in frame[frame.method == "named"]["target"]]
    for pattern, named in zip(class_words, frame[frame.method == "named"]["concepts"]):
        assert not any(pattern.search(c.lower()) for c in named.split("; ")), named
