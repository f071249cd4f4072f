"""The widgets, driven in-process: set a control's value, the outputs follow; bad input becomes a message."""

from __future__ import annotations

import datetime
import html
import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

import nlexnb
from nlexnb.bottleneck import concept_bottleneck
from nlexnb.concepts import ConceptBank
from nlexnb.labels import primary_name
from nlexnb.space import ConceptSpace
from nlexnb.widgets import BottleneckApp, ConceptExplorer, ExplainerApp, ZeroShotApp

CONCEPTS = ["stripes", "whiskers", "fur", "pointed ears", "foam", "coffee beans", "saucer", "sky", "space suit", "flag"]


def _uploaded(name: str, content: bytes) -> tuple[dict, ...]:
    """A ``FileUpload.value`` as ipywidgets 8 sets it after a browser upload."""
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return ({"name": name, "type": "", "size": len(content), "content": memoryview(content), "last_modified": when},)


@pytest.fixture(scope="module")
def explainer(classifier, mapper):
    return nlexnb.Explainer(classifier, mapper, concepts=CONCEPTS)


@pytest.fixture(scope="module")
def images(photos):
    return {name: photos[name] for name in ("chelsea", "coffee")}


@pytest.fixture
def app(explainer, images):
    return ExplainerApp(explainer, images)


def test_explainer_app_explains_the_prediction_and_scores_typed_text(app):
    assert app.message.value == ""
    assert "Predicted" in app.sentence.value and "<table" in app.table.value and app.plot.value
    assert app.score.value == "" and app.heatmap.layout.display == "none"  # nothing typed yet

    app.text.value = "stripes"
    stripes, stripes_map = app.score.value, app.heatmap.value
    assert "stripes" in stripes and stripes_map[:4] == b"\x89PNG" and app.heatmap.layout.display is None
    assert "\u201cstripes\u201d carries" in stripes  # ... and how much of the class's logit it carries
    app.text.value = "foam"
    assert app.score.value != stripes and app.heatmap.value != stripes_map

    sentence = app.sentence.value
    app.image.value = "coffee"
    assert "espresso" in app.sentence.value and app.sentence.value != sentence
    assert "foam" in app.score.value  # the text follows the image


def test_explainer_app_target_and_k(app):
    app.target.value = "Egyptian cat"  # a class name or synonym; blank = the prediction
    assert "Egyptian cat" in app.sentence.value and app.explanation.target_name == "Egyptian cat"
    app.k.value = 1
    assert len(app.explanation.concepts) <= 1
    app.target.value = "281"  # an index works too
    assert app.explanation.target_name == "tabby, tabby cat"


def test_explainer_app_shows_bad_input_as_a_message(app):
    app.target.value = "tabbby"
    assert "Unknown class" in app.message.value and "tabby" in app.message.value  # close matches listed
    assert app.sentence.value == "" and app.explanation is None  # no stale result under the error
    app.target.value = ""
    assert app.message.value == "" and "Predicted" in app.sentence.value


def test_an_error_stays_shown_through_an_upload_and_a_typed_text(explainer, photos):
    """An upload selects the new image, whose refresh runs inside the upload's: its error ("Unknown class") was
    wiped when the upload's ended, leaving a blank panel; and a text typed under that error was scored against the
    predicted class, beside the last text's stale score."""
    app = ExplainerApp(explainer)
    app.text.value = "foam"
    app.target.value = "not a class"
    assert "Unknown class" in app.message.value and app.score.value == ""  # no stale score beside the error
    buf = io.BytesIO()
    photos["rocket"].save(buf, format="JPEG")
    app.upload.value = _uploaded("rocket.jpg", buf.getvalue())
    assert app.image.value == "rocket.jpg" and "Unknown class" in app.message.value
    app.text.value = "smoke"
    assert "Unknown class" in app.message.value and app.score.value == ""


def test_apps_are_built_from_what_they_need(classifier, mapper):
    with pytest.raises(TypeError, match=r"ExplainerApp needs an Explainer: .* got TimmClassifier"):
        ExplainerApp(classifier, mapper)
    with pytest.raises(TypeError, match="BottleneckApp needs a ConceptBottleneck"):
        BottleneckApp(classifier)


def test_explainer_app_upload(app, photos):
    buf = io.BytesIO()
    photos["rocket"].save(buf, format="JPEG")
    app.upload.value = _uploaded("my rocket.jpg", buf.getvalue())
    assert app.image.value == "my rocket.jpg" and "my rocket.jpg" in app.image.options
    assert app.message.value == "" and "Predicted" in app.sentence.value
    assert app.upload.value == ()  # cleared, ready for the next file

    # the same file again selects it; another photo of the same name is kept beside it, never replacing it
    count = len(app.image.options)
    app.upload.value = _uploaded("my rocket.jpg", buf.getvalue())
    assert len(app.image.options) == count and app.image.value == "my rocket.jpg"
    other = io.BytesIO()
    photos["coffee"].save(other, format="JPEG")
    app.upload.value = _uploaded("my rocket.jpg", other.getvalue())
    assert app.image.value == "my rocket.jpg (2)" and "my rocket.jpg" in app.image.options

    app.upload.value = _uploaded("notes.txt", b"not an image")
    assert "notes.txt" in app.message.value and "not an image" in app.message.value
    assert "notes.txt" not in app.image.options


def test_image_names_that_read_the_same_are_refused(explainer, photos):
    """The dropdown shows names as text, so 1 and "1" would leave one of the two images out."""
    with pytest.raises(ValueError, match=r"images has keys that read the same as text \('1'"):
        ExplainerApp(explainer, images={1: photos["coffee"], "1": photos["chelsea"]})


def test_explainer_app_static_fallback(app):
    fig = app.static("coffee", text="foam")
    assert isinstance(fig, Figure) and len(fig.axes) == 3  # where, contributions, the text's heat map
    assert len(app.static().axes) == 2  # nothing typed: the explanation figure alone
    assert plt.get_fignums() == []  # widgets and fallbacks leave no open pyplot figures


def test_zero_shot_app_follows_labels_and_image(classifier, mapper, images):
    app = ZeroShotApp(classifier, mapper, labels=["a cat", "a cup of coffee"], images=images)
    assert app.message.value == "" and len(app.bars.children) == 2
    assert app.bars.children[0].description == "a cat"  # most likely first

    app.labels.value = "a tiger\na dog\na cup of coffee"
    bars = app.bars.children  # the new labels, most likely first
    assert sorted(bar.description for bar in bars) == ["a cup of coffee", "a dog", "a tiger"]
    assert [bar.value for bar in bars] == sorted((bar.value for bar in bars), reverse=True)
    assert "a tiger" in app.table.value and "a cat" not in app.table.value
    cat_preview = bytes(app.preview.value)
    assert cat_preview.startswith(b"\x89PNG")  # the photo being classified is shown beside the labels
    app.image.value = "coffee"
    assert app.bars.children[0].description == "a cup of coffee"
    assert bytes(app.preview.value).startswith(b"\x89PNG") and bytes(app.preview.value) != cat_preview

    app.labels.value = "a cup of coffee\na tiger"  # the coffee photo: a near-certainty reads "> 0.99", not "1"
    assert "<td>&gt; 0.99</td>" in app.table.value or "<td>0." in app.table.value
    assert "<td>1</td>" not in app.table.value and "<td>0</td>" not in app.table.value
    table = app.static("chelsea")
    assert isinstance(table, pd.DataFrame) and list(table.columns) == ["label", "probability"]
    assert table["probability"].sum() == pytest.approx(1.0)

    app.labels.value = "a tiger"  # one label: the library warns, and a widget shows the warning where it is seen
    assert "every image gets probability 1.0" in app.message.value
    app.labels.value = "a tiger\na dog"
    assert app.message.value == ""
    # long labels keep their start and end on the bars (cut to 24 letters, both read "a photo of a small black")
    app.labels.value = "a photo of a small black cat\na photo of a small black dog"
    shown = sorted(bar.description for bar in app.bars.children)
    assert shown == ["a photo of …ll black cat", "a photo of …ll black dog"]


def test_one_typed_label_is_said_once_in_the_apps_words_and_other_warnings_still_show(classifier, mapper, images):
    """The library's one-label warning advises include_original_classes=False, an argument the app has no control
    for: it is silenced by its category (OneLabelWarning), and only it; the app says the same in its own words."""
    from nlexnb._checks import MapperMismatchWarning, OneLabelWarning

    assert issubclass(OneLabelWarning, UserWarning) and issubclass(MapperMismatchWarning, UserWarning)
    app = ZeroShotApp(classifier, mapper, labels=["a cat", "a cup of coffee"], images=images)
    app.labels.value = "a tiger"
    said = html.unescape(app.message.value)
    assert said.count("every image gets probability 1.0") == 1 and "type at least two, one per line" in said
    assert "include_original_classes" not in said
    other_head = nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, device="cpu")
    app = ZeroShotApp(other_head, mapper, labels=["a cat", "a cup of coffee"], images=images)
    app.labels.value = "a tiger"  # a mapper of another head is still heard, beside the app's one-label advice
    said = html.unescape(app.message.value)
    assert "the mapper was fitted on head" in said and "type at least two, one per line" in said


def test_zero_shot_app_takes_a_concept_space(classifier, mapper, images):
    from nlexnb.space import concept_space

    space = concept_space(classifier, mapper, CONCEPTS)
    app = ZeroShotApp(space, ["a cat", "a cup of coffee"], images=images)
    assert app.classifier is classifier and app.mapper is mapper
    assert app.bars.children[0].description == "a cat"
    with pytest.raises(ValueError, match="uses the space's mapper"):
        ZeroShotApp(space, mapper, ["a cat", "a dog"], images=images)


def test_zero_shot_app_bad_labels(classifier, mapper, images):
    app = ZeroShotApp(classifier, mapper, images=images)
    app.labels.value = "  \n "
    assert "empty" in app.message.value and app.bars.children == () and app.table.value == ""
    app.labels.value = "a cat\na cat"
    assert "Duplicate" in app.message.value
    app.labels.value = "a cat\na dog"
    assert app.message.value == "" and len(app.bars.children) == 2


def test_concept_explorer_class_and_contrast(classifier, mapper):
    app = ConceptExplorer(classifier, mapper, bank=CONCEPTS)
    app.class_a.value = "tiger cat"
    assert app.message.value == "" and "cosine" in app.table.value and app.plot.value[:4] == b"\x89PNG"
    alone = app.table.value
    app.class_b.value = "tabby"
    assert "favours" in app.table.value and app.table.value != alone
    app.k.value = 2  # at most 2 per side; of ten concepts only "fur" leans the tabby's way ("flag" is no cat's)
    table = app.table.value
    assert table.count("</tr>") == 1 + 2 + 1 and ">fur<" in table and ">flag<" not in table

    app.class_b.value = "nope"
    assert "Unknown class" in app.message.value and app.table.value == ""

    table = app.static("Siberian husky", "malamute", k=3)  # what a dog's photo shows: no saucer, flag or sky
    assert isinstance(table.table, pd.DataFrame)
    assert set(table.concept) == {"whiskers", "fur", "pointed ears"}  # nor stripes: neither dog's description has any
    assert set(table["favours"]) == {"Siberian husky", "malamute"}
    raw = app.static("Siberian husky", "malamute", k=3, echoes=True)  # everything the rows hold
    assert len(raw) > len(table) and "space suit" in set(raw.concept)  # a thing no dog's photo shows, on request

    full = ConceptExplorer(classifier, mapper)  # the default bank: "pyramid" is in the Egyptian cat's row
    full.class_a.value, full.class_b.value = "tiger cat", "Egyptian cat"
    assert "pyramid" not in full.table.value
    full.echoes.value = True  # echoes of the words of the names, shown on request
    assert "pyramid" in full.table.value and full.message.value == ""
    full.class_a.value, full.class_b.value, full.echoes.value = "Siberian husky", "malamute", False
    assert full.table.value.count(" tail</td>") == 1  # one tail for the malamute: each kind of thing once ...
    full.repeats.value = True  # ... unless asked for the concepts that say a word again
    assert full.table.value.count(" tail</td>") > 1 and full.message.value == ""
    full.repeats.value = False
    assert "<td>weak</td>" in full.table.value and "than chance" in full.table.value  # weak rows marked, and why


@pytest.fixture(scope="module")
def cbm(classifier, ridge_mapper):
    space = ConceptSpace(classifier, ridge_mapper, ConceptBank.visual().texts[::8])
    with pytest.warns(UserWarning):  # a bank of 400 concepts writes some classes poorly, and says so
        return concept_bottleneck(space, n_concepts=6)


def test_bottleneck_app_explains_and_switches_concepts_off(cbm, images):
    app = BottleneckApp(cbm, images)
    assert app.message.value == "" and app.plot.value[:4] == b"\x89PNG"
    assert primary_name(app.explanation.predicted_name) in app.sentence.value
    # the concepts offered are the explained class's largest contributors in this photo, largest first
    assert list(app.off.options) == list(app.explanation.table["concept"][: BottleneckApp.SWITCHABLE])
    assert app.intervention is None and "Select concepts" in app.outcome.value

    app.off.value = tuple(app.off.options[:3])
    expected = cbm.intervene(images["chelsea"], {c: 0.0 for c in app.off.options[:3]})
    assert app.intervention.before == expected.before and app.intervention.after == expected.after
    assert html.escape(expected.sentence) in app.outcome.value and "<table" in app.outcome.value

    app.image.value = "coffee"  # a new photo: new concepts to offer, none switched off yet
    assert app.off.value == () and app.intervention is None
    assert list(app.off.options) == list(app.explanation.table["concept"][: BottleneckApp.SWITCHABLE])

    app.off.value = tuple(app.off.options[:2])
    app.target.value = "espreso"
    assert "Unknown class" in app.message.value and app.explanation is None and app.sentence.value == ""
    # nothing of the last explanation stays to be read or switched off while the class is wrong
    assert app.off.options == () and app.intervention is None and app.outcome.value == ""
    app.image.value = "chelsea"
    assert "Unknown class" in app.message.value and app.off.options == () and app.outcome.value == ""
    app.image.value = "coffee"
    app.target.value = "cup"
    assert app.message.value == "" and app.explanation.target_name == "cup"

    assert len(app.static("chelsea").axes) >= 2 and isinstance(app.static(off=[app.off.options[0]]), Figure)
    with pytest.raises(TypeError, match="list of concepts"):
        app.static(off="fur")
    with pytest.raises(TypeError, match="needs a ConceptBottleneck"):
        BottleneckApp(cbm.space)
    assert plt.get_fignums() == []


def test_apps_display_their_widget(app, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objects: shown.extend(objects))
    app._ipython_display_()  # what Jupyter calls for `app` as the last line of a cell
    assert shown == [app.widget] and isinstance(app.widget, widgets.VBox)


def test_an_upload_pillow_cannot_read_says_so_in_words(app):
    """A text file named .jpg showed "cannot identify image file <_io.BytesIO object at 0x7f...>"."""
    app.upload.value = _uploaded("notes.jpg", b"hello")
    assert "notes.jpg" in app.message.value and "Pillow does not recognise its format" in app.message.value
    assert "BytesIO" not in app.message.value and "notes.jpg" not in app.image.options


def test_zero_shot_app_speaks_of_lines_typed_not_of_python_arguments(classifier, mapper, images):
    """The messages spoke of a Python list ("labels is empty: give at least one label, e.g. ['cat', 'dog']"),
    counted labels without the blank lines ("labels[1] '!!!'" for line 4), and advised include_original_classes=True,
    which the app has no control for."""
    app = ZeroShotApp(classifier, mapper, images=images)
    app.labels.value = "   \n  "
    assert "type at least one label, one per line" in app.message.value and "[" not in html.unescape(app.message.value)
    app.labels.value = "cat\n\n\n!!!"
    said = html.unescape(app.message.value)
    assert "line 4 '!!!' is empty once its punctuation is left out" in said and "labels[" not in said
    app.labels.value = "a cat\n\na dog\nA cat "
    assert "(lines 1 and 4)" in html.unescape(app.message.value) and app.bars.children == ()
    app.labels.value = "cat"
    said = html.unescape(app.message.value)
    assert "every image gets probability 1.0; type at least two, one per line" in said
    assert "include_original_classes" not in said and len(app.bars.children) == 1
    app.labels.value = "cat\ndog"
    assert app.message.value == "" and len(app.bars.children) == 2


def test_concept_explorer_static_reads_a_class_as_its_box_does(classifier, mapper):
    """The box took "967" as the index, static(c1="967") raised "Unknown class '967'"."""
    app = ConceptExplorer(classifier, mapper, bank=CONCEPTS)
    typed = app.static(c1="967", k=3)
    assert typed.title == app.static(c1=967, k=3).title == "What \u201cespresso\u201d encodes"
    assert typed.table.equals(app.static(c1="espresso", k=3).table)
    assert set(app.static(c1="281", c2=" 282 ", k=3).favours) <= {"tabby", "tiger cat"}


def test_a_typed_text_with_no_words_is_refused_in_the_apps_words(app):
    app.text.value = "foam"
    assert "foam" in app.score.value
    app.text.value = "!!!"
    said = html.unescape(app.message.value)
    assert "The text '!!!' is empty once its punctuation is left out; a text needs words" in said
    assert "concepts[" not in said and "Predicted" in app.sentence.value
    assert app.score.value == "" and app.heatmap.layout.display == "none"  # nothing left of "foam"


def test_switching_off_the_top_concepts_still_shows_the_class_they_were_for(cbm, images):
    """After switching off a class's top concepts, the table of the five most probable classes after left that class
    out, and its figure drew no "after" bar for it: both the class before and the class after are always shown."""
    app = BottleneckApp(cbm, images)
    app.image.value = "coffee"
    app.off.value = tuple(app.off.options[:3])
    intervention = app.intervention
    names = list(intervention.table["class_name"])
    assert names.index(intervention.before) >= 5  # the class before fell out of the five most probable after
    rows = app.outcome.value.split("<tbody>")[-1]
    assert f">{html.escape(intervention.before)}<" in rows and f">{html.escape(intervention.after)}<" in rows
    left_out = [n for n in names[5:] if n not in (intervention.before, intervention.after)]
    assert left_out and not any(f">{html.escape(n)}<" in rows for n in left_out)  # the rest of the table stays out
    fig = intervention.plot()
    (ax,) = fig.axes
    shown = [bar for bars in ax.containers for bar in bars]
    assert len(shown) == 2 * len(intervention.table)  # a before and an after bar for every class, near 0 or not
    assert all(bar.get_linewidth() > 0 for bar in shown)  # a bar of width 0 still draws its edge
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == len(shown) and all(label for label in labels)
