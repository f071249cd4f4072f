"""Held-out classes: the default mapper against ridge and a text-only baseline, on the same folds."""

from __future__ import annotations

import pytest

import nlexnb
from nlexnb.evaluate import fold_splits


def test_folds_are_disjoint_and_cover_every_class():
    splits = fold_splits(1000, 10, seed=0)
    flat = [k for fold in splits for k in fold]
    assert sorted(flat) == list(range(1000)) and all(len(f) == 100 for f in splits)
    assert fold_splits(1000, 10, seed=0) == splits
    with pytest.raises(ValueError, match="folds must be between 2"):
        fold_splits(10, 1)


def test_heldout_table_has_every_method_side_by_side(classifier, encoder):
    table = nlexnb.evaluate.heldout(classifier, encoder, folds=10, methods=("ridge", "text"), progress=False)
    assert list(table["method"]) == ["ridge", "text"]
    assert {"zsl_top1", "zsl_top5", "gzsl_top1", "gzsl_top5", "fit_seconds"} <= set(table.columns)
    ridge, text = table.set_index("method").loc["ridge"], table.set_index("method").loc["text"]
    assert 0.35 < ridge.zsl_top1 < 0.7  # METHOD.md: about 0.43-0.48 on lite0 + MiniLM
    assert ridge.zsl_top1 > text.zsl_top1
    assert ridge.zsl_top5 >= ridge.zsl_top1
