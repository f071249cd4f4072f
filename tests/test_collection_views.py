"""Views across an explained collection: the concepts each class leans on, the concepts of wrong predictions, and the
reliance on surroundings. Small hand-written collections whose every number is worked out by hand, then one real
collection written by explain_collection."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import nlexnb
from nlexnb import discover
from nlexnb.concepts import ConceptBank


def collection(rows: list[tuple]) -> pd.DataFrame:
    """A frame shaped as read_explanations returns it, from (label, predicted_name, concepts, contributions,
    explained) rows; shares are contributions / explained (NaN where that is not positive), as explain_collection
    writes them."""
    frame = pd.DataFrame(
        {
            "id": range(len(rows)),
            "path": [f"/photos/{i}.jpg" for i in range(len(rows))],
            "label": [r[0] for r in rows],
            "predicted": [hash(r[1]) % 1000 for r in rows],
            "predicted_name": [r[1] for r in rows],
            "probability": 0.5,
            "concepts": [list(r[2]) for r in rows],
            "contributions": [[float(c) for c in r[3]] for r in rows],
            "shares": [[c / r[4] if r[4] > 0 else float("nan") for c in r[3]] for r in rows],
            "total": [float(sum(r[3])) for r in rows],
            "measured": [float(sum(r[3])) for r in rows],
            "explained": [float(r[4]) for r in rows],
            "fingerprint": [f"{i:016x}" for i in range(len(rows))],
            "file_size": 1000,
            "file_mtime_ns": 10**18,
        }
    )
    assert list(frame.columns) == list(nlexnb.collection.COLUMNS)
    return frame


# six images: three predicted "husky", two "sports car", one "lawn mower"
ANIMALS = collection(
    [
        ("dog", "husky", ["snow", "fur", "ears"], [1, 2, 1], 8),
        ("dog", "husky", ["fur", "snow"], [3, 1], 10),
        ("wolf", "husky", ["fur", "tail"], [1, 1], 4),
        ("car", "sports car", ["wheels", "road"], [2, 2], 5),
        ("car", "sports car", ["wheels"], [4], 8),
        (None, "lawn mower", ["grass"], [1], 2),
    ]
)

# eight labelled images; "dog" is right for husky and malamute, "cat" for tabby; "bird" is not judged
PETS = collection(
    [
        ("dog", "husky", ["fur", "snow"], [1, 1], 4),  # right
        ("dog", "husky", ["fur", "snow"], [1, 1], 4),  # right
        ("dog", "malamute", ["fur"], [1], 4),  # right
        ("dog", "tabby", ["stripes", "fur"], [1, 1], 4),  # wrong
        ("cat", "tabby", ["stripes"], [1], 4),  # right
        ("cat", "husky", ["snow", "fur"], [1, 1], 4),  # wrong
        ("cat", "husky", ["snow"], [1], 4),  # wrong
        ("bird", "husky", ["snow"], [1], 4),  # not judged
    ]
)
RIGHT_FOR = {"dog": ["husky", "malamute"], "cat": "tabby"}


def rows_of(table: pd.DataFrame, columns: list[str]) -> list[tuple]:
    return [tuple(row) for row in table[columns].itertuples(index=False)]


# ---- what each class's explanations lean on --------------------------------------------------------------------------
def test_collection_concepts_counts_and_averages_per_predicted_class():
    result = discover.collection_concepts(ANIMALS, min_images=2)
    assert isinstance(result, discover.ConceptTable) and result.kind == "collection_concepts"
    assert result.value == "frequency"
    assert list(result.table.columns) == [
        "predicted_name",
        "group_size",
        "rank",
        "concept",
        "named_in",
        "frequency",
        "mean_contribution",
        "mean_share",
    ]
    # husky: fur in all three (contributions 2, 3, 1; shares 2/8, 3/10, 1/4), snow in two (1 and 1; 1/8 and 1/10),
    # ears and tail once each (tied: alphabetical). Sports car: wheels twice (2, 4), road once. The lawn mower has
    # one image, under min_images.
    expected = [
        ("husky", 3, 1, "fur", 3, 1.0, 2.0, (0.25 + 0.3 + 0.25) / 3),
        ("husky", 3, 2, "snow", 2, 2 / 3, 1.0, (0.125 + 0.1) / 2),
        ("husky", 3, 3, "ears", 1, 1 / 3, 1.0, 0.125),
        ("husky", 3, 4, "tail", 1, 1 / 3, 1.0, 0.25),
        ("sports car", 2, 1, "wheels", 2, 1.0, 3.0, (0.4 + 0.5) / 2),
        ("sports car", 2, 2, "road", 1, 0.5, 2.0, 0.4),
    ]
    got = rows_of(result.table, list(result.table.columns))
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    np.testing.assert_allclose([g[5:] for g in got], [e[5:] for e in expected], rtol=1e-12)
    assert "2 predicted classes, 5 images; 1 predicted class with fewer than 2 images left out" in result.title
    # the class x concept profile holds the same frequencies, 0 where a class never names a concept
    assert result.profile.loc["husky", "fur"] == 1.0 and result.profile.loc["sports car", "fur"] == 0.0
    assert list(result.profile.index) == ["husky", "sports car"]
    assert isinstance(result.plot(), Figure) and isinstance(discover.plot(result, max_rows=1), Figure)


def test_a_collection_figure_says_how_many_classes_it_leaves_out():
    """The title said "(2 predicted classes ...)" over one panel."""
    result = discover.collection_concepts(ANIMALS, min_images=2)
    groups = result.table["predicted_name"].nunique()
    assert groups >= 2
    fig = result.plot(max_rows=1)
    assert fig._suptitle.get_text().replace("\n", " ").endswith(f"; the first 1 of {groups} shown)")


def test_collection_concepts_by_label_keeps_the_top_and_leaves_out_images_without_one():
    result = discover.collection_concepts(ANIMALS, by="label", top=1, min_images=1)
    assert rows_of(result.table, ["label", "group_size", "concept", "named_in"]) == [  # largest first, then by name
        ("car", 2, "wheels", 2),
        ("dog", 2, "fur", 2),  # fur and snow are both in two; fur carries more (2, 3 against 1, 1)
        ("wolf", 1, "fur", 1),
    ]
    assert "per label (3 labels, 5 images)" in result.title  # the lawn mower has no label


# ---- wrong against right -----------------------------------------------------------------------------------------
def test_error_concepts_with_a_mapping_of_labels_to_the_classes_right_for_them():
    result = discover.error_concepts(PETS, correct=RIGHT_FOR, min_images=2)
    assert result.kind == "error_concepts" and result.value == "difference"
    assert result.title == "Concepts named on wrong vs right predictions (3 wrong, 4 right, 1 not judged)"
    assert result.per_image["correct"].tolist() == [True, True, True, False, True, False, False, None]
    # 3 wrong predictions (3, 5, 6) and 4 right ones (0, 1, 2, 4):
    #   snow: 2 of 3 wrong, 2 of 4 right -> +1/6;  stripes: 1 of 3, 1 of 4 -> +1/12;  fur: 2 of 3, 3 of 4 -> -1/12
    # p: hypergeometric upper tails over 7 judged images: snow P(X >= 2 | 3 wrong, 4 named) = 22/35, stripes
    # P(X >= 1 | 3 wrong, 2 named) = 15/21, fur P(X >= 3 | 4 right, 5 named) = 15/21
    table = result.table
    assert rows_of(table, ["side", "concept", "errors", "right"]) == [
        ("errors", "snow", 2, 2),
        ("errors", "stripes", 1, 1),
        ("right", "fur", 2, 3),
    ]
    expected = {
        "error_share": [2 / 3, 1 / 3, 2 / 3],
        "right_share": [2 / 4, 1 / 4, 3 / 4],
        "difference": [1 / 6, 1 / 12, -1 / 12],
        "error_rate": [2 / 4, 1 / 2, 2 / 5],
        "p_value": [float(Fraction(22, 35)), float(Fraction(15, 21)), float(Fraction(15, 21))],
    }
    for column, values in expected.items():
        np.testing.assert_allclose(table[column], values, rtol=1e-9, err_msg=column)
    assert isinstance(result.plot(), Figure)


def test_a_function_says_the_same_and_none_leaves_an_image_out():
    def correct(label, predicted):
        classes = RIGHT_FOR.get(label)
        return None if classes is None else predicted in classes

    by_function = discover.error_concepts(PETS, correct=correct, min_images=2)
    pd.testing.assert_frame_equal(by_function.table, discover.error_concepts(PETS, RIGHT_FOR, min_images=2).table)


def test_a_missing_label_is_not_judged_whatever_its_spelling():
    labels = pd.Series(["dog", None, "dog", "dog", "cat", "cat", "cat", "bird"], dtype="string")  # None -> pd.NA
    result = discover.error_concepts(PETS.assign(label=labels), correct=RIGHT_FOR, min_images=2)
    assert result.per_image["correct"].tolist() == [True, None, True, False, True, False, False, None]
    assert "(3 wrong, 3 right, 2 not judged)" in result.title


def test_within_each_predicted_class_the_class_is_held_fixed():
    result = discover.error_concepts(PETS, correct=RIGHT_FOR, by="predicted_name", min_images=2)
    # husky: 2 right (0, 1), 2 wrong (5, 6); fur is named on both right ones and one wrong one (1/2 - 2/2 = -1/2),
    # snow on all four (no difference: on neither side). tabby: stripes on its one right and one wrong prediction (no
    # difference), fur on one image only. malamute has a single judged image.
    assert rows_of(result.table, ["predicted_name", "side", "concept", "errors", "right"]) == [
        ("husky", "right", "fur", 1, 2)
    ]
    assert result.table["difference"].tolist() == [-0.5]
    assert result.table["p_value"].tolist() == pytest.approx([0.5])  # P(X >= 2 | 4 images, 2 right, 3 named)
    # the table shows one of the two: the title says why the other (tabby) is not in it
    assert result.title.endswith("within each of 2 predicted classes with both; 1 with a concept named more often on "
                                 "one side)")  # fmt: skip
    assert isinstance(result.plot(), Figure)
    # no class with at least 5 judged images: nothing to compare, and the title says why
    none = discover.error_concepts(PETS, correct=RIGHT_FOR, by="predicted_name", min_images=5)
    assert none.table.empty and list(none.table.columns) == list(result.table.columns)
    assert none.title.endswith("1 not judged; no predicted class has both among at least 5 judged images)")
    assert isinstance(none.plot(), Figure)


def test_labels_that_are_class_names_need_no_definition():
    frame = PETS.assign(label=["husky", "husky", "malamute", "husky", "tabby", "tabby", "tabby", "malamute"])
    result = discover.error_concepts(frame, min_images=2)
    assert result.per_image["correct"].tolist() == [True, True, True, False, True, False, False, False]
    # a label the collection never predicts is a class name when the classifier's names say so
    relabelled = frame.assign(label=frame["label"].replace("malamute", "Eskimo dog"))
    with pytest.raises(ValueError, match=r"\['Eskimo dog'\] are not among the classes predicted here.*classes="):
        discover.error_concepts(relabelled)
    names = ["husky", "malamute", "tabby", "Eskimo dog"]
    verdicts = discover.error_concepts(relabelled, classes=names, min_images=2).per_image["correct"]
    assert verdicts.tolist() == [True, True, False, False, True, False, False, False]


def test_coarse_labels_are_refused_without_a_definition_of_right():
    with pytest.raises(ValueError, match="labels are not the classifier's class names") as info:
        discover.error_concepts(PETS)
    message = str(info.value)
    assert "['bird', 'cat', 'dog']" in message and "correct=" in message and "label_classes('stamps')" in message


@pytest.mark.parametrize(
    ("frame", "kwargs", "error", "match"),
    [
        (PETS.assign(label=None), {}, ValueError, "no image has a label"),
        (PETS, {"correct": {"dog": 3}}, TypeError, r"correct\['dog'\] must be the class name, or a list"),
        (PETS, {"correct": {1: ["husky"]}}, TypeError, "keys of correct= must be labels"),
        (PETS, {"correct": lambda label, predicted: "yes"}, TypeError, "returned 'yes'; it must return True"),
        (PETS, {"correct": "husky"}, TypeError, "correct must be None"),
        (PETS, {"correct": {"husky": ["dog"]}}, ValueError, r"no image could be judged.*keys of correct="),
        (PETS, {"correct": {"dog": ["husky", "malamute", "tabby"]}}, ValueError, "every one of the 4 judged"),
        (PETS, {"correct": RIGHT_FOR, "by": "label"}, ValueError, "by must be None"),
        (PETS, {"correct": RIGHT_FOR, "classes": "husky"}, TypeError, "classes must be a Classifier"),
        (PETS, {"classes": "husky"}, TypeError, "classes must be a Classifier or its list of class names"),
    ],
)
def test_error_concepts_mistakes(frame, kwargs, error, match):
    if error is None:
        discover.error_concepts(frame, **kwargs, min_images=2)
        return
    with pytest.raises(error, match=match):
        discover.error_concepts(frame, **kwargs)


# ---- surroundings ----------------------------------------------------------------------------------------------------
KINDS = ConceptBank(
    ["snow", "fur", "ears", "tail", "wheels", "Road", "grass"],
    name="tiny",
    sources=["scene", "part", "part", "part", "part", "scene", "scene"],
)


def test_context_reliance_is_the_surroundings_share_of_the_named_contribution():
    result = discover.context_reliance(ANIMALS, bank=KINDS)
    assert result.kind == "context_reliance" and result.value == "mean_reliance"
    # per image: surroundings / all named contributions, and surroundings / the explained logit
    #   0: snow 1 of 4 (of 8)   1: snow 1 of 4 (of 10)   2: none   3: road 2 of 4 (of 5)   4: none   5: grass 1 of 1
    per_image = result.per_image
    assert list(per_image.columns) == [
        "id",
        "path",
        "label",
        "predicted_name",
        "surroundings",
        "context_contribution",
        "total",
        "reliance",
        "logit_share",
    ]
    assert per_image["surroundings"].tolist() == [["snow"], ["snow"], [], ["road"], [], ["grass"]]  # "Road" in the bank
    np.testing.assert_allclose(per_image["reliance"], [0.25, 0.25, 0, 0.5, 0, 1])
    np.testing.assert_allclose(per_image["logit_share"], [1 / 8, 1 / 10, 0, 2 / 5, 0, 1 / 2])
    np.testing.assert_allclose(per_image["total"], [4, 4, 2, 4, 4, 1])
    # per class, most reliant first
    table = result.table
    assert rows_of(table, ["predicted_name", "images", "naming_surroundings", "surroundings"]) == [
        ("lawn mower", 1, 1, "grass (1)"),
        ("sports car", 2, 1, "road (1)"),
        ("husky", 3, 2, "snow (2)"),
    ]
    np.testing.assert_allclose(table["mean_reliance"], [1.0, 0.25, 1 / 6])
    np.testing.assert_allclose(table["mean_logit_share"], [0.5, 0.2, 0.075])
    assert result.title == (
        "Reliance on surroundings (concepts of kind scene in the 'tiny' bank): 33.3% of the named contribution on "
        "average; 4 of 6 explanations name any"
    )
    assert isinstance(result.plot(), Figure)


def test_a_list_of_surroundings_gives_the_same_without_a_bank():
    listed = discover.context_reliance(ANIMALS, surroundings=["SNOW", "road", "grass"])
    pd.testing.assert_frame_equal(listed.table, discover.context_reliance(ANIMALS, bank=KINDS).table)
    assert "3 concepts listed as surroundings" in listed.title
    by_label = discover.context_reliance(ANIMALS, surroundings=["snow"], by="label", min_images=2)
    assert rows_of(by_label.table, ["label", "images", "naming_surroundings"]) == [("dog", 2, 2), ("car", 2, 0)]


def test_the_default_visual_bank_calls_its_scene_concepts_surroundings():
    frame = collection([("dog", "husky", ["snow", "thick fur"], [3, 1], 8), ("dog", "husky", ["thick fur"], [1], 4)])
    result = discover.context_reliance(frame)
    assert result.per_image["reliance"].tolist() == [0.75, 0.0]
    assert "kind scene in the 'visual' bank" in result.title


def test_no_surroundings_named_still_draws():
    result = discover.context_reliance(ANIMALS, surroundings=["sky"])
    assert result.per_image["reliance"].tolist() == [0.0] * 6 and "0 of 6 explanations name any" in result.title
    assert isinstance(result.plot(), Figure)
    # explanations that name no concept at all have no reliance to average: said in words, not "nan%"
    empty = collection(
        [("dog", "husky", [], [], 8)],
    )
    title = discover.context_reliance(empty, surroundings=["sky"], min_images=1).title
    assert "no explanation names one; 0 of 1 explanation names any" in title and "nan" not in title


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bank": ConceptBank(["snow", "fur", "ears", "tail", "wheels", "road", "grass"])}, ValueError,
         r"bank 'user' records no concept of kind \['scene'\].*surroundings="),
        ({"bank": ConceptBank(["snow", "fur"], sources=["scene", "part"])}, ValueError,
         r"5 concept\(s\) the explanations name are not in bank 'user'"),
        ({"bank": KINDS, "surroundings": ["snow"]}, ValueError, "not both"),
        ({"surroundings": "snow"}, TypeError, "surroundings must be a list of concept texts"),
        ({"surroundings": []}, ValueError, "non-empty list"),
        ({"bank": 3}, TypeError, "bank must be a ConceptBank"),
        ({"bank": KINDS, "kinds": 3}, TypeError, "kinds must be a kind of concept"),
        ({"bank": KINDS, "by": "class"}, ValueError, "by='class' is not a column"),
        ({"bank": KINDS, "min_images": 0}, ValueError, "min_images must be a positive number"),
    ],
)  # fmt: skip
def test_context_reliance_mistakes(kwargs, error, match):
    with pytest.raises(error, match=match):
        discover.context_reliance(ANIMALS, **kwargs)


# ---- what every view refuses -----------------------------------------------------------------------------------------
VIEWS = {
    "collection_concepts": lambda frame: discover.collection_concepts(frame, min_images=1),
    "error_concepts": lambda frame: discover.error_concepts(frame, correct=RIGHT_FOR, min_images=1),
    "context_reliance": lambda frame: discover.context_reliance(frame, surroundings=["snow"]),
}


def broken(column: str, value) -> pd.DataFrame:
    frame = PETS.copy()
    frame[column] = [value] + frame[column].tolist()[1:]
    return frame


@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize(
    ("frame", "error", "match"),
    [
        ([{"concepts": ["snow"]}], TypeError, r"explanations must be the DataFrame nlexnb.read_explanations\(out\)"),
        (PETS.drop(columns=["concepts"]), ValueError, r"lacks the column\(s\) \['concepts'\]"),
        (PETS.iloc[:0], ValueError, "explanations has no rows"),
        (broken("concepts", "fur"), TypeError, r"'concepts' must hold a list per image .*id 0 has str 'fur'"),
        (broken("concepts", ["fur", 3]), TypeError, "'concepts' must hold lists of concept texts"),
        (broken("concepts", ["fur"]), ValueError, "as long as each other.*id 0 has 1 and 2"),
    ],
)
def test_every_view_says_what_is_wrong_with_its_input(view, frame, error, match):
    if view == "error_concepts" and "as long as" in match:
        return  # error_concepts reads the concepts alone: nothing to compare their number with
    with pytest.raises(error, match=match):
        VIEWS[view](frame)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: discover.collection_concepts(broken("shares", ["x", 1.0])), TypeError, "lists of numbers"),
        (lambda: discover.context_reliance(broken("contributions", [1.0]), surroundings=["snow"]), ValueError,
         "'concepts' and 'contributions' must be as long as each other"),
        (lambda: discover.collection_concepts(ANIMALS, by=3), TypeError, "by must be a column name"),
        (lambda: discover.collection_concepts(ANIMALS, by="class"), ValueError,
         r"by='class' is not a column.*'predicted_name'"),
        (lambda: discover.collection_concepts(ANIMALS, min_images=4), ValueError,
         r"no predicted class has min_images=4 explained images \(the most is 3\)"),
        (lambda: discover.collection_concepts(ANIMALS.assign(label=None), by="label"), ValueError, "holds no values"),
        (lambda: discover.collection_concepts(ANIMALS, top=0), ValueError, "top must be a positive number"),
        (lambda: discover.error_concepts(PETS, RIGHT_FOR, top=1.5), ValueError, "top must be a positive number"),
    ],
)  # fmt: skip
def test_more_mistakes_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_logit_share_is_nan_where_the_explained_logit_is_not_positive():
    """logit_share divided by any non-zero explained logit: a negative one (a contrast's gap can be) gave a negative
    share, and -0.0, where the file's own shares are NaN."""
    frame = collection(
        [
            ("dog", "husky", ["snow", "fur"], [1, 1], 4),
            ("dog", "husky", ["snow", "fur"], [1, 1], -2),
            ("dog", "husky", ["fur"], [1], 0),
        ]
    )
    per_image = discover.context_reliance(frame, bank=KINDS, min_images=1).per_image
    np.testing.assert_array_equal(per_image["logit_share"], [0.25, np.nan, np.nan])
    assert per_image["reliance"].tolist() == [0.5, 0.5, 0.0]  # shares of the named contributions, as before


def test_the_concepts_of_a_contrast_say_what_gap_they_explain(classifier, ridge_mapper, photos, tmp_path):
    """The title of a collection explained against a foil said nothing of it: its concepts read as the evidence for
    each class, where they are the evidence for it rather than the foil."""
    explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "whiskers", "foam", "small cup", "sky"])
    images = [photos["chelsea"], photos["coffee"]]
    run = nlexnb.explain_collection(explainer, images, tmp_path / "gap.parquet", k=2, foil="orange", progress=False)
    title = discover.collection_concepts(run, min_images=1).title
    assert title.endswith(": each explains the gap to 'orange' (why the predicted class rather than 'orange')")
    plain = nlexnb.explain_collection(explainer, images, tmp_path / "plain.parquet", k=2, progress=False)
    assert "orange" not in discover.collection_concepts(plain, min_images=1).title


# ---- a real collection -----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_views_of_a_collection_written_by_explain_collection(classifier, ridge_mapper, photos, tmp_path):
    visual = ConceptBank.visual()
    keep = [i for i, kind in enumerate(visual.sources) if i % 8 == 0 or kind == "scene"]  # every surrounding kept
    bank = ConceptBank([visual.texts[i] for i in keep], name="visual/8", sources=[visual.sources[i] for i in keep])
    explainer = nlexnb.Explainer(classifier, ridge_mapper, bank, progress=False)
    images = list(photos.values())
    predicted = [classifier.class_names[p.indices[0]] for p in classifier.predict(images)]
    # the first four labelled with their predicted class, the others with the first photo's (wrong for them)
    labels = predicted[:4] + [predicted[0]] * (len(images) - 4)
    run = nlexnb.explain_collection(explainer, list(zip(images, labels)), tmp_path / "x.parquet", k=4, progress=False)
    frame = run.read()
    assert frame["predicted_name"].tolist() == predicted

    # collection_concepts counts what the rows say
    concepts = discover.collection_concepts(run, min_images=1)  # a CollectionRun is read for you
    assert set(concepts.table["predicted_name"]) == set(predicted)
    for row in concepts.table.itertuples():
        rows = frame[frame["predicted_name"] == row.predicted_name]
        assert row.named_in == sum(row.concept in c for c in rows["concepts"])
    assert isinstance(concepts.plot(), Figure)

    # the labels are class names: no definition of right needed, the classifier's names vouch for them
    errors = discover.error_concepts(frame, classes=classifier, min_images=1)
    assert errors.per_image["correct"].tolist() == [True] * 4 + [p == predicted[0] for p in predicted[4:]]
    assert isinstance(errors.plot(), Figure)

    # reliance on the bank's scene concepts: the explainer's own bank has the kinds
    context = discover.context_reliance(str(run.path), bank=explainer)  # so does a path
    kind = dict(zip(visual.texts, visual.sources))
    for row, image in zip(context.per_image.itertuples(), frame.itertuples()):
        named = dict(zip(image.concepts, image.contributions))
        scene = [c for c in image.concepts if kind[c] == "scene"]
        assert row.surroundings == scene
        assert row.reliance == pytest.approx(sum(named[c] for c in scene) / sum(named.values()))
    assert context.per_image["surroundings"].map(bool).any()  # "field" for the astronaut's football helmet, ...
    assert isinstance(context.plot(), Figure)
    with pytest.raises(ValueError, match="records no concept of kind"):
        discover.context_reliance(frame, bank=nlexnb.Explainer(classifier, ridge_mapper, bank.texts, progress=False))


# ---- what is right for a coarse label --------------------------------------------------------------------------------
def test_label_classes_of_the_built_in_sets():
    stamps = nlexnb.datasets.label_classes("stamps")
    assert {label: len(names) for label, names in stamps.items()} == {
        "bird": 59,
        "fish": 16,
        "insect": 27,
        "mammal": 218,
        "fruit": 10,
        "vegetable": 12,
        "flower": 2,
        "musical instrument": 26,
        "road sign": 2,
        "coin": 0,  # ImageNet-1k has no class for it: every prediction is wrong
        "planet": 0,
        "chess piece": 0,
    }
    assert {"cock", "goose", "albatross, mollymawk"} <= set(stamps["bird"])
    assert (
        "tick" not in stamps["insect"]
        and "ladybug, ladybeetle, lady beetle, ladybird, ladybird beetle" in stamps["insect"]
    )
    assert stamps["mammal"][0] == "tusker" and "sea lion" in stamps["mammal"] and "hen" not in stamps["mammal"]
    assert stamps["fruit"][0] == "Granny Smith" and stamps["fruit"][-1] == "pomegranate"
    assert "violin, fiddle" in stamps["musical instrument"]
    photos = nlexnb.datasets.label_classes("photos")
    assert photos["cat"] == ["tabby, tabby cat", "tiger cat", "Persian cat", "Siamese cat, Siamese", "Egyptian cat"]
    assert set(photos) <= set(nlexnb.datasets.COARSE_LABELS.values())
    assert set(stamps) <= set(nlexnb.datasets.STAMP_LABELS.values())
    with pytest.raises(ValueError, match=r"knows the labels of \['photos', 'stamps'\]"):
        nlexnb.datasets.label_classes("imagenet")
    with pytest.raises(ValueError, match="must be the 1,000 ImageNet-1k class names"):
        nlexnb.datasets.label_classes("stamps", class_names=["cat", "dog"])


def test_a_key_of_correct_that_matches_no_label_is_named_with_the_label_it_left_unjudged():
    misspelt = {"dgo": ["husky", "malamute"], "cat": "tabby"}  # the dog images silently left the comparison
    with pytest.warns(UserWarning, match=r"no entry for the label\(s\) \['bird', 'dog'\].*\('dgo' for 'dog'\?\)"):
        result = discover.error_concepts(PETS, correct=misspelt, min_images=1)
    assert result.per_image.loc[PETS["label"] == "dog", "correct"].isna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a mapping wider than the collection says nothing
        discover.error_concepts(PETS, correct={**RIGHT_FOR, "bird": ["husky"], "fish": ["husky"]}, min_images=1)


def test_a_min_images_that_leaves_nothing_is_an_error_not_an_empty_table():
    with pytest.raises(ValueError, match=r"no concept is named on min_images=50 judged images \(the most is \d\)"):
        discover.error_concepts(PETS, correct=RIGHT_FOR, min_images=50)
    with pytest.raises(ValueError, match=r"min_images=100 explained images \(the most is \d\); lower min_images"):
        discover.context_reliance(ANIMALS, bank=KINDS, min_images=100)
