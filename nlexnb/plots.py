"""Every figure nlexnb draws (matplotlib + seaborn), under one policy.

Each function builds a ``matplotlib.figure.Figure`` with the object API, never through pyplot: nothing is registered
in pyplot's global list, so nothing accumulates in loops or widgets, nothing shows twice, and headless runs need no
backend. A notebook shows a returned figure as a cell's value (or with ``display(fig)``); functions that draw one
panel take ``ax=`` to draw into a figure of yours instead.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from ._checks import frame_with_columns, number, positive_int, yes_or_no
from .labels import counted

__all__ = [
    "heatmap_overlay",
    "heatmap_row",
    "overlay_image",
    "shared_range",
    "explanation_figure",
    "faithfulness_figure",
    "plausibility_figure",
    "concept_table_figure",
    "collection_concepts_figure",
    "error_concepts_figure",
    "context_reliance_figure",
    "confusion_figure",
    "zero_shot_comparison_figure",
    "heldout_figure",
    "deletion_insertion_figure",
    "recipe_figure",
    "bottleneck_explanation_figure",
    "intervention_figure",
    "tradeoff_figure",
]


def _figure(figsize: tuple[float, float], layout: str | None = None):
    """A new Figure outside pyplot (see the module's policy), of a size checked first: ``figsize=10`` failed in
    matplotlib's words, and ``(0, 4)`` drew a figure no one can see."""
    from matplotlib.figure import Figure

    numbers = (int, float, np.integer, np.floating)
    sized = isinstance(figsize, (tuple, list)) and len(figsize) == 2
    sized = sized and all(isinstance(v, numbers) and not isinstance(v, (bool, np.bool_)) for v in figsize)
    if not sized or not all(0 < float(v) < float("inf") for v in figsize):
        raise ValueError(
            f"figsize must be (width, height) in inches, two positive numbers such as (11, 4); got {figsize!r}"
        )
    return Figure(figsize=tuple(float(v) for v in figsize), layout=layout)


def _axes_or_new(ax, figsize: tuple[float, float], layout: str | None = None):
    """(figure, axes): ``ax``'s own when one is given (checked to be matplotlib Axes), else a new figure's."""
    from matplotlib.axes import Axes

    if ax is None:
        fig = _figure(figsize, layout=layout)
        return fig, fig.subplots()
    if not isinstance(ax, Axes):
        raise TypeError(
            f"ax must be matplotlib Axes to draw into (e.g. fig.add_subplot()), or None; got {type(ax).__name__}"
        )
    return ax.figure, ax


def _label_bars(ax, shares, fontsize: int = 9, color: str | None = None, fmt: str | None = None) -> None:
    """Write each horizontal bar's share (in the sentence's words, see :func:`_share_label`, or as ``fmt`` says; "–"
    for a missing value) just past its end: to the right of a bar that grows right, to the left of one that grows
    left (not over the bar and the names beside it). A label that would run out of the axes on the left (over the
    tick labels, as beside a near-zero bar) is written right of the bar's base instead, inside the axes."""
    ax.get_xlim()  # the limits autoscaled now (margins included), so the check below sees the drawn axes
    for patch, share in zip(ax.patches, shares):
        missing = share is None or (isinstance(share, (float, np.floating)) and np.isnan(share))
        text = "\u2013" if missing else _share_label(share) if fmt is None else fmt.format(share)
        end, left = patch.get_x() + patch.get_width(), patch.get_width() < 0
        middle = patch.get_y() + patch.get_height() / 2
        label = ax.annotate(
            text,
            (end, middle),
            xytext=(-3 if left else 3, 0),
            textcoords="offset points",
            ha="right" if left else "left",
            va="center",
            fontsize=fontsize,
            color=color,
        )
        if left and label.get_window_extent().x0 < ax.get_window_extent().x0:
            label.xy, label.xyann = (patch.get_x(), middle), (3, 0)  # right of the base: that side of the row is free
            label.set_ha("left")


def _normalise(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """``values`` scaled to [0, 1]: from their own range (as :func:`shared_range` gives it: a flat map is all 0), or
    from ``low`` and ``high`` (clipped) when given, so that maps drawn on one scale compare."""
    values = np.asarray(values, dtype=np.float64)
    if low is None or high is None:
        low, high = _drawn(float(np.nanmin(values)), float(np.nanmax(values)))
    return ((values - low) / (high - low)).clip(0, 1)


def _value_range(vmin, vmax) -> tuple[float | None, float | None]:
    """(vmin, vmax) checked: both None (each map scaled to its own range) or two finite numbers, vmin < vmax."""
    if vmin is None and vmax is None:
        return None, None
    if vmin is None or vmax is None:
        raise ValueError("give vmin and vmax together (the range of the colour scale, in the map's units), or neither")
    low, high = number(vmin, "vmin", what="a map value"), number(vmax, "vmax", what="a map value")
    if not low < high:
        raise ValueError(f"vmin must be below vmax, got vmin {low:g} and vmax {high:g}")
    return low, high


def shared_range(maps) -> tuple[float, float]:
    """The (vmin, vmax) that draws several heat maps on one colour scale, so that equal colours mean equal values:
    their lowest to their highest value. A flat range (or one within a billionth of the values' size, which
    matplotlib would widen by 10% each way) is widened above it, so a flat map takes the bottom colour, as
    :func:`overlay_image` draws it. ``maps``: :class:`~nlexnb.HeatMap` objects or 2-D arrays, in one unit; pass the
    result to :func:`heatmap_overlay` or :func:`overlay_image`."""
    from .explanation import HeatMap

    wanted = "maps must be a list of heat maps or 2-D arrays"
    if isinstance(maps, HeatMap):  # one map's rows would each be taken as a map
        raise TypeError(f"{wanted}, got one HeatMap: wrap it in []")
    if hasattr(maps, "ndim"):
        kind = type(maps).__name__
        if maps.ndim == 2:
            raise TypeError(f"{wanted}, got one 2-D {kind} (one map): wrap it in []")
        raise TypeError(f"{wanted}, got a {maps.ndim}-D {kind}: pass a list of 2-D maps (list(maps) for a stack)")
    try:
        items = list(maps)
    except TypeError:
        raise TypeError(f"{wanted}, got {type(maps).__name__}") from None
    if not items:
        raise ValueError("maps is empty: give the heat maps (or 2-D arrays) to draw on one scale")
    grids = [_a_map(m.values if isinstance(m, HeatMap) else m, f"maps[{i}]") for i, m in enumerate(items)]
    return _drawn(min(float(g.min()) for g in grids), max(float(g.max()) for g in grids))


def _drawn(low: float, high: float) -> tuple[float, float]:
    """(low, high) as a colour range matplotlib draws as it is: a range within a billionth of the values' size would
    be widened (1.0 to 1.0000000000000002 became 0.9 to 1.1, while the scale said otherwise), so it is made flat and
    widened above its value, by one unit or, for huge values, enough to stay a range."""
    if high - low > 1e-9 * max(abs(low), abs(high)):
        return low, high
    return low, low + max(1.0, 2e-9 * abs(low))


def _an_image(image) -> Image.Image:
    """``image`` as an RGB PIL image through the package's one image path (:func:`nlexnb.images.to_pil`: a PIL image,
    an array, a uint8 tensor or a file), or its error naming ``image``. A PIL image is drawn as it is (only made RGB):
    it is shown, not classified, so no size check applies."""
    from .images import to_pil

    return image.convert("RGB") if isinstance(image, Image.Image) else to_pil(image, "image")


def _a_map(values, name: str = "values") -> np.ndarray:
    """``values`` as a 2-D float array [h, w], or an error naming ``values``: a heat map has one value per location."""
    wanted = "a 2-D array of numbers [h, w] (a heat map)"
    try:
        grid = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be {wanted}, got {type(values).__name__}") from None
    if grid.ndim != 2 or 0 in grid.shape:
        raise ValueError(f"{name} must be {wanted}, got shape {grid.shape}")
    if not np.isfinite(grid).all():  # one inf scaled the rest of the map to nothing: no heat drawn anywhere
        bad = int((~np.isfinite(grid)).sum())
        raise ValueError(f"{name} must be finite: {bad} of the {grid.size} cells are NaN or infinite")
    return grid


def overlay_image(
    image, values, alpha: float = 0.5, cmap: str = "jet", vmin: float | None = None, vmax: float | None = None
) -> Image.Image:
    """Blend a heat map over an image, as a PIL image of the image's size (no figure): the map min-max scaled, or
    scaled from ``vmin`` to ``vmax`` (in the map's units, clipped) to draw several maps on one scale.

    ``image``: anything :func:`nlexnb.images.to_pil` takes (a PIL image, an array, a uint8 tensor, a file). A map on
    a coarser grid than the image (the feature map's 7x7) is upsampled to it, bilinearly, as
    :meth:`nlexnb.Explainer.heatmap` upsamples its maps; the image is never shrunk to the map.
    """
    from matplotlib import colormaps

    alpha = number(alpha, "alpha", 0, 1, what="an opacity", note="0 shows the image alone, 1 the map alone")
    low, high = _value_range(vmin, vmax)
    picture = _an_image(image)
    grid = _a_map(values)
    if grid.shape != (picture.height, picture.width):
        resized = Image.fromarray(grid.astype(np.float32)).resize(picture.size, Image.Resampling.BILINEAR)
        grid = np.asarray(resized, dtype=np.float64)
    heat = colormaps[cmap](_normalise(grid, low, high))[..., :3]
    base = np.asarray(picture, dtype=np.float64) / 255.0
    blended = ((1 - alpha) * base + alpha * heat).clip(0, 1)
    return Image.fromarray((blended * 255).round().astype(np.uint8))


def heatmap_overlay(
    image,
    values,
    title: str | None = None,
    ax=None,
    alpha=0.5,
    cmap="jet",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = False,
):
    """Show a heat map over the image it covers (stretched to the whole image); returns the Figure (of ``ax`` when
    given). ``image``: anything :func:`nlexnb.images.to_pil` takes.

    The map is scaled to its own range unless ``vmin`` and ``vmax`` (in the map's units) give one for several maps;
    ``colorbar=True`` draws the scale under the image, so a map's hottest spot can be read as a value: a concept
    the photo does not show is drawn just as hot as one it shows when each has its own range.
    """
    image, values = _an_image(image), _a_map(values)
    low, high = _value_range(vmin, vmax)
    colorbar = yes_or_no(colorbar, "colorbar")
    fig, ax = _axes_or_new(ax, (4, 4))
    ax.imshow(image)
    low, high = shared_range([values]) if low is None else (low, high)
    shown = ax.imshow(values, cmap=cmap, alpha=alpha, extent=(0, image.width, image.height, 0), vmin=low, vmax=high)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    if colorbar:
        _colour_scale(fig, shown, ax.inset_axes((0.05, -0.09, 0.9, 0.045)), "horizontal")
    return fig


def _colour_scale(fig, shown, cax, orientation: str, label: str | None = None) -> None:
    """A colour bar for ``shown`` in ``cax`` (an inset of a panel, so the panels stay the figure's axes), drawn
    opaque: the overlay's alpha would wash it out."""
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(shown, cax=cax, orientation=orientation)
    bar.solids.set_alpha(1)
    bar.ax.tick_params(labelsize=7, length=2, pad=1)
    bar.locator = MaxNLocator(4)
    bar.update_ticks()
    if label:
        bar.set_label(label, fontsize=8)


HEATMAP_SCALES = ("each", "shared")
"""How :func:`heatmap_row` scales its maps: each to its own range, or all on one range."""


def heatmap_row(
    heatmaps,
    titles=None,
    title: str | None = None,
    width: float = 3.3,
    height: float = 3.6,
    scale: str = "each",
):
    """Heat maps side by side, one panel each (``titles`` default to each map's label), under one ``title``;
    returns the Figure. For a photo's named concepts, the same concept across models, or any texts you typed. One
    :class:`~nlexnb.explanation.HeatMap` alone is a row of one.

    ``scale="each"`` (the default) scales every map to its own range, with its own colour bar under it: maps of
    different models or images, or a class's map beside concepts (a class row is longer than a concept's
    mapped vector), keep their detail. ``scale="shared"`` draws every map on one range with one colour bar, in the
    logits' units: for concepts on one image, so that one the photo does not show reads cold instead of having a
    hottest spot of its own.
    """
    from .explanation import HeatMap

    if isinstance(heatmaps, HeatMap):
        heatmaps = [heatmaps]
    if isinstance(heatmaps, (str, bytes)) or not hasattr(heatmaps, "__iter__"):
        raise TypeError(f"heatmaps must be a list of HeatMaps (explainer.heatmap(...)), got {type(heatmaps).__name__}")
    heatmaps = list(heatmaps)
    if not heatmaps:
        raise ValueError("heatmap_row needs at least one heat map")
    odd = [f"{i}: {type(h).__name__}" for i, h in enumerate(heatmaps) if not isinstance(h, HeatMap)]
    if odd:
        raise TypeError(f"heatmaps must be HeatMaps (explainer.heatmap(...)); not at positions {odd[:5]}")
    if scale not in HEATMAP_SCALES:
        raise ValueError(
            f"scale must be 'each' (every map on its own range) or 'shared' (all on one range), got {scale!r}"
        )
    titles = [h.label for h in heatmaps] if titles is None else list(titles)
    if len(titles) != len(heatmaps):
        raise ValueError(f"{len(titles)} titles for {len(heatmaps)} heat maps: give one title per map, or none")
    width, height = (
        number(v, name, 0, open_low=True, what="inches") for v, name in ((width, "width"), (height, "height"))
    )
    values = [_a_map(heat.values) for heat in heatmaps]
    low, high = shared_range(values) if scale == "shared" else (None, None)
    fig = _figure((width * len(heatmaps) + (0.6 if scale == "shared" else 0), height))
    axes = np.atleast_1d(fig.subplots(1, len(heatmaps)))
    for heat, grid, text, ax in zip(heatmaps, values, titles, axes):
        heatmap_overlay(
            heat.image, grid, title=_wrap(str(text), 36), ax=ax, vmin=low, vmax=high, colorbar=scale == "each"
        )
        ax.title.set_fontsize(9)
    if scale == "shared":
        _colour_scale(fig, axes[-1].images[-1], axes[-1].inset_axes((1.04, 0.0, 0.05, 1.0)), "vertical", "logit units")
    if title:
        fig.suptitle(_wrap(title, 110), fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97) if scale == "each" else None)  # room for the scales under the panels
    return fig


def explanation_figure(explanation, figsize: tuple[float, float] = (11, 4), also=None):
    """The image with the top concept's heat map, beside a bar chart of each concept's contribution to the logit;
    with ``also`` (a :class:`~nlexnb.explain.HeatMap`, e.g. of a text you typed), that map as a third panel."""
    import seaborn as sns

    from .explanation import Explanation

    if not isinstance(explanation, Explanation):
        raise TypeError(
            f"explanation must be an Explanation (explainer.explain(image)), got {type(explanation).__name__}"
        )
    fig, right = _heatmap_beside_bars(explanation, figsize, also)
    table = explanation.concepts
    against = not explanation.in_shares  # the sentence's rule: no share of what the model refused, or of near 0
    if len(table):
        ticks = table.assign(concept=_shortened_apart(list(table["concept"])))  # a long concept of one's own bank
        sns.barplot(data=ticks, x="contribution", y="concept", ax=right, color=sns.color_palette()[0], orient="h")
        right.margins(x=0.1)  # room for the labels past the longest bar
        if against:
            _label_bars(right, table["contribution"], fontsize=9, fmt="{:+.2f}")
        else:  # the sentence's words: "under 1%", "none", not "0%" and "-0%"
            _label_bars(right, table["share"], fontsize=9)
    else:
        _empty_panel(right, "No concept is named: the sentence above says why.")
    from .targets import Direction

    if isinstance(explanation.explains, Direction):  # a direction's score, not a logit
        what = f"score of \u201c{explanation.explains.label}\u201d"
    else:
        what = "logit" if explanation.foil is None else "logit difference"
    whole = f"the {what} is {explanation.explained:.2f}"  # the axis is in logits; the bar labels may be shares
    unit = f"logits; {whole}" if against else f"logits; beside each bar its share of it, {whole}"
    panel = figsize[0] * 1.6 / (2.6 if also is None else 3.6)  # the bars' share of the width (see _heatmap_beside_bars)
    right.set_xlabel(_wrap_to(f"contribution to the {what} ({unit})", 0.7 * panel))  # 0.7: the rest holds the names
    return _finish_explanation(fig, right, explanation)


def _share_label(share: float) -> str:
    """A bar's share as the sentence words it, short: "12%", "-3%", "under 1%", "-<1%" (a small share against it),
    "none"; every share bar of the package is labelled by this (no "0%" beside "under 1%")."""
    from .explanation import share_text

    words = share_text(float(share))
    if share < 0 and words.startswith("under 1%"):  # "under 1%" alone read as a small share for it
        return "-<1%"
    return words.replace(" (against it)", "")


def _heatmap_beside_bars(explanation, figsize: tuple[float, float], also=None):
    """A figure with the image and the top heat map on the left (and ``also``, a heat map, on the right); returns it
    and the empty axes for the bars."""
    from .explanation import HeatMap

    if also is not None and not isinstance(also, HeatMap):
        typed = f": for a text, also=explainer.heatmap(image, {also!r})" if isinstance(also, str) else ""
        raise TypeError(f"also must be a HeatMap or None, got {type(also).__name__}{typed}")
    fig = _figure(figsize, layout="constrained")  # spaces each gap by its own labels (tight_layout spaces all alike)
    if also is None:
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.6]})
    else:
        left, right, third = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.6, 1]})
        where = _title_lines(f"where: \u201c{also.label}\u201d")
        heatmap_overlay(also.image, also.values, title=where, ax=third, colorbar=True)
    if explanation.heatmaps:
        top = explanation.heatmaps[0]
        where = _title_lines(f"where: \u201c{top.label}\u201d")
        heatmap_overlay(top.image, top.values, title=where, ax=left, colorbar=True)  # its own range: say which
    else:
        left.set_axis_off()
    return fig, right


def _finish_explanation(fig, right, explanation):
    right.set_ylabel("")
    fig.suptitle(_wrap(explanation.sentence, 110), fontsize=11)
    return fig


def faithfulness_figure(
    frame, metric: str = "drop_pct_margin", figsize: tuple[float, float] = (7, 4), xlabel: str | None = None
):
    """Bar chart of one metric of :func:`nlexnb.metrics.faithfulness` per method (mean and spread over images), the
    axis labelled ``xlabel`` (default the metric's name)."""
    import seaborn as sns

    frame_with_columns(frame, ("metric", "method", "value"), "frame", "the frame of nlexnb.metrics.faithfulness")
    rows = frame[frame["metric"] == metric]
    if rows.empty:
        raise ValueError(f"No rows with metric {metric!r}; available: {sorted(frame['metric'].unique())}")
    fig = _figure(figsize)
    ax = fig.subplots()
    sns.barplot(data=rows, x="value", y="method", ax=ax, errorbar="sd", orient="h")
    sns.stripplot(data=rows, x="value", y="method", ax=ax, color="black", size=3, orient="h")
    ax.set_xlabel(metric if xlabel is None else xlabel)
    ax.set_ylabel("")
    fig.tight_layout()
    return fig


def plausibility_figure(summary, figsize: tuple[float, float] = (12, 3.8)):
    """Per method (one row each), the share of named concepts read as visible by a person (where read; the share of
    pairs read is written beside each bar, since a baseline's few read pairs say little), the share the judge finds
    in the photo's evidence, and the leak rate; returns the Figure. A summary without the reading (a report of your
    own) draws the last two."""
    import pandas as pd
    import seaborn as sns

    wanted = ("method", "plausible share", "leak rate")
    frame_with_columns(summary, wanted, "summary", "the summary of nlexnb.plausibility (report.summary)")
    read = {"read share", "read coverage"} <= set(summary.columns)
    panels = [
        *([("read share", "read as visible by a person")] if read else []),
        ("plausible share", "judged visible (evidence lists)"),
        ("leak rate", "leak rate: echoes of the class's names"),
    ]
    fig = _figure(figsize)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (column, label) in zip(axes, panels):
        sns.barplot(data=summary, x=column, y="method", ax=ax, orient="h", color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_ylabel("")
        ax.set_xlabel(label)
        values = summary[column].tolist()
        if column == "read share":
            shown = [
                "\u2013 (none read)" if not c else f"{v:.2f} ({'<1%' if c < 0.005 else f'{c:.0%}'} read)"
                for v, c in zip(values, summary["read coverage"].fillna(0))
            ]
        else:
            shown = ["\u2013" if pd.isna(v) else f"{v:.2f}" for v in values]
        for row, (value, text) in enumerate(zip(values, shown)):  # by row: seaborn draws no bar for a missing value
            at = 0.0 if pd.isna(value) else float(value)
            ax.annotate(text, (at, row), xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    photos = f" ({int(summary['photos'].max())} evidence photos)" if "photos" in summary.columns else ""
    fig.suptitle(f"Would a person see the named concepts?{photos}", fontsize=11)
    fig.tight_layout()
    return fig


def _first_of(title: str, shown: int, total: int, what: str = "") -> str:
    """``title`` saying only the first ``shown`` of ``total`` are drawn: inside its closing parenthesis where it ends
    in one ("(17 labels, 290 images; the first 9 of 17 shown)"), not a second parenthesis after it."""
    said = f"the first {shown} of {total}{' ' + what if what else ''}"
    if not title.endswith(")"):
        return f"{title} ({said})"
    if title[title.rfind("(") + 1 : title.rfind("(") + 2].isdigit():  # a count, "(17 labels, ...)": said within it
        return f"{title[:-1]}; {said} shown)"
    return f"{title}; {said} shown"  # "(why ... rather than 'orange')" is no place for it


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _title_lines(text: str, width: int = 36, lines: int = 2) -> str:
    """``text`` wrapped to ``width`` letters, at most ``lines`` lines (the last cut with "…"): the title of a panel
    the size of a photo, which a long concept of one's own bank wrapped to four lines and shrank."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width, max_lines=lines, placeholder="\u2026"))


def _wrap_to(text: str, inches: float, fontsize: float = 10) -> str:
    """``text`` wrapped to lines about ``inches`` wide at ``fontsize`` points (an average letter is taken as 0.6 of
    the size): a label or title wider than its panel or figure was cut at the edge."""
    return _wrap(text, max(16, int(inches * 72 / (0.6 * fontsize))))


def concept_table_figure(result, max_rows: int | None = None):
    """A discovery result (:class:`nlexnb.discover.ConceptTable`) drawn: ranked tables as horizontal bar charts (a
    contrast coloured by the class each concept favours), sub-concepts as a cluster x concept heat map, and the views
    of an explained collection by :func:`collection_concepts_figure`, :func:`error_concepts_figure` and
    :func:`context_reliance_figure`. ``max_rows``: the most bars, clusters or classes shown (None: each kind's
    default)."""
    import seaborn as sns

    if max_rows is not None:  # 0 was read as the default, -2 dropped the last two bars
        max_rows = positive_int(max_rows, "max_rows", "bars (or classes) to show; None for the default")
    views = {
        "collection_concepts": lambda n: collection_concepts_figure(result, max_groups=n or 12),
        "error_concepts": lambda n: error_concepts_figure(result, max_rows=n or 20),
        "context_reliance": lambda n: context_reliance_figure(result, max_rows=n or 12),
    }
    if result.kind in views:
        return views[result.kind](max_rows)
    if result.kind == "subconcepts":
        return _subconcepts_figure(result, max_rows)
    max_rows = 20 if max_rows is None else max_rows
    contrast = result.kind == "contrast"
    if contrast:  # up to max_rows a side: the head of the table could hold one side only
        shown = result.table.groupby("favours", sort=False).head(max_rows)
    else:
        shown = result.table.head(max_rows)
    title = result.title
    if len(shown) < len(result.table):  # a table of 26 drawn as 20 bars must say so
        title = _first_of(title, len(shown), len(result.table))
    sides = _contrast_sides(result) if contrast else []
    if len(sides) == 2:  # one side empty: its class is named on the axis, and the title says it has no concept
        empty = [name for name in sides if name not in set(result.table["favours"])]
        if len(empty) == 1:
            title = f"{title}: no concept leans towards \u201c{empty[0]}\u201d"
    label = "class_name" if result.kind == "nearest_classes" else "concept"
    shown = shown.assign(**{label: _shortened_apart(list(shown[label]))})  # a long concept of one's own bank
    names = max((len(t) for t in shown[label]), default=0)
    title = _wrap_to(title, 6.6 - 0.08 * names, 12)  # over the bars, beside the names (a 32-letter name: 2.6 in)
    if shown.empty:  # a labelled empty panel, as the collection views draw one, not a blank axis
        fig = _figure((7, 2), layout="constrained")
        ax = fig.subplots()
        ax.set_title(title)
        _empty_panel(ax, "no concept in this table: nothing to draw")
        return fig
    fig = _figure((7, 0.35 * len(shown) + 1.2 + 0.2 * title.count("\n")), layout="constrained")
    ax = fig.subplots()
    if contrast:  # one colour per class, whichever sides are drawn (a palette centred on 0 drew one side white)
        colours = dict(zip(sides, CONTRAST_COLOURS)) if len(sides) == 2 else dict(zip(sides, CONTRAST_COLOURS[:1]))
        order = [name for name in sides if name in set(shown["favours"])]
        sns.barplot(
            data=shown,
            x=result.value,
            y=label,
            hue="favours",
            hue_order=order,
            palette=colours,
            saturation=1,  # the colours as given, the same in every contrast
            dodge=False,
            legend=False,  # the axis names each side (a legend covered the bars of a one-sided contrast)
            ax=ax,
            orient="h",
        )
    else:
        sns.barplot(data=shown, x=result.value, y=label, ax=ax, orient="h", color="#4c72b0")
    ax.set_title(title)
    ax.set_ylabel("")
    ax.set_xlabel(_ranking_axis(result.kind, sides, result.value))
    if getattr(result, "chance", None) is not None:  # the table's own marks, for the rows drawn
        _mark_chance(ax, result.weak.loc[shown.index].tolist(), result.chance, both=contrast)
    return fig


def _mark_chance(ax, weak: list[bool], band, both: bool) -> None:
    """Draw the bars of the ``weak`` rows (:attr:`~nlexnb.discover.ConceptTable.weak`, inside ``band``: what the
    bank's spread alone reaches) pale, and the band's edge (both edges for a contrast, whose sides grow either way) as
    a dashed line, which the axis label names."""
    for patch in ax.patches:  # bar i sits at y = i (seaborn's categorical axis), whatever its hue
        row = int(round(patch.get_y() + patch.get_height() / 2))
        if 0 <= row < len(weak) and weak[row]:
            patch.set_alpha(0.35)
    for edge in (band.low, band.high) if both else (band.high,):
        ax.axvline(edge, color="0.4", linestyle="--", linewidth=1)
    ax.set_xlabel(f"{ax.get_xlabel()}\n(dashed: chance; pale bars: weak, within it)", fontsize=9)


CONTRAST_COLOURS = ("#4c72b0", "#dd8452")
"""A contrast's bars: the first class's (c1) colour, then the second's (seaborn's blue and orange)."""


def _contrast_sides(result) -> list[str]:
    """The two classes of a contrast, c1 first, as its ``favours`` column names them (the table's own record, or the
    order of its rows where it has none: a table built by hand, both sides present)."""
    if getattr(result, "sides", None) is not None:
        return list(result.sides)
    return list(dict.fromkeys(result.table["favours"]))


def _subconcepts_figure(result, max_rows: int | None):
    """:func:`nlexnb.discover.subconcepts` drawn: the cluster x concept heat map, the first ``max_rows`` clusters
    (None: all) with the concepts that name them, taller for long concept names (written under the columns)."""
    import seaborn as sns

    heat, title = result.profile, result.title
    if max_rows is not None and max_rows < len(heat):
        named = result.table["concepts"].head(max_rows)  # "a; b; c": the concepts each shown cluster is named by
        parts = {part for row in named for part in row.split("; ")}
        kept = [c for c in heat.columns if c in parts or ("; " in c and any(c in row for row in named))]
        heat = heat.iloc[:max_rows][kept]
        title = _first_of(title, max_rows, len(result.profile), "clusters")
    every = np.abs(result.profile.to_numpy(dtype=np.float64))
    extent = float(every.max()) if every.size and every.max() > 0 else 1.0  # every cluster's scale, drawn or not
    heat = heat.set_axis(_shortened_apart([str(c) for c in heat.columns]), axis=1)
    if heat.empty:  # no cluster is named by any concept the bank may name: a labelled panel, not seaborn's error
        fig = _figure((6, 2), layout="constrained")
        ax = fig.subplots()
        ax.set_title(_wrap_to(title, 5.5, 12))
        _empty_panel(ax, "no concept names these clusters: nothing to draw")
        return fig
    under = 0.08 * max(len(c) for c in heat.columns)  # the column names, written upwards under the map
    rows = 0.5 * heat.shape[0]
    width = max(4.5, 1.9 + 0.45 * heat.shape[1])
    title = _wrap_to(title, width - 0.5, 12)
    height = 1.0 + 0.25 * title.count("\n") + under + max(rows, 2.4)  # 2.4: the colour bar's label fits beside it
    fig = _figure((width, height), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(
        heat,
        ax=ax,
        cmap="RdBu_r",
        center=0,
        vmin=-extent,
        vmax=extent,
        annot=heat.shape[1] <= 15,
        fmt=".2f",
        cbar_kws={"label": "cosine above the all-image mean"},
    )
    ax.tick_params(axis="x", rotation=90)  # upwards, as the height allows for
    ax.tick_params(axis="y", rotation=0)  # "cluster 0" across, not upwards over its neighbour
    ax.set_title(title)
    return fig


def _ranking_axis(kind: str, sides: list[str], value: str) -> str:
    """What a ranking's bars measure, in words: "score" alone says nothing of which way a contrast points."""
    if kind == "contrast" and len(sides) == 2:
        return f"cosine with the difference of the two rows\n\u2190 {sides[1]}    {sides[0]} \u2192"
    return {
        "class_concepts": "cosine with the class row",
        "image_concepts": "mean contribution to the predicted logit (logits)",
        "nearest_classes": "cosine of the class row with the mapped text",
    }.get(kind, value.replace("_", " "))


def _short_name(name) -> str:
    """A class name's first synonym, shortened for a panel title or a tick label."""
    from .labels import primary_name

    return _shortened(primary_name(str(name)))


def _shortened(text: str) -> str:
    """``text`` cut to 32 characters for a panel title or a tick label."""
    return text if len(text) <= 32 else text[:31].rstrip() + "\u2026"


def _shortened_apart(texts: list[str]) -> list[str]:
    """Tick labels of distinct ``texts``, each shortened unless shortening makes two of them one (seaborn draws one
    bar per label: two classes under one label were drawn as one bar, at their mean)."""
    short = [_shortened(t) for t in texts]
    return short if len(set(short)) == len(set(texts)) else list(texts)


def _empty_panel(ax, message: str) -> None:
    ax.text(0.5, 0.5, _wrap(message, 40), ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])


def collection_concepts_figure(result, max_groups: int = 12, max_concepts: int = 6, columns: int = 3):
    """:func:`nlexnb.discover.collection_concepts` drawn: one panel per class (the largest first), a bar per concept
    for the share of the class's images whose explanation names it, labelled with the mean share of the logit it
    carries when named."""
    import seaborn as sns

    max_groups = positive_int(max_groups, "max_groups", "classes (panels) to show")
    max_concepts = positive_int(max_concepts, "max_concepts", "concepts per panel")
    columns = positive_int(columns, "columns", "panels per row")
    table = result.table
    by = table.columns[0]
    every = list(dict.fromkeys(table[by]))
    groups = every[:max_groups]
    if not groups:
        fig = _figure((6, 2))
        _empty_panel(fig.subplots(), "no concept is named")
        return fig
    columns = min(columns, len(groups))
    rows = -(-len(groups) // columns)
    height = 0.32 * max_concepts + 0.9
    of = {"predicted_name": "class", "label": "label"}.get(by, "group")
    width = 5.2 * columns - 0.3  # one panel (5.2 in) clipped a title and an axis label written for three
    said = f"share of the {of}'s images whose explanation names the concept"
    foil = re.search(r"each explains the gap to (.+?) \(why", result.title)  # the title collection_concepts wrote
    quantity = "the logit" if foil is None else f"the gap to {foil.group(1)}"
    said = _wrap_to(f"{said} (beside the bar: mean share of {quantity})", width, 12)
    title = result.title if len(groups) == len(every) else _first_of(result.title, len(groups), len(every))
    title = _wrap_to(title, width, 11)
    lines = said.count("\n") + title.count("\n")  # each line more than one, 0.2 in more
    fig = _figure((5.2 * columns, height * rows + 0.9 + 0.2 * lines), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, squeeze=False)).ravel()
    colour = sns.color_palette()[0]
    for ax, group in zip(axes, groups):
        part = table[table[by] == group].head(max_concepts)
        sns.barplot(data=part, x="frequency", y="concept", ax=ax, orient="h", color=colour)
        _label_bars(ax, part["mean_share"], fontsize=8, color="0.3")
        ax.set_title(f"{_short_name(group)} ({counted(int(part['group_size'].iloc[0]), 'image')})", fontsize=10)
        ax.set_xlim(0, 1.12)
        ax.set_ylabel("")
        ax.set_xlabel("")
        ax.tick_params(axis="y", labelsize=9)
    for ax in axes[len(groups) :]:
        ax.set_axis_off()
    fig.supxlabel(said, fontsize=12)
    fig.suptitle(title, fontsize=11)
    return fig


def error_concepts_figure(result, max_rows: int = 20):
    """:func:`nlexnb.discover.error_concepts` drawn: for each concept, how much more often it is named on wrong
    predictions than on right ones (bars to the right: errors; to the left: right predictions), with the counts."""
    import pandas as pd
    import seaborn as sns

    max_rows = positive_int(max_rows, "max_rows", "bars to show")
    table = result.table.copy()
    if "predicted_name" in table.columns:
        table["concept"] = [f"{_short_name(c)}: {t}" for c, t in zip(table["predicted_name"], table["concept"])]
    half = -(-max_rows // 2)  # errors first: 1 bar is the most telling error concept
    errors = table[table["side"] == "errors"].sort_values("difference", ascending=False, kind="stable").head(half)
    right = table[table["side"] == "right"].sort_values("difference", kind="stable").head(max_rows - half)
    shown = pd.concat([errors, right.iloc[::-1]], ignore_index=True)
    fig = _figure((8.5, 0.32 * max(len(shown), 3) + 1.6), layout="constrained")
    ax = fig.subplots()
    ax.set_title(_wrap(result.title, 90), fontsize=10)
    if shown.empty:
        _empty_panel(ax, "no concept to show (see the title)")
        return fig
    palette = {"errors": "#c44e52", "right": "#4c72b0"}
    sns.barplot(data=shown, x="difference", y="concept", hue="side", palette=palette, dodge=False, ax=ax, orient="h")
    for y, row in enumerate(shown.itertuples()):
        ax.annotate(
            f"{row.errors} wrong \u00b7 {row.right} right",
            (row.difference, y),
            xytext=(4 if row.difference >= 0 else -4, 0),
            textcoords="offset points",
            ha="left" if row.difference >= 0 else "right",
            va="center",
            fontsize=8,
            color="0.3",
        )
    low, high = min(float(shown["difference"].min()), 0.0), max(float(shown["difference"].max()), 0.0)
    room = 0.5 * (high - low)  # space for the counts beside the bars
    ax.set_xlim(low - (room if low < 0 else 0), high + (room if high > 0 else 0))
    ax.axvline(0, color="0.4", lw=1)
    ax.set_xlabel("share of the wrong predictions naming it \u2212 share of the right ones naming it")
    ax.set_ylabel("")
    if ax.get_legend() is not None:
        ax.get_legend().set_title("named more on")
    return fig


def context_reliance_figure(result, max_rows: int = 12):
    """:func:`nlexnb.discover.context_reliance` drawn in three panels: how many explanations rely on their
    surroundings how much (in bands, counted), the classes that rely most, and the surroundings concepts named most
    often."""
    import pandas as pd
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    max_rows = positive_int(max_rows, "max_rows", "classes and concepts to show")
    per_image, table = result.per_image, result.table
    by = table.columns[0] if len(table.columns) else "predicted_name"
    one, many = {"predicted_name": ("class", "classes"), "label": ("label", "labels")}.get(by, (by, f"{by} values"))
    fig = _figure((15, 0.3 * max_rows + 2.2), layout="constrained")
    left, middle, right = fig.subplots(1, 3, width_ratios=(1, 1.3, 1.1))
    values = per_image["reliance"].dropna()
    bands = ["none", "under 10%", "10-25%", "25-50%", "over 50%"]
    banded = pd.cut(values, [-np.inf, 0, 0.1, 0.25, 0.5, np.inf], labels=bands).value_counts().reindex(bands)
    left.bar(bands, banded.to_numpy(), color=sns.color_palette()[0])
    left.bar_label(left.containers[0], fontsize=9)
    left.set_ylim(0, max(1, int(banded.max())) * 1.12)
    left.set_xlabel("reliance: surroundings' share of the named contribution")
    left.set_ylabel("explanations")
    left.tick_params(axis="x", labelsize=9)
    left.set_title(f"per explanation ({len(values)})", fontsize=10)
    relying = table[table["mean_reliance"] > 0].head(max_rows)
    if relying.empty:
        _empty_panel(middle, "no class's explanations name a surroundings concept")
    else:
        shown = relying.assign(name=[f"{_short_name(g)} ({n})" for g, n in zip(relying[by], relying["images"])])
        sns.barplot(data=shown, x="mean_reliance", y="name", ax=middle, orient="h", color=sns.color_palette()[1])
        middle.set_xlim(0, min(1, max(0.1, float(shown["mean_reliance"].max()) * 1.15)))
        middle.set_ylabel("")
        middle.set_xlabel(f"mean reliance over the {one}'s images")
    middle.set_title(f"the {many} that rely most (images)", fontsize=10)
    counts = pd.Series([c for row in per_image["surroundings"] for c in dict.fromkeys(row)]).value_counts()
    if counts.empty:
        _empty_panel(right, "no explanation names a surroundings concept")
    else:
        top = counts.head(max_rows).rename_axis("concept").reset_index(name="explanations")
        sns.barplot(data=top, x="explanations", y="concept", ax=right, orient="h", color=sns.color_palette()[2])
        for y, (concept, n) in enumerate(zip(top["concept"], top["explanations"])):
            classes = per_image.loc[per_image["surroundings"].map(lambda row, c=concept: c in row), by]
            named_for = ", ".join(_short_name(c) for c in classes.value_counts().index[:2])
            more = " ..." if classes.nunique() > 2 else ""
            text = f"for {named_for}{more}"
            right.annotate(
                text, (n, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8, color="0.3"
            )
        right.set_xlim(0, float(top["explanations"].max()) * 1.9)
        right.set_ylabel("")
        right.set_xlabel("explanations naming it")
        right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_title(f"surroundings concepts named, and for which {many}", fontsize=10)
    fig.suptitle(_wrap(result.title, 150), fontsize=11)
    return fig


def confusion_figure(confusion, title: str, normalize: bool = True, max_labels: int = 40):
    """A confusion matrix (DataFrame, rows true, columns predicted) as a heat map, rows normalised to fractions by
    default; at most ``max_labels`` labels (a positive whole number), the same ones as rows and as columns, so the
    diagonal pairs each label with itself. Fractions are of all of a row's images, shown or not: a row's cells add up
    to less than 1 where some of its images went to a label cut from the figure (the title says how many are)."""
    import pandas as pd
    import seaborn as sns

    if not isinstance(confusion, pd.DataFrame):
        raise TypeError(f"confusion must be a DataFrame (true labels x predicted), got {type(confusion).__name__}")
    if confusion.empty:
        raise ValueError(
            f"confusion is empty ({confusion.shape[0]} rows x {confusion.shape[1]} columns): there is nothing to "
            "draw; it needs at least one true and one predicted label (evaluate.zero_shot(...).confusion)"
        )
    max_labels = positive_int(max_labels, "max_labels", "labels to show")
    normalize = yes_or_no(normalize, "normalize")
    table = confusion.div(confusion.sum(axis=1).replace(0, 1), axis=0) if normalize else confusion
    labels = list(dict.fromkeys([*confusion.index, *confusion.columns]))
    kept = set(labels[:max_labels])
    table = table.loc[[r for r in table.index if r in kept], [c for c in table.columns if c in kept]]
    if table.empty:
        raise ValueError(
            f"confusion_figure: the first max_labels={max_labels} labels ({', '.join(map(repr, labels[:max_labels]))}"
            f") leave {table.shape[0]} true and {table.shape[1]} predicted labels to draw; raise max_labels (the "
            f"table has {len(labels)} labels in all)"
        )
    if len(labels) > max_labels:
        title = _first_of(title, max_labels, len(labels), "labels")
    whole = all(float(v).is_integer() for v in np.asarray(table, dtype=np.float64).ravel())
    fmt = ".2f" if normalize else ".0f" if whole else ".3g"  # counts as whole numbers, "d" refused float counts
    size = 1.2 + 0.45 * max(len(table.columns), 4)
    fig = _figure((size + 1.5, 0.45 * max(len(table), 4) + 1.5), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(table, ax=ax, annot=len(table.columns) <= 20, fmt=fmt, cmap="Blues", vmin=0, cbar=True)
    ax.set_title(title)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return fig


def zero_shot_comparison_figure(
    comparison,
    chance: float | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (12, 3),
):
    """The table of :func:`nlexnb.evaluate.compare_zero_shot` as a figure: each method's accuracy (bars), beside the
    first method's lead over each of the others with its paired bootstrap interval (error bars; above zero: ahead).

    Args:
        comparison: columns method, accuracy, and difference, low, high (empty for the first method).
        chance: accuracy of guessing (``1 / number of labels``), drawn as a dashed line.
        title: over the accuracy bars.

    Returns:
        The Figure.
    """
    import seaborn as sns

    from ._checks import number

    missing = {"method", "accuracy", "difference", "low", "high"} - set(comparison.columns)
    if missing:
        raise ValueError(f"Expected the table of evaluate.compare_zero_shot; it lacks {sorted(missing)}")
    if chance is not None:
        chance = number(chance, "chance", 0, 1, what="an accuracy", note="1 / the number of labels, e.g. 0.25")
    first, others = comparison["method"].iloc[0], comparison.iloc[1:]
    fig = _figure(figsize, layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    sns.barplot(data=comparison, x="accuracy", y="method", orient="h", ax=left)
    left.bar_label(left.containers[0], fmt="%.2f")
    left.set_xlim(0, 1)
    left.set_ylabel("")
    if chance is not None:
        left.axvline(chance, color="grey", lw=1, ls="--", label=f"chance {chance:.2f}")
        left.legend(loc="lower right", fontsize=8)
    if title:
        left.set_title(title)
    y = list(range(len(others)))
    errors = [others["difference"] - others["low"], others["high"] - others["difference"]]
    right.errorbar(others["difference"], y, xerr=errors, fmt="o", capsize=4)
    right.axvline(0, color="grey", lw=1)
    right.set_yticks(y, [f"vs {method}" for method in others["method"]])
    right.set_ylim(-0.5, max(len(others), 1) - 0.5)
    right.set_title(f"lead of {first}: accuracy difference, 95% paired bootstrap interval", fontsize=10)
    return fig


# ---- held-out classes (nlexnb.evaluate.heldout) and deletion / insertion (nlexnb.metrics.faithfulness) ---------------
HELDOUT_METRICS = ("zsl_top1", "zsl_top5", "gzsl_top1", "gzsl_top5")
"""The columns of :func:`nlexnb.evaluate.heldout` that :func:`heldout_figure` draws, in order."""

DELETION_INSERTION_MAPS = ("concept map", "random map (concept)", "class map", "random map (class)")
"""The maps of :func:`nlexnb.metrics.faithfulness`'s deletion and insertion curves, each beside its random baseline."""


def heldout_figure(table, title: str | None = None, figsize: tuple[float, float] = (8, 4)):
    """The table of :func:`nlexnb.evaluate.heldout` as grouped bars: ZSL and GZSL top-1 / top-5 accuracy on classes
    the map never saw, then (where the table has them) the seen names' GZSL top-1 and the harmonic mean, one colour
    per method, each bar labelled with its value (mean and spread over the rows of a method, when the table has one
    row per fold; no bar where a method has no score, as the text baseline has no GZSL). Returns the Figure."""
    import seaborn as sns

    missing = {"method", *HELDOUT_METRICS} - set(table.columns)
    if missing:
        raise ValueError(f"Expected the table of evaluate.heldout; it lacks {sorted(missing)}")
    shown = [*HELDOUT_METRICS, *(c for c in ("gzsl_seen_top1", "gzsl_h") if c in table.columns)]
    long = table.melt(id_vars="method", value_vars=shown, var_name="metric", value_name="accuracy")
    fig = _figure(figsize, layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=long, x="metric", y="accuracy", hue="method", errorbar="sd", ax=ax)
    ax.set_ylim(0, 1.1)  # room above a bar of 1.00 for its label, off the title
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    for bars in ax.containers:
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    if title:
        ax.set_title(title)
    return fig


def deletion_insertion_figure(frame, figsize: tuple[float, float] = (9, 3.2)):
    """Deletion and insertion AUC of :func:`nlexnb.metrics.faithfulness`, one panel each, a bar per map (mean and
    spread over images) beside its random maps: lower deletion and higher insertion AUC are better. Returns the
    Figure."""
    import seaborn as sns

    curves = frame[frame["metric"].isin(["deletion_auc", "insertion_auc"])]
    if curves.empty:
        raise ValueError(
            "No deletion_auc / insertion_auc rows: expected the frame of metrics.faithfulness run with deletion=True"
        )
    present = list(dict.fromkeys(curves["method"]))
    order = [m for m in DELETION_INSERTION_MAPS if m in present] + [
        m for m in present if m not in DELETION_INSERTION_MAPS
    ]
    fig = _figure(figsize, layout="constrained")
    for ax, (metric, better) in zip(fig.subplots(1, 2, sharey=True), [("deletion", "lower"), ("insertion", "higher")]):
        rows = curves[curves["metric"] == f"{metric}_auc"]
        sns.barplot(data=rows, x="value", y="method", order=order, errorbar="sd", orient="h", ax=ax)
        ax.set_title(f"{metric} ({better} is better)", fontsize=10)
        ax.set_xlabel("AUC")
        ax.set_ylabel("")
    return fig


# ---- the concept bottleneck (nlexnb.bottleneck) --------------------------------------------------------------------
def recipe_figure(recipe, max_rows: int = 12, ax=None):
    """A class's recipe (:class:`nlexnb.bottleneck.Recipe`): a bar per concept for its weight, labelled with its share
    of the recipe; returns the Figure (of ``ax`` when given)."""
    import seaborn as sns

    from .bottleneck.results import EMPTY_RECIPE

    shown = recipe.table.head(positive_int(max_rows, "max_rows", "concepts to show"))
    fig, ax = _axes_or_new(ax, (6.5, 0.32 * max(len(shown), 3) + 1.0), layout="constrained")
    if shown.empty:
        _empty_panel(ax, EMPTY_RECIPE)
    else:
        sns.barplot(data=shown, x="weight", y="concept", ax=ax, orient="h", color=sns.color_palette()[0])
        _label_bars(ax, shown["share"], fontsize=8, color="0.3")
        ax.set_xlim(0, float(shown["weight"].max()) * 1.18)
    more = f" ({len(recipe.table) - len(shown)} more not shown)" if len(recipe.table) > len(shown) else ""
    ax.set_xlabel(f"weight in the class row (beside the bar: share of the recipe){more}", fontsize=9)
    ax.set_ylabel("")
    ax.set_title(_wrap(recipe.title, 70), fontsize=10)
    return fig


def bottleneck_explanation_figure(explanation, max_rows: int = 10, figsize: tuple[float, float] = (11, 4)):
    """A :class:`nlexnb.bottleneck.BottleneckExplanation`: the image with the top concept's heat map, beside each
    recipe concept's contribution to the bottleneck logit (largest ``max_rows`` by size, negative ones in red)."""
    import seaborn as sns

    max_rows = positive_int(max_rows, "max_rows", "concepts to show")
    fig, right = _heatmap_beside_bars(explanation, figsize)
    table = explanation.table
    shown = table.loc[table["contribution"].abs().sort_values(ascending=False).index[:max_rows]]
    if len(shown):
        colours = [sns.color_palette()[0] if c >= 0 else "#c44e52" for c in shown["contribution"]]
        sns.barplot(data=shown, x="contribution", y="concept", hue="concept", palette=colours, legend=False, ax=right)
        right.margins(x=0.1)  # room for the labels past the bars' ends (set first: the labels are placed by it)
        if explanation.total > 0:
            _label_bars(right, shown["share"], fontsize=9)
        else:  # no share of a negative total ("nan%" on every bar): each concept's push, in logits
            _label_bars(right, shown["contribution"], fontsize=9, fmt="{:+.2f}")
        right.axvline(0, color="0.4", lw=1)
    else:
        from .bottleneck.results import EMPTY_RECIPE

        _empty_panel(right, EMPTY_RECIPE)
    total = explanation.total
    of = f"share of {total:.2f}" if total > 0 else f"logits; concepts' total {total:.2f}"
    right.set_xlabel(f"contribution = activation x weight ({of}; shared term {explanation.shared:.2f})")
    return _finish_explanation(fig, right, explanation)


def intervention_figure(intervention, figsize: tuple[float, float] = (8, 3.5)):
    """A :class:`nlexnb.bottleneck.Intervention`: each listed class's probability before and after, side by side."""
    import pandas as pd
    import seaborn as sns

    from .bottleneck.results import distinct_names

    table = intervention.table
    names = _shortened_apart(distinct_names(list(table["class_name"])))  # two "maillot"s drew one bar, their mean
    long = pd.DataFrame(
        {
            "class": names * 2,
            "probability": list(table["probability_before"]) + list(table["probability_after"]),
            "when": ["before"] * len(table) + ["after"] * len(table),
        }
    )
    fig = _figure(figsize, layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=long, x="probability", y="class", hue="when", palette=["0.65", sns.color_palette()[0]], ax=ax)
    for bars in ax.containers:  # each bar of a pair drawn and labelled, one near 0 too (a bare axis read as missing)
        for patch in bars:
            patch.set_edgecolor(patch.get_facecolor())
            patch.set_linewidth(1.5)
        ax.bar_label(bars, labels=[_probability_label(p.get_width()) for p in bars], padding=3, fontsize=8)
    ax.set_xlim(0, 1.15)  # room past a bar of 1.00 for its label
    ax.set_xticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("")
    ax.set_xlabel("bottleneck probability")
    ax.set_title(_wrap(intervention.sentence, 90), fontsize=10)
    return fig


def _probability_label(probability: float) -> str:
    """A probability beside its bar, as the sentences write it without the "p": "0.42", "< 0.01", "> 0.99"."""
    from .explanation import probability_text

    return probability_text(probability).removeprefix("p ")


def tradeoff_figure(tradeoff, figsize: tuple[float, float] = (10, 3.5)):
    """A :class:`nlexnb.bottleneck.Tradeoff`: agreement with the original head (left) and the share of the class rows
    left out (right) against concepts per class, the fitted recipes beside the baselines."""
    import seaborn as sns

    fig = _figure(figsize, layout="constrained")
    left, right = fig.subplots(1, 2)
    for ax, column in ((left, "agreement"), (right, "mean residual")):
        sns.lineplot(data=tradeoff.table, x="concepts per class", y=column, hue="kind", marker="o", ax=ax)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(set(tradeoff.table["concepts per class"])))
        ax.set_xticklabels([str(b) for b in sorted(set(tradeoff.table["concepts per class"]))])
        ax.set_ylim(0, 1.02)
        ax.legend(title=None, fontsize=9)
    left.set_title(f"top-1 agreement with the original head ({counted(tradeoff.images, 'image')})", fontsize=10)
    right.set_title("share of the centred class rows left out (mean)", fontsize=10)
    return fig


def agreement_by_confidence_figure(result, figsize: tuple[float, float] = (8, 3.5)):
    """A :class:`nlexnb.bottleneck.AgreementByConfidence`: top-1 agreement and "in top 5" per band of the head's
    confidence, each band labelled with its number of images (no "in top 5" bars for a head of five classes or fewer,
    where it is 1.0 by construction; the title says so)."""
    import seaborn as sns

    table = result.table
    top5 = "head's class in the bottleneck's top 5"
    named = table.rename(columns={"agreement": "same top-1 class", "in top 5": top5})
    long = named.melt(
        id_vars=["head's confidence", "images"],
        value_vars=["same top-1 class", top5] if result.measures_top5 else ["same top-1 class"],
        var_name="measure",
    )
    fig = _figure(figsize, layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=long, x="head's confidence", y="value", hue="measure", ax=ax)
    ax.set_xticks(range(len(table)))
    bands = zip(table["head's confidence"], table["images"])
    ax.set_xticklabels([f"{band}\n({counted(int(n), 'image')})" for band, n in bands])
    ax.set_ylim(0, 1.22)  # room above the bars for the legend
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("share of images")
    ax.set_xlabel("the original head's top-1 probability")
    ax.legend(title=None, fontsize=9, loc="upper center", ncol=2, frameon=False)
    title = "where the bottleneck agrees with the original head"
    if not result.measures_top5:  # 1.0 by construction: drawn, it read as a finding
        title += f"\n(no top-5 bars: the head has {result.classes} classes, every one in any top 5)"
    ax.set_title(title, fontsize=10)
    return fig
