"""The concept space, targets, selection methods and registries: the pieces every method plugs into."""

from __future__ import annotations

import ast
import pathlib
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import nlexnb
from nlexnb import discover, metrics
from nlexnb.explain import Explainer, measured_drop
from nlexnb.selection import Selector, marginal_gains
from nlexnb.space import WEAK_MIN_BANK, ConceptSpace, concept_space
from nlexnb.targets import ClassLogit, Direction, LogitGap

CONCEPTS = [
    "cat", "striped fur", "whiskers", "green eyes", "pointed ears", "a small cup", "dark brown liquid", "foam",
    "a saucer", "coffee", "a spoon", "a blue sky", "grass", "a car wheel", "snow", "a brick wall", "water",
    "tabby", "espresso", "Herero",
]  # fmt: skip
ESPRESSO, CUP, TABBY, TIGER_CAT, EGYPTIAN_CAT = 967, 968, 281, 282, 285


@pytest.fixture(scope="module")
def space(classifier, ridge_mapper):
    return ConceptSpace(classifier, ridge_mapper, CONCEPTS)


def test_a_concept_direction_is_its_mapped_vector_minus_the_bank_mean_at_unit_length(space):
    expected = F.normalize(space.vectors - space.vectors.mean(0), dim=1)
    assert torch.allclose(space.directions, expected, atol=1e-6)
    assert torch.allclose(space.direction("foam"), space.directions[space.texts.index("foam")], atol=1e-5)


def test_class_names_and_peoples_never_explain(space):
    excluded = {t for t, e in zip(space.texts, space.excluded.tolist()) if e}
    assert excluded == {"tabby", "espresso", "Herero"}
    i = space.texts.index
    assert space.mentions([i("cat"), i("coffee")], [TABBY]) == [False, False]
    # as a kind of thing, "cat" names tabby ("tabby cat") in other words; whiskers and coffee do not
    assert space.mentions([i("cat"), i("whiskers"), i("coffee")], [TABBY], kinds=True) == [True, False, False]


def test_a_class_is_named_by_its_names_and_by_kinds_of_its_head_noun(classifier, ridge_mapper):
    bank = ["sand cat", "slender wild cats", "cat whiskers", "striped fur", "camel", "camel hump", "espresso cup"]
    space = ConceptSpace(classifier, ridge_mapper, bank)
    named = {
        c: [t for t, n in zip(bank, space.naming_mask()[space.class_index(c)].tolist()) if n]
        for c in ("tabby", "Arabian camel", "espresso", "cup")
    }
    assert named == {
        "tabby": ["sand cat", "slender wild cats"],
        "Arabian camel": ["camel"],
        "espresso": ["espresso cup"],
        "cup": ["espresso cup"],
    }
    classes = [space.class_index("tiger cat"), space.class_index("Arabian camel")]
    assert space.mentions([0, 2, 4], classes) == [False, False, False]
    assert space.mentions([0, 2, 4], classes, kinds=True) == [True, False, True]


def test_discovery_and_explanations_rank_by_the_same_directions(space, classifier):
    table = discover.class_concepts(space, "espresso", k=3)
    row = F.normalize(classifier.head_weight[ESPRESSO], dim=0)
    expected = (space.directions @ row).masked_fill(space.excluded, -1).topk(3)
    assert list(table["concept"]) == [space.texts[j] for j in expected.indices.tolist()]
    assert table.table["cosine"].to_numpy() == pytest.approx(expected.values.numpy(), abs=1e-6)


def test_discovery_takes_a_space_or_a_classifier_and_a_mapper(space, classifier, ridge_mapper, photos):
    by_space = discover.contrast(space, "Siberian husky", "malamute", k=2)
    by_parts = discover.contrast(classifier, ridge_mapper, "Siberian husky", "malamute", bank=CONCEPTS, k=2)
    pd.testing.assert_frame_equal(by_space.table, by_parts.table)
    assert isinstance(by_space, discover.ConceptTable) and by_space.kind == "contrast"
    assert 0 < len(by_space) <= 4  # at most k a side ("green eyes" is not a husky's: its description says blue)
    assert by_space.plot().axes  # a Figure
    with pytest.raises(ValueError, match="already holds its bank"):
        discover.class_concepts(space, "espresso", bank=CONCEPTS)
    # a number after the class is k, by keyword; a classifier needs its mapper next
    with pytest.raises(TypeError, match=r"8 was read as the bank \(the argument after c\); .* by keyword: k=8"):
        discover.class_concepts(space, "espresso", 8)
    with pytest.raises(TypeError, match=r"3 was read as the bank \(the argument after c2\)"):
        discover.contrast(classifier, ridge_mapper, "Siberian husky", "malamute", 3)
    with pytest.raises(TypeError, match=r"After a classifier comes its mapper .* got str 'espresso' instead"):
        discover.class_concepts(classifier, "espresso")
    with pytest.raises(TypeError, match=r"Explainer needs a fitted mapper .* got int 5"):
        nlexnb.Explainer(classifier, 5)
    with pytest.raises(TypeError, match="echoes must be True or False, got 'no'"):
        discover.class_concepts(space, "espresso", echoes="no")  # a true string: it would list every echo
    with pytest.raises(ValueError, match="n_clusters must be a positive number of clusters, got 0"):
        discover.subconcepts(space, [photos["coffee"]] * 3, n_clusters=0)
    with pytest.raises(TypeError, match="ConceptTable"):
        discover.plot(by_space.table)


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True)))
def test_no_number_given_by_position_is_ever_read_as_a_bank_or_a_mapper(space, number):
    """Whatever the number, the mistake is named and nothing is computed with it."""
    with pytest.raises(TypeError, match="numbers go in by keyword: k="):
        discover.class_concepts(space, "espresso", number)
    with pytest.raises(ValueError, match="numbers go in by keyword: n_concepts="):
        nlexnb.bottleneck.concept_bottleneck(space, number)
    with pytest.raises(TypeError, match="where the mapper goes"):
        concept_space(space.classifier, number)


@settings(max_examples=60, deadline=None)
@given(st.integers())
def test_an_ablation_target_outside_the_classes_is_refused_never_wrapped_round(space, target):
    f = torch.ones(space.classifier.num_features)
    if 0 <= target < space.classifier.num_classes:
        closed, measured = metrics.ablation_drop(Explainer(space), f, [1, 2], target)
        assert closed == pytest.approx(measured, rel=1e-4, abs=1e-5)
    else:
        with pytest.raises(ValueError, match=f"target {target} is out of range"):
            metrics.ablation_drop(Explainer(space), f, [1, 2], target)


def test_concept_space_is_reused_per_classifier_mapper_and_bank(classifier, ridge_mapper):
    first = concept_space(classifier, ridge_mapper, CONCEPTS)
    assert concept_space(classifier, ridge_mapper, list(CONCEPTS)) is first
    assert concept_space(first) is first


def test_a_bank_file_is_read_again_when_it_changes_and_wherever_it_is(classifier, ridge_mapper, tmp_path, monkeypatch):
    """The space was kept under the file's name as typed: an edited file, or "./c.txt" in another folder, gave the
    concepts of the first file read, without a word."""
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    (tmp_path / "a" / "c.txt").write_text("striped fur\nwhiskers\n")
    (tmp_path / "b" / "c.txt").write_text("ladder\nhose\n")
    monkeypatch.chdir(tmp_path / "a")
    first = concept_space(classifier, ridge_mapper, "./c.txt")
    assert first.texts == ["striped fur", "whiskers"] and concept_space(classifier, ridge_mapper, "c.txt") is first
    monkeypatch.chdir(tmp_path / "b")
    assert concept_space(classifier, ridge_mapper, "./c.txt").texts == ["ladder", "hose"]
    (tmp_path / "b" / "c.txt").write_text("ladder\nsiren\n")
    assert concept_space(classifier, ridge_mapper, Path("c.txt")).texts == ["ladder", "siren"]
    (tmp_path / "b" / "visual").write_text("hose\n")  # a Path is a file, even one named like a built-in bank
    assert concept_space(classifier, ridge_mapper, Path("visual")).texts == ["hose"]


def test_targets_are_linear_functions_of_the_features(classifier, photos):
    f = classifier.features([photos["coffee"]])[0].double()
    logits = classifier.head(f)
    assert float(ClassLogit(ESPRESSO).value(classifier, f)) == pytest.approx(float(logits[ESPRESSO]))
    gap = LogitGap(ESPRESSO, CUP)
    assert float(gap.value(classifier, f)) == pytest.approx(float(logits[ESPRESSO] - logits[CUP]))
    w = gap.weight(classifier).double()
    assert float(w @ f + gap.bias(classifier)) == pytest.approx(float(gap.value(classifier, f)), rel=1e-6)
    with pytest.raises(ValueError, match="two different classes"):
        LogitGap(CUP, CUP)
    with pytest.raises(ValueError, match="1280 numbers"):
        Direction(torch.ones(3)).weight(classifier)


@pytest.mark.parametrize("selector", ["greedy", "nonnegative"])
def test_every_selector_is_credited_the_same_way(space, photos, selector):
    explainer = Explainer(space, selector=selector, echo_margin=None)
    e = explainer.explain(photos["coffee"], k=3)
    chosen = [space.texts.index(c) for c in e.table["concept"]]
    f = space.classifier.features([photos["coffee"]])[0]
    w = space.classifier.head_weight[e.target]
    assert e.table["contribution"].tolist() == pytest.approx(marginal_gains(space.directions[chosen], f, w), abs=1e-6)
    assert e.total == pytest.approx(measured_drop(space.classifier, f, space.directions[chosen], e.target), abs=1e-5)


class FirstCandidates(Selector):
    """A third method in a few lines: the shortlist's best separate scores, in order."""

    name = "first"

    def choose(self, directions, features, weight, k):
        return list(range(min(k, len(directions))))


def test_a_new_selection_method_is_one_class_compared_by_the_same_metrics(space, photos):
    explainer = Explainer(space, echo_margin=None)
    frame = metrics.concept_ablation(
        explainer, {"coffee": photos["coffee"]}, k=3, n_random=4, selectors=[FirstCandidates()]
    )
    methods = set(frame["method"])
    assert {"named", "named (first)", "random"} <= methods
    drops = frame.set_index("method")["drop_pct_margin"]
    assert drops["named (first)"] > drops["random"] and (frame["abs_error"] < 1e-4).all()


def test_greedy_with_a_prior_prefers_what_the_prior_favours_among_equal_gains():
    # two candidates that carry the target equally (mirror images about w), a third that carries nothing
    w = torch.tensor([1.0, 0.0, 0.0])
    f = torch.tensor([2.0, 0.0, 0.0])
    directions = F.normalize(torch.tensor([[1.0, 1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), dim=1)
    greedy = nlexnb.selection.GreedySelector()
    assert greedy.choose(directions, f, w, 1, prior=torch.tensor([0.2, 0.9, 1.0])) == [1]
    assert greedy.choose(directions, f, w, 1, prior=torch.tensor([0.9, 0.2, 1.0])) == [0]
    # a prior never makes a concept that adds nothing eligible
    assert 2 not in greedy.choose(directions, f, w, 3, prior=torch.tensor([0.01, 0.01, 1.0]))


def test_relevance_is_the_text_cosine_with_the_class_gloss(space):
    relevance = space.relevance(ESPRESSO)
    assert relevance.shape == (len(space),) and float(relevance.min()) == pytest.approx(0.01)
    ranked = [space.texts[i] for i in relevance.argsort(descending=True).tolist()]
    assert ranked.index("coffee") < ranked.index("a car wheel")  # "strong black coffee made by forcing steam ..."


def test_relevance_zero_is_the_plain_greedy_and_a_selector_without_prior_still_works(space, photos):
    f = space.classifier.features([photos["coffee"]])[0]
    plain = Explainer(space, relevance=0, echo_margin=None)
    candidates = plain.candidates(f, ESPRESSO)
    expected = [candidates[i] for i in nlexnb.selection.GreedySelector().choose(
        space.directions[candidates], f, space.classifier.head_weight[ESPRESSO], 3)]  # fmt: skip
    assert plain.select(f, ESPRESSO, 3)[0] == expected
    assert plain.prior(ESPRESSO, candidates) is None
    weighted = Explainer(space, relevance=2, echo_margin=None)
    fit = space.relevance(ESPRESSO)[candidates].double()
    assert weighted.prior(ESPRESSO, candidates) == pytest.approx((fit / fit.max()) ** 2)  # the best candidate is 1
    # a strong preference no longer rounds every weak candidate to 0 (relevance 60 did, in float32, so it chose nothing)
    strong = Explainer(space, relevance=60, echo_margin=None)
    assert float(strong.prior(ESPRESSO, candidates).max()) == 1.0 and strong.select(f, ESPRESSO, 3)[0]
    assert Explainer(space, selector=FirstCandidates(), echo_margin=None).select(f, ESPRESSO, 2)[0] == candidates[:2]
    for bad in (-1, float("nan"), "high", True):
        with pytest.raises(ValueError, match="relevance must be a number >= 0"):
            Explainer(space, relevance=bad)


def test_an_explanation_of_a_direction_names_what_carries_its_score(space, photos):
    explainer = Explainer(space, echo_margin=None)
    probe = Direction(space.direction("striped fur"), "striped fur")
    e = explainer.explain(photos["chelsea"], target=probe, k=2)
    assert e.explains is probe and e.sentence.startswith(f"The score of \u201cstriped fur\u201d is {e.explained:.2f}, ")
    assert e.total == pytest.approx(e.measured, abs=1e-5)


def test_a_target_that_cannot_be_explained_is_refused_before_anything_is_computed(space, photos):
    """A class index is never wrapped round (-1 is not the last class), and a direction must point somewhere."""
    explainer = Explainer(space)
    with pytest.raises(ValueError, match="ClassLogit's class -1 is out of range"):
        explainer.explain(photos["coffee"], target=ClassLogit(-1))
    with pytest.raises(ValueError, match="LogitGap's foil 5000 is out of range"):
        explainer.weigh(photos["coffee"], ["foam"], target=LogitGap(ESPRESSO, 5000))
    for bad, problem in (
        (torch.zeros(space.classifier.num_features), "only zeros"),
        (torch.full((space.classifier.num_features,), float("nan")), "NaN or infinite values"),
    ):
        with pytest.raises(ValueError, match=f"The Direction 'probe' holds {problem}: it points nowhere"):
            explainer.explain(photos["coffee"], target=Direction(bad, "probe"))


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="greedy"):
        nlexnb.selection.get_selector("lasso")
    with pytest.raises(ValueError, match="maps"):
        nlexnb.available("models")
    listed = nlexnb.available()
    assert {"kernel", "ridge", "mlp"} == set(listed["maps"]) and "visual" in listed["banks"]
    assert {"greedy", "nonnegative"} == set(listed["selectors"]) and "stamps" in listed["labelled_sets"]


def test_a_forward_pass_is_typed_and_still_reads_by_key(classifier, photos):
    out = classifier.forward_all([photos["coffee"]])
    assert out["logits"] is out.logits and out.feature_map.shape[-1] == out.features.shape[-1]
    with pytest.raises(KeyError, match="features, logits and feature_map"):
        out["pooled"]


def test_free_text_takes_classifier_then_mapper_and_the_old_order_warns(classifier, ridge_mapper):
    new = nlexnb.evaluate.free_text(classifier, ridge_mapper)
    with pytest.warns(DeprecationWarning, match="free_text\\(classifier, mapper\\)"):
        old = nlexnb.evaluate.free_text(ridge_mapper, classifier)
    pd.testing.assert_frame_equal(new, old)


def test_no_module_reaches_into_another_modules_private_names():
    offences = []
    package = pathlib.Path(nlexnb.__file__).parent
    paths = sorted(package.rglob("*.py"))
    assert package / "collection" / "run.py" in paths  # sub-packages are held to the same rule
    for path in paths:
        name = path.relative_to(package).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level and any(a.name.startswith("_") for a in node.names):
                offences.append(f"{name}:{node.lineno} {ast.unparse(node)}")
            private = isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__")
            if private and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                offences.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert not offences, offences


def test_a_contrast_refuses_kinds_of_either_class(space, photos):
    # Egyptian cat rather than tiger cat: "cat" is what the two share, so it cannot say why one
    f = space.classifier.features([photos["chelsea"]])[0]
    explainer = Explainer(space, echo_margin=None, shortlist=len(space))
    cat = space.texts.index("cat")
    assert cat in explainer.candidates(f, explainer.target(EGYPTIAN_CAT))
    contrast = explainer.target(EGYPTIAN_CAT, foil=TIGER_CAT)
    w = contrast.weight(space.classifier)
    assert space.directions[cat] @ f > 0 and space.directions[cat] @ w > 0  # present and aligned: refused as a kind
    assert cat not in explainer.candidates(f, contrast)


def test_the_concepts_the_map_places_least_firmly_are_never_named(classifier, mapper):
    space = ConceptSpace(classifier, mapper)  # the default visual bank: thousands of concepts
    lengths = (space.vectors - space.offset).norm(dim=1)
    assert space.strength == pytest.approx((lengths / lengths.median()).numpy(), abs=1e-5)
    assert space.weak.float().mean().item() == pytest.approx(0.15, abs=0.01)
    assert (space.strength[space.weak] < space.strength[~space.weak].min()).all()
    assert space.excluded[space.weak].all()
    assert f"the {int(space.weak.sum())} placed least firmly never named (weakest=0.15)" in repr(space)
    husky = space.class_index("Siberian husky")
    weak = {space.texts[i] for i in space.weak.nonzero().flatten().tolist()}
    assert {"nutshell", "hazel", "holly"} <= weak  # near "husk" and "Siberian", not near a husky
    assert not weak & set(discover.class_concepts(space, husky, k=20)["concept"])
    everything = ConceptSpace(classifier, mapper, weakest=0)
    assert not everything.weak.any() and everything.excluded.sum() < space.excluded.sum()
    stricter = ConceptSpace(classifier, mapper, weakest=0.3)
    assert (stricter.weak >= space.weak).all() and stricter.weak.float().mean().item() == pytest.approx(0.3, abs=0.01)


def test_a_short_list_of_concepts_is_kept_whole(space):
    assert len(space) < WEAK_MIN_BANK and not space.weak.any()


@pytest.mark.parametrize("weakest", [-0.1, 1, 1.5, "0.15", True, None])
def test_the_weakest_share_must_be_a_share(classifier, ridge_mapper, weakest):
    with pytest.raises(ValueError, match=r"weakest must be a share of the bank in \[0, 1\)"):
        ConceptSpace(classifier, ridge_mapper, CONCEPTS, weakest=weakest)


def test_an_explainer_passes_the_weakest_share_to_its_space_or_takes_the_space_s(classifier, ridge_mapper, space):
    assert Explainer(classifier, ridge_mapper, CONCEPTS, weakest=0).space.weakest == 0
    with pytest.raises(ValueError, match="set them on the ConceptSpace"):
        Explainer(space, weakest=0.1)


def test_a_space_checks_glosses_one_per_class_as_fit_mapper_does(classifier, ridge_mapper):
    with pytest.raises(ValueError, match=r"glosses must give one entry per class \(1000\), got 2"):
        ConceptSpace(classifier, ridge_mapper, CONCEPTS, glosses=["a fish", "a shark"])
    with pytest.raises(TypeError, match=r"glosses\[1\] \(class 'goldfish.*must be one short definition"):
        ConceptSpace(classifier, ridge_mapper, CONCEPTS, glosses=["a fish", ["a small orange fish"]] + [""] * 998)
    senses = (["a sense"] if c == 0 else [] for c in range(1000))  # a generator of lists, read once
    space = ConceptSpace(classifier, ridge_mapper, CONCEPTS, other_senses=senses)
    assert space.other_senses[0] == ["a sense"] and space.other_senses[1] == []
