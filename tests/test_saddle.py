"""saddle_to_saddle against the gradient flow at tiny scales, and its end point against HiGHS."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import dlnlab as dl

PF_A = np.array([[1, 0.5, 0.7, 0], [0.5, 1, 0.1, 0.7]])
PF_Y = np.array([1.0, 0.0])


def _weighted_bp(A, y, t_plus, t_minus):
    """min sum t+ x+ + t- x-  s.t.  A (x+ - x-) = y, x+- >= 0, by HiGHS."""
    N = A.shape[1]
    res = linprog(np.concatenate([t_plus, t_minus]), A_eq=np.hstack([A, -A]), b_eq=y,
                  bounds=[(0, None)] * (2 * N), method="highs")
    assert res.status == 0
    return res.fun


def test_pesme_flammarion_example():
    res = dl.saddle_to_saddle(PF_A, PF_Y)
    assert res.status == "converged"
    assert np.allclose(res.x, [0, 0, 10 / 7, -10 / 49], rtol=0, atol=1e-14)
    xs = [p.x for p in res.plateaus]
    assert np.allclose(xs[1], [0.8, 0, 0, 0]) and np.allclose(xs[2], [0, 0, 1.4, 0])  # coordinate 0 leaves
    # T1 = 1 / max|A^T y|; later times from the piecewise-linear dual (hand computation: 4, 276/49)
    assert np.allclose(res.jump_times, [1.0, 4.0, 276 / 49], rtol=1e-12)
    losses = [p.loss for p in res.plateaus]
    assert np.all(np.diff(losses) < 0) and res.certificate <= 1e-12


def _flow_path(net, T_grid, factor=None):
    factor = net.dual_scale if factor is None else factor
    return dl.flow_trajectory(PF_A, PF_Y, net, T_grid / factor)


def _crossings(T, loss, levels):
    """First times at which the loss falls below each level (linear interpolation)."""
    out = []
    for lev in levels:
        i = int(np.argmax(loss < lev))
        out.append(T[i - 1] + (T[i] - T[i - 1]) * (loss[i - 1] - lev) / (loss[i - 1] - loss[i]))
    return np.array(out)


@pytest.mark.parametrize("depth, scale, time_tol, x_tol", [
    # p = 2: the flow enters a plateau when x_i = a e^{c z_i} ~ 1, i.e. at z_i = 1 - O(log c / c),
    # c = log(1/a): jump times are off by O(1/c) (measured: |dT| c ~ 45 on the last jump at every
    # scale from 1e-30 to 1e-300); plateau values converge faster.
    (2.0, 1e-60, 50 / 138.0, 5e-3),
    (2.0, 1e-300, 50 / 690.0, 1e-6),
    # p = 3: corrections are powers of alpha^(p-2) = 1e-4: measured |dT| <= 3e-3
    (3.0, 1e-12, 1e-2, 1e-6),
])
def test_plateaus_and_jump_times_match_flow_at_tiny_scale(depth, scale, time_tol, x_tol):
    res = dl.saddle_to_saddle(PF_A, PF_Y)
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    starts = [p.start for p in res.plateaus]
    mids = np.array([(a + b) / 2 for a, b in zip(starts, starts[1:] + [starts[-1] + 3.0])])
    tr = _flow_path(net, mids)
    for x, plateau in zip(tr.x, res.plateaus):
        assert np.max(np.abs(x - plateau.x)) <= x_tol
    T = np.linspace(0.0, 7.0, 701)
    dense = _flow_path(net, T)
    levels = [0.5 * (a.loss + b.loss) for a, b in zip(res.plateaus, res.plateaus[1:])]
    assert np.max(np.abs(_crossings(T, dense.loss, levels) - res.jump_times)) <= time_tol


def test_weighted_path_matches_flow_with_per_coordinate_scales():
    """Thresholds t+- are the limit of a two-layer net with P_i = a^{t_i^+}, M_i = a^{t_i^-}:
    x_i = P_i e^{2s} - M_i e^{-2s} turns on at 2 s_i = t_i^+- log(1/a), so in the clock
    T = 2 t / log(1/a) the dual z = 2 s / log(1/a) meets the thresholds t_i^+-."""
    t_plus = np.array([1.0, 1.3, 1.1, 1.6])
    t_minus = np.array([1.2, 1.0, 1.5, 1.05])
    res = dl.saddle_to_saddle(PF_A, PF_Y, weights=(t_plus, t_minus))
    assert res.status == "converged" and res.certificate <= 1e-12
    value = float(np.sum(t_plus * np.maximum(res.x, 0) + t_minus * np.maximum(-res.x, 0)))
    assert value == pytest.approx(_weighted_bp(PF_A, PF_Y, t_plus, t_minus), rel=1e-12)
    log_a = -300 * np.log(10.0) / 2  # a = 1e-150: a^t stays in float range for t <= 2
    P, M = np.exp(t_plus * log_a), np.exp(t_minus * log_a)
    net = dl.TwoLayerDLN(np.sqrt(P) + np.sqrt(M), np.sqrt(P) - np.sqrt(M))
    factor = 2.0 / -log_a
    starts = [p.start for p in res.plateaus]
    mids = np.array([(a + b) / 2 for a, b in zip(starts, starts[1:] + [starts[-1] + 3.0])])
    tr = _flow_path(net, mids, factor)
    for x, plateau in zip(tr.x, res.plateaus):
        assert np.max(np.abs(x - plateau.x)) <= 1e-3  # O(1/c) with c = 345
    assert np.allclose(dl.flow_limit(PF_A, PF_Y, net).x, res.x, atol=2e-2)  # limit -> weighted BP, O(1/c)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 100_000), m=st.integers(2, 5), extra=st.integers(1, 6))
def test_end_point_is_basis_pursuit(seed, m, extra):
    P = dl.gaussian_problem(m, m + extra, min(2, m), seed=seed)
    res = dl.saddle_to_saddle(P)
    ones = np.ones(P.N)
    assert res.status == "converged" and res.residual <= 1e-10 and res.certificate <= 1e-10
    assert np.sum(np.abs(res.x)) == pytest.approx(_weighted_bp(P.A, P.y, ones, ones), rel=1e-9)
    assert np.all(np.diff(res.jump_times) > 0)
    assert np.all(np.diff([p.loss for p in res.plateaus]) <= 1e-12)


@pytest.mark.parametrize("weights", [np.array([1.0, -1.0, 1.0, 1.0]), np.array([1.0, np.nan, 1, 1]), (1.0, 0.0)])
def test_bad_weights(weights):
    with pytest.raises(dl.NetworkError, match="positive and finite"):
        dl.saddle_to_saddle(PF_A, PF_Y, weights=weights)


def test_max_iter_is_reported():
    with pytest.raises(dl.ConvergenceError, match="max_iter"):
        dl.saddle_to_saddle(PF_A, PF_Y, max_iter=1)
    res = dl.saddle_to_saddle(PF_A, PF_Y, max_iter=1, throw=False)
    assert res.status == "max_iter" and not res.success and len(res.plateaus) == 2


def test_the_result_speaks_the_shared_vocabulary():
    res = dl.saddle_to_saddle(PF_A, PF_Y)
    d = res.to_dict()
    assert res.success and d["success"] and d["status"] == "converged"
    assert len(d["plateaus"]) == len(res.plateaus) and d["residual"] == res.residual
