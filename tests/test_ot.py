"""Entropic optimal transport: the DLN flow limit against Sinkhorn, POT, the LP engines and HiGHS."""

import numpy as np
import pytest
from scipy.optimize import linprog

import dlnlab as dl


def _problem(n, m, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((n, 2)), rng.random((m, 2))
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    a = rng.random(n) + 0.1
    b = rng.random(m) + 0.1
    return a / a.sum() * 3.0, b / b.sum() * 3.0, C  # total mass 3: the scaling is part of the test


def _transport_lp(a, b, C):
    n, m = C.shape
    A = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    return C.ravel(), A, np.concatenate([a, b])


@pytest.mark.parametrize("reg", [0.5, 0.05, 0.005, 5e-4])
def test_flow_marginals_are_exact(reg):
    a, b, C = _problem(40, 30)
    res = dl.solve_ot(a, b, C, reg)
    assert res.success
    # Newton converges quadratically: the marginal error ends at rounding level (relative to mass 3)
    assert np.abs(res.plan.sum(1) - a).sum() <= 1e-10 * a.sum()
    assert np.abs(res.plan.sum(0) - b).sum() <= 1e-10 * a.sum()
    assert res.marginal_error <= 1e-10 and res.plan.min() >= 0
    # the plan is the Gibbs form of its duals
    assert np.allclose(res.plan, np.exp((res.f[:, None] + res.g[None, :] - C) / reg), rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("reg", [0.1, 0.01])
def test_flow_against_sinkhorn_and_pot(reg):
    a, b, C = _problem(60, 50, seed=1)
    flow = dl.solve_ot(a, b, C, reg)
    sk = dl.sinkhorn(a, b, C, reg, tol=1e-13)
    assert sk.status == "converged"
    # both solve the same strictly convex problem to ~1e-13 marginals; plans agree to ~1e-10
    assert np.abs(flow.plan - sk.plan).sum() <= 1e-9 * a.sum()
    assert abs(flow.objective - sk.objective) <= 1e-9 * abs(flow.objective)
    ot = pytest.importorskip("ot", reason="POT (pip install pot, in the test extra) gives a third implementation")
    P = ot.sinkhorn(a / 3.0, b / 3.0, C, reg, method="sinkhorn_log", numItermax=200_000, stopThr=1e-14) * 3.0
    assert np.abs(flow.plan - P).sum() <= 1e-8 * a.sum()


def test_flow_is_the_dln_limit_of_the_transport_lp():
    """Same plan from the generic engines: the entropic LP (dlnlab.lp) and flow_limit with the Gibbs-kernel DLN."""
    a, b, C = _problem(4, 5, seed=2)
    reg = 0.05
    res = dl.solve_ot(a, b, C, reg)
    c, A, rhs = _transport_lp(a, b, C)
    net = dl.NonNegativeDLN.for_lp(c, reg)
    assert np.allclose(net.initialization ** 2, np.exp(-C / reg).ravel(), rtol=1e-14)  # Sinkhorn's kernel
    ent = dl.entropic_lp(c, A, rhs, reg)
    assert np.allclose(res.plan.ravel(), ent.x, rtol=1e-8, atol=1e-14)
    lim = dl.flow_limit(A, rhs, net)  # A has rank n + m - 1: the dual engine reduces it
    assert np.allclose(res.plan.ravel(), lim.x, rtol=1e-8, atol=1e-14)


def test_small_reg_approaches_exact_transport():
    """0 <= <C, P_reg> - OT <= reg * mass * log(n m) (entropy bound), checked against HiGHS."""
    a, b, C = _problem(12, 10, seed=3)
    c, A, rhs = _transport_lp(a, b, C)
    exact = linprog(c, A_eq=A, b_eq=rhs, bounds=(0, None), method="highs").fun
    lp = dl.solve_lp(c, A, rhs)  # the LP path with crossover solves it exactly too
    assert abs(lp.objective - exact) <= 1e-9 * exact
    for reg in (1e-2, 1e-3, 1e-4):
        res = dl.solve_ot(a, b, C, reg)
        gap = res.cost - exact
        assert -1e-12 <= gap <= reg * a.sum() * np.log(C.size) + 1e-12


def test_zero_mass_entries_and_bad_inputs():
    a, b, C = _problem(6, 5, seed=4)
    a[2] = 0.0
    b[0] = 0.0
    a, b = a / a.sum(), b / b.sum()
    res = dl.solve_ot(a, b, C, 0.01)
    assert np.all(res.plan[2] == 0) and np.all(res.plan[:, 0] == 0) and res.marginal_error <= 1e-10
    with pytest.raises(dl.InfeasibleLPError, match="masses"):
        dl.solve_ot(a, 2 * b, C, 0.01)
    with pytest.raises(dl.ProblemError, match="non-negative"):
        dl.solve_ot(-a, -b, C, 0.01)
    with pytest.raises(dl.ProblemError, match="shape"):
        dl.solve_ot(a, b, C.T, 0.01)
    with pytest.raises(dl.ProblemError, match="reg"):
        dl.solve_ot(a, b, C, 0.0)
    with pytest.raises(dl.ProblemError, match="method"):
        dl.solve_ot(a, b, C, 0.01, method="emd")


def test_sinkhorn_budget_is_reported():
    a, b, C = _problem(30, 30, seed=5)
    res = dl.sinkhorn(a, b, C, 1e-3, tol=1e-14, max_iter=20)
    assert res.status == "max_iter" and res.marginal_error > 1e-14 and res.iterations == 20
