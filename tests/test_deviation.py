"""deviation_from_bp where |S| < m: the free dual directions, checked in extended precision."""

import math

import mpmath as mp
import numpy as np
import pytest

import dlnlab as dl
from dlnlab.studies import deviation

LN10 = math.log(10.0)


def sparse_problem():
    """5 x 10 Gaussian A, x* 2-sparse and the unique BP solution (checked below): |S| = 2 < m = 5."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((5, 10))
    x_star = np.zeros(10)
    x_star[[1, 6]] = [1.0, -0.7]
    return A, x_star


def test_fixture_is_the_bp_solution(highs_oracle):
    A, x_star = sparse_problem()
    assert np.allclose(highs_oracle.basis_pursuit(A, A @ x_star), x_star, atol=1e-9)  # HiGHS' tolerance


@pytest.mark.parametrize("depth, log10_scale", [(2, -40.0), (2, -200.0), (3, -60.0)])
def test_deviation_matches_extended_precision(depth, log10_scale, mp_oracle):
    """Each entry of delta = x_inf - x* to relative 1e-10, although ||delta|| << 1e-16 ||x*||.

    The mpmath limit uses exact data y = A x* (formed in mpmath). Off-support entries come
    from dual coordinates known to ~1e-16 absolute, which the map turns into a relative error
    of at most log(1/a) * 1e-16 ~ 5e-14 (p = 2); the support's deviation is a well-conditioned
    linear image of them. 1e-10 leaves a margin of 1000.
    """
    A, x_star = sparse_problem()
    net = dl.SymmetricDLN.from_log_scale(depth, log10_scale * LN10)
    P = dl.Problem(A, A @ x_star)
    dev = deviation.deviation_from_bp(P, dl.flow_limit(P, net), [1, 6], x_star)
    assert dev.free_residual < 1e-12
    dps = int(40 + 1.1 * 1.5 * abs(log10_scale))
    with mp.workdps(dps):
        y = [mp.fsum(mp.mpf(float(A[i, j])) * mp.mpf(float(x_star[j])) for j in range(10)) for i in range(5)]
        ref = mp_oracle.mp_flow_limit(A, y, depth, log10_scale, dps=dps)
        delta_ref = [ref.x[j] - mp.mpf(float(x_star[j])) for j in range(10)]
        got = dev.vector() if dev.log10_norm > -300 else None
        assert got is not None
        rel = max(abs((mp.mpf(float(got[j])) - delta_ref[j]) / delta_ref[j]) for j in range(10))
    assert rel < 1e-10
    assert dev.log10_norm < -13  # far below what float64 subtraction of x* (~1) can show


def test_plain_flow_limit_cannot_resolve_the_free_directions():
    """Why the refinement exists: with |S| < m the float64 limit's off-support entries are noise."""
    A, x_star = sparse_problem()
    P = dl.Problem(A, A @ x_star)
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-200))
    dev = deviation.deviation_from_bp(P, res, [1, 6], x_star)
    off = np.setdiff1d(np.arange(10), [1, 6])
    rel = np.abs(res.x[off] - dev.vector()[off]) / np.abs(dev.vector()[off])
    assert rel.max() > 1e-3


def test_moderate_scale_equals_subtraction():
    A, x_star = sparse_problem()
    P = dl.Problem(A, A @ x_star)
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-4))
    dev = deviation.deviation_from_bp(P, res, [1, 6], x_star)
    assert np.allclose(dev.vector(), res.x - x_star, rtol=0, atol=1e-13)


@pytest.mark.parametrize("eps", [0.1, 0.3])
def test_kink_rate_is_one_minus_rho(eps):
    """docs/theory.md section 5: on A = [1, 1-eps] (rho = 1-eps), p = 2 error ~ a^(1-rho) = a^eps."""
    P = dl.kink_problem(eps)
    L = np.array([-100.0, -200.0, -300.0])
    errs = [deviation.deviation_from_bp(P, dl.flow_limit(P, dl.SymmetricDLN.from_log_scale(2, l * LN10)), [0]).log10_norm
            for l in L]
    slope = np.polyfit(L, errs, 1)[0]
    # log-error = eps log a + log C + O(1/log(1/a)): within 0.005 at a <= 1e-100
    assert abs(slope - eps) < 0.005
