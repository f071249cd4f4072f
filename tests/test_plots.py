"""Figures the notebooks show, drawn from hand-written tables (no models): each bar is the number it stands for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from nlexnb.plots import deletion_insertion_figure, faithfulness_figure, heldout_figure


def test_heldout_figure_draws_every_method_and_metric_with_its_value():
    table = pd.DataFrame(
        {
            "method": ["kernel", "ridge"],
            "zsl_top1": [0.55, 0.48],
            "zsl_top5": [0.85, 0.80],
            "gzsl_top1": [0.20, 0.15],
            "gzsl_top5": [0.50, 0.45],
            "fit_seconds": [1.0, 0.5],
        }
    )
    fig = heldout_figure(table, title="Held-out classes")
    (ax,) = fig.axes
    assert isinstance(fig, Figure) and ax.get_title() == "Held-out classes" and ax.get_ylim() == (0, 1.1)
    kernel, ridge = ax.containers  # one group of bars per method, one bar per metric
    assert [bar.get_height() for bar in kernel] == pytest.approx([0.55, 0.85, 0.20, 0.50])
    assert [bar.get_height() for bar in ridge] == pytest.approx([0.48, 0.80, 0.15, 0.45])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["zsl_top1", "zsl_top5", "gzsl_top1", "gzsl_top5"]
    assert "0.55" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match=r"evaluate.heldout; it lacks \['gzsl_top5'\]"):
        heldout_figure(table.drop(columns="gzsl_top5"))
    # today's table adds the seen names and the harmonic mean; the text baseline has no GZSL score, so no bar
    text = {"method": "text", "zsl_top1": 0.3, "zsl_top5": 0.5, "gzsl_top1": float("nan"), "gzsl_top5": float("nan")}
    full = pd.concat([table.assign(gzsl_seen_top1=[0.99, 1.0], gzsl_h=[0.7, 0.6]), pd.DataFrame([text])])
    (ax,) = heldout_figure(full).axes
    assert [t.get_text() for t in ax.get_xticklabels()][-2:] == ["gzsl_seen_top1", "gzsl_h"]
    assert "nan" not in [t.get_text() for t in ax.texts] and "0.70" in [t.get_text() for t in ax.texts]


def test_deletion_insertion_figure_puts_each_map_beside_its_random_maps():
    maps = ["random map (class)", "class map", "concept map", "random map (concept)"]  # not in the drawn order
    rows = [
        {"image": image, "metric": f"{curve}_auc", "method": m, "value": value}
        for image, scale in [("cat", 1.0), ("cup", 3.0)]
        for curve, base in [("deletion", 0.1), ("insertion", 0.5)]
        for m, value in zip(maps, [base * scale * k for k in (4, 1, 2, 3)])
    ]
    frame = pd.DataFrame(rows + [{"image": "cat", "metric": "drop_pct_margin", "method": "named", "value": 50.0}])
    fig = deletion_insertion_figure(frame)
    deletion, insertion = fig.axes
    order = ["concept map", "random map (concept)", "class map", "random map (class)"]
    assert [t.get_text() for t in deletion.get_yticklabels()] == order
    # the mean over the two images (scales 1 and 3: twice the value at scale 1)
    assert [bar.get_width() for bar in deletion.patches] == pytest.approx([0.4, 0.6, 0.2, 0.8])
    assert [bar.get_width() for bar in insertion.patches] == pytest.approx([2.0, 3.0, 1.0, 4.0])
    assert (
        deletion.get_title() == "deletion (lower is better)" and insertion.get_title() == "insertion (higher is better)"
    )
    with pytest.raises(ValueError, match="deletion=True"):
        deletion_insertion_figure(frame[frame["metric"] == "drop_pct_margin"])


def test_faithfulness_figure_takes_an_axis_label():
    frame = pd.DataFrame({"image": ["cat", "cup"], "metric": "drop_pct_margin", "method": "named", "value": [40, 60]})
    assert faithfulness_figure(frame).axes[0].get_xlabel() == "drop_pct_margin"
    assert faithfulness_figure(frame, xlabel="logit drop (%)").axes[0].get_xlabel() == "logit drop (%)"


def test_heatmap_row_puts_each_map_in_its_own_panel_under_one_title():
    import numpy as np
    from PIL import Image

    from nlexnb.explain import HeatMap
    from nlexnb.plots import heatmap_row

    image = Image.new("RGB", (32, 32), "white")
    maps = [
        HeatMap(label, np.random.default_rng(i).random((32, 32)), np.zeros((2, 2)), image)
        for i, label in enumerate(["stripes", "whiskers", "a wooden table"])
    ]
    fig = heatmap_row(maps, title="chelsea: where")
    assert [ax.get_title() for ax in fig.axes] == ["stripes", "whiskers", "a wooden table"]
    assert fig._suptitle.get_text() == "chelsea: where" and fig.get_size_inches()[0] == pytest.approx(3 * 3.3)
    assert [ax.get_title() for ax in heatmap_row(maps[:1], titles=["lite0: stripes"]).axes] == ["lite0: stripes"]
    with pytest.raises(ValueError, match="2 titles for 3 heat maps"):
        heatmap_row(maps, titles=["a", "b"])
    with pytest.raises(ValueError, match="at least one heat map"):
        heatmap_row([])


def test_heatmaps_on_one_scale_show_a_concept_the_photo_lacks_as_cold():
    """Each map on its own range gives an absent concept a hottest spot of its own; scale="shared" puts every map
    of a row on one range (one colour bar, in logit units), so the weak map reads weak."""
    import numpy as np
    from PIL import Image

    from nlexnb.explain import HeatMap
    from nlexnb.plots import heatmap_row

    image = Image.new("RGB", (16, 16), "white")
    ramp = np.linspace(0, 1, 256).reshape(16, 16)
    shown, absent = (
        HeatMap("stripes", 4 * ramp, np.zeros((2, 2)), image),
        HeatMap("coffee", 0.2 * ramp, np.zeros((2, 2)), image),
    )

    each = heatmap_row([shown, absent])
    assert [ax.images[-1].get_clim() for ax in each.axes] == [(0, 4), (0, pytest.approx(0.2))]
    assert all(len(ax.child_axes) == 1 for ax in each.axes)  # a scale under every panel, not among the panels

    shared = heatmap_row([shown, absent], scale="shared")
    assert [ax.get_title() for ax in shared.axes] == ["stripes", "coffee"]
    assert [ax.images[-1].get_clim() for ax in shared.axes] == [(0, 4), (0, 4)]
    assert [len(ax.child_axes) for ax in shared.axes] == [0, 1]  # one colour bar, beside the last panel
    assert shared.axes[-1].child_axes[0].get_ylabel() == "logit units"
    with pytest.raises(ValueError, match=r"scale must be 'each' \(every map on its own range\) or 'shared'"):
        heatmap_row([shown], scale="same")


def test_maps_drawn_one_by_one_share_a_scale_from_shared_range():
    """The widget drew a typed text's map on its own and the top concept's range with a scale of its own making;
    shared_range is the one rule: lowest to highest, a flat range widened by one unit."""
    from PIL import Image

    from nlexnb.explain import HeatMap
    from nlexnb.plots import heatmap_overlay, overlay_image, shared_range

    image, ramp = Image.new("RGB", (16, 16), "white"), np.linspace(0, 1, 256).reshape(16, 16)
    shown, absent = HeatMap("stripes", 4 * ramp, np.zeros((2, 2)), image), 0.2 * ramp - 0.5
    low, high = shared_range([shown, absent])  # heat maps and arrays alike
    assert (low, high) == (-0.5, 4.0)
    fig = heatmap_overlay(image, absent, vmin=low, vmax=high)
    assert fig.axes[0].images[-1].get_clim() == (-0.5, 4.0)  # the absent concept's map drawn cold
    assert shared_range([np.full((2, 2), 3.0)]) == (3.0, 4.0)  # flat: the bottom colour, as one map alone
    nearly = np.full((4, 4), 1.0)
    nearly[0, 0] += 2.2e-16  # matplotlib widened 1.0 to 1.0000000000000002 to 0.9 to 1.1: drawn flat instead
    assert shared_range([nearly]) == (1.0, 2.0)
    drawn = np.asarray(overlay_image(Image.new("RGB", (4, 4)), nearly, alpha=1.0))
    assert (drawn == drawn[0, 0]).all()  # not rounding noise stretched over the whole colour map
    assert shared_range([np.array([[0.0, 1e-10]])]) == (0.0, 1e-10)  # small units are still a range
    low, high = shared_range([np.full((2, 2), 1e17)])
    assert high > low  # a huge flat map still gets a range overlay_image accepts
    overlay_image(Image.new("RGB", (2, 2)), np.full((2, 2), 1e17), vmin=low, vmax=high)


@pytest.mark.parametrize(
    "maps, error, message",
    [
        ([], ValueError, r"maps is empty: give the heat maps \(or 2-D arrays\) to draw on one scale"),
        (
            np.ones((3, 3)),
            TypeError,
            r"maps must be a list of heat maps or 2-D arrays, got one 2-D ndarray \(one map\)",
        ),
        (np.ones((2, 3, 3)), TypeError, r"got a 3-D ndarray: pass a list of 2-D maps \(list\(maps\) for a stack\)"),
        (5, TypeError, r"maps must be a list of heat maps or 2-D arrays, got int"),
        ([np.ones(3)], ValueError, r"maps\[0\] must be a 2-D array of numbers \[h, w\] \(a heat map\), got shape"),
        ([np.ones((2, 2)), np.full((2, 2), np.nan)], ValueError, r"maps\[1\] must be finite: 4 of the 4 cells"),
    ],
)
def test_shared_range_names_what_it_was_given(maps, error, message):
    from nlexnb.plots import shared_range

    with pytest.raises(error, match=message):
        shared_range(maps)


def test_a_heat_map_drawn_on_a_range_of_your_own_is_clipped_to_it():
    import numpy as np
    from PIL import Image

    from nlexnb.plots import heatmap_overlay, overlay_image

    image, values = Image.new("RGB", (8, 8), "black"), np.linspace(-1, 3, 64).reshape(8, 8)
    fig = heatmap_overlay(image, values, vmin=0, vmax=2, colorbar=True)
    assert fig.axes[0].images[-1].get_clim() == (0, 2) and len(fig.axes[0].child_axes) == 1
    from nlexnb.explain import HeatMap

    heat = HeatMap("stripes", values, np.zeros((2, 2)), image)  # one map alone shows its scale too
    assert len(heat.plot().axes[0].child_axes) == 1 and not heat.plot(colorbar=False).axes[0].child_axes
    low_half = overlay_image(image, np.where(values < 0, 0.0, values), vmin=0, vmax=2, alpha=1)
    assert np.array_equal(np.asarray(overlay_image(image, values, vmin=0, vmax=2, alpha=1)), np.asarray(low_half))
    with pytest.raises(ValueError, match="give vmin and vmax together"):
        heatmap_overlay(image, values, vmin=0)
    with pytest.raises(ValueError, match="vmin must be below vmax, got vmin 2 and vmax 1"):
        overlay_image(image, values, vmin=2, vmax=1)


def test_a_figure_size_or_axes_that_cannot_draw_is_named():
    """figsize=10 failed in matplotlib's words, (0, 4) drew a figure no one can see, and ax='x' an AttributeError."""
    import numpy as np
    from PIL import Image

    from nlexnb.explain import HeatMap
    from nlexnb.plots import heatmap_row

    frame = pd.DataFrame({"image": ["cat", "cup"], "metric": "drop_pct_margin", "method": "named", "value": [40, 60]})
    assert faithfulness_figure(frame, figsize=(np.float32(5), 3)).get_size_inches().tolist() == [5, 3]
    for bad in (10, (0, 4), (-1, 4), (float("nan"), 4), ("5", 3), (5, 3, 1)):
        with pytest.raises(ValueError, match=r"figsize must be \(width, height\) in inches, two positive numbers"):
            faithfulness_figure(frame, figsize=bad)
    heat = HeatMap("stripes", np.zeros((8, 8)), np.zeros((2, 2)), Image.new("RGB", (8, 8)))
    with pytest.raises(TypeError, match=r"ax must be matplotlib Axes to draw into \(e.g. fig.add_subplot\(\)\)"):
        heat.plot(ax="x")
    with pytest.raises(ValueError, match="width must be inches > 0"):
        heatmap_row([heat], width=0)


def test_a_cut_confusion_keeps_each_rows_fractions_and_pairs_each_label_with_itself():
    """Cut to 40 of 50 labels, a row half right and half predicted as the 50th label drew 1.0 on its diagonal."""
    from nlexnb.plots import confusion_figure

    labels = [f"l{i}" for i in range(50)]
    confusion = pd.DataFrame(0, index=labels, columns=labels[::-1])  # columns in another order than the rows
    for label in labels:
        confusion.loc[label, label] += 5
        confusion.loc[label, "l49"] += 5
    ax = confusion_figure(confusion, "zero-shot", max_labels=40).axes[0]
    assert ax.get_title() == "zero-shot (the first 40 of 50 labels)"
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert set(rows) == set(columns) == set(labels[:40])
    drawn = ax.collections[0].get_array().reshape(40, 40)
    assert drawn[rows.index("l0"), columns.index("l0")] == pytest.approx(0.5)  # of all of l0's images
    counts = confusion_figure(pd.DataFrame([[1.5, 2], [3, 4]]), "scores", normalize=False).axes[0]
    assert [t.get_text() for t in counts.texts] == ["1.5", "2", "3", "4"]  # float counts drew a seaborn error
    no_column = pd.DataFrame([[3], [1]], index=["cat", "dog"], columns=["tabby"])  # numpy's words before
    with pytest.raises(ValueError, match=r"the first max_labels=2 labels \('cat', 'dog'\) leave 2 true and 0"):
        confusion_figure(no_column, "zero-shot", max_labels=2)


def test_a_ranking_drawn_shorter_than_its_table_says_so_and_an_empty_one_says_why():
    """A table of 26 concepts drew 20 bars, titled as if they were all; an empty one drew a blank axis."""
    from nlexnb.discover.table import ConceptTable

    table = pd.DataFrame({"rank": range(1, 27), "concept": [f"c{i}" for i in range(26)], "cosine": [0.5] * 26})
    ax = ConceptTable("class_concepts", "What \u201cespresso\u201d encodes", "cosine", table).plot().axes[0]
    assert ax.get_title() == "What \u201cespresso\u201d encodes (the first 20 of 26)" and len(ax.patches) == 20
    empty = ConceptTable("class_concepts", "What \u201cespresso\u201d encodes", "cosine", table.head(0)).plot()
    assert "nothing to draw" in " ".join(empty.axes[0].texts[0].get_text().split())


def test_plot_limits_and_overlays_that_cannot_draw_are_named():
    import numpy as np
    from PIL import Image

    from nlexnb.discover import ConceptTable
    from nlexnb.plots import concept_table_figure, overlay_image

    image = Image.new("RGB", (14, 14), (200, 100, 50))
    with pytest.raises(ValueError, match=r"alpha must be an opacity in \[0, 1\]"):
        overlay_image(image, np.zeros((7, 7)), alpha=1.5)
    spike = np.zeros((7, 7))
    spike[0, 0] = np.inf  # scaled the rest of the map to nothing: no heat drawn anywhere
    with pytest.raises(ValueError, match="values must be finite: 1 of the 49 cells are NaN or infinite"):
        overlay_image(image, spike)
    sides = pd.DataFrame(
        {"favours": ["tabby"] * 6 + ["tiger cat"] * 2, "concept": list("abcdefgh"), "score": [6, 5, 4, 3, 2, 1, -1, -2]}
    )
    contrast = ConceptTable("contrast", "“tabby” vs “tiger cat”", "score", sides)
    ax = concept_table_figure(contrast, max_rows=3).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c", "g", "h"]  # up to 3 a side, both sides
    assert "tiger cat" in ax.get_xlabel() and "tabby" in ax.get_xlabel()
    for bad in (0, -2):
        with pytest.raises(ValueError, match="max_rows must be a positive number of bars"):
            concept_table_figure(contrast, max_rows=bad)


# ---- what a figure must not cut or hide ------------------------------------------------------------------------------
LONG = "dark liquid in a small white porcelain cup on a saucer with a silver spoon beside it on a wooden table"


def _drawn(fig) -> tuple[np.ndarray, list[str]]:
    """The figure drawn as a saved PNG is (pixels [h, w, 3]), with the warnings drawing it raised (constrained layout
    says when it collapses)."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3], [str(w.message) for w in caught]


def _cut_at_the_edge(fig) -> bool:
    """Whether anything is drawn on the figure's outermost pixels: a title, a label or a tick label wider than the
    figure runs off it there (nothing else reaches the edge)."""
    pixels, _ = _drawn(fig)
    edges = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return bool((edges < 245).any())


def test_the_edge_check_sees_a_label_wider_than_its_figure():
    wide = faithfulness_figure(
        pd.DataFrame({"image": ["cat"], "metric": "m", "method": "named", "value": [1.0]}), metric="m", xlabel=LONG * 2
    )
    assert _cut_at_the_edge(wide)
    assert not _cut_at_the_edge(
        faithfulness_figure(pd.DataFrame({"metric": ["m"], "method": "a", "value": [1.0]}), "m")
    )


def test_a_contrast_with_one_side_empty_still_colours_each_class_and_names_both():
    """Every bar of a one-sided contrast was the middle colour of a palette centred on 0 (nearly white), under an axis
    labelled only "score"."""
    from matplotlib.colors import to_hex

    from nlexnb.discover import ConceptTable
    from nlexnb.plots import CONTRAST_COLOURS

    one_side = pd.DataFrame({"favours": ["Indian elephant"] * 3, "concept": ["short ears", "curved body", "x"]})
    one_side["score"] = [-0.11, -0.10, -0.09]
    sides = ("African elephant", "Indian elephant")
    ax = ConceptTable(
        "contrast", "\u201cAfrican elephant\u201d vs \u201cIndian elephant\u201d", "score", one_side, sides=sides
    )
    ax = ax.plot().axes[0]
    assert {to_hex(bar.get_facecolor()) for bar in ax.patches} == {CONTRAST_COLOURS[1]}  # the second class's colour
    assert ax.get_xlabel().endswith("\u2190 Indian elephant    African elephant \u2192")
    assert "no concept leans towards \u201cAfrican elephant\u201d" in " ".join(ax.get_title().split())
    both = pd.DataFrame({"favours": ["tabby", "tiger cat"], "concept": ["a", "b"], "score": [0.2, -0.1]})
    ax = ConceptTable("contrast", "\u201ctabby\u201d vs \u201ctiger cat\u201d", "score", both).plot().axes[0]
    assert [to_hex(bar.get_facecolor()) for bar in ax.patches] == list(CONTRAST_COLOURS)  # each class its own colour
    assert ax.get_title() == "\u201ctabby\u201d vs \u201ctiger cat\u201d"


def test_a_concept_table_given_to_pandas_points_to_its_table_and_still_concatenates():
    """pd.DataFrame(result) made a table of one column holding the column names ("rank", "concept", "cosine")."""
    from nlexnb.discover import ConceptTable

    frame = pd.DataFrame({"rank": [1, 2], "concept": ["foam", "steam"], "cosine": [0.4, 0.2]})
    result = ConceptTable("class_concepts", "What \u201cespresso\u201d encodes", "cosine", frame)
    with pytest.raises(TypeError, match=r"read only its column names \(rank, concept, cosine\); use result\.table"):
        pd.DataFrame(result)
    with pytest.raises(TypeError, match="use result.table"):
        list(result)
    assert pd.DataFrame(result.table).equals(frame) and "concept" in result and "foam" not in result
    assert pd.concat([result, result]).concept.tolist() == ["foam", "steam", "foam", "steam"]


def test_the_explanation_axis_label_fits_the_figure(classifier, mapper, photos):
    """With a foil, "... the logit difference is 0.10" ran past the figure's right edge and was cut."""
    import nlexnb

    explainer = nlexnb.Explainer(classifier, mapper, ["fine stripes", "striped skin", "whiskers", "orange fur", "snow"])
    explanation = explainer.explain(photos["chelsea"], k=5, foil="Egyptian cat")
    fig = explanation.plot()
    assert "the logit difference is" in " ".join(fig.axes[1].get_xlabel().split())
    assert not _cut_at_the_edge(fig)


def test_long_concepts_of_ones_own_bank_are_shortened_in_figures(classifier, mapper, photos):
    """A user's concept of 101 letters made a four-line heat-map title, squeezed the bars, collapsed the layout of
    class_concepts' chart and cut its tick labels."""
    import nlexnb
    from nlexnb import discover

    space = nlexnb.ConceptSpace(classifier, mapper, ["striped fur", "whiskers", "a sofa", "steam", LONG])
    fig = nlexnb.Explainer(space).explain(photos["coffee"], k=3).plot()
    where, bars = fig.axes[0], fig.axes[1]
    assert where.get_title().startswith("where: \u201cdark liquid") and where.get_title().count("\n") <= 1
    names = [t.get_text() for t in bars.get_yticklabels()]
    assert names[0].startswith("dark liquid") and max(len(n) for n in names) <= 32
    pixels, said = _drawn(fig)
    assert not said and not _cut_at_the_edge(fig)
    chart = discover.class_concepts(space, "espresso", k=2).plot()
    names = [t.get_text() for t in chart.axes[0].get_yticklabels()]
    assert names[0].startswith("dark liquid") and names[0].endswith("\u2026") and len(names[0]) <= 32
    pixels, said = _drawn(chart)
    assert not said and not _cut_at_the_edge(chart)


def test_sub_concepts_draw_as_many_clusters_as_asked_with_their_labels_readable(classifier, mapper, photos):
    """max_rows was ignored; on a small table the cluster names ran upwards over each other and the colour bar's
    label was cut."""
    from nlexnb import discover
    from nlexnb.space import concept_space

    features = classifier.features([photos[n] for n in ("chelsea", "coffee", "rocket", "astronaut", "motorcycle")])
    clusters = discover.subconcepts(concept_space(classifier, mapper), features, n_clusters=3, k=3, precomputed=True)
    fig = clusters.plot()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cluster 0", "cluster 1", "cluster 2"]
    assert all(t.get_rotation() == 0 for t in ax.get_yticklabels())  # across, one under the other
    pixels, said = _drawn(fig)
    assert not said and not _cut_at_the_edge(fig)
    first = clusters.plot(max_rows=1).axes[0]
    assert [t.get_text() for t in first.get_yticklabels()] == ["cluster 0"]
    assert [t.get_text() for t in first.get_xticklabels()] == clusters.table["concepts"][0].split("; ")
    assert " ".join(first.get_title().split()).endswith("(the first 1 of 3 clusters)")
    assert len(clusters.plot(max_rows=5).axes[0].get_yticklabels()) == 3  # more than there are: all of them


def test_one_panel_of_collection_concepts_keeps_its_title_and_axis_label_inside():
    """One panel is 5.2 inches wide: the title and the axis label, written for three panels, were cut at both ends."""
    from nlexnb import discover
    from nlexnb.collection import COLUMNS

    rows = [("tabby", ["striped fur", "whiskers"], [2.0, 1.0]), ("espresso", ["foam"], [3.0])] * 2
    frame = pd.DataFrame(
        {
            "id": range(len(rows)),
            "path": [f"/photos/{i}.jpg" for i in range(len(rows))],
            "label": None,
            "predicted": [281 if name == "tabby" else 967 for name, _, _ in rows],
            "predicted_name": [name for name, _, _ in rows],
            "probability": 0.5,
            "concepts": [concepts for _, concepts, _ in rows],
            "contributions": [values for _, _, values in rows],
            "shares": [[v / 10 for v in values] for _, _, values in rows],
            "total": [sum(values) for _, _, values in rows],
            "measured": [sum(values) for _, _, values in rows],
            "explained": 10.0,
            "fingerprint": [f"{i:016x}" for i in range(len(rows))],
            "file_size": 1000,
            "file_mtime_ns": 10**18,
        }
    )[list(COLUMNS)]
    fig = discover.collection_concepts(frame, min_images=1).plot(max_rows=1)
    pixels, said = _drawn(fig)
    assert not said and not _cut_at_the_edge(fig)


def test_figures_of_metrics_name_the_columns_a_wrong_frame_lacks():
    """Another frame failed in seaborn's words ("Could not interpret value `plausible share`") or as KeyError
    'metric'."""
    from nlexnb.plots import plausibility_figure

    wrong = pd.DataFrame({"method": ["greedy"], "accuracy": [0.5]})
    with pytest.raises(ValueError, match=r"summary of nlexnb.plausibility .*; it lacks 'plausible share', 'leak rate'"):
        plausibility_figure(wrong)
    with pytest.raises(ValueError, match=r"frame of nlexnb.metrics.faithfulness, .*; it lacks 'metric', 'value'"):
        faithfulness_figure(wrong)
    with pytest.raises(TypeError, match=r"summary must be the summary of nlexnb.plausibility .* got list"):
        plausibility_figure([0.5])
    summary = pd.DataFrame({"method": ["greedy", "random"], "plausible share": [0.6, 0.3], "leak rate": [0.1, 0.0]})
    assert len(plausibility_figure(summary).axes) == 2


def test_the_plausibility_figure_says_how_much_of_each_read_share_was_read():
    """A baseline's read share over 1% of its pairs said as much as the explainer's over all of them."""
    from nlexnb.plots import plausibility_figure

    summary = pd.DataFrame(
        {
            "method": ["explainer", "random"],
            "plausible share": [0.27, 0.04],
            "read share": [0.29, float("nan")],
            "read coverage": [1.0, 0.0],
            "leak rate": [0.04, 0.0],
            "photos": [50, 50],
        }
    )
    fig = plausibility_figure(summary)
    assert [ax.get_xlabel() for ax in fig.axes][0] == "read as visible by a person"
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.29 (100% read)", "\u2013 (none read)"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["0.27", "0.04"]
    assert fig._suptitle.get_text() == "Would a person see the named concepts? (50 evidence photos)"


def _explained_collection(rows, labels=None) -> pd.DataFrame:
    """A file of explanations as nlexnb.read_explanations gives it: (class, concepts, contributions, shares) rows."""
    from nlexnb.collection import COLUMNS

    return pd.DataFrame(
        {
            "id": range(len(rows)),
            "path": [f"/photos/{i}.jpg" for i in range(len(rows))],
            "label": labels,
            "predicted": [281 if name == "tabby" else 967 for name, *_ in rows],
            "predicted_name": [name for name, *_ in rows],
            "probability": 0.5,
            "concepts": [concepts for _, concepts, _, _ in rows],
            "contributions": [values for _, _, values, _ in rows],
            "shares": [shares for *_, shares in rows],
            "total": [sum(values) for _, _, values, _ in rows],
            "measured": [sum(values) for _, _, values, _ in rows],
            "explained": 10.0,
            "fingerprint": [f"{i:016x}" for i in range(len(rows))],
            "file_size": 1000,
            "file_mtime_ns": 10**18,
        }
    )[list(COLUMNS)]


def test_a_small_negative_share_keeps_its_sign_and_its_label_stays_off_the_concept_names(classifier, mapper, photos):
    """A concept carrying -0.4% of the logit was labelled "under 1%" (its sign dropped), written left of its near-zero
    bar over the tick labels ("ornate painted panelsunder 1%")."""
    import dataclasses

    import nlexnb

    explainer = nlexnb.Explainer(classifier, mapper, concepts=["pointed ears", "whiskers", "striped fur"])
    weighed = explainer.weigh(photos["chelsea"], ["pointed ears", "whiskers"])
    concepts = weighed.concepts.copy()
    concepts["share"] = [0.3, -0.004]
    concepts["contribution"] = concepts["share"] * weighed.explained
    small = dataclasses.replace(weighed, concepts=concepts, total=float(concepts["contribution"].sum()))
    fig = small.plot()
    _drawn(fig)
    bars = next(ax for ax in fig.axes if ax.texts)
    labels = {t.get_text(): t for t in bars.texts}
    assert set(labels) == {"30%", "-<1%"}
    renderer = fig.canvas.get_renderer()
    inside = bars.get_window_extent(renderer)
    for text in bars.texts:  # each label within the axes, none over the concept names left of them
        assert text.get_window_extent(renderer).x0 >= inside.x0 - 1, text.get_text()


def test_collection_bars_word_small_and_missing_shares_as_the_sentences_do():
    """One figure said "0%" where the explanation figure said "under 1%", and a missing share read "nan%"."""
    from nlexnb import discover

    rows = [("tabby", ["striped fur", "whiskers", "fur"], [2.0, 0.02, 1.0], [0.2, 0.002, float("nan")])] * 2
    fig = discover.collection_concepts(_explained_collection(rows), min_images=1).plot()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["20%", "\u2013", "under 1%"]  # striped fur, fur (no share), whiskers


def test_a_collection_explained_against_a_foil_says_its_bars_are_shares_of_the_gap():
    from nlexnb import discover

    rows = [("tabby", ["striped fur", "whiskers"], [2.0, 1.0], [0.2, 0.1])] * 2
    frame = _explained_collection(rows)
    frame.attrs["nlexnb"] = {"foil_name": "orange"}
    fig = discover.collection_concepts(frame, min_images=1).plot()
    said = " ".join(fig.get_supxlabel().split())
    assert "mean share of the gap to 'orange'" in said and "of the logit" not in said
    plain = discover.collection_concepts(_explained_collection(rows), min_images=1).plot()
    assert "mean share of the logit" in " ".join(plain.get_supxlabel().split())


def test_a_title_cut_short_says_so_inside_its_own_parenthesis():
    """ "Concepts ... (17 labels, 290 images) (the first 9 of 17)": one parenthesis, not two."""
    from nlexnb import discover

    rows = [(name, ["striped fur"], [2.0], [0.2]) for name in ("tabby", "espresso")]
    fig = discover.collection_concepts(_explained_collection(rows), min_images=1).plot(max_rows=1)
    title = " ".join(fig.get_suptitle().split())
    assert title.endswith("; the first 1 of 2 shown)") and ") (" not in title
    contrastive = _explained_collection(rows)
    contrastive.attrs["nlexnb"] = {"foil_name": "orange"}
    fig = discover.collection_concepts(contrastive, min_images=1).plot(max_rows=1)
    title = " ".join(fig.get_suptitle().split())  # not inside "(why the predicted class rather than 'orange')"
    assert title.endswith("rather than 'orange'); the first 1 of 2 shown") and ") (" not in title


def test_context_reliance_by_label_speaks_of_labels_not_classes():
    from nlexnb import discover

    rows = [("tabby", ["snow", "whiskers"], [1.0, 1.0], [0.1, 0.1]), ("tabby", ["whiskers"], [1.0], [0.1])]
    frame = _explained_collection(rows, labels=["cat", "cat"])
    fig = discover.context_reliance(frame, surroundings=["snow"], by="label").plot()
    _, middle, right = fig.axes
    assert middle.get_xlabel() == "mean reliance over the label's images"
    assert middle.get_title() == "the labels that rely most (images)"
    assert right.get_title() == "surroundings concepts named, and for which labels"


def test_heldout_bars_of_one_keep_their_labels_below_the_title():
    table = pd.DataFrame(
        {"method": ["kernel"], "zsl_top1": [0.99], "zsl_top5": [1.0], "gzsl_top1": [0.9], "gzsl_top5": [1.0]}
    )
    fig = heldout_figure(table, title="Held-out classes")
    _drawn(fig)
    (ax,) = fig.axes
    renderer = fig.canvas.get_renderer()
    top = ax.get_window_extent(renderer).y1
    assert "1.00" in [t.get_text() for t in ax.texts]
    assert all(t.get_window_extent(renderer).y1 <= top for t in ax.texts)


def test_a_band_of_one_image_says_image_not_images():
    from nlexnb.bottleneck import AgreementByConfidence

    table = pd.DataFrame(
        {"head's confidence": ["under 0.5", "0.5 or more"], "images": [1, 3], "agreement": [1.0, 0.67], "in top 5": 1.0}
    )
    fig = AgreementByConfidence(table, images=4, classes=1000).plot()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ["under 0.5\n(1 image)", "0.5 or more\n(3 images)"]


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-5, 5), st.floats(0, 10), st.integers(0, 2**16)), min_size=1, max_size=4),
    st.sampled_from(["each", "shared"]),
)
def test_every_heat_map_is_drawn_on_the_range_its_scale_says(maps, scale):
    """Whatever the maps (flat ones too): "each" draws every map on its own minimum to maximum, "shared" every map on
    the row's, so colours compare across panels exactly when the scale says they do."""
    import numpy as np
    from PIL import Image

    from nlexnb.explain import HeatMap
    from nlexnb.plots import heatmap_row

    image = Image.new("RGB", (8, 8))
    values = [offset + size * np.random.default_rng(seed).random((8, 8)) for offset, size, seed in maps]
    heats = [HeatMap(f"map {i}", v, np.zeros((2, 2)), image) for i, v in enumerate(values)]
    drawn = [ax.images[-1].get_clim() for ax in heatmap_row(heats, scale=scale).axes]

    def scale_of(low, high):  # a range too narrow to divide is drawn as a flat map (matplotlib would widen it)
        return (low, low + max(1.0, 2e-9 * abs(low))) if high - low <= 1e-9 * max(abs(low), abs(high)) else (low, high)

    if scale == "shared":
        expected = [scale_of(min(v.min() for v in values), max(v.max() for v in values))] * len(values)
    else:
        expected = [scale_of(v.min(), v.max()) for v in values]
    assert drawn == [(pytest.approx(lo), pytest.approx(hi)) for lo, hi in expected]
