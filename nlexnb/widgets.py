"""Jupyter widgets on top of the package's functions: explain a photo, zero-shot labels, browse class concepts.

Each app wires ipywidgets controls to one or two package calls and nothing more:

- :class:`ExplainerApp`: pick a sample photo or upload one, choose a class (or take the prediction), type any text;
  the explanation sentence, its figure and table, and the text's score and heat map update
  (:meth:`nlexnb.Explainer.explain`, :meth:`~nlexnb.Explainer.scores`, :meth:`~nlexnb.Explainer.heatmap`).
- :class:`ZeroShotApp`: type labels, see their probabilities (:class:`nlexnb.ZeroShotClassifier`).
- :class:`ConceptExplorer`: what a class encodes, or what separates two classes
  (:func:`nlexnb.discover.class_concepts`, :func:`nlexnb.discover.contrast`).
- :class:`BottleneckApp`: a photo explained through a concept bottleneck; pick concepts to switch off and see the
  prediction follow (:meth:`nlexnb.bottleneck.ConceptBottleneck.explain` and ``.intervene``).

Updates are synchronous ``observe`` callbacks. Bad input (an unknown class name, an empty label list, a file that is
not an image) is shown in the app's ``message`` line, never raised into the kernel. Each app displays itself (its
``widget``) and has ``static(...)``: the same result as a Figure or DataFrame, for notebooks run headless
(``INTERACTIVE = False``), where widgets have no live kernel.

Example:
    >>> from nlexnb.widgets import ExplainerApp
    >>> app = ExplainerApp(explainer)
    >>> app if INTERACTIVE else app.static(text="stripes")
"""

from __future__ import annotations

import html
import io
import re
import warnings
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import pandas as pd
from PIL import Image, UnidentifiedImageError

from . import discover
from ._checks import OneLabelWarning, warn_user, with_words, yes_or_no
from .bottleneck import BottleneckExplanation, ConceptBottleneck, Intervention
from .classifier import Classifier
from .explain import Explainer
from .explanation import probability_text
from .images import sample_images, to_pil
from .mapper import Mapper
from .plots import explanation_figure, overlay_image, shared_range
from .space import ConceptSpace, concept_space
from .zeroshot import ZeroShotClassifier, check_labels, classifier_mapper_labels

__all__ = ["ExplainerApp", "ZeroShotApp", "ConceptExplorer", "BottleneckApp", "read_upload"]

DEFAULT_LABELS = (
    "a cat",
    "a cup of coffee",
    "an astronaut",
    "a rocket",
    "a motorcycle",
    "a temple",
    "a flower",
    "a woman in uniform",
)
"""ZeroShotApp's starting labels: one per photo of :func:`nlexnb.sample_images`."""


# ---- shared wiring ---------------------------------------------------------------------------------------------------
def read_upload(value: Sequence[dict]) -> dict[str, Image.Image]:
    """Decode the files of a ``FileUpload.value`` (ipywidgets 8: dicts with ``name`` and ``content``) as RGB images.

    Raises:
        TypeError: ``value`` is not a list of such dicts.
        ValueError: a file is not a readable image (named).
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise TypeError(f"value must be a FileUpload's value (a list of dicts), got {type(value).__name__}")
    images = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or "content" not in item:
            raise TypeError(
                f"value[{i}] must be a dict with the file's 'name' and 'content' (as FileUpload gives), "
                f"got {type(item).__name__}"
            )
        name = unique_name(str(item.get("name") or "upload"), images)  # two files of one name both stay
        try:
            with Image.open(io.BytesIO(bytes(item["content"]))) as img:
                img.load()
                images[name] = to_pil(img)
        except UnidentifiedImageError as exc:  # its words name a BytesIO object at an address, not the file
            raise ValueError(
                f"{name!r} is not an image PIL can read (Pillow does not recognise its format); upload a JPEG, PNG, "
                "WebP..."
            ) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValueError(f"{name!r} is not an image PIL can read ({exc}); upload a JPEG, PNG, WebP...") from exc
    return images


def unique_name(name: str, taken: Mapping[str, object]) -> str:
    """``name``, or ``"name (2)"``, ``"name (3)"``... when ``taken`` already holds it, so that nothing is replaced."""
    if name not in taken:
        return name
    n = 2
    while f"{name} ({n})" in taken:
        n += 1
    return f"{name} ({n})"


def _png(image_or_figure) -> bytes:
    """PNG bytes of a PIL image, or of a matplotlib figure."""
    buf = io.BytesIO()
    if isinstance(image_or_figure, Image.Image):
        image_or_figure.save(buf, format="PNG")
    else:  # nlexnb's figures live outside pyplot (nlexnb.plots): nothing to close
        image_or_figure.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return buf.getvalue()


def _picture(max_width: str) -> widgets.Image:
    """An Image widget for a figure or photo that keeps its aspect ratio beside a taller neighbour in an HBox."""
    layout = widgets.Layout(max_width=max_width, height="auto", align_self="flex-start", object_fit="contain")
    return widgets.Image(format="png", layout=layout)


def _show_png(widget: widgets.Image, image_or_figure=None) -> None:
    """Put a PIL image or a figure into an Image widget; None empties and hides it (no broken-image icon)."""
    widget.value = b"" if image_or_figure is None else _png(image_or_figure)
    widget.layout.display = "none" if image_or_figure is None else None


def _table_html(table: pd.DataFrame) -> str:
    return table.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0)


def _error_html(exc: Exception) -> str:
    return f"<span style='color:#b00020'>\u26a0 {html.escape(str(exc))}</span>"


def _warning_html(messages: Sequence[str]) -> str:
    return "<br>".join(f"<span style='color:#8a6d00'>\u26a0 {html.escape(m)}</span>" for m in dict.fromkeys(messages))


def _class_box(classifier: Classifier, description: str, placeholder: str) -> widgets.Combobox:
    """A text box with the class names as suggestions (any synonym or an index also works)."""
    return widgets.Combobox(
        options=list(classifier.class_names),
        ensure_option=False,
        placeholder=placeholder,
        description=description,
        continuous_update=False,
        layout=widgets.Layout(width="22em"),
    )


def _class_or_none(classifier: Classifier, value: str) -> int | None:
    """Blank -> None; digits -> that index; else a class name or synonym (:func:`nlexnb.discover.resolve_class`)."""
    value = value.strip()
    if not value:
        return None
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    return discover.resolve_class(classifier, int(value) if value.isdecimal() else value)


class _App:
    """Common parts: ``widget``, ``message`` and an ``_guard`` that shows a callback's error instead of raising it,
    and the library's warnings it raised, which would otherwise be lost."""

    widget: widgets.Widget
    message: widgets.HTML

    def _guard(self, update: Callable[[], None]) -> Callable[[dict | None], None]:
        def callback(change: dict | None = None) -> None:
            # a callback may set a control whose own callback runs inside it (an upload selects the new image): what
            # the inner one says is kept, not wiped when the outer one ends
            said: list[str] | None = getattr(self, "_said", None)
            outer = said is None
            if outer:
                said = self._said = []
                self.message.value = ""
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    update()
                # nor has a warning ("one label: every image gets probability 1.0"): it would be lost, not seen
                shown = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
                if shown:
                    said.append(_warning_html(shown))
            except Exception as exc:  # shown in the app: a widget callback has no caller to raise to
                said.append(_error_html(exc))
            finally:
                if outer:
                    self._said = None
            self.message.value = "".join(dict.fromkeys(said))

        return callback

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


class _ImagePicker(_App):
    """A dropdown of named images plus an upload button that adds to it; subclasses define ``_refresh``."""

    _refresh: Callable[[], None]

    def _init_images(self, images: dict[str, Image.Image] | None) -> None:
        if images is not None and not isinstance(images, dict):
            raise TypeError(
                f"images must be a dict {{name: image}} (e.g. {{'cat': 'cat.jpg'}}), got {type(images).__name__}; "
                "for a list use dict(enumerate(images))"
            )
        given = images if images is not None else sample_images()
        names = [str(n) for n in given]
        if len(set(names)) < len(names):
            same = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(
                f"images has keys that read the same as text ({', '.join(map(repr, same))}: e.g. 1 and '1'), and the "
                "dropdown would show one of them; give each image a distinct name"
            )
        self.images = {str(n): to_pil(img, f"images[{n!r}]") for n, img in given.items()}
        if not self.images:
            raise ValueError("images is empty: give at least one {name: image}, or None for the sample photos")
        self.image = widgets.Dropdown(options=list(self.images), description="image")
        self.upload = widgets.FileUpload(accept="image/*", multiple=False, description="upload")
        self.upload.observe(self._guard(self._on_upload), "value")

    def _on_upload(self) -> None:
        if not self.upload.value:
            return
        try:
            new = read_upload(self.upload.value)
        finally:
            self.upload.value = ()  # clear it, so the same file can be uploaded again
        for name, image in new.items():
            held = self.images.get(name)
            if held is None or held.size != image.size or held.tobytes() != image.tobytes():
                name = unique_name(name, self.images)  # a new photo of a name already shown is kept beside it
                self.images[name] = image
        self.image.options = list(self.images)
        if self.image.value == name:  # the same photo again, already shown: no change event
            self._refresh()
        else:
            self.image.value = name  # the image callback refreshes

    def _current(self, name: str | None) -> Image.Image:
        """The image called ``name`` (a ``static(image_name=...)``), or the selected one for None."""
        name = self.image.value if name is None else name
        if not isinstance(name, str):
            raise TypeError(f"image_name must be the name of one of the images {list(self.images)}, got {name!r}")
        if name not in self.images:
            raise ValueError(f"image_name {name!r} is not one of the images: {list(self.images)}")
        return self.images[name]


# ---- explain ---------------------------------------------------------------------------------------------------------
class ExplainerApp(_ImagePicker):
    """Explain a photo in words, and see where any typed text is on it.

    Args:
        explainer: an :class:`nlexnb.Explainer` (its concept bank names the concepts).
        images: name -> image; default :func:`nlexnb.sample_images`. Uploads are added to it.

    Attributes:
        image, upload, target, k, text: the controls (``target`` blank = the predicted class; a name, synonym or index).
        sentence: the explanation sentence (HTML); table: its concept table (HTML); plot: its figure (PNG Image).
        score: the typed text's score (logit units) and how much of the class's logit it carries
            (:meth:`nlexnb.Explainer.weigh`); heatmap: the text's heat map (PNG Image), on a range that also spans
            the top concept's map, so that a text the photo lacks reads cold.
        message: the last error or warnings, if any.
        explanation: the current :class:`nlexnb.Explanation`.
    """

    def __init__(self, explainer: Explainer, images: dict[str, Image.Image] | None = None) -> None:
        if not isinstance(explainer, Explainer):
            raise TypeError(
                f"ExplainerApp needs an Explainer: ExplainerApp(nlexnb.Explainer(classifier, mapper)), got "
                f"{type(explainer).__name__}"
            )
        self.explainer = explainer
        self._init_images(images)
        self.target = _class_box(explainer.classifier, "class", "predicted class")
        self.k = widgets.IntSlider(value=5, min=1, max=10, description="concepts")
        self.text = widgets.Text(placeholder="type any text, e.g. stripes", description="text", continuous_update=False)
        self.message = widgets.HTML()
        self.sentence = widgets.HTML()
        self.plot = _picture("880px")
        self.table = widgets.HTML()
        self.score = widgets.Label()
        self.heatmap = widgets.Image(format="png", width=224, height=224, layout=widgets.Layout(display="none"))
        self.explanation = None
        self._refresh = self._explain
        explain, show_text = self._guard(self._explain), self._guard(self._show_text)
        for control in (self.image, self.target, self.k):
            control.observe(explain, "value")
        self.text.observe(show_text, "value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.image, self.upload, self.target, self.k]),
                self.message,
                self.sentence,
                self.plot,
                widgets.HBox(
                    [
                        widgets.VBox([self.text, self.score, self.heatmap], layout=widgets.Layout(width="320px")),
                        self.table,
                    ]
                ),
            ]
        )
        explain()

    def _explain(self) -> None:
        self.explanation = None
        self.sentence.value, self.table.value, self.score.value = "", "", ""
        _show_png(self.plot)
        _show_png(self.heatmap)  # a score and map of the last explanation would stay beside an error
        image = self._current(None)
        target = _class_or_none(self.explainer.classifier, self.target.value)
        self.explanation = self.explainer.explain(image, target=target, k=self.k.value)
        self.sentence.value = f"<b>{html.escape(self.explanation.sentence)}</b>"
        self.table.value = _table_html(self.explanation.concepts)
        figure = self.explanation.plot(figsize=(11, 3.6))
        figure.suptitle("")  # the sentence is already shown above it
        _show_png(self.plot, figure)
        self._show_text()

    def _show_text(self) -> None:
        text = self.text.value.strip()
        self.score.value = ""  # no score or map of the last text beside an error about this one
        _show_png(self.heatmap)
        if not text:
            return
        with_words(text, "The text")  # "concepts[0] '!!!'" would speak of weigh's Python argument
        image = self._current(None)
        if self.explanation is not None:
            target = self.explanation.target
        else:  # no explanation: the class box may hold what is not a class; say so rather than score another class
            target = _class_or_none(self.explainer.classifier, self.target.value)
        weighed = self.explainer.weigh(image, [text], target=target)  # one forward pass: score, share and map
        score, heat = float(weighed.concepts["score"].iloc[0]), weighed.heatmaps[0]
        self.score.value = f"\u201c{text}\u201d: score {score:.2f}. {weighed.sentence}"
        maps = [heat.values]
        if self.explanation is not None and self.explanation.heatmaps:  # on the top concept's range too: a text the
            maps.append(self.explanation.heatmaps[0].values)  # photo lacks reads cold, not as hot as what it shows
        low, high = shared_range(maps)
        _show_png(self.heatmap, overlay_image(heat.image, heat.values, vmin=low, vmax=high))

    def static(self, image_name: str | None = None, text: str | None = None):
        """The explanation figure, with the text's heat map as a third panel when there is a text.

        The class and the number of concepts are the widget's (``target``, ``k``).

        Args:
            image_name: one of ``images``; default the selected one.
            text: any text; default the typed one (none: the explanation figure alone).

        Returns:
            A matplotlib Figure (outside pyplot, like every nlexnb figure: a notebook shows it once).
        """
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a string (any text to map on the image) or None, got {type(text).__name__}")
        image = self._current(image_name)
        text = (self.text.value if text is None else text).strip()
        target = _class_or_none(self.explainer.classifier, self.target.value)
        explanation = self.explainer.explain(image, target=target, k=self.k.value)
        if not text:
            return explanation.plot(figsize=(11, 4))
        return explanation_figure(explanation, figsize=(12.5, 4), also=self.explainer.heatmap(image, text))


# ---- zero-shot -------------------------------------------------------------------------------------------------------
class ZeroShotApp(_ImagePicker):
    """Type label names (one per line), see the probability of each for the chosen photo.

    Args:
        classifier: gives the features; mapper: maps the labels to new class rows (fitted on ``classifier``). Or a
            :class:`~nlexnb.space.ConceptSpace` alone (``ZeroShotApp(space, labels)``), which brings both.
        labels: the starting labels; default one per sample photo.
        images: name -> image; default :func:`nlexnb.sample_images`.

    Attributes:
        image, upload, labels: the controls (``labels`` is a text area: one label per line; commas join synonyms).
        preview: the chosen photo (a thumbnail). bars: one progress bar per label; table: label and probability,
            most likely first (HTML).
        message: the last error or warnings, if any. zeroshot: the current :class:`nlexnb.ZeroShotClassifier`.
    """

    def __init__(
        self,
        classifier: Classifier | ConceptSpace,
        mapper: Mapper | None = None,
        labels: list[str] | None = None,
        images: dict[str, Image.Image] | None = None,
    ) -> None:
        self.classifier, self.mapper, labels = classifier_mapper_labels(classifier, mapper, labels, "ZeroShotApp")
        self._init_images(images)
        self.labels = widgets.Textarea(
            value="\n".join(DEFAULT_LABELS if labels is None else check_labels(labels)),
            description="labels",
            placeholder="one label per line",
            continuous_update=False,
            layout=widgets.Layout(width="28em", height="12em"),
        )
        self.message = widgets.HTML()
        self.preview = _picture("224px")
        self.bars = widgets.VBox()
        self.table = widgets.HTML()
        self.zeroshot: ZeroShotClassifier | None = None
        self._features: dict[str, tuple] = {}
        self._refresh = self._show
        self.labels.observe(self._guard(self._build), "value")
        self.image.observe(self._guard(self._show), "value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.image, self.upload]),
                self.message,
                widgets.HBox([self.preview, self.labels, widgets.VBox([self.bars, self.table])]),
            ]
        )
        self._guard(self._build)()

    def _label_list(self) -> list[str]:
        return [label for _, label in self._labelled_lines()]

    def _labelled_lines(self) -> list[tuple[int, str]]:
        """(line number from 1, label) of each line that is not blank."""
        return [(n, line.strip()) for n, line in enumerate(self.labels.value.splitlines(), 1) if line.strip()]

    def _checked_labels(self) -> list[str]:
        """The typed labels, checked as :func:`nlexnb.zeroshot.check_labels` checks them, its messages told in the
        text box's terms: line numbers, not positions in a Python list that leaves blank lines out."""
        lines = self._labelled_lines()
        if not lines:  # "labels is empty: give at least one label, e.g. ['cat', 'dog']" spoke of a Python list
            raise ValueError("The labels are empty: type at least one label, one per line")
        line = [n for n, _ in lines]
        try:
            return check_labels([label for _, label in lines], self.classifier.class_names)
        except ValueError as exc:
            said = re.sub(r"\blabels\[(\d+)\]", lambda m: f"line {line[int(m[1])]}", str(exc))
            said = re.sub(
                r"\(positions (\d+) and (\d+)\)", lambda m: f"(lines {line[int(m[1])]} and {line[int(m[2])]})", said
            )
            raise ValueError(said) from None

    def _build(self) -> None:
        self.zeroshot = None  # a failed rebuild leaves no stale head behind
        self.bars.children, self.table.value = (), ""
        labels = self._checked_labels()
        with warnings.catch_warnings():  # its advice is an argument the app has no control for: said below instead
            warnings.filterwarnings("ignore", category=OneLabelWarning)
            self.zeroshot = ZeroShotClassifier(self.classifier, self.mapper, labels)
        if len(labels) == 1:
            warn_user(
                f"One label ({labels[0]!r}): every image gets probability 1.0; type at least two, one per line",
                OneLabelWarning,
            )
        self._show()

    def _probabilities(self, name: str | None) -> pd.DataFrame:
        if self.zeroshot is None:
            raise ValueError("No labels yet: type at least one label, one per line")
        name = self.image.value if name is None else name
        image = self._current(name)
        cached = self._features.get(name)
        if cached is None or cached[0] is not image:  # one forward pass per photo; new labels cost the encoding only
            self._features[name] = cached = (image, self.classifier.features(image))
        probs = self.zeroshot.logits_from_features(cached[1]).softmax(-1)[0].tolist()
        table = pd.DataFrame({"label": self.zeroshot.labels, "probability": probs})
        return table.sort_values("probability", ascending=False, ignore_index=True)

    def _show(self) -> None:
        thumbnail = self._current(self.image.value).copy()
        thumbnail.thumbnail((224, 224))
        _show_png(self.preview, thumbnail)
        table = self._probabilities(None)
        shown = table.assign(probability=[probability_text(p).removeprefix("p ") for p in table["probability"]])
        self.table.value = _table_html(shown)  # "> 0.99", not a "1" that reads as a certainty
        self.bars.children = [
            widgets.FloatProgress(value=p, min=0.0, max=1.0, description=_short(label), tooltip=label)
            for label, p in zip(table["label"], table["probability"])
        ]

    def static(self, image_name: str | None = None) -> pd.DataFrame:
        """Label probabilities for one image (default the selected one), most likely first."""
        return self._probabilities(image_name)


def _short(label: str, width: int = 24) -> str:
    """A label cut to ``width`` characters for a bar's description, keeping its start and end (two long labels that
    share a beginning, "a photo of a red car" and "a photo of a red bus", stay apart)."""
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return label[:head] + "…" + label[-(width - 1 - head) :]


# ---- concepts --------------------------------------------------------------------------------------------------------
class ConceptExplorer(_App):
    """Browse what a class's row encodes, or (with a second class) what separates the two.

    Args:
        classifier, mapper: the model and a mapper fitted on it, or a :class:`~nlexnb.ConceptSpace` alone.
        bank: concepts to rank (anything :func:`nlexnb.load_concepts` takes); default the default bank.

    Attributes:
        class_a, class_b, k: the controls (``class_b`` blank = the concepts of ``class_a`` alone).
        echoes: also list what a row holds because of its words or resemblances: echoes of the words that qualify
            a class name ("pyramid" for Egyptian cat), other animals ("reindeer" for Siberian husky) and things its
            photos are not expected to show ("walnut" for koala; see :func:`nlexnb.discover.contrast`), off by
            default.
        repeats: list every concept, also those that say a word again ("thick tail", "long fine tail", "golden
            coat", "golden tail", ...) instead of the best placed that says each word, off by default.
        table: the ranked concepts (HTML); plot: their bar chart (PNG Image).
        message: the last error or warnings, if any.
    """

    def __init__(self, classifier: Classifier | ConceptSpace, mapper: Mapper | None = None, bank=None) -> None:
        self.space = concept_space(classifier, mapper, bank)
        self.classifier, self.mapper, self.bank = self.space.classifier, self.space.mapper, self.space.bank
        classifier = self.classifier
        self.class_a = _class_box(classifier, "class", "a class name")
        self.class_a.value = classifier.class_names[0]
        self.class_b = _class_box(classifier, "versus", "optional second class")
        self.k = widgets.IntSlider(value=10, min=1, max=30, description="concepts")
        self.echoes = widgets.Checkbox(value=False, description="echoes and look-alikes", indent=False)
        self.repeats = widgets.Checkbox(value=False, description="repeated words", indent=False)
        self.message = widgets.HTML()
        self.table = widgets.HTML()
        self.plot = _picture("640px")
        show = self._guard(self._show)
        for control in (self.class_a, self.class_b, self.k, self.echoes, self.repeats):
            control.observe(show, "value")
        controls = widgets.HBox([self.class_a, self.class_b, self.k, self.echoes, self.repeats])
        self.widget = widgets.VBox([controls, self.message, widgets.HBox([self.plot, self.table])])
        show()

    def _show(self) -> None:
        self.table.value = ""
        _show_png(self.plot)
        table = self.static()
        note = table.weak_note()  # which rows are no stronger than chance, under the table as in a notebook
        self.table.value = _table_html(table.displayed()) + (
            "" if note is None else f"<p><i>{html.escape(note)}</i></p>"
        )
        _show_png(self.plot, table.plot())

    def static(
        self,
        c1: int | str | None = None,
        c2: int | str | None = None,
        k: int | None = None,
        echoes: bool | None = None,
        repeats: bool | None = None,
    ) -> discover.ConceptTable:
        """The concepts of ``c1``, or of ``c1`` against ``c2``; None takes the widget's current value.

        Returns:
            :func:`nlexnb.discover.class_concepts` or :func:`nlexnb.discover.contrast`'s :class:`ConceptTable`.
        """
        a, b = (self.class_a.value if c1 is None else c1), (self.class_b.value if c2 is None else c2)
        a, b = (_class_or_none(self.classifier, c) if isinstance(c, str) else c for c in (a, b))  # "967" as the box
        k = self.k.value if k is None else k
        echoes = self.echoes.value if echoes is None else echoes
        repeats = yes_or_no(self.repeats.value if repeats is None else repeats, "repeats")
        per_word = None if repeats else 1
        if a is None:
            raise ValueError("Choose a class: type a class name, a synonym or an index")
        if b is None:
            return discover.class_concepts(self.space, a, k=k, echoes=echoes, per_word=per_word)
        return discover.contrast(self.space, a, b, k=k, echoes=echoes, per_word=per_word)


# ---- concept bottleneck ----------------------------------------------------------------------------------------------
class BottleneckApp(_ImagePicker):
    """Explain a photo through a concept bottleneck, and switch concepts off to see its decision follow.

    Args:
        cbm: a :class:`~nlexnb.bottleneck.ConceptBottleneck`.
        images: name -> image; default :func:`nlexnb.sample_images`. Uploads are added to it.

    Attributes:
        image, upload, target: the photo and the class explained (``target`` blank = the bottleneck's top class).
        off: the explained class's recipe concepts that contribute most to it in this photo (the
            :data:`SWITCHABLE` largest); those selected are switched off (activation 0).
        sentence: the explanation's sentence (HTML); plot: its figure (PNG Image); outcome: what switching the
            selected concepts off does (HTML, with the classes before and after).
        message: the last error or warnings, if any.
        explanation, intervention: the current results (``intervention`` None while nothing is switched off).
    """

    SWITCHABLE = 12

    def __init__(self, cbm: ConceptBottleneck, images: dict[str, Image.Image] | None = None) -> None:
        if not isinstance(cbm, ConceptBottleneck):
            raise TypeError(
                f"BottleneckApp needs a ConceptBottleneck (nlexnb.bottleneck.concept_bottleneck(...)), "
                f"got {type(cbm).__name__}"
            )
        self.cbm = cbm
        self._init_images(images)
        self.target = _class_box(cbm.space.classifier, "class", "bottleneck's top class")
        self.off = widgets.SelectMultiple(options=[], rows=8, description="switch off")
        self.message = widgets.HTML()
        self.sentence = widgets.HTML()
        self.plot = _picture("880px")
        self.outcome = widgets.HTML()
        self.explanation: BottleneckExplanation | None = None
        self.intervention: Intervention | None = None
        self._refresh = self._explain
        explain, intervene = self._guard(self._explain), self._guard(self._intervene)
        for control in (self.image, self.target):
            control.observe(explain, "value")
        self.off.observe(intervene, "value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.image, self.upload, self.target]),
                self.message,
                self.sentence,
                self.plot,
                widgets.HBox([self.off, self.outcome]),
            ]
        )
        explain()

    def _explain(self) -> None:
        self.explanation = None  # nothing of the last photo or class stays on screen, nor to be switched off
        self.sentence.value = ""
        _show_png(self.plot)
        self.off.value = ()
        self.off.options = []
        self.intervention, self.outcome.value = None, ""
        target = _class_or_none(self.cbm.space.classifier, self.target.value)
        self.explanation = self.cbm.explain(self._current(None), target=target)
        self.sentence.value = f"<b>{html.escape(self.explanation.sentence)}</b>"
        figure = self.explanation.plot(figsize=(11, 3.6))
        _show_png(self.plot, figure)
        carried = self.explanation.table["concept"]  # largest contribution first
        self.off.value = ()  # before the options change, so that no old choice is applied to the new photo
        self.off.options = list(carried[: self.SWITCHABLE])
        self._intervene()

    def _intervene(self) -> None:
        self.intervention = None
        self.outcome.value = ""
        if self.explanation is None:  # no explanation (a class that is no class): nothing to switch off
            return
        if not self.off.value:
            self.outcome.value = "<i>Select concepts to switch them off.</i>"
            return
        self.intervention = self.cbm.intervene(self._current(None), {c: 0.0 for c in self.off.value})
        self.outcome.value = f"<b>{html.escape(self.intervention.sentence)}</b>" + _table_html(
            _intervention_rows(self.intervention)
        )

    def static(self, image_name: str | None = None, off: Sequence[str] = ()):
        """The explanation figure for the photo, or, with concepts to switch ``off``, the intervention's figure
        (the classes before and after). The class is the widget's (``target``).

        Returns:
            A matplotlib Figure.
        """
        if isinstance(off, str):
            raise TypeError(f"off must be a list of concepts, got the single string {off!r}; wrap it in a list")
        image = self._current(image_name)
        if off:
            return self.cbm.intervene(image, {c: 0.0 for c in off}).plot()
        target = _class_or_none(self.cbm.space.classifier, self.target.value)
        return self.cbm.explain(image, target=target).plot()


def _intervention_rows(intervention: Intervention, top: int = 5) -> pd.DataFrame:
    """The ``top`` most probable classes after an intervention, and the top-1 classes before and after where they are
    not among them: the class whose concepts were switched off fell out of the top, and the table must still show it."""
    table = intervention.table
    keep = table.index[:top].union(table.index[table["class_name"].isin([intervention.before, intervention.after])])
    return table.loc[keep]
