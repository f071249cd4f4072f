"""The sparse non-negative pursuit the bottleneck writes class rows with: exact where it can be, within budget, and
never worse for a larger budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nlexnb.pursuit import sparse_nonnegative_fit, sparse_nonnegative_path


def test_the_fit_recovers_a_sparse_non_negative_combination_exactly():
    q, _ = torch.linalg.qr(torch.randn(16, 8, generator=torch.Generator().manual_seed(0)))
    v = q.T  # 8 orthonormal directions
    rows = torch.stack([2 * v[0] + 0.5 * v[3], v[5] - v[6], -v[1]])
    weights = sparse_nonnegative_fit(rows, v, 3)
    expected = torch.zeros(3, 8, dtype=torch.float64)
    expected[0, 0], expected[0, 3] = 2.0, 0.5
    expected[1, 5] = 1.0  # the negative part cannot be written with non-negative weights
    assert torch.allclose(weights, expected, atol=1e-6)  # row 2 correlates with nothing positively: no concepts


def test_the_fit_keeps_to_its_budget_and_to_the_allowed_directions():
    g = torch.Generator().manual_seed(1)
    v = torch.nn.functional.normalize(torch.randn(40, 12, generator=g), dim=1)
    rows = torch.randn(5, 12, generator=g)
    allowed = torch.arange(40) % 2 == 0
    weights = sparse_nonnegative_fit(rows, v, 4, allowed=allowed)
    assert (weights >= 0).all() and ((weights > 0).sum(1) <= 4).all() and not (weights[:, ~allowed] > 0).any()
    more = sparse_nonnegative_fit(rows, v, 8, allowed=allowed)
    left = [(rows.double() - w @ v.double()).norm(dim=1) for w in (weights, more)]
    assert (left[1] <= left[0] + 1e-9).all()  # a larger budget never fits worse


def test_one_pursuit_gives_every_smaller_budget():
    g = torch.Generator().manual_seed(2)
    v = torch.nn.functional.normalize(torch.randn(60, 16, generator=g), dim=1)
    rows = torch.randn(7, 16, generator=g)
    path = sparse_nonnegative_path(rows, v, (2, 5, 9))
    for n, weights in path.items():
        assert torch.equal(weights, sparse_nonnegative_fit(rows, v, n))
    # where a row's non-negative least squares has no negative weight, the refit is exact: the residual is
    # orthogonal to every direction of the support (checked with numpy's own solver, another way)
    weights = path[9]
    for r in range(7):
        support = torch.nonzero(weights[r] > 0).flatten()
        basis = v[support].double().numpy()
        exact = np.linalg.lstsq(basis.T, rows[r].double().numpy(), rcond=None)[0]
        if (exact > 0).all():
            assert np.allclose(weights[r, support].numpy(), exact, atol=1e-5)


def test_each_row_may_have_its_own_allowed_directions():
    g = torch.Generator().manual_seed(3)
    v = torch.nn.functional.normalize(torch.randn(30, 10, generator=g), dim=1)
    rows = torch.randn(4, 10, generator=g)
    allowed = torch.rand(4, 30, generator=g) < 0.3
    weights = sparse_nonnegative_fit(rows, v, 5, allowed=allowed)
    assert not (weights[~allowed] > 0).any()
    for r in range(4):  # a row fitted alone with its own directions gets the same weights
        alone = sparse_nonnegative_fit(rows[r : r + 1], v, 5, allowed=allowed[r])
        assert torch.allclose(alone[0], weights[r], atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 6), st.integers(1, 40), st.integers(2, 12)),
    budgets=st.lists(st.integers(1, 12), min_size=1, max_size=3),
)
def test_any_rows_get_non_negative_weights_within_budget_that_never_fit_worse_than_none(seed, shape, budgets):
    rows_n, t, d = shape
    g = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.normalize(torch.randn(t, d, generator=g), dim=1)
    rows = torch.randn(rows_n, d, generator=g) * 3
    path = sparse_nonnegative_path(rows, v, budgets)
    assert sorted(path) == sorted(set(budgets))
    previous = rows.double().norm(dim=1)
    for n in sorted(path):
        weights = path[n]
        assert weights.shape == (rows_n, t) and torch.isfinite(weights).all() and (weights >= 0).all()
        assert ((weights > 0).sum(1) <= n).all()
        left = (rows.double() - weights @ v.double()).norm(dim=1)
        assert (left <= previous + 1e-6).all()  # each budget fits at least as well as the one before (and than none)
        previous = left


def test_budgets_that_cannot_work_are_named():
    v = torch.eye(3)
    with pytest.raises(ValueError, match="n must be a positive number of concepts per row, got 0"):
        sparse_nonnegative_fit(torch.ones(1, 3), v, 0)
    with pytest.raises(ValueError, match="budgets is empty"):
        sparse_nonnegative_path(torch.ones(1, 3), v, ())


def test_the_weights_on_a_support_are_the_nonnegative_least_squares_optimum():
    """Two near-opposite directions (cosine -0.96) made the descent stop after 100 steps with weights five times too
    small (residual 1.2725 against scipy's 1.2668)."""
    import torch.nn.functional as F
    from scipy.optimize import nnls

    torch.manual_seed(0)
    for _ in range(15):
        v = F.normalize(torch.randn(7, 5), dim=1)
        rows = torch.randn(4, 5)
    weights = sparse_nonnegative_fit(rows[:1], v, 3)
    support = torch.nonzero(weights[0]).flatten().tolist()
    best, _ = nnls(v[support].double().T.numpy(), rows[0].double().numpy())
    assert weights[0, support].numpy() == pytest.approx(best, abs=1e-6)
    with pytest.raises(ValueError, match="steps must be a positive number of descent steps per refit, got 0"):
        sparse_nonnegative_fit(rows, v, 3, steps=0)


def test_inputs_a_pursuit_cannot_use_are_named():
    """A NaN row was written with no concept at all; a float mask failed in "~"; a list selector was "unhashable"."""
    from nlexnb.selection import get_selector

    v = torch.eye(3)
    with pytest.raises(ValueError, match="rows hold NaN or infinite values"):
        sparse_nonnegative_fit(torch.full((1, 3), float("nan")), v, 1)
    with pytest.raises(TypeError, match="allowed must be a bool tensor"):
        sparse_nonnegative_fit(torch.ones(1, 3), v, 1, allowed=torch.ones(3))
    with pytest.raises(ValueError, match=r"allowed must be \[3\] or \[1, 3\] \(per row\), got \[2\]"):
        sparse_nonnegative_fit(torch.ones(1, 3), v, 1, allowed=torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="rows are 2 wide but directions 3"):
        sparse_nonnegative_fit(torch.ones(1, 2), v, 1)
    with pytest.raises(TypeError, match=r"rows must be a 2-D torch tensor .*got ndarray \(1, 3\) \(torch\.as_tensor"):
        sparse_nonnegative_fit(np.ones((1, 3)), v, 1)
    with pytest.raises(TypeError, match=r"budgets must be a list of numbers of concepts per row, e\.g\. \(8,\)"):
        sparse_nonnegative_path(torch.ones(1, 3), v, 8)
    with pytest.raises(TypeError, match=r"selector must be a name \(\['greedy'"):
        get_selector(["greedy"])


def test_a_direction_is_chosen_for_its_fit_not_its_length():
    """Direction 0 alone writes the row exactly, but direction 1, 60 times longer, was picked (residual 0.8)."""
    rows = torch.tensor([[1.0, 0.0]])
    weights = sparse_nonnegative_fit(rows, torch.tensor([[0.1, 0.0], [6.0, 8.0]]), 1)
    assert weights.tolist() == [[pytest.approx(10.0), 0.0]]
    # the lengths of the directions change their weights, never which ones a row is written with
    g = torch.Generator().manual_seed(4)
    unit = torch.nn.functional.normalize(torch.randn(30, 8, generator=g), dim=1)
    many_rows = torch.randn(6, 8, generator=g)
    lengths = torch.rand(30, generator=g) * 20 + 0.05
    scaled = sparse_nonnegative_fit(many_rows, unit * lengths[:, None], 4)
    assert torch.allclose(scaled * lengths.double(), sparse_nonnegative_fit(many_rows, unit, 4), atol=1e-6)
    # a direction of length 0 writes nothing and is never chosen
    zero_first = sparse_nonnegative_fit(rows, torch.tensor([[0.0, 0.0], [6.0, 8.0]]), 2)
    assert zero_first.tolist() == [[0.0, pytest.approx(0.06)]]


def test_a_budget_whose_pursuit_would_not_fit_in_memory_is_refused_before_allocating():
    """1000 rows at a budget of 2500 asked for 50 GB ([1000, 2500, 2500] float64) and crashed."""
    from nlexnb.pursuit import SUPPORT_MEMORY_LIMIT, check_budget_memory, largest_budget

    rows, directions = torch.randn(1000, 4), torch.randn(3000, 4)
    with pytest.raises(
        ValueError,
        match=r"A budget of 2500 directions per row needs 46\.6 GiB for the Gram matrices of the directions each of "
        r"the 1000 rows chooses \(\[1000, 2500, 2500\] float64\), more than the 1 GiB a pursuit may take: give at "
        r"most 366 directions per row",
    ):
        sparse_nonnegative_fit(rows, directions, 2500)
    most = largest_budget(1000)  # the advice is the largest budget within the limit
    assert most == 366 and 8 * 1000 * most**2 <= SUPPORT_MEMORY_LIMIT < 8 * 1000 * (most + 1) ** 2
    check_budget_memory(1000, 366)  # the budget advised is taken
    check_budget_memory(1, 2500)  # and one row at 2500 takes 48 MB


def test_a_row_written_exactly_takes_no_more_directions_than_it_needs():
    """What is left of a row once written is rounding: it took ten more directions at weights of 1e-9 to 1e-16."""
    g = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(64, 16, generator=g), dim=1)
    rows = torch.stack([0.3 * v[1] + 0.7 * v[2], v[5] + 0.2 * v[7] + 0.5 * v[9]])
    weights = sparse_nonnegative_fit(rows, v, 12)
    assert [sorted(torch.nonzero(w).flatten().tolist()) for w in weights] == [[1, 2], [5, 7, 9]]
    assert torch.allclose(weights @ v.double(), rows.double(), atol=1e-6)
