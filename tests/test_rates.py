"""Rates to basis pursuit below float64 resolution (dlnlab.studies), checked against independent
computations: an mpmath Newton on the dual (dlnlab.reference.extended, written from the theory, not
from dlnlab.networks.base), plain HiGHS LPs (dlnlab.reference.highs) and the closed forms of the theory."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab import theory
from dlnlab.reference import extended
from dlnlab.studies import deviation, rates
from dlnlab.errors import NotBPSolutionError, ProblemError
from dlnlab.theory import kink_constant

LN10 = math.log(10.0)


def _limit(P, p, log10_a):
    return dl.flow_limit(P, dl.SymmetricDLN.from_log_scale(p, log10_a * LN10))


# ---------------------------------------------------------------- log-domain entries


@pytest.mark.parametrize("p", [2, 2.5, 3, 4])
def test_log_abs_primal_matches_the_maps(p):
    net = dl.SymmetricDLN(depth=p, scale=1e-8)
    gap = np.array([1e-12, 1e-6, 0.01, 0.3, 0.9, 1.0])
    sign = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    x = net.mirror_map().primal(sign, gap)
    lx = deviation.log_abs_primal(net, sign, gap)
    nz = x != 0
    # two float64 evaluations of the same closed form: a few ulps times the exponent's size
    assert np.allclose(np.exp(lx[nz]), np.abs(x[nz]), rtol=1e-12, atol=0)
    assert lx[-1] == -np.inf  # z = 0 -> x = 0


def test_log_abs_primal_below_float_range():
    net = dl.SymmetricDLN.from_log_scale(3, -2000 * LN10)
    lx = deviation.log_abs_primal(net, np.array([1.0]), np.array([0.5]))
    # x = a (0.5^-3 - 1.5^-3) = a * 7.7037...: log10 x = -2000 + 0.88670 (the map underflows to 0)
    assert lx[0] / LN10 == pytest.approx(-2000 + math.log10(8 - 1.5 ** -3), abs=1e-10)


# ---------------------------------------------------------------- deviation vs extended precision


def _mp_exact_data(P, target, p, log10_a):
    """mpmath flow limit for the exact data y = A_S x*_S (x* as float64 numbers, exact in mp)."""
    dps = int(40 + 1.1 * (1 + (0 if p == 2 else (p - 2) / p)) * abs(log10_a))
    with mpmath.workdps(dps):
        y = [mpmath.fsum(mpmath.mpf(float(P.A[i, j])) * mpmath.mpf(float(target.x[j])) for j in target.support)
             for i in range(P.m)]
    return extended.mp_flow_limit(P.A, y, p, log10_a, dps=dps)


# (problem, depth, log10 scale): 1 x 2 (kink, slope 0.1 needs 1e-100), 3 x 5 seed problem (|S| = m),
# and 3 x 7 with |S| = 1 < m (free dual directions: the refinement in deviation_from_bp matters).
MP_CASES = [
    ("kink-0.1", 2, -100.0), ("kink-0.1", 3, -60.0), ("random", 2, -60.0), ("random", 4, -40.0),
    ("gauss-3x7-s0", 2, -100.0), ("gauss-3x7-s0", 3, -40.0),
]


def _problem(name):
    if name == "kink-0.1":
        return dl.kink_problem(0.1)
    if name == "random":
        return dl.random_problem()
    return dl.gaussian_problem(3, 7, 1, seed=0)


@pytest.mark.parametrize("name,p,L", MP_CASES)
def test_deviation_matches_extended_precision(name, p, L):
    P = _problem(name)
    target = theory.bp_target(P)
    mp = _mp_exact_data(P, target, p, L)
    dev = deviation.deviation_from_bp(P, _limit(P, p, L), target.support, target.x)
    # float64 off-support entries carry ~ c * 1e-16 * cond relative error (c = log(1/a) <= 230 here):
    # |delta log10| <= 1e-12 observed; 1e-10 is the bound asserted. The float64 subtraction would give
    # nothing below -16 here, and the errors reach 1e-100.
    assert dev.log10_norm == pytest.approx(mp.log10_error(target.x), abs=1e-10)
    assert dev.log10_norm < -9  # the regime float64 subtraction cannot reach
    assert dev.free_residual <= 1e-12


def test_off_support_entries_have_relative_precision():
    """The claim behind deviation_from_bp: each x_j (j off S) from (sign, gap) is accurate to
    relative precision, even at 1e-60, against the mpmath limit entry by entry."""
    P = dl.random_problem()
    target = theory.bp_target(P)
    mp = _mp_exact_data(P, target, 2, -80.0)
    dev = deviation.deviation_from_bp(P, _limit(P, 2, -80.0), target.support, target.x)
    for j, lx in zip(dev.off, dev.log10_off):
        ref = float(mpmath.log10(abs(mp.x[j])))
        assert ref < -30
        assert lx == pytest.approx(ref, abs=1e-11)  # relative 2e-11 on entries of 1e-30 .. 1e-60


def test_mp_reference_agrees_with_flow_limit_where_float64_suffices():
    """The extended-precision solver itself, against flow_limit at a moderate scale."""
    P = dl.line_problem()
    for p in (2, 3):
        mp = extended.mp_flow_limit(P.A, P.y, p, -3.0)
        x = _limit(P, p, -3.0).x
        assert np.max(np.abs(np.array([float(v) for v in mp.x]) - x)) <= 1e-12  # float64 limit: ~1e-15
        assert float(mp.residual) <= 10.0 ** -(mp.dps - 12)  # its stopping rule (dps = 44 here)


def test_mp_path_equals_separate_mp_runs():
    """One continuation through several scales gives each scale's own limit: the stages it
    shares with a separate run are the same computation, and Newton stops at residual
    <= 1e-48 (dps 60); measured differences 0 and 2.6e-58 (p = 2), 0 and 9.8e-51 (p = 3)."""
    P = dl.line_problem()
    for p in (2, 3):
        path = extended.mp_flow_limit_path(P.A, P.y, p, [-12.0, -5.0], dps=60)
        for L, got in zip((-12.0, -5.0), path):
            alone = extended.mp_flow_limit(P.A, P.y, p, L, dps=60)
            with mpmath.workdps(60):
                assert max(abs(a - b) for a, b in zip(got.x, alone.x)) <= mpmath.mpf("1e-45")
    with pytest.raises(dl.DLNError):
        extended.mp_flow_limit_path(P.A, P.y, 2, [])


def test_deviation_equals_subtraction_at_moderate_scales():
    """Where x_inf - x* is well above 1e-16, the identity-based deviation equals the difference."""
    P = dl.random_problem()
    target = theory.bp_target(P)
    for p, L in ((2, -2.0), (3, -4.0)):
        res = _limit(P, p, L)
        dev = deviation.deviation_from_bp(P, res, target.support, target.x)
        # float64 subtraction of O(1) vectors: ~1e-15 absolute
        assert np.allclose(dev.vector(), res.x - target.x, rtol=0, atol=1e-13)
        assert dev.identity_residual < 1e-13


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.sampled_from([1, 2]), p=st.sampled_from([2.0, 3.0]))
def test_deviation_identity_property(seed, k, p):
    """Random 2 x 5 problems with a unique BP solution: the deviation lies in ker A; off S it
    equals the flow's own entries when |S| = m (no free dual directions), and satisfies the
    free-direction condition W^T Q_off^T x_off = 0 when |S| < m (where flow_limit's float64
    residual cannot fix it: its entries there may differ, which is why deviation_from_bp refines)."""
    P = dl.gaussian_problem(2, 5, k, seed=seed)
    bp = dl.basis_pursuit(P)
    if not bp.unique:
        return
    res = _limit(P, p, -30.0)
    dev = deviation.deviation_from_bp(P, res, bp.support, bp.x)
    d = dev.direction
    scale = float(np.linalg.norm(P.A[:, bp.support], 2) * np.linalg.norm(d))
    assert np.linalg.norm(P.A @ d) <= 1e-12 * scale  # A d = 0: the deviation lives in ker A
    assert dev.free_residual <= 1e-12
    if bp.support.size == P.m:
        big = np.abs(res.x[dev.off]) > 1e-290
        got = 10 ** dev.log10_norm * d[dev.off]
        assert np.allclose(got[big], res.x[dev.off][big], rtol=1e-10, atol=0)


def test_deviation_rejects_wrong_supports():
    P = dl.random_problem()
    res = _limit(P, 2, -10.0)
    with pytest.raises(NotBPSolutionError, match="not the support"):
        deviation.deviation_from_bp(P, res, [0, 1])
    with pytest.raises(ProblemError, match="support indices"):
        deviation.deviation_from_bp(P, res, [7])
    line = dl.line_problem()
    with pytest.raises(NotBPSolutionError, match="not injective"):
        deviation.deviation_from_bp(line, _limit(line, 2, -5.0), [0, 1, 2])


# ---------------------------------------------------------------- rho, slopes, constants


def test_bp_target_against_highs(highs_oracle):
    P = dl.random_problem()
    t = theory.bp_target(P)
    assert np.allclose(t.x, highs_oracle.basis_pursuit(P.A, P.y), atol=1e-9)  # HiGHS' feasibility tolerance
    assert t.rho == pytest.approx(highs_oracle.certificate_rho(P.A, t.support, t.sign), abs=1e-9)
    assert t.rho == pytest.approx(0.2551, abs=5e-5)  # docs/theory.md section 5, 4 digits
    with pytest.raises(NotBPSolutionError, match="not unique"):
        theory.bp_target(dl.line_problem())


def test_random_problem_slopes_and_constants():
    """docs/theory.md section 5: seed random problem, p = 2 slope 0.745 (= 1 - rho), p > 2 slope 1."""
    grid = np.arange(-20.0, -301.0, -20.0)
    study = rates.rate_study(dl.random_problem(), depths=(2, 3), log10_scales=grid)
    two, three = study.curves
    assert two.fit.slope == pytest.approx(0.745, abs=5e-4)  # docs/theory.md quotes 3 digits
    assert two.fit.slope == pytest.approx(1 - study.targets[2.0].rho, abs=1e-3)
    assert three.fit.slope == pytest.approx(1.0, abs=1e-3)
    # constants: exact asymptotics, so measured and predicted agree to ~1e-12 relative at a = 1e-300
    assert two.log10_constant == pytest.approx(two.predicted_log10_constant, abs=1e-6)
    assert three.log10_constant == pytest.approx(three.predicted_log10_constant, abs=1e-6)
    assert all(r["pass"] for r in study.records())


def test_kink_rho_09_slope_needs_tiny_scales():
    """rho = 0.9 (kink eps = 0.1): slope 0.1 at p = 2, visible only down to 1e-100 and below."""
    P = dl.kink_problem(0.1)
    target = theory.bp_target(P)
    assert target.rho == pytest.approx(0.9, abs=1e-12)
    curve = rates.rate_curve(P, 2, target, np.arange(-20.0, -201.0, -20.0))
    assert curve.fit.slope == pytest.approx(0.1, abs=0.02)   # the brief's bar
    assert curve.fit.slope == pytest.approx(0.1, abs=1e-4)   # what the exact asymptotics give
    # error = sqrt(1 + 0.81) a^0.1 at leading order (docs/theory.md section 5)
    assert 10 ** curve.log10_constant == pytest.approx(math.sqrt(1.81), rel=1e-6)


def test_gaussian_rho_near_09_slopes(highs_oracle):
    """A Gaussian 20 x 50 problem with |S| = 5 < m and rho = 0.896: slope 1 - rho (p = 2) and 1 (p = 3)."""
    P = dl.gaussian_problem(20, 50, 5, seed=2)
    target = theory.bp_target(P)
    assert 0.85 < target.rho < 0.95
    assert target.rho == pytest.approx(highs_oracle.certificate_rho(P.A, target.support, target.sign), abs=1e-8)
    two = rates.rate_curve(P, 2, target, np.arange(-20.0, -301.0, -40.0))
    assert two.fit.slope == pytest.approx(1 - target.rho, abs=0.02)
    three = rates.rate_curve(P, 3, target, np.arange(-20.0, -101.0, -20.0))
    assert three.fit.slope == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("p,eps", [(3, 0.3), (3, 0.01), (4, 0.1), (5, 0.03)])
def test_predicted_constant_is_the_kink_constant(p, eps):
    P = dl.kink_problem(eps)
    target = theory.bp_target(P)
    L = -200.0
    pred = theory.predicted_error(P, target, p, L)
    assert pred - L == pytest.approx(math.log10(kink_constant(eps, p)), abs=1e-12)


def test_kink_constant_closed_form():
    """docs/theory.md section 5: sqrt(1 + (1-eps)^2) h_p(1-eps); for p = 3, eps = 0.1:
    sqrt(1.81) (0.1^-3 - 1.9^-3) = 1345.166..."""
    assert kink_constant(0.1, 3) == pytest.approx(math.sqrt(1.81) * (1000 - 1.9 ** -3), rel=1e-14)


def test_limiting_certificate_is_a_certificate():
    """p > 2 with |S| < m: tau* has A_S^T w = sigma and |tau*| < 1 off S, and minimizes the barrier."""
    P = dl.gaussian_problem(10, 30, 2, seed=1)
    target = theory.bp_target(P)
    tau = theory.limiting_certificate(P, target, 3.0)
    assert np.allclose(tau[target.support], target.sign, atol=1e-12)
    off = np.setdiff1d(np.arange(P.N), target.support)
    assert np.max(np.abs(tau[off])) < 1


def test_selected_minimizer_slopes():
    """Non-unique BP (derived in theory.predicted_slope): line p=2 -> 2 (no off-face entries),
    plane p=2 -> 1 - |z_4| = 0.5 (A_T^T w = 1 gives w = (1/2, 1/2), z_4 = 0.5), p > 2 -> 1."""
    line, plane = dl.line_problem(), dl.plane_problem()
    assert theory.predicted_slope(2, theory.selected_target(line, 2)) == 2.0
    t = theory.selected_target(plane, 2)
    assert t.rho == pytest.approx(0.5, abs=1e-12)
    assert theory.predicted_slope(2, t) == pytest.approx(0.5, abs=1e-12)
    assert theory.predicted_slope(3, theory.selected_target(plane, 3)) == 1.0
    curve = rates.rate_curve(plane, 2, t, np.arange(-3.0, -12.5, -1.0))
    assert curve.fit.slope == pytest.approx(0.5, abs=0.02)


def test_fit_slope():
    fit = rates.fit_slope([0, -1, -2, -3, np.nan], [1.0, 0.5, 0.0, -0.5, 2.0])
    assert fit.slope == pytest.approx(0.5) and fit.n == 4 and fit.curvature < 1e-12
    assert rates.fit_slope([0, -1, -2], [0, -1, -2], hi=-1).range == (-2.0, -1.0)
    with pytest.raises(ProblemError, match="at least two"):
        rates.fit_slope([0, -1], [0, np.nan])
