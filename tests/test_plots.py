"""Figures the notebooks show, drawn from hand-written tables (no models): each bar is the number it stands for."""

from __future__ import annotations

import pandas as pd
import pytest
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
    assert isinstance(fig, Figure) and ax.get_title() == "Held-out classes" and ax.get_ylim() == (0, 1)
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
