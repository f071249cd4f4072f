"""Explanations: sentences, concept tables, contrast, heat maps and bad input (small banks, the real model)."""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

import nlexnb
from nlexnb.explain import Explainer, Explanation, input_view

CONCEPTS = [
    # cat things, coffee things, other things, and class names that must never explain their own class
    "cat", "a domestic cat", "striped fur", "whiskers", "green eyes", "pink nose", "pointed ears",
    "a small cup", "dark brown liquid", "foam", "a saucer", "coffee", "a spoon", "golden-brown crema on top",
    "a blue sky", "grass", "a car wheel", "a rocket", "snow", "a brick wall", "a flower", "water", "a helmet",
    "tabby", "tabby cat", "tiger cat", "espresso", "cup", "an espresso with foam",
]  # fmt: skip

# The cat in skimage's chelsea photo (451 x 300), annotated by eye: (left, top, right, bottom).
CAT_BOX = (0, 0, 392, 300)
CUP = 968  # ImageNet "cup"


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    return Explainer(classifier, ridge_mapper, CONCEPTS)


def test_explains_the_espresso_in_a_sentence(explainer, photos):
    e = explainer.explain(photos["coffee"])
    assert isinstance(e, Explanation) and e.target_name == "espresso" and e.probability > 0.5
    assert e.sentence.startswith("Predicted \u201cespresso\u201d (p ") and "because it sees" in e.sentence
    # the sentence quotes the main concepts, as labels: 'because it sees “small cup” and “foam”.'
    assert f"because it sees \u201c{e.concepts['concept'][0]}\u201d" in e.sentence
    assert list(e.concepts.columns) == ["concept", "score", "alignment", "contribution", "share", "drop"]
    assert 1 <= len(e.concepts) <= 5
    # the contributions add up to the drop of the logit when all named directions are removed (closed form)...
    assert e.concepts["contribution"].sum() == pytest.approx(e.total)
    # ...which re-running the head on the ablated feature confirms
    assert abs(e.total - e.measured) < 1e-4
    assert (e.concepts["contribution"] > 0).all() and (e.concepts["alignment"] > 0).all()


def test_the_sentence_says_how_much_its_concepts_carry(explainer, photos):
    e = explainer.explain(photos["coffee"])
    top = e.concepts["contribution"].max()
    said = e.concepts[e.concepts["contribution"] >= 0.25 * top]  # the concepts the sentence names
    percent = round(100 * said["share"].sum())
    # 'Predicted “espresso” (p 0.95) partly because it sees “small cup” and “foam” (together 43% of its logit).'
    assert e.sentence.endswith(f"{percent}% of its logit).")
    assert ("mainly" if percent >= 50 else "partly") + " because it sees" in e.sentence

    # Concepts that carry little of the logit are not called its cause: a gorilla's five best concepts of the
    # default bank carry 6% of its logit together. The same explanation with every contribution a twentieth:
    weak = e.concepts.assign(contribution=e.concepts["contribution"] / 20, share=e.concepts["share"] / 20)
    little = dataclasses.replace(e, concepts=weak, total=e.total / 20)
    assert "because" not in little.sentence
    assert little.sentence.startswith("Predicted \u201cespresso\u201d (p ")
    assert "; the concepts of the bank carry little of its logit: \u201c" in little.sentence
    weak_percent = round(100 * said["share"].sum() / 20)
    carry = f"carries {weak_percent}%." if len(said) == 1 else f"carry {weak_percent}% together."
    assert little.sentence.endswith(f"\u201d {carry}"), little.sentence


def test_a_contrast_says_its_share_of_the_gap(explainer, photos):
    # 'Predicted “espresso” (p 0.95) rather than “cup” (p 0.02); the concepts of the bank carry little of the gap:
    # “golden-brown crema on top” carries 3%.' (this small bank; with a share of 10% or more: '... (12% of the gap).')
    e = explainer.explain(photos["coffee"], foil=CUP, k=3)
    top = e.concepts["contribution"].max()
    named = e.concepts[e.concepts["contribution"] >= 0.25 * top]
    percent, one = round(100 * named["share"].sum()), len(named) == 1
    if percent < 10:
        said = f"carries {percent}%." if one else f"carry {percent}% together."
    else:
        said = f"{'' if one else 'together '}{percent}% of the gap)."
    assert e.sentence.startswith("Predicted \u201cespresso\u201d (p 0.95) rather than \u201ccup\u201d (p 0.02)")
    assert e.sentence.endswith(said), e.sentence


def test_a_share_beyond_the_whole_says_the_rest_pulls_the_other_way(explainer, photos):
    """Concepts can carry more than the gap when the rest of the features favour the foil: a constant red square taken
    for velvet rather than a theatre curtain read "(690% of the gap)". Such a share reads as a multiple."""
    e = explainer.explain(photos["coffee"], foil=CUP, k=3)
    top = e.concepts["contribution"].max()
    named = e.concepts["contribution"] >= 0.25 * top
    scale = 2.5 / float(e.concepts.loc[named, "share"].sum())  # the named concepts now carry 2.5 times the gap
    strong = e.concepts.assign(contribution=e.concepts["contribution"] * scale, share=e.concepts["share"] * scale)
    beyond = dataclasses.replace(e, concepts=strong, total=e.total * scale)
    assert "mainly because it sees" in beyond.sentence
    assert beyond.sentence.endswith("2.5 times the gap: the rest of what it sees favours \u201ccup\u201d)."), beyond
    factual = dataclasses.replace(beyond, foil=None, foil_name=None, foil_probability=None)
    assert factual.sentence.endswith("2.5 times its logit: the rest of what it sees lowers it).")
    # what a person weighs says so too: 'Of the gap between “tiger cat” (p 0.39) and “Egyptian cat” (p 0.36),
    # “fine stripes” carries 481%; the rest of what the model sees favours “Egyptian cat”.'
    weighed = explainer.weigh(photos["coffee"], ["a small cup"], foil=CUP)
    more = dataclasses.replace(weighed, concepts=weighed.concepts.assign(share=4.81), total=4.81 * weighed.explained)
    said = "carries 481%; the rest of what the model sees favours \u201ccup\u201d."
    assert more.sentence.endswith(said), more.sentence


def test_probabilities_are_never_rounded_to_certainty(explainer, photos):
    """A top class of p 0.003 (a grey square) read "(p 0.00)", as if the model gave it no chance."""
    e = explainer.explain(photos["coffee"])
    assert "(p < 0.01)" in dataclasses.replace(e, probability=0.003).sentence
    assert "(p > 0.99)" in dataclasses.replace(e, probability=0.9991).sentence
    assert [nlexnb.explanation.probability_text(p) for p in (0.004, 0.005, 0.5, 0.994, 0.995)] == [
        "p < 0.01", "p 0.01", "p 0.50", "p 0.99", "p > 0.99",
    ]  # fmt: skip


def test_class_names_never_explain_their_class(explainer, photos):
    for name in ("coffee", "chelsea"):
        e = explainer.explain(photos[name], k=8)
        named = set(e.concepts["concept"])
        assert not named & {"tabby", "tabby cat", "tiger cat", "espresso", "cup", "an espresso with foam"}, e.sentence


def test_contrastive_explanation_uses_the_difference_of_rows(explainer, photos, classifier):
    e = explainer.explain(photos["coffee"], foil=CUP, k=3)
    assert e.foil == CUP and e.foil_name.startswith("cup")
    assert "rather than \u201ccup\u201d" in e.sentence
    logits = classifier.logits([photos["coffee"]])[0]
    assert e.explained == pytest.approx(float(logits[e.target] - logits[CUP]), abs=1e-4)
    assert abs(e.total - e.measured) < 1e-4


def test_explain_a_list_and_a_chosen_target(explainer, photos):
    both = explainer.explain([photos["chelsea"], photos["coffee"]], k=3, heatmaps=False)
    assert [type(e) for e in both] == [Explanation, Explanation] and both[1].target_name == "espresso"
    chosen = explainer.explain(photos["coffee"], target=CUP, k=2)
    assert chosen.target == CUP and chosen.probability < 0.5


def test_scores_are_mapped_text_dot_features(explainer, photos, classifier, ridge_mapper):
    images = [photos["chelsea"], photos["coffee"]]
    s = explainer.scores(images, ["striped fur", "a small cup", "snow"])
    assert s.shape == (2, 3)
    expected = classifier.features(images) @ ridge_mapper.encode(["striped fur", "a small cup", "snow"]).T
    torch.testing.assert_close(s, expected)


def test_scores_refuse_a_blank_text_and_an_empty_list(explainer, photos):
    """A blank text maps somewhere too: its score would look like an answer and mean nothing."""
    torch.testing.assert_close(
        explainer.scores(photos["coffee"], " foam "), explainer.scores(photos["coffee"], ["foam"])
    )
    with pytest.raises(ValueError, match=r"text is empty or blank \(''\): give a concept, e.g. 'striped fur'"):
        explainer.scores(photos["coffee"], "")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty or blank"):
        explainer.scores(photos["coffee"], ["foam", "  "])
    with pytest.raises(ValueError, match=r"texts is empty: give at least one text"):
        explainer.scores(photos["coffee"], [])


def test_heatmap_covers_the_preprocessed_image(explainer, photos, classifier):
    h = explainer.heatmap(photos["chelsea"], "striped fur")
    assert h.values.shape == (224, 224) and h.grid.shape == (7, 7)
    assert h.image.size == (224, 224) and h.image.size == input_view(classifier, photos["chelsea"]).size
    cam = explainer.heatmap(photos["chelsea"], 281)  # a class index: the class map
    assert cam.label.startswith("tabby")
    # printed, a map says what and where in one line; in a notebook it shows as the image with the map over it
    assert repr(h) == f"HeatMap('striped fur', score {h.score:.2f}, peak at {h.peak()} of 224x224, grid 7x7)"
    assert Image.open(io.BytesIO(h._repr_png_())).size == (224, 224)


def test_pointing_game_cat_beside_coffee(explainer, photos, classifier):
    """The cat's map peaks inside the annotated cat box; the cup's map peaks on the coffee photo beside it."""
    cat, coffee = photos["chelsea"], photos["coffee"].resize((450, 300))
    canvas = Image.new("RGB", (cat.width + coffee.width, 300))
    canvas.paste(cat, (0, 0))
    canvas.paste(coffee, (cat.width, 0))
    scale = 224 / canvas.height  # no crop: the whole canvas at height 224
    small = canvas.resize((round(canvas.width * scale), 224), Image.BICUBIC)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])  # the model's own
    x = (torch.from_numpy(np.asarray(small) / 255.0).float().permute(2, 0, 1) - mean[:, None, None]) / std[
        :, None, None
    ]
    left, top, right, bottom = (v * scale for v in CAT_BOX)
    for concept in ("cat", "a domestic cat", "striped fur"):
        row, col = explainer.heatmap(x.unsqueeze(0), concept).peak()
        assert left <= col <= right and top <= row <= bottom, (concept, row, col)
    for concept in ("a small cup", "dark brown liquid"):
        row, col = explainer.heatmap(x.unsqueeze(0), concept).peak()
        assert col >= cat.width * scale, (concept, col)


def test_plot_and_notebook_view(explainer, photos):
    import matplotlib

    matplotlib.use("Agg")
    e = explainer.explain(photos["coffee"], k=3)
    fig = e.plot()
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 2
    fig2 = e.heatmaps[0].plot()
    assert isinstance(fig2, matplotlib.figure.Figure)
    page = e._repr_html_()
    assert "espresso" in page and "<table" in page and "data:image/png;base64" in page
    matplotlib.pyplot.close("all")


def test_bad_targets_and_k(explainer, photos):
    with pytest.raises(ValueError, match="target 1000 is out of range.*0..999"):
        explainer.explain(photos["coffee"], target=1000)
    with pytest.raises(ValueError, match="foil must differ from target"):
        explainer.explain(photos["coffee"], target=CUP, foil=CUP)
    with pytest.raises(ValueError, match="predicted as the foil 967"):
        explainer.explain(photos["coffee"], foil=967)
    with pytest.raises(ValueError, match="foil -1 is out of range"):
        explainer.explain(photos["coffee"], foil=-1)
    with pytest.raises(ValueError, match="k must be a positive"):
        explainer.explain(photos["coffee"], k=0)
    with pytest.warns(UserWarning, match="k=100 is larger than the 29 concepts in the bank"):
        e = explainer.explain(photos["coffee"], k=100, heatmaps=False)
    assert len(e.concepts) <= 29


def test_the_lower_level_calls_check_classes_counts_and_features_as_explain_does(explainer, photos, classifier):
    """measured_drop(-1) measured the last class, select(k=0) chose nothing, candidates(size=-1) dropped the last
    candidate, a name as a Direction's class failed in list's words."""
    from nlexnb.explain import measured_drop
    from nlexnb.targets import Direction

    features = classifier.features(photos["chelsea"])  # [1, d], as features() returns it for one image
    directions = explainer.directions[:3]
    for target, error, message in [
        (-1, ValueError, "class -1 is out of range"),
        (281.9, TypeError, "takes a class index"),
        (True, TypeError, "takes a class index"),
    ]:
        with pytest.raises(error, match=message):
            measured_drop(classifier, features[0], directions, target)
    with pytest.raises(ValueError, match="k must be a positive number of concepts, got 0"):
        explainer.select(features[0], 282, k=0)
    assert explainer.select(features, 282, k=3) == explainer.select(features[0], 282, k=3)
    with pytest.raises(TypeError, match=r"features must be a tensor \[N, 1280\]"):
        explainer.select(features[0].numpy(), 282)
    with pytest.raises(ValueError, match="size must be a positive number of concepts, got -1"):
        explainer.candidates(features[0], 282, size=-1)
    with pytest.raises(TypeError, match=r"classes must be a tuple of class indices, e.g. classes=\(281,\)"):
        explainer.explain(photos["chelsea"], target=Direction(explainer.directions[0], "x", classes=281))
    with pytest.raises(ValueError, match="out of range"):
        explainer.explain(photos["chelsea"], target=Direction(explainer.directions[0], "x", classes=(-1,)))
    with pytest.raises(ValueError, match="indices must be positions in the bank"):
        explainer.space.other_animals([-1], [282])  # -1 was the last concept


def test_a_class_name_maps_the_class_and_a_logit_decided_against_has_no_share(explainer, photos):
    by_name, by_index = explainer.heatmap(photos["chelsea"], "tiger cat"), explainer.heatmap(photos["chelsea"], 282)
    np.testing.assert_allclose(by_name.values, by_index.values)  # the class's own map, not the mapped name's
    against = explainer.explain(photos["chelsea"], target=275)  # a class the model gives a negative logit
    assert against.explained < 0 and against.concepts["share"].isna().all()  # not "-9%" beside "speaks for"
    assert (against.concepts["contribution"] > 0).all() and re.search(r"\bspeaks? for\b", against.sentence)


def test_refused_images_pass_their_error_through(explainer, tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        explainer.explain(tmp_path / "missing.jpg")
    with pytest.raises(TypeError, match="Expected a PIL image"):
        explainer.explain(42)


def test_a_mapper_from_another_head_is_flagged(classifier, ridge_mapper):
    other = dict(ridge_mapper.meta, classifier_fingerprint="0" * 16)
    foreign = nlexnb.Mapper(ridge_mapper.net, ridge_mapper.text_encoder, ridge_mapper.templates, other)
    with pytest.warns(UserWarning, match="not on this classifier's head"):
        Explainer(classifier, foreign, ["foam"])


def test_heatmap_carries_the_image_score_of_its_text(classifier, ridge_mapper, photos):
    explainer = Explainer(classifier, ridge_mapper, concepts=["fur", "a small cup"])
    heat = explainer.heatmap(photos["chelsea"], "fur")
    assert heat.score == pytest.approx(float(explainer.scores(photos["chelsea"], ["fur"])[0, 0]), rel=1e-5, abs=1e-5)


# ---- your own explanation, weighed ---------------------------------------------------------------------------------
def test_a_person_s_own_concepts_are_weighed_like_an_explanation_s(explainer, photos):
    named = explainer.explain(photos["coffee"])
    # weighing the concepts the explainer chose gives back its explanation, number for number
    again = explainer.weigh(photos["coffee"], list(named.concepts["concept"]))
    assert again.weighed and not named.weighed and again.target == named.target
    assert list(again.concepts["concept"]) == list(named.concepts["concept"])
    for column in ("score", "alignment", "contribution", "share", "drop"):
        assert again.concepts[column].tolist() == pytest.approx(named.concepts[column].tolist(), abs=1e-5)
    # any text may be weighed; what adds nothing comes last, and the parts add up to the measured drop
    mine = explainer.weigh(photos["coffee"], ["a blue sky", "a small cup", "foam"], heatmaps=False)
    table = mine.concepts
    assert table["concept"].iloc[0] == "a small cup" and table["contribution"].iloc[0] == table["contribution"].max()
    assert table["contribution"].sum() == pytest.approx(mine.total) and abs(mine.total - mine.measured) < 1e-4
    assert mine.heatmaps == [] and len(explainer.weigh(photos["coffee"], ["foam"]).heatmaps) == 1
    assert "without the given texts the logit" in mine._repr_html_()
    assert "without the named concepts the logit" in named._repr_html_()


def test_a_bank_of_a_few_concepts_points_them_where_the_default_does(classifier, mapper, photos):
    """Centred on their own mean, two concepts are exact opposites: "rocket" took the credit of "striped fur" on the
    cat photo. A bank that short is centred on the default bank's mean, and weighs as the default does."""
    default = nlexnb.Explainer(classifier, mapper)
    two = nlexnb.Explainer(classifier, mapper, ["striped fur", "rocket"])
    assert abs(float(two.directions[0] @ two.directions[1])) < 0.5
    torch.testing.assert_close(two.offset, default.offset)
    texts = ["striped fur", "rocket"]
    assert two.weigh(photos["chelsea"], texts).sentence == default.weigh(photos["chelsea"], texts).sentence
    assert "“striped fur” carries 9% and “rocket” none" in two.weigh(photos["chelsea"], texts).sentence


def test_weighing_a_set_of_photos_gives_one_explanation_each(explainer, photos):
    names = ["chelsea", "coffee"]
    each = explainer.weigh([photos[n] for n in names], ["striped fur", "a small cup"], heatmaps=False)
    assert isinstance(each, list) and [e.target_name for e in each] == ["tiger cat", "espresso"]
    for name, e in zip(names, each):
        alone = explainer.weigh(photos[name], ["striped fur", "a small cup"], heatmaps=False)
        assert list(e.concepts["concept"]) == list(alone.concepts["concept"])
        assert e.concepts["contribution"].tolist() == pytest.approx(alone.concepts["contribution"].tolist(), abs=1e-5)
    # the cup carries the espresso and not the cat; the stripes the other way round
    cat, cup = (e.concepts.set_index("concept")["contribution"] for e in each)
    assert cat["striped fur"] > cat["a small cup"] and cup["a small cup"] > cup["striped fur"]


def test_sentences_near_the_whole_and_near_nothing_say_what_their_numbers_show(explainer, photos):
    """Read against their numbers: "1.0 times its logit: the rest lowers it" (104%), "together 100%; the rest
    lowers it" (100.3%), "(gap -0.00)", and "each speaks for ... by (or, negative, against it)"."""
    e = explainer.explain(photos["coffee"], k=3)
    named = e.concepts["contribution"] >= 0.25 * e.concepts["contribution"].max()
    scale = 1.04 / float(e.concepts.loc[named, "share"].sum())
    near = dataclasses.replace(
        e,
        concepts=e.concepts.assign(contribution=e.concepts["contribution"] * scale, share=e.concepts["share"] * scale),
    )
    assert (
        near.sentence.endswith("104% of its logit: the rest of what it sees lowers it).")
        and "1.0 times" not in near.sentence
    )
    weighed = explainer.weigh(photos["coffee"], ["a small cup", "a blue sky"])
    whole = dataclasses.replace(weighed, total=weighed.explained * 1.003)
    assert "together 100%." in whole.sentence and "rest" not in whole.sentence
    beyond = dataclasses.replace(weighed, total=weighed.explained * 1.5)
    assert beyond.sentence.endswith("; the rest of what the model sees lowers it.")
    against = explainer.weigh(photos["coffee"], ["a small cup", "a blue sky"], target=CUP, foil="espresso")
    assert (
        ", a gap of " in against.sentence
        and "; the texts given move the gap by \u201ca small cup\u201d " in against.sentence
    )
    level = dataclasses.replace(against, explained=-0.001)
    assert "level with \u201cespresso\u201d (p " in level.sentence and "(a gap under 0.01)" in level.sentence


def test_the_sentence_of_weighed_concepts_says_what_each_carries(explainer, photos):
    e = explainer.weigh(photos["coffee"], ["a small cup", "a blue sky"])
    share = e.concepts.set_index("concept")["share"]
    assert e.sentence.startswith("Of the logit of \u201cespresso\u201d (p ")
    assert f"\u201ca small cup\u201d carries {100 * share['a small cup']:.0f}%" in e.sentence
    assert "because it sees" not in e.sentence and e.sentence.endswith(f"together {100 * e.total / e.logit:.0f}%.")
    gap = explainer.weigh(photos["coffee"], ["a small cup"], foil=CUP)
    assert gap.sentence.startswith("Of the gap between \u201cespresso\u201d (p ")
    assert "and \u201ccup\u201d (p " in gap.sentence
    assert "together" not in gap.sentence  # one text: nothing to add up


def test_a_weighed_share_is_none_only_when_it_is_nothing():
    """Three texts of -0.4% each read "“fur” carries none, “red” none and “sky” none; together -1% (against it)"."""
    words = [nlexnb.explanation.share_text(s) for s in (0.0, 0.0003, 0.004, -0.004, 0.12, -0.03)]
    assert words == ["none", "none", "under 1%", "under 1% (against it)", "12%", "-3% (against it)"]


def test_a_class_the_model_does_not_predict_is_never_called_the_prediction(explainer, photos, classifier):
    # the coffee photo is an espresso; asked about the cup, the sentence names the prediction first
    e = explainer.explain(photos["coffee"], target=CUP)
    assert e.predicted_name == "espresso" and e.target_name.startswith("cup")
    assert e.sentence.startswith("The model predicts \u201cespresso\u201d (p ")
    assert "Predicted \u201ccup" not in e.sentence
    assert f"it gives \u201ccup\u201d (p {e.probability:.2f}) a logit of {e.explained:.2f}" in e.sentence


def test_a_contrast_the_model_decides_the_other_way_says_so(explainer, photos):
    # "why cup rather than espresso?": the model ranks the cup below; the sentence says so, with the gap, and lists
    # what speaks for the cup all the same instead of claiming the model chose it "because" of them
    e = explainer.explain(photos["coffee"], target=CUP, foil="espresso")
    assert e.explained < 0
    assert e.sentence.startswith(f"The model ranks \u201ccup\u201d (p {e.probability:.2f}) below \u201cespresso\u201d")
    assert f", a gap of {e.explained:.2f};" in e.sentence and "because" not in e.sentence
    if len(e.concepts):
        assert "what speaks for \u201ccup\u201d all the same: \u201c" in e.sentence
    # its figure labels each bar with its push in logits, not a share of a negative gap
    axis = " ".join(e.plot().axes[1].get_xlabel().split())  # wrapped to its panel
    assert f"(logits; the logit difference is {e.explained:.2f})" in axis
    # the same pair the model's way round is a prediction explained as usual
    assert explainer.explain(photos["coffee"], foil=CUP).sentence.startswith("Predicted \u201cespresso\u201d")
    # weighed, a gap the model decided against is given in logit units per text, not as shares of it
    weighed = explainer.weigh(photos["coffee"], ["a small cup", "foam"], target=CUP, foil="espresso")
    push = weighed.concepts.set_index("concept")["contribution"]
    assert weighed.sentence.startswith("The model ranks \u201ccup\u201d")
    assert f"\u201ca small cup\u201d {push['a small cup']:+.2f}" in weighed.sentence and "%" not in weighed.sentence


def test_a_direction_with_a_negative_score_is_not_explained_as_seen(explainer, photos):
    from nlexnb.targets import Direction

    row = explainer.classifier.head_weight[CUP]
    for sign in (1, -1):
        e = explainer.explain(photos["chelsea"], target=Direction(sign * row, "cup-ness"))
        if e.explained > 0:
            assert e.sentence.startswith(f"The score of \u201ccup-ness\u201d is {e.explained:.2f}, ")
        else:
            assert e.sentence.startswith(f"The score of \u201ccup-ness\u201d is {e.explained:.2f}; ")
            assert "because" not in e.sentence


def test_a_free_direction_is_not_explained_by_its_own_words(classifier, ridge_mapper, photos):
    """The score of "striped fur" is no more explained by "striped" or "fur" in other words than a class by its name:
    a direction's label words are refused as the class's names are ("stripes" says "striped" again)."""
    from nlexnb.targets import Direction

    explainer = Explainer(classifier, ridge_mapper, CONCEPTS + ["fine stripes", "striped feathers", "brown fur"])
    text = "striped fur"
    e = explainer.explain(photos["chelsea"], target=Direction(ridge_mapper.encode([text])[0], text), k=5)
    assert len(e.concepts) and not {"striped fur", "fine stripes", "striped feathers", "brown fur"} & set(
        e.concepts.concept
    )


@pytest.mark.parametrize(
    "concepts, error, message",
    [
        ("striped fur", TypeError, "concepts must be a list of texts, got the single string 'striped fur'; wrap it"),
        ([], ValueError, "concepts is empty: give at least one text, e.g. ['striped fur', 'whiskers']"),
        (["foam", 3], TypeError, "concepts[1] is int 3, not a string"),
        (["foam", " "], ValueError, "concepts[1] is empty or blank"),
        (["foam", "Foam "], ValueError, "Duplicate concepts: 'foam' and 'Foam ' (positions 0 and 1)"),
    ],
)
def test_weighing_names_what_is_wrong_with_the_concepts(explainer, photos, concepts, error, message):
    with pytest.raises(error, match=re.escape(message)):
        explainer.weigh(photos["coffee"], concepts)


def test_a_logit_near_nothing_is_never_explained_because(explainer, photos):
    """A raw logit's sign means nothing when softmax ignores a shift of them all: the cat photo gave "brassiere" a
    logit of 0.0006, explained "mainly because it sees ... (together 1922.8 times its logit)", and a gap of 0.0007
    read "above" one way round and "level" the other. Such quantities get what speaks for the class all the same,
    and weighed texts their pushes in logits, never "carries 3231%"."""
    from nlexnb.explanation import number_text

    cat = photos["chelsea"]
    logits = explainer.classifier.logits([cat])[0]
    order = logits.argsort(descending=True).tolist()
    near_zero = min(order[5:], key=lambda c: abs(float(logits[c])))  # an unlikely class with a logit near 0
    e = explainer.explain(cat, target=near_zero, k=3, heatmaps=False)
    assert e.sentence.startswith("The model predicts \u201ctiger cat\u201d (p 0.39); it gives \u201c")
    assert "because" not in e.sentence and "times its logit" not in e.sentence
    assert f"a logit of {number_text(e.explained)}" in e.sentence and "-0.00" not in e.sentence
    # a gap under a hundredth is level, whichever class comes first
    a, b = min(
        ((x, y) for x, y in zip(order[5:200], order[6:201])), key=lambda p: abs(float(logits[p[0]] - logits[p[1]]))
    )
    for target, foil in ((a, b), (b, a)):
        gap = explainer.explain(cat, target=target, foil=foil, k=3, heatmaps=False)
        assert "level with" in gap.sentence and "(a gap under 0.01)" in gap.sentence and "because" not in gap.sentence
    weighed = explainer.weigh(cat, ["foam", "a small cup", "striped fur"], target="espresso")
    assert "%" not in weighed.sentence and "the texts given move it by \u201cfoam\u201d " in weighed.sentence
    # a class the model ranks second keeps its shares: its logit is far from nothing
    tabby = explainer.weigh(cat, ["striped fur", "whiskers"], target="tabby")
    assert tabby.sentence.startswith("Of the logit of \u201ctabby\u201d (p 0.17), \u201cstriped fur\u201d carries ")


def test_the_html_note_reads_right_for_any_sign_and_target(explainer, photos):
    """ "named concepts remove 0.82 of -4.14; margin over the mean logit 7.33" said nothing of a gap the model decided
    against, and gave the margin of one class for a contrast."""
    from nlexnb.targets import Direction

    def note(e):
        return re.sub(r"<[^>]+>", "", e._repr_html_().rsplit("<p style='font-size:smaller'>", 1)[1])

    e = explainer.explain(photos["coffee"], target=CUP, foil="espresso", heatmaps=False)
    assert e.explained < 0
    assert note(e).startswith(
        f"without the named concepts the gap would be {e.explained - e.total:.2f} rather than {e.explained:.2f}"
    )
    assert "margin" not in note(e)
    plain = explainer.explain(photos["coffee"], heatmaps=False)
    assert f"; margin of \u201cespresso\u201d over the mean logit {plain.margin:.2f}" in note(plain)
    assert "the logit would be" in note(plain)
    direction = explainer.explain(photos["chelsea"], target=Direction(explainer.mapper.encode(["fur"])[0], "fur"))
    # no class is explained: the class fields are empty, not the prediction's numbers under the direction's name
    assert (direction.target, direction.probability, direction.logit, direction.margin) == (None, None, None, None)
    assert direction.target_name == "fur" and direction.predicted_name == "tiger cat" and direction.explained > 0
    assert "the score would be" in note(direction) and "margin" not in note(direction)
    assert "(measured on the ablated features: " in note(direction) and "head" not in note(direction)  # no head runs
    assert ", mainly because the model sees" in direction.sentence or "all the same" in direction.sentence


def test_a_batch_with_a_foil_names_the_images_taken_for_it(explainer, photos):
    """foil= against each image's predicted class failed for every batch holding one image taken for the foil,
    saying "the image" and suggesting target=, which would change every image."""
    images = [photos["coffee"], photos["chelsea"], photos["rocket"]]
    cat = explainer.classifier.logits([photos["chelsea"]])[0].argmax().item()
    with pytest.raises(ValueError, match=r"images\[1\] is predicted as the foil .*leave them out, or pass target="):
        explainer.explain(images, foil=cat)
    assert len(explainer.explain(images[::2], foil=cat)) == 2


def test_asking_in_ways_that_do_not_fit_says_what_would(explainer, photos):
    """A heat map of "crane" (two classes) maps the text, and says so; a direction without a label, k as a tensor
    and a class index as a tensor say what to pass; a direction's explanation naming nothing speaks of its score."""
    from nlexnb.targets import Direction

    with pytest.warns(UserWarning, match=r"heatmap: .*'crane' is ambiguous.*Mapped 'crane' as a text"):
        explainer.heatmap(photos["chelsea"], "crane")
    v = explainer.mapper.encode(["fur"])[0]
    with pytest.raises(TypeError, match=r"A Direction's label must be a text.*got NoneType None"):
        explainer.explain(photos["chelsea"], target=Direction(v, None))
    with pytest.raises(ValueError, match=r"got tensor\(3\) \(a Tensor holding one number: convert it with int\(\)\)"):
        explainer.explain(photos["chelsea"], k=torch.tensor(3))
    with pytest.raises(TypeError, match=r"got Tensor holding one number: convert it with int\(\)"):
        explainer.explain(photos["chelsea"], target=torch.tensor(281))
    nothing = nlexnb.Explainer(explainer.classifier, explainer.mapper, ["Herero", "Zulu"])
    said = nothing.explain(photos["chelsea"], target=Direction(v, "fur")).sentence
    assert said.startswith("The score of “fur” is ") and "carries this score" in said and "decision" not in said


def test_the_figure_gives_shares_only_where_the_sentence_does(explainer, photos):
    """A logit of 0.0006 drew bars of 112898%; tiny shares read "0%" and "-0%" beside a sentence saying "under 1%";
    an explanation naming nothing drew an empty axis labelled "share in %"."""
    cat = photos["chelsea"]
    logits = explainer.classifier.logits([cat])[0]
    order = logits.argsort(descending=True).tolist()
    tiny = explainer.explain(cat, target=min(order[5:], key=lambda c: abs(float(logits[c]))), k=3)
    if len(tiny.concepts):
        labels = [t.get_text() for t in tiny.plot().axes[1].texts]
        assert labels and not any("%" in t for t in labels), labels
    weighed = explainer.weigh(photos["coffee"], ["foam", "whiskers", "a blue sky", "striped fur"])
    labels = [t.get_text() for t in weighed.plot().axes[1].texts]
    assert "-0%" not in labels and "0%" not in labels
    one = explainer.weigh(cat, ["foam"], target="espresso")
    if not one.in_shares:
        assert "; the text given moves it by \u201cfoam\u201d " in one.sentence
    nothing = nlexnb.Explainer(explainer.classifier, explainer.mapper, ["Herero", "Zulu"])
    empty = nothing.explain(photos["coffee"])  # the default k=5 of a bank of 2: capped without a warning
    assert "No concept is named" in " ".join(t.get_text() for t in empty.plot().axes[1].texts)
    # the axis is in logits, the labels beside the bars are shares ("share in %" under ticks of 0.5 ... 4.0)
    plain = explainer.explain(photos["coffee"])
    axis = " ".join(plain.plot().axes[1].get_xlabel().split())  # wrapped to its panel
    assert (
        axis
        == f"contribution to the logit (logits; beside each bar its share of it, the logit is {plain.explained:.2f})"
    )


def test_a_text_with_no_words_is_refused_as_zero_shot_refuses_such_a_label(explainer, photos):
    """ "!!!" and a zero-width space map somewhere too: their heat map, score or weight would look like an answer."""
    with pytest.raises(ValueError, match=r"text '!!!' is empty once its punctuation is left out; a text needs words"):
        explainer.heatmap(photos["coffee"], "!!!")
    with pytest.raises(ValueError, match=r"text is empty or blank \('\\u200b'\)"):
        explainer.heatmap(photos["coffee"], "\u200b")
    with pytest.raises(ValueError, match=r"concepts\[1\] '\.\.\.' is empty once its punctuation is left out"):
        explainer.weigh(photos["coffee"], ["foam", "..."])
    with pytest.raises(ValueError, match=r"texts\[0\] '\?!' is empty once its punctuation is left out"):
        explainer.scores(photos["coffee"], ["?!", "foam"])
    assert explainer.heatmap(photos["coffee"], "foam!").label == "foam!"  # punctuation beside words is a text


def test_against_it_stays_with_its_own_concept_in_a_weighed_sentence(explainer, photos):
    """ "“pointed ears” under 1% and “whiskers” under 1% (against it)" read as if both were against it."""
    weighed = explainer.weigh(photos["chelsea"], ["pointed ears", "whiskers"], heatmaps=False)
    concepts = weighed.concepts.assign(share=weighed.concepts["concept"].map({"pointed ears": 0.2, "whiskers": -0.004}))
    concepts["contribution"] = concepts["share"] * weighed.explained
    small = dataclasses.replace(weighed, concepts=concepts, total=float(concepts["contribution"].sum()))
    # either way round, the mark sits with its own concept and a comma parts it from the next
    assert "\u201cwhiskers\u201d carries under 1%, against it, and \u201cpointed ears\u201d 20%;" in small.sentence
    last = dataclasses.replace(small, concepts=small.concepts.iloc[::-1].reset_index(drop=True))
    assert "\u201cpointed ears\u201d carries 20% and \u201cwhiskers\u201d under 1%, against it;" in last.sentence
