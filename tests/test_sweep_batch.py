"""`batch_flow_limit` against `flow_limit` one by one, and its invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.errors import ProblemError
from dlnlab.sweep.batch import batch_flow_limit


def _problems(m, N, count, seed0=0):
    return [dl.gaussian_problem(m, N, max(1, (m * (j % 4 + 1)) // 8), seed=seed0 + j, signs=bool(j % 2))
            for j in range(count)]


@pytest.mark.parametrize("depth", [2.0, 3.0, 2.5])
@pytest.mark.parametrize("scale", [1e-3, 1e-6, 1e-12])
def test_batch_agrees_with_flow_limit(depth, scale):
    problems = _problems(8, 20, 6)
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    out = batch_flow_limit(problems, net)
    assert not out.fallback.any() and out.converged.all()
    for P, res in zip(problems, out.results):
        ref = dl.flow_limit(P, net)
        # both are Newton solutions of the same strictly convex dual to rtol 1e-12 in the
        # residual; the limit is that well conditioned here, so 1e-10 relative is a real check
        assert np.linalg.norm(res.x - ref.x) <= 1e-10 * np.linalg.norm(ref.x)
        # evidence as flow_limit demands it (the dual itself is not compared: off-support
        # entries of x ~ 1e-9 are fixed only to the residual tolerance, ~1e-3 relative, and
        # the dual follows their logarithms)
        assert res.residual < 1e-11 and res.kkt < 1e-9


def test_rank_deficient_member_falls_back_and_is_solved_alone():
    problems = _problems(6, 15, 4)
    A = problems[0].A.copy()
    A[-1] = A[0] + A[1]  # rank 5 < 6, y consistent
    x = problems[0].x_true
    problems.append(dl.Problem(A, A @ x, x))
    net = dl.SymmetricDLN(depth=2, scale=1e-6)
    out = batch_flow_limit(problems, net)
    assert out.fallback.tolist() == [False] * 4 + [True]
    ref = dl.flow_limit(problems[-1], net)
    assert np.array_equal(out.results[-1].x, ref.x)  # the fallback is flow_limit itself


def test_unequal_sizes_are_refused():
    with pytest.raises(ProblemError, match="equal size"):
        batch_flow_limit([dl.gaussian_problem(5, 12, 1, seed=0), dl.gaussian_problem(5, 13, 1, seed=0)],
                         dl.SymmetricDLN(depth=2, scale=1e-3))
    with pytest.raises(ProblemError):
        batch_flow_limit([], dl.SymmetricDLN(depth=2, scale=1e-3))


def test_tiny_scale_batch_still_certified():
    """Below the validated range the batch must still pass flow_limit's own final checks."""
    problems = _problems(6, 16, 4, seed0=10)
    net = dl.SymmetricDLN(depth=3, scale=1e-60)
    out = batch_flow_limit(problems, net)
    for P, res in zip(problems, out.results):
        ref = dl.flow_limit(P, net)
        assert res.kkt <= 1e-9 and res.residual < 1e-11
        assert np.linalg.norm(res.x - ref.x) <= 1e-10 * np.linalg.norm(ref.x)


@settings(max_examples=8, deadline=None)
@given(st.permutations(range(5)), st.integers(1, 5))
def test_result_does_not_depend_on_batch_company(order, size):
    """Per-problem steps, line searches and stopping tests: a problem's limit is the same
    whatever else shares its batch (up to the continuation schedule, which is shared;
    the limits then agree to the solver tolerance)."""
    problems = _problems(6, 14, 5, seed0=3)
    net = dl.SymmetricDLN(depth=2, scale=1e-8)
    full = batch_flow_limit(problems, net).x
    sub = [order[j] for j in range(size)]
    part = batch_flow_limit([problems[j] for j in sub], net).x
    for row, j in zip(part, sub):
        assert np.linalg.norm(row - full[j]) <= 1e-10 * np.linalg.norm(full[j])


def test_a_map_of_one_problem_at_a_time_runs_on_the_batch_axis():
    """The layered map of depth 3 indexes its parameters coordinates-first: the batch evaluates it
    row by row (`engine.batch.stacked`) and must give flow_limit's limits (both at rtol 1e-12)."""
    net = dl.LayeredDLN([[0.1] * 12, [0.2] * 12, [0.3] * 12])
    problems = [dl.gaussian_problem(5, 12, 2, seed=s) for s in range(3)]
    out = batch_flow_limit(problems, net)
    assert not out.fallback.any()
    for P, res in zip(problems, out.results):
        ref = dl.flow_limit(P, net)
        assert res.success and np.max(np.abs(res.x - ref.x)) <= 1e-9 * np.max(np.abs(ref.x))
