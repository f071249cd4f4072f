"""A data-free concept bottleneck: class rows as a few non-negative concepts, judged against the original head."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlexnb._checks import UnnormalisedWarning
from nlexnb.bottleneck import (
    RESIDUAL_WARNING,
    Intervention,
    PoorFitWarning,
    Recipe,
    concept_bottleneck,
    load_bottleneck,
    neighbour_bottleneck,
    random_bottleneck,
    sparse_nonnegative_fit,
    tradeoff,
)
from nlexnb.bottleneck.model import sidecar_digest
from nlexnb.bottleneck.results import distinct_names
from nlexnb.concepts import ConceptBank
from nlexnb.evaluate import bottleneck_accuracy
from nlexnb.labels import head_word, primary_name
from nlexnb.space import ConceptSpace

# a bank of 400 concepts writes most class rows poorly: the warning is the subject of one test below, noise elsewhere
pytestmark = pytest.mark.filterwarnings("ignore::nlexnb.bottleneck.PoorFitWarning")


@pytest.fixture(scope="module")
def space(classifier, ridge_mapper):
    return ConceptSpace(classifier, ridge_mapper, ConceptBank.visual().texts[::8] + ["espresso", "tabby cat"])


def test_a_bottleneck_predicts_through_concept_scores_alone(space, photos):
    cbm = concept_bottleneck(space, n_concepts=6)
    assert (cbm.weights >= 0).all() and ((cbm.weights > 0).sum(1) <= 6).all()
    assert not (cbm.weights[:, space.excluded] > 0).any()  # class names never explain a class
    clf = space.classifier
    f = clf.features(list(photos.values()))
    scores = f @ space.directions.T
    expected = scores @ cbm.weights.T.float() + (f @ clf.head_weight.mean(0))[:, None] + clf.head_bias
    assert torch.allclose(cbm.logits_from_features(f), expected, atol=1e-4)
    same = (expected.argmax(1) == clf.head(f).argmax(1)).float().mean()
    assert cbm.agreement(list(photos.values())) == pytest.approx(float(same))
    assert cbm.predict(list(photos.values())) == [clf.class_names[i] for i in expected.argmax(1).tolist()]


def test_a_larger_budget_leaves_less_of_the_rows_out_and_recipes_read_as_tables(space):
    small, large = concept_bottleneck(space, n_concepts=2), concept_bottleneck(space, n_concepts=8)
    assert float(large.residual.mean()) < float(small.residual.mean()) <= 1.0
    recipe = large.recipe("espresso").table
    assert list(recipe.columns) == ["concept", "weight", "share", "row left out"] and 0 < len(recipe) <= 8
    assert recipe["share"].sum() == pytest.approx(1.0) and recipe["weight"].is_monotonic_decreasing
    assert "espresso" not in set(recipe["concept"]) and "8 concepts per class" in repr(large)
    first_half = torch.arange(len(space)) < len(space) // 2
    restricted = concept_bottleneck(space, n_concepts=4, allowed=first_half)
    assert not (restricted.weights[:, ~first_half] > 0).any() and (restricted.weights > 0).any()


def test_each_recipe_is_as_long_as_its_class_row_and_leaves_out_what_its_direction_misses(space):
    cbm = concept_bottleneck(space, n_concepts=8)
    w = space.classifier.head_weight.double()
    rows = w - w.mean(0)
    written = cbm.weights.double() @ space.directions.double()
    has_recipe = (cbm.weights > 0).any(1)
    assert has_recipe.float().mean() > 0.9
    # a least-squares recipe is shorter than its row; scaled, it keeps the head's balance between classes
    assert torch.allclose(written[has_recipe].norm(dim=1), rows[has_recipe].norm(dim=1), rtol=1e-6)
    cosine = torch.nn.functional.cosine_similarity(rows, written, dim=1)
    assert torch.allclose(cbm.residual[has_recipe].double(), (1 - cosine[has_recipe] ** 2).sqrt(), atol=1e-5)
    # the scale is one number per class: the recipe's concepts and shares are those of the least-squares fit
    allowed = ~space.excluded & ~space.naming_mask() & ~space.qualifier_mask() & ~space.animal_mask()  # may use
    fit = sparse_nonnegative_fit(rows, space.directions, 8, allowed=allowed)
    assert torch.equal(fit > 0, cbm.weights > 0)
    espresso = fit[967][fit[967] > 0]
    recipe = cbm.recipe("espresso").table
    assert sorted(recipe["share"]) == pytest.approx(sorted((espresso / espresso.sum()).tolist()), abs=1e-6)


def test_a_recipe_never_names_its_class_in_other_words_unless_asked(classifier, ridge_mapper):
    bank = ConceptBank.visual().texts[::16] + ["camel", "dromedary hump", "sand cat", "slender wild cat", "tabby cat"]
    space = ConceptSpace(classifier, ridge_mapper, bank)
    camel, tiger_cat = space.class_index("Arabian camel"), space.class_index("tiger cat")
    # every concept whose head is "camel" or "cat" ("slender short-haired domestic cat" too), whatever the sample holds
    kinds = {
        c: [t for t in space.texts if head_word(t) == head and t != "tabby cat"]
        for c, head in ((camel, "camel"), (tiger_cat, "cat"))
    }
    strict = concept_bottleneck(space, n_concepts=16)
    loose = concept_bottleneck(space, n_concepts=16, allow_kinds=True)
    columns = {c: [space.texts.index(t) for t in refused] for c, refused in kinds.items()}
    for c, refused in kinds.items():
        assert not (strict.weights[c, columns[c]] > 0).any()  # kinds of the class: "camel" for Arabian camel
        assert not set(refused) & set(strict.recipe(c).table["concept"])
    assert any((loose.weights[c, columns[c]] > 0).any() for c in kinds)  # allowed, some kind is used
    assert not (loose.weights[:, space.excluded] > 0).any()  # whole class names ("tabby cat") never


def test_a_recipe_never_echoes_a_word_that_qualifies_its_class_name(classifier, ridge_mapper):
    """ "pyramid" is near the Egyptian cat's row because of the word "Egyptian": no recipe of it, fitted or baseline,
    uses it, even with kinds of the class allowed; other classes may."""
    bank = ConceptBank.visual().texts[::16] + ["pyramid", "classroom", "spotted fur"]
    space = ConceptSpace(classifier, ridge_mapper, bank)
    cat, bus = space.class_index("Egyptian cat"), space.class_index("school bus")
    pyramid, classroom = space.texts.index("pyramid"), space.texts.index("classroom")
    mask = space.qualifier_mask()
    assert mask[cat, pyramid] and mask[bus, classroom] and not mask[cat, space.texts.index("spotted fur")]
    assert not mask[space.class_index("tabby")].any()  # a name of one word qualifies nothing
    for cbm in (
        concept_bottleneck(space, n_concepts=16),
        concept_bottleneck(space, n_concepts=16, allow_kinds=True),
        random_bottleneck(space, 16),
        neighbour_bottleneck(space, 16),
    ):
        assert cbm.weights[cat, pyramid] == 0 and cbm.weights[bus, classroom] == 0
        assert not (cbm.weights[mask] > 0).any()


def test_mistakes_are_named(space, classifier, ridge_mapper):
    for bad in (0, -3, 2.5, "many"):
        with pytest.raises((ValueError, TypeError), match="n_concepts"):
            concept_bottleneck(space, n_concepts=bad)
    with pytest.raises(ValueError, match="needs others"):
        concept_bottleneck(classifier, ridge_mapper, ["espresso", "tabby cat"], n_concepts=2)
    with pytest.raises(ValueError, match="not a class"):
        concept_bottleneck(space, n_concepts=2).recipe("not a class at all")
    with pytest.raises(ValueError, match="got a ConceptSpace and int 8; numbers go in by keyword: n_concepts=8"):
        concept_bottleneck(space, 8)  # the budget is a keyword: a number after the space is not a mapper
    with pytest.raises(TypeError, match="Got the number 8 where the mapper goes"):
        concept_bottleneck(classifier, 8)


# ---- reading a bottleneck: recipes, explanations, interventions ------------------------------------------------------
@pytest.fixture(scope="module")
def cbm(space):
    return concept_bottleneck(space, n_concepts=6)


def test_a_recipe_is_a_table_with_a_bar_chart(cbm):
    recipe = cbm.recipe("espresso")
    assert isinstance(recipe, Recipe) and recipe.class_name == "espresso" and recipe.n_concepts == 6
    row = cbm.weights[967]
    expected = sorted((float(w), cbm.space.texts[i]) for i, w in enumerate(row.tolist()) if w > 0)[::-1]
    assert list(recipe.table["concept"]) == [c for _, c in expected]
    assert recipe.table["weight"].tolist() == pytest.approx([w for w, _ in expected])
    assert recipe.residual == pytest.approx(float(cbm.residual[967]))
    # how much of the row the concepts down to each one leave out: from the first concept alone to the whole recipe
    left_out = recipe.table["row left out"]
    assert left_out.between(0, 1).all() and left_out.iloc[-1] == pytest.approx(recipe.residual, abs=1e-6)
    first = cbm.space.directions[cbm.space.texts.index(expected[0][1])].double()
    rows = cbm.space.classifier.head_weight.double()
    centred = rows[967] - rows.mean(0)
    cosine = float(first @ centred / (first.norm() * centred.norm()))
    assert left_out.iloc[0] == pytest.approx((1 - max(cosine, 0) ** 2) ** 0.5)
    assert list(recipe["concept"]) == list(recipe.table["concept"]) and len(recipe) == len(expected)  # as a DataFrame
    fig = recipe.plot()
    bars = fig.axes[0].patches
    assert len(bars) == len(expected) and bars[0].get_width() == pytest.approx(expected[0][0])
    assert recipe.table["concept"][0] in recipe._repr_html_() and "espresso" in fig.axes[0].get_title()


def test_an_explanation_adds_up_exactly_to_the_bottleneck_logit(cbm, photos):
    clf, space = cbm.space.classifier, cbm.space
    explanation = cbm.explain(photos["coffee"])
    # the oracle, from the head and the directions alone (float64)
    f = clf.features(photos["coffee"])[0].double()
    w = clf.head_weight.double()
    activations = space.directions.double() @ f
    logits = cbm.weights @ activations + w.mean(0) @ f + clf.head_bias.double()
    c = int(logits.argmax())
    assert explanation.target == c and explanation.target_name == clf.class_names[c]
    assert explanation.logit == pytest.approx(float(logits[c]), abs=1e-4)
    assert explanation.shared == pytest.approx(float(w.mean(0) @ f + clf.head_bias[c]), abs=1e-4)
    table = explanation.table.set_index("concept")
    for i in torch.nonzero(cbm.weights[c]).flatten().tolist():
        row = table.loc[space.texts[i]]
        assert row.activation == pytest.approx(float(activations[i]), abs=1e-4)
        assert row.contribution == pytest.approx(float(cbm.weights[c, i] * activations[i]), abs=1e-4)
    assert len(table) == int((cbm.weights[c] > 0).sum())
    assert explanation.total + explanation.shared == pytest.approx(explanation.logit, abs=1e-4)
    assert explanation.table["share"].sum() == pytest.approx(1.0)
    # each heat map is the concept's contribution per location: its mean over the grid is the contribution
    assert 0 < len(explanation.heatmaps) <= 5
    for heat, contribution in zip(explanation.heatmaps, explanation.table["contribution"]):
        assert float(heat.grid.mean()) == pytest.approx(contribution, abs=1e-3)
        assert heat.values.shape == (224, 224)
    assert explanation.plot().axes and "bottleneck" in explanation._repr_html_()
    # the sentence names what it explains; the original head's answer only where it differs
    top = primary_name(clf.class_names[c])
    assert explanation.sentence.startswith(f"The bottleneck gives \u201c{top}\u201d (p ")
    first = explanation.table[explanation.table["contribution"] > 0]["concept"].iloc[0]
    assert f"ly through \u201c{first}\u201d (" in explanation.sentence  # concepts quoted, with their share
    positive = explanation.table[explanation.table["contribution"] > 0].head(3)
    how = "mainly" if round(100 * positive["share"].sum()) >= 50 else "partly"  # the words follow the shares listed
    assert f"{how} through" in explanation.sentence
    differs = explanation.original_name != explanation.predicted_name
    assert ("The original head predicts" in explanation.sentence) == differs
    # a logit its concepts lower in all: no shares of a negative total ("mottled fur (-215%)"), what each adds; the
    # class whose concepts lower it most while one of them raises it (tabby, in the bank of 3,176)
    contributions = cbm.weights * activations
    totals = contributions.sum(1).masked_fill(~(contributions > 0).any(1), float("inf"))
    lowest = int(totals.argmin())
    other = cbm.explain(photos["coffee"], target=lowest)
    assert other.target == lowest and other.total + other.shared == pytest.approx(float(logits[lowest]), abs=1e-4)
    name = primary_name(clf.class_names[lowest])
    assert (
        other.sentence.startswith(f"The bottleneck scores \u201c{name}\u201d (p ")
        and "(its top class" in other.sentence
    )
    assert other.total < 0 and "%" not in other.sentence
    assert f"its recipe's concepts lower the logit by {-other.total:.2f} in all, though \u201c" in other.sentence
    # a recipe none of whose concepts the image holds says so (it raised an IndexError listing no concepts)
    none = dataclasses.replace(other, table=other.table.assign(contribution=-other.table["contribution"].abs()))
    assert ": no concept of its recipe is present in the image." in none.sentence
    with pytest.raises(ValueError, match=r"Unknown target 'expresso machine room'.*close matches: \['espresso maker'"):
        cbm.explain(photos["coffee"], target="expresso machine room")
    # without heat maps (a classifier that gives no feature map), the same table and sentence
    plain = cbm.explain(photos["coffee"], heatmaps=False)
    assert plain.heatmaps == [] and plain.sentence == explanation.sentence
    pd.testing.assert_frame_equal(plain.table, explanation.table)
    plt.close(plain.plot())


def test_switching_concepts_off_changes_the_prediction_as_the_recipe_says(cbm, photos):
    before = cbm.explain(photos["coffee"])
    off = {c: 0.0 for c in before.table["concept"]}  # every concept of the predicted class's recipe
    result = cbm.intervene(photos["coffee"], off)
    assert isinstance(result, Intervention) and result.before == before.target_name
    row = result.table.set_index("class_name").loc[before.target_name]
    assert row.logit_before == pytest.approx(before.logit, abs=1e-4)
    assert row.logit_after == pytest.approx(before.shared, abs=1e-4)  # nothing left but the shared term
    assert set(result.changes) == set(off) and all(after == 0.0 for _, after in result.changes.values())
    assert result.sentence.startswith("Setting \u201c")  # 'Setting “coffee” 1.23 → 0.00, ... changes ...'
    # the other classes move by their own weights on those concepts (the oracle, by hand)
    f = cbm.space.classifier.features(photos["coffee"])
    scores = cbm.concept_scores(f)[0]
    used = [cbm.concept_index(c) for c in off]
    for name, got in zip(result.table["class_name"], result.table["logit_after"]):
        k = cbm.space.classifier.class_index(name)
        expected = float(cbm.logits_from_features(f)[0, k]) - float((cbm.weights[k, used] * scores[used]).sum())
        assert got == pytest.approx(expected, abs=1e-4)
    assert result.changed == (result.before != result.after) and result.plot().axes
    with pytest.raises(ValueError, match="not a concept of the bank.*close"):
        cbm.intervene(photos["coffee"], {before.table["concept"][0] + "x": 0.0})
    with pytest.raises(ValueError, match="finite number"):
        cbm.intervene(photos["coffee"], {before.table["concept"][0]: float("nan")})
    every = cbm.intervene(photos["coffee"], off, k=5000)  # capped at the classes, as predict caps it
    assert every.after == result.after


def test_a_concept_removed_from_a_class_recipe_leaves_the_other_classes_as_they_were(cbm, photos):
    recipe = cbm.recipe("espresso")
    top = recipe.table["concept"][0]
    j = cbm.concept_index(top)
    edited = cbm.without(top, classes=["espresso"])
    assert edited is not cbm and float(cbm.weights[967, j]) > 0  # the original is untouched
    assert float(edited.weights[967, j]) == 0 and top not in set(edited.recipe("espresso")["concept"])
    others = torch.ones(cbm.weights.shape[0], dtype=torch.bool)
    others[967] = False
    assert torch.equal(edited.weights[others], cbm.weights[others])
    assert float(edited.residual[967]) > float(cbm.residual[967])
    assert torch.allclose(edited.residual[others], cbm.residual[others], atol=1e-6)
    f = cbm.space.classifier.features(photos["coffee"])
    drop = cbm.logits_from_features(f) - edited.logits_from_features(f)
    assert float(drop[0, 967]) == pytest.approx(float(cbm.weights[967, j] * cbm.concept_scores(f)[0, j]), abs=1e-4)
    assert float(drop[0, others].abs().max()) < 1e-5
    everywhere = cbm.without([top])
    assert not (everywhere.weights[:, j] > 0).any()
    with pytest.warns(UserWarning, match="not in the recipes of those classes"):
        edited.without(top, classes="espresso")
    with pytest.raises(ValueError, match="not a concept of the bank"):
        cbm.without("no such concept anywhere")


# ---- the sparsity / agreement trade-off ------------------------------------------------------------------------------
def test_the_tradeoff_table_beside_random_concepts(space, photos):
    images = list(photos.values())
    f = space.classifier.features(images)
    two = concept_bottleneck(space, n_concepts=2)
    result = tradeoff(space, features=f, budgets=(2, 4), fitted=[two])
    table = result.table
    assert result.images == len(images) and len(table) == 6
    assert list(table["kind"]) == ["recipes", "random concepts", "text neighbours"] * 2
    recipes = table[table["kind"] == "recipes"].set_index("concepts per class")
    assert recipes.loc[2, "agreement"] == pytest.approx(two.agreement(images))
    assert recipes.loc[2, "mean residual"] == pytest.approx(float(two.residual.mean()))
    # the random baseline gives every class its own draw, weighted by the bottleneck's fit on those concepts alone
    baseline = random_bottleneck(space, 4, seed=0)
    per_class = (baseline.weights > 0).sum(1)
    assert (per_class <= 4).all() and int((baseline.weights > 0).any(0).sum()) > 4
    random = table[table["kind"] == "random concepts"].set_index("concepts per class")
    assert random.loc[4, "agreement"] == pytest.approx(baseline.agreement(features=f))
    # the text baseline writes espresso with words near "espresso" only
    neighbours = neighbour_bottleneck(space, 4)
    used = set(neighbours.recipe("espresso")["concept"])
    assert used and used <= set(space.text_neighbours("espresso", 4))
    assert len(result.plot().axes) == 2
    # a baseline or an edited bottleneck given as fitted= is not the curve's recipes: they are fitted afresh
    edited = two.without(list(two.recipe("espresso")["concept"]))
    assert two.default_fit and not baseline.default_fit and not edited.default_fit
    with pytest.warns(UserWarning, match=r"at \[4\] concepts per class given as fitted= were not fitted with the"):
        again = tradeoff(space, features=f, budgets=(4,), fitted=[baseline]).table
    assert again.set_index("kind").loc["recipes", "agreement"] == recipes.loc[4, "agreement"]
    with pytest.raises(ValueError, match="images or their features"):
        tradeoff(space, budgets=(2,))


def test_agreement_split_by_how_sure_the_head_is(cbm, photos):
    images = list(photos.values())
    f = cbm.space.classifier.features(images)
    result = cbm.agreement_by_confidence(features=f)
    table = result.table
    assert list(table["head's confidence"]) == ["< 0.2", "0.2 to 0.5", "0.5 to 0.8", ">= 0.8", "all"]
    # the bands share out the images, and the last row is the plain agreement
    assert table["images"].iloc[:-1].sum() == table["images"].iloc[-1] == result.images == len(images)
    assert table["agreement"].iloc[-1] == pytest.approx(cbm.agreement(features=f))
    # the head's class among the bottleneck's top 5 whenever it is its top 1
    judged = table[table["images"] > 0]
    assert (judged["in top 5"] >= judged["agreement"]).all()
    assert repr(result).startswith(f"AgreementByConfidence({len(images)} images")
    # a band with no image says so rather than inventing a share
    one = cbm.agreement_by_confidence(features=f[:1], edges=(0.001, 0.999))
    assert one.table["images"].tolist() in ([1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1])
    assert one.table[one.table["images"] == 0]["agreement"].isna().all()
    assert len(result.plot().axes) == 1
    for bad, message in (
        ((0.5, 0.2), "must increase"),
        ((0.0, 0.5), "probability in"),
        ((), "non-empty"),
        ("0.5", "non-empty"),
    ):
        with pytest.raises(ValueError, match=message):
            cbm.agreement_by_confidence(features=f, edges=bad)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edges=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-1, 2)), max_size=5),
    seed=st.integers(0, 2**16),
)
def test_any_edges_split_every_image_into_one_band_or_are_refused(cbm, edges, seed):
    # features shaped like an EfficientNet's pooled activations (non-negative), some confident, some not
    features = torch.rand(12, cbm.space.classifier.num_features, generator=torch.Generator().manual_seed(seed)) * 2
    valid = bool(edges) and all(0 < e < 1 for e in edges) and all(a < b for a, b in zip(edges, edges[1:]))
    if not valid:
        with pytest.raises(ValueError, match="edges"):
            cbm.agreement_by_confidence(features=features, edges=edges)
        return
    table = cbm.agreement_by_confidence(features=features, edges=edges).table
    assert len(table) == len(edges) + 2 and table["images"].iloc[:-1].sum() == table["images"].iloc[-1] == 12
    assert table["agreement"].iloc[-1] == pytest.approx(cbm.agreement(features=features))
    filled = table[table["images"] > 0]
    assert filled["agreement"].between(0, 1).all() and (filled["in top 5"] >= filled["agreement"]).all()


# ---- saving ----------------------------------------------------------------------------------------------------------
def test_a_saved_bottleneck_loads_only_where_it_was_made(
    cbm, space, photos, tmp_path, classifier, ridge_mapper, monkeypatch
):
    path = cbm.save(tmp_path / "espresso-and-friends")
    assert path.name == "espresso-and-friends.safetensors" and path.read_bytes()[8:9] == b"{"  # safetensors, no pickle
    for folder in (tmp_path, f"{tmp_path / 'not yet'}/"):  # save(folder) wrote '<folder>.safetensors' beside it
        with pytest.raises(ValueError, match=r"path is a folder .*; give a file path such as .*bottleneck'"):
            cbm.save(folder)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["classifier"] == "tf_efficientnet_lite0" and sidecar["num_classes"] == 1000
    assert sidecar["num_features"] == 1280 and sidecar["bank_size"] == len(space) and sidecar["n_concepts"] == 6
    loaded = load_bottleneck(path, space)
    assert torch.equal(loaded.weights.cpu(), cbm.weights.cpu()) and torch.equal(loaded.residual, cbm.residual)
    assert loaded.default_fit == cbm.default_fit  # so that tradeoff(fitted=[loaded]) knows it for the curve's recipes
    monkeypatch.setenv("HOME", str(tmp_path))  # "~/..." is read as save wrote it (not in a folder named "~")
    (tmp_path / "results.json").write_text('{"my": "experiment results"}')  # a user's, beside the name given
    with pytest.raises(ValueError, match=r"sidecar to .*results.json', which exists and was not written by a bott"):
        cbm.save(tmp_path / "results.safetensors")
    assert json.loads((tmp_path / "results.json").read_text()) == {"my": "experiment results"}
    assert cbm.save(path) == path  # its own sidecar is replaced, as saving again should
    assert torch.equal(load_bottleneck("~/espresso-and-friends", space).weights.cpu(), cbm.weights.cpu())
    images = list(photos.values())
    assert torch.equal(loaded.logits(images), cbm.logits(images))
    other_bank = ConceptSpace(classifier, ridge_mapper, space.texts[:-1])
    with pytest.raises(ValueError, match="another concept bank|bank of another size"):
        load_bottleneck(path, other_bank)
    renamed = ConceptSpace(classifier, ridge_mapper, space.texts[:-1] + ["a brand new concept"])
    with pytest.raises(ValueError, match="other concept texts") as refused:
        load_bottleneck(path, renamed)
    assert "fitted for" not in str(refused.value)  # same name and size: the hashes say what differs, nothing more
    sidecar["classifier"] = "resnet50"
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="sidecar .* was changed after it was saved"):  # an edit by hand
        load_bottleneck(path, space)
    sidecar["sidecar_sha256"] = sidecar_digest(sidecar)  # as a save for resnet50 would have written it
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    refusal = "made for another classifier: it was fitted for resnet50, not tf_efficientnet_lite0"  # said once
    with pytest.raises(ValueError, match=refusal):
        load_bottleneck(path, space)
    other = cbm.without(cbm.recipe("espresso")["concept"][0]).save(tmp_path / "other")
    path.with_suffix(".json").write_bytes(other.with_suffix(".json").read_bytes())
    with pytest.raises(ValueError, match="sidecar belongs to another save"):  # a sidecar of another save is not trusted
        load_bottleneck(path, space)
    with pytest.raises(FileNotFoundError, match="not found"):
        load_bottleneck(tmp_path / "missing.safetensors", space)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    damage=st.one_of(st.tuples(st.just("truncate"), st.floats(0, 0.999)), st.tuples(st.just("flip"), st.floats(0, 1)))
)
def test_a_damaged_bottleneck_file_is_refused_never_loaded(cbm, space, damage):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = cbm.save(Path(folder) / "cbm")
        data = bytearray(path.read_bytes())
        kind, where = damage
        at = min(int(where * len(data)), len(data) - 1)
        if kind == "truncate":
            data = data[:at]
        else:
            data[at] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(ValueError, match="cbm.safetensors"):
            load_bottleneck(path, space)


def test_a_bottleneck_of_another_classifier_is_refused(space, tmp_path, encoder):
    import nlexnb

    torch.manual_seed(0)
    tiny = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    model = torch.nn.Sequential(tiny, torch.nn.Linear(8, 4))
    names = ["cat", "cup of coffee", "rocket", "flower"]
    clf = nlexnb.load_classifier(model, head="1", class_names=names, transform=lambda im: torch.zeros(3, 16, 16))
    mapper = nlexnb.fit_mapper(clf, encoder)
    small = ConceptSpace(clf, mapper, ["striped fur", "steam", "flame", "petals", "whiskers"])
    path = concept_bottleneck(small, n_concepts=2).save(tmp_path / "tiny.safetensors")
    with pytest.raises(ValueError, match="made for another classifier.*Load it with the classifier it was made for"):
        load_bottleneck(path, space)


# ---- mistakes and poorly written classes -----------------------------------------------------------------------------
def test_a_budget_beyond_the_bank_is_an_error(space):
    usable = int((~space.excluded).sum())
    with pytest.raises(ValueError, match=f"n_concepts={usable + 1} is more than the {usable} concepts"):
        concept_bottleneck(space, n_concepts=usable + 1)
    with pytest.raises(ValueError, match="more than the"):
        random_bottleneck(space, usable + 1)


def test_poorly_written_classes_are_named_once_and_kept(space):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cbm = concept_bottleneck(space, n_concepts=1)
    poor = [w for w in caught if issubclass(w.category, PoorFitWarning)]
    assert len(poor) == 1
    listed = cbm.poorly_written()
    expected = sorted((float(r), i) for i, r in enumerate(cbm.residual.tolist()) if r > RESIDUAL_WARNING)[::-1]
    assert list(listed["residual"]) == pytest.approx([r for r, _ in expected]) and len(listed) > 0
    worst = space.classifier.class_names[expected[0][1]]
    message = str(poor[0].message)
    assert f"{len(expected)} classes are poorly written" in message and primary_name(worst) in message
    assert cbm.weights.shape[0] == 1000  # never dropped: every class keeps its row


# ---- accuracy on labelled images -------------------------------------------------------------------------------------
def test_bottleneck_accuracy_on_an_imagenet_style_folder_and_on_coarse_labels(cbm, photos, imagenet_style_folder):
    from nlexnb.datasets import coarse_photo_set, imagenet_folder, label_classes

    clf = cbm.space.classifier
    tmp_path, truth = imagenet_style_folder
    table = bottleneck_accuracy(cbm, imagenet_folder(tmp_path)).set_index("head")
    original, bottleneck = table.loc["original head"], table.loc["bottleneck (6 concepts per class)"]
    assert original.top1 == pytest.approx(2 / 3) and original.top5 == 1.0 and original.agreement == 1.0
    f = clf.features([photos[p] for p in truth])
    predicted = cbm.logits_from_features(f).argmax(1)
    expected = [clf.class_names[int(i)] for i in predicted]
    assert bottleneck.top1 == pytest.approx(sum(e == t for e, t in zip(expected, truth.values())) / 3)
    assert bottleneck.agreement == pytest.approx(float((predicted == clf.head(f).argmax(1)).float().mean()))
    # coarse labels: a prediction is right when it is one of the classes the label allows
    data = coarse_photo_set(views=1)
    right = label_classes("photos")
    coarse = bottleneck_accuracy(cbm, data, correct=right).set_index("head")
    judged = [(image, label) for image, label in data if label in right]
    assert coarse.attrs["not_judged"] == len(data) - len(judged) and (coarse["n"] == len(judged)).all()
    head = clf.logits([image for image, _ in judged]).argmax(1).tolist()
    hits = [clf.class_names[p] in right[label] for p, (_, label) in zip(head, judged)]
    assert coarse.loc["original head", "top1"] == pytest.approx(sum(hits) / len(judged))
    with pytest.raises(ValueError, match="'a cat' .*not a class name"):
        bottleneck_accuracy(cbm, [(photos["chelsea"], "a cat")])


def test_a_class_its_concepts_take_away_from_has_no_shares_in_its_table_or_figure(cbm, photos):
    """Shares of a negative total flipped sign in the table ("thin petals" at -0.46 read +12%) and read "nan%" on every
    bar of the figure; the HTML note said "1 recipe concepts, 10 largest shown"."""
    logits = cbm.logits_from_features(cbm.space.classifier.features(photos["coffee"]))[0]
    explanations = [cbm.explain(photos["coffee"], target=c, heatmaps=False) for c in logits.argsort()[:40].tolist()]
    against = next(e for e in explanations if e.total <= 0 and len(e.table))
    assert against.table["share"].isna().all()
    axes = against.plot().axes[1]
    labels = [t.get_text() for t in axes.texts]
    assert labels and not any("%" in t for t in labels) and "concepts' total" in axes.get_xlabel()
    shown = "all shown" if len(against.table) <= 10 else "the 10 largest shown"
    assert f"recipe concept{'s' if len(against.table) != 1 else ''}, {shown}" in against._repr_html_()


# ---- same-named classes, emptied recipes, a small head, checked inputs ---------------------------------------------
def test_classes_of_the_same_first_name_are_told_apart_in_sentences_and_bars(cbm, photos):
    """ImageNet's 638 "maillot" and 639 "maillot, tank suit": an intervention read "changes “maillot” to “maillot”" and
    its figure drew one bar for both, at their mean."""
    names = cbm.space.classifier.class_names
    recipe = list(cbm.recipe("espresso")["concept"])
    every = cbm.intervene(photos["coffee"], {c: 0.0 for c in recipe}, k=1000)  # every class, the two maillots too
    pair = every.table[every.table["class_name"].isin([names[638], names[639]])].reset_index(drop=True)
    swap = dataclasses.replace(every, table=pair, before=names[638], after=names[639])
    assert swap.sentence.endswith("changes \u201cmaillot\u201d to \u201cmaillot, tank suit\u201d.")
    ax = swap.plot().axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(pair["class_name"])  # two rows of bars, not one
    assert sum(bar.get_width() > 0 for bar in ax.patches) == int(
        (pair[["probability_before", "probability_after"]] > 0).sum().sum()
    )
    plt.close(ax.figure)
    explained = cbm.explain(photos["coffee"], target=639, heatmaps=False)
    named = dataclasses.replace(explained, predicted_name=names[638], original_name=names[638])
    assert named.sentence.startswith(
        "The bottleneck scores \u201cmaillot, tank suit\u201d (p < 0.01) (its top class is \u201cmaillot\u201d)"
    )
    assert "\u201cmaillot\u201d (p" not in named.sentence and primary_name(names[639]) == "maillot"
    # a class named twice is one class; classes whose first names differ keep them ("tabby", not "tabby, tabby cat")
    assert distinct_names([names[638], names[639], names[281], names[281]]) == [
        "maillot",
        "maillot, tank suit",
        "tabby",
        "tabby",
    ]


def test_a_recipe_emptied_by_without_says_so_in_its_plot_and_explanation(cbm, photos):
    """An emptied recipe read "no concept correlates positively with this class's row" and, explained, "no concept of
    its recipe is present in the image": neither was true."""
    emptied = cbm.without(list(cbm.recipe("espresso")["concept"]), "espresso")
    recipe = emptied.recipe("espresso")
    assert len(recipe) == 0 and recipe.residual == pytest.approx(1.0)
    fig = recipe.plot()
    said = " ".join(t.get_text() for t in fig.axes[0].texts).replace("\n", " ")
    assert said == (
        "the recipe is empty: its concepts were removed (cbm.without), or none of the concepts it may use "
        "correlates positively with its class's row"
    )
    plt.close(fig)
    explanation = emptied.explain(photos["coffee"], target="espresso")
    assert explanation.logit == pytest.approx(explanation.shared, abs=1e-5) and explanation.heatmaps == []
    assert explanation.sentence.startswith("The bottleneck scores \u201cespresso\u201d (p ")
    assert (
        "from the shared term alone; the recipe is empty: its concepts were removed (cbm.without)"
        in explanation.sentence
    )
    assert "present in the image" not in explanation.sentence
    right = explanation.plot().axes[-1]
    assert "the recipe is empty" in " ".join(t.get_text() for t in right.texts)
    plt.close(right.figure)


def test_allowed_concepts_that_leave_nothing_are_named_as_such(space):
    """An all-False allowed= was answered "Every concept of the bank is a class name or names a people"."""
    with pytest.raises(ValueError, match=r"allowed= leaves no concept for the recipes \(its mask is all False\)"):
        concept_bottleneck(space, n_concepts=8, allowed=torch.zeros(len(space), dtype=torch.bool))
    with pytest.raises(ValueError, match=r"allowed= allows only 2 concepts that recipes never use \(ConceptSpace"):
        concept_bottleneck(space, n_concepts=1, allowed=["espresso", "tabby cat"])


def test_a_head_of_five_classes_or_fewer_has_no_top_5_agreement(encoder, photos):
    """Every class of a 4-class head is in the bottleneck's top 5: "in top 5" was 1.0 by construction."""
    import nlexnb

    torch.manual_seed(0)
    trunk = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    model = torch.nn.Sequential(trunk, torch.nn.Linear(8, 4))
    names = ["cat", "cup of coffee", "rocket", "flower"]
    clf = nlexnb.load_classifier(model, head="1", class_names=names, transform=lambda im: torch.rand(3, 32, 32))
    small = ConceptSpace(clf, nlexnb.fit_mapper(clf, encoder), ["striped fur", "steam", "flame", "petals", "whiskers"])
    result = concept_bottleneck(small, n_concepts=2).agreement_by_confidence(list(photos.values()))
    assert result.classes == 4 and not result.measures_top5
    assert result.table["in top 5"].isna().all() and result.table["agreement"].iloc[-1] >= 0
    assert "in top 5" not in repr(result) and repr(result).endswith("of 4 classes)")
    ax = result.plot().axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["same top-1 class"]
    assert "no top-5 bars: the head has 4 classes" in ax.get_title()
    plt.close(ax.figure)


def test_concept_scores_and_shared_logits_check_their_features(cbm, photos):
    """A wrong width failed in torch's words, one vector gave [T] rows of nothing, and integer features were taken."""
    f = cbm.space.classifier.features(photos["coffee"])
    assert cbm.concept_scores(f).shape == (1, len(cbm.space)) and cbm.shared_logits(f).shape == (1, 1000)
    for read in (cbm.concept_scores, cbm.shared_logits):
        with pytest.raises(
            ValueError, match=r"features must be \[N, 1280\] .*got \[1280\] \(one image\? use features\[None\]\)"
        ):
            read(f[0])
        with pytest.raises(ValueError, match=r"features must be \[N, 1280\] .*got \[1, 10\]"):
            read(torch.zeros(1, 10))
        with pytest.raises(ValueError, match="must hold finite floating-point numbers"):
            read(f.long())


def test_a_sidecar_or_bytes_given_by_mistake_are_named(cbm, space, tmp_path):
    path = cbm.save(tmp_path / "cbm8")
    with pytest.raises(
        ValueError,
        match=r"cbm8.json' is a bottleneck's JSON sidecar, not the bottleneck: pass its .safetensors file, "
        r"'.*cbm8.safetensors'",
    ):
        load_bottleneck(path.with_suffix(".json"), space)
    assert torch.equal(load_bottleneck(path, space).weights.cpu(), cbm.weights.cpu())
    concept = cbm.recipe("espresso")["concept"][0]
    with pytest.raises(
        TypeError, match=r"concepts must be text, not bytes b'.*' \(its items would be read as numbers\)"
    ):
        cbm.without(concept.encode())
    with pytest.raises(TypeError, match=r"classes must be text, not bytes b'espresso'"):
        cbm.without(concept, b"espresso")
    assert float(cbm.without(concept.encode().decode(), "espresso").weights[967, cbm.concept_index(concept)]) == 0


def test_a_budget_too_large_for_memory_is_refused_with_the_largest_that_fits(classifier, ridge_mapper, photos):
    """ImageNet at 2500 concepts per class asked for 50 GB and crashed, in the fit and both baselines alike, though the
    refusal of a larger budget had said "give at most 2500"."""
    wide = ConceptSpace(classifier, ridge_mapper, ConceptBank.visual().texts[::4])
    usable = int((~wide.excluded).sum())
    assert usable > 366  # more concepts than a pursuit for 1000 classes may take
    too_many = r"A budget of 367 concepts per class needs 1\.0 GiB .*\[1000, 367, 367\] float64.*give at most 366"
    f = classifier.features(photos["coffee"])
    for fit in (
        lambda: concept_bottleneck(wide, n_concepts=367),
        lambda: random_bottleneck(wide, 367),
        lambda: neighbour_bottleneck(wide, 367),
        lambda: tradeoff(wide, features=f, budgets=[4, 367]),
    ):
        with pytest.raises(ValueError, match=too_many):
            fit()
    beyond = rf"n_concepts={usable + 1} is more than the {usable} concepts .*give at most 366 \(the most a pursuit"
    with pytest.raises(ValueError, match=beyond):
        concept_bottleneck(wide, n_concepts=usable + 1)
    with pytest.raises(ValueError, match=beyond):
        random_bottleneck(wide, usable + 1)


def test_a_budget_given_by_position_or_a_bottleneck_given_as_the_space_is_named(
    cbm, space, classifier, ridge_mapper, tmp_path
):
    """A budget after the mapper failed with "'int' object is not iterable"; a bottleneck for the space was told "A
    concept space needs a mapper"."""
    with pytest.raises(TypeError, match=r"8 was read as the bank .*numbers go in by keyword: n_concepts=8"):
        concept_bottleneck(classifier, ridge_mapper, 8)
    with pytest.raises(TypeError, match=r"got a ConceptBottleneck: pass its space .*concept_bottleneck\(cbm\.space,"):
        concept_bottleneck(cbm, n_concepts=4)
    path = cbm.save(tmp_path / "cbm6")
    with pytest.raises(TypeError, match=r"6 was read as the bank .*keeps its own budget, so load_bottleneck takes no"):
        load_bottleneck(path, classifier, ridge_mapper, 6)
    with pytest.raises(TypeError, match=r"6 was read as the mapper .*leave the number out"):
        load_bottleneck(path, classifier, 6)
    with pytest.raises(TypeError, match=r"a ConceptBottleneck: pass its space, load_bottleneck\(path, cbm\.space\)"):
        load_bottleneck(path, cbm)
    assert torch.equal(load_bottleneck(path, cbm.space).weights.cpu(), cbm.weights.cpu())


def test_allowed_concepts_are_read_as_interventions_read_them_and_mistakes_in_them_are_named(space):
    """ "Coffee" was "not in the bank" for allowed= though intervene took it; one text or texts mixed with numbers
    failed in numpy's words; too few allowed concepts were told to use "a larger bank"."""
    first, second = [t for t, never in zip(space.texts, space.excluded.tolist()) if not never][:2]
    allowed = {space.texts.index(first), space.texts.index(second)}
    cbm = concept_bottleneck(space, n_concepts=1, allowed=[first.upper(), f" {second} "])  # as intervene reads them
    used = set(torch.nonzero(cbm.weights.sum(0) > 0).flatten().tolist())
    assert used and used <= allowed
    size = len(space.texts)
    wanted = rf"allowed must be a list of the bank's concept texts \(e\.g\. \['coffee'\]\) or a \[{size}\] bool mask"
    with pytest.raises(TypeError, match=wanted + r".*got the one text 'coffee': put it in a list"):
        concept_bottleneck(space, n_concepts=1, allowed="coffee")
    with pytest.raises(TypeError, match=wanted + r".*got texts mixed with int 3"):
        concept_bottleneck(space, n_concepts=1, allowed=["coffee", 3])
    with pytest.raises(
        ValueError,
        match=r"n_concepts=4 is more than the 2 concepts allowed= lets a recipe use .*: allow more concepts with "
        r"allowed=, or give at most 2$",
    ):
        concept_bottleneck(space, n_concepts=4, allowed=[first, second])


def test_a_bottleneck_loads_into_a_bank_of_the_same_texts_under_another_name(cbm, space, classifier, ridge_mapper):
    """The same texts given as a list (bank "user") were refused as "another concept bank"."""
    import tempfile

    renamed = ConceptSpace(classifier, ridge_mapper, ConceptBank(space.texts, name="my concepts"))
    assert renamed.bank.name != space.bank.name
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_bottleneck(cbm.save(Path(folder) / "cbm"), renamed)
    assert loaded.space is renamed and torch.equal(loaded.weights.cpu(), cbm.weights.cpu())


def test_a_mapper_file_given_as_a_bottleneck_is_named_as_a_mapper(space, ridge_mapper, tmp_path):
    """It was told it "has no sidecar ...: a bottleneck is saved as both; save it again"."""
    path = ridge_mapper.save(tmp_path / "mapper")
    with pytest.raises(ValueError, match=r"mapper.safetensors' is an nlexnb mapper, not a bottleneck: load it with nl"):
        load_bottleneck(path, space)


def test_a_recipe_names_its_class_apart_from_one_of_the_same_first_name_and_says_when_it_is_empty(cbm, photos, space):
    """The recipes of ImageNet's "maillot" and "maillot, tank suit" had one title; an emptied recipe printed
    "Recipe('espresso': )"; one image was "1 images"."""
    assert cbm.recipe("maillot").title.startswith("\u201cmaillot\u201d as ")
    assert cbm.recipe("maillot, tank suit").title.startswith("\u201cmaillot, tank suit\u201d as ")
    assert repr(cbm.recipe(639)).startswith("Recipe('maillot, tank suit': ")
    assert cbm.recipe("espresso").title.startswith("\u201cespresso\u201d as ")  # a first name no class shares
    emptied = cbm.without(list(cbm.recipe("espresso")["concept"]), "espresso").recipe("espresso")
    assert repr(emptied) == "Recipe('espresso': no concepts)"
    assert emptied.title == "\u201cespresso\u201d has no concepts (budget 6)"
    assert "the recipe is empty: its concepts were removed" in emptied._repr_html_()
    one = cbm.agreement_by_confidence(photos["coffee"])
    assert repr(one).startswith("AgreementByConfidence(1 image, ") and "1 image</b>" in one._repr_html_()
    curve = tradeoff(space, features=space.classifier.features(photos["coffee"]), budgets=(6,), fitted=[cbm])
    assert repr(curve) == "Tradeoff(1 image, budgets [6])" and "on 1 image</b>" in curve._repr_html_()


def test_an_image_not_normalised_is_warned_of_once_per_explanation_or_intervention(cbm):
    """``ToTensor()`` output without ``Normalize`` was warned of twice: when checked, and again by the forward pass."""
    image = torch.rand(3, 50, 50, generator=torch.Generator().manual_seed(0))
    concept = cbm.recipe("espresso")["concept"][0]
    for use in (lambda: cbm.explain(image, heatmaps=False), lambda: cbm.intervene(image, {concept: 0.0})):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            use()
        said = [str(w.message) for w in caught if "ToTensor() output without Normalize" in str(w.message)]
        assert len(said) == 1 and said[0].startswith("image is a float tensor taken as preprocessed")
        # silenced by its category, not its wording: a UserWarning still, for filters written against that
        assert [w.category for w in caught if str(w.message) == said[0]] == [UnnormalisedWarning]
