"""deviation_limit against an independent mpmath flow limit, and its rates on the kink family."""

import mpmath as mp
import numpy as np
import pytest

import dlnlab as dl
from dlnlab.deviation import deviation_limit
from mp_reference import mp_flow_limit


def sparse_problem():
    """5 x 10 Gaussian A, x* 2-sparse: the unique BP solution (checked with HiGHS below), |S| < m."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((5, 10))
    x_star = np.zeros(10)
    x_star[[1, 6]] = [1.0, -0.7]
    return A, x_star


def test_fixture_is_the_unique_bp_solution():
    from scipy.optimize import linprog
    A, x_star = sparse_problem()
    r = linprog(np.ones(20), A_eq=np.hstack([A, -A]), b_eq=A @ x_star, bounds=(0, None), method="highs")
    assert np.allclose(r.x[:10] - r.x[10:], x_star, atol=1e-9)


@pytest.mark.parametrize("depth, scale, dps", [(2, 1e-40, 80), (2, 1e-200, 120), (3, 1e-60, 140)])
def test_deviation_matches_extended_precision(depth, scale, dps):
    """Every entry of delta = x_inf - x* to relative 1e-10, although |delta| << 1e-16 |x*|.

    Entries off the support come from dual coordinates known to ~1e-16 absolute, which the
    map turns into a relative error of at most log(1/a) * 1e-16 ~ 5e-14 (p = 2); the support's
    deviation is a well-conditioned linear image of them. 1e-10 leaves a margin of 1000.
    """
    A, x_star = sparse_problem()
    dev = deviation_limit(A, x_star, dl.SymmetricDLN(depth=depth, scale=scale))
    assert dev.status == "converged" and dev.free_residual < 1e-11
    ref = mp_flow_limit(A.tolist(), x_star, depth, scale, dps=dps)
    with mp.workdps(dps):
        delta_ref = [ref[i] - mp.mpf(float(x_star[i])) for i in range(10)]
        rel = max(abs((mp.mpf(float(dev.delta[i])) - delta_ref[i]) / delta_ref[i]) for i in range(10))
    assert rel < 1e-10
    assert dev.error < 1e-13  # where float64 subtraction of x* (~1) keeps at most a few digits


def test_plain_flow_limit_cannot_resolve_the_free_directions():
    """Why the module exists: with |S| < m the float64 limit's off-support entries are noise."""
    A, x_star = sparse_problem()
    dev = deviation_limit(A, x_star, dl.SymmetricDLN(depth=2, scale=1e-200))
    off = np.setdiff1d(np.arange(10), [1, 6])
    rel = np.abs(dev.limit.x[off] - dev.delta[off]) / np.abs(dev.delta[off])
    assert rel.max() > 1e-3


def test_moderate_scale_equals_subtraction():
    A, x_star = sparse_problem()
    net = dl.SymmetricDLN(depth=2, scale=1e-4)
    dev = deviation_limit(A, x_star, net)
    plain = dl.flow_limit(A, A @ x_star, net)
    assert np.allclose(dev.delta, plain.x - x_star, rtol=0, atol=1e-13)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_kink_rate_is_one_minus_rho(eps):
    """THEORY.md section 5: on A = [1, 1-eps] (rho = 1-eps), p = 2 error ~ a^(1-rho) = a^eps."""
    P = dl.kink_problem(eps)
    scales = np.array([1e-100, 1e-200, 1e-300])
    errs = [deviation_limit(P.A, P.x_true, dl.SymmetricDLN(depth=2, scale=a)).error for a in scales]
    slope = np.polyfit(np.log(scales), np.log(errs), 1)[0]
    # log-error = eps log a + log C + O(1/log(1/a)) corrections: within 0.005 at a <= 1e-100
    assert abs(slope - eps) < 0.005


def test_rejects_a_support_that_is_not_injective():
    A = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    with pytest.raises(dl.NotBPSolutionError, match="rank"):
        deviation_limit(A, np.array([1.0, 1.0, 0.0]), dl.SymmetricDLN(depth=2, scale=1e-6))
