"""Donoho-Tanner phase diagram: the weak threshold two ways, the logistic 50% fit, and BP at N = 200."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from dlnlab.errors import DLNError
from dlnlab.sweep import ResultStore, parse_config, run_sweep, transitions
from dlnlab.sweep.phase import logistic_fit, transition
from dlnlab.sweep.phase_figure import plot_phase
from dlnlab.theory import net_exponent, weak_threshold

# docs/theory.md section 9 (three digits)
TABLE = {0.1: 0.189, 0.25: 0.267, 0.5: 0.386, 0.75: 0.534, 0.9: 0.678}


@pytest.mark.parametrize("delta", sorted(TABLE))
def test_weak_threshold_two_independent_ways_and_the_table(delta):
    polytope = weak_threshold(delta, method="polytope")
    statdim = weak_threshold(delta, method="statdim")
    # Donoho's face-counting exponents and ALMT's statistical dimension are different
    # formulas for the same curve; both are solved to ~1e-14, so 1e-9 is a tight check
    assert abs(polytope - statdim) < 1e-9
    assert abs(polytope - TABLE[delta]) <= 6e-4  # the table is rounded to 3 digits


def test_face_exponent_peaks_at_zero():
    """Angle sums add up to one, so max over face dimensions of Psi_net is exactly 0 for any
    sparsity: a consistency check of the three exponents together."""
    for kappa in (0.05, 0.2, 0.4):
        res = optimize.minimize_scalar(lambda nu: -net_exponent(nu, kappa), bounds=(kappa + 1e-6, 1 - 1e-9),
                                       method="bounded", options={"xatol": 1e-12})
        assert abs(res.fun) < 1e-9


@pytest.mark.parametrize("k, l, angle", [
    (0, 1, 0.5),                                      # a segment's end point
    (0, 2, 1.0 / 6.0),                                # equilateral triangle: 60 degrees
    (1, 3, math.acos(1.0 / 3.0) / (2.0 * math.pi)),   # tetrahedron edge: dihedral angle
])
def test_internal_angle_representation(k, l, angle):
    """The representation the internal exponent is derived from:
    beta(T^k, T^l) = 2^-(l-k) sqrt((l+1)/(k+1)) E exp(-(H_1 + ... + H_{l-k})^2 / (2(k+1))),
    H_j half-normal; checked by quadrature against elementary angles."""
    m = l - k
    half_normal = lambda h: math.sqrt(2.0 / math.pi) * math.exp(-h * h / 2.0)
    if m == 1:
        expectation = integrate.quad(lambda h: half_normal(h) * math.exp(-h * h / (2 * (k + 1))), 0, np.inf)[0]
    else:
        expectation = integrate.dblquad(
            lambda h2, h1: half_normal(h1) * half_normal(h2) * math.exp(-(h1 + h2) ** 2 / (2 * (k + 1))),
            0, np.inf, 0, np.inf)[0]
    beta = 2.0 ** -m * math.sqrt((l + 1) / (k + 1)) * expectation
    assert abs(beta - angle) < 1e-8


def test_logistic_fit_matches_direct_likelihood_maximization():
    rng = np.random.default_rng(5)
    rho = np.repeat(np.linspace(0.1, 0.6, 11), 40)
    success = rng.random(rho.size) < special.expit(-25 * (rho - 0.37))
    b, cov, its, ok = logistic_fit(rho, success)
    nll = lambda c: -np.sum(success * (c[0] + c[1] * rho) - np.logaddexp(0, c[0] + c[1] * rho))
    direct = optimize.minimize(nll, x0=[1.0, -1.0], method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}).x
    assert ok and np.allclose(b, direct, rtol=1e-5)  # Nelder-Mead's own accuracy
    t = transition(rho, success, 0.5)
    assert abs(t.rho50 - 0.37) < 0.02 and t.rho_ci[0] < t.rho50 < t.rho_ci[1] and not t.separated
    assert t.n == rho.size and t.successes == int(success.sum())


def test_separated_data_bracket_the_50_percent_point():
    t = transition([0.1, 0.2, 0.3, 0.4] * 3, [True, True, False, False] * 3, 0.5)
    assert t.separated and t.rho_ci == (0.2, 0.3) and abs(t.rho50 - 0.25) < 1e-6  # symmetric data


def test_transition_refuses_columns_without_a_transition():
    with pytest.raises(DLNError, match="all 6 trials succeeded"):
        transition([0.1, 0.2, 0.3] * 2, [True] * 6, 0.5)
    with pytest.raises(DLNError, match="two or more rho"):
        transition([0.1] * 4, [True, False] * 2, 0.5)


DT_N200 = """
name = "dt-n200"
seed = 1
trials = 8
batch = 8
[problem]
N = 200
delta = [0.25, 0.5]
rho = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45]
[[methods]]
method = "bp"
"""


def test_basis_pursuit_50_percent_curve_at_N200_is_on_the_theory_curve(tmp_path):
    """48 Gaussian instances per delta across the transition. At N = 200 the empirical
    transition sits ~0.01 above the asymptotic curve, and the fit's standard error with
    these trials is ~0.02, so 0.05 is a real check (a wrong solver or success test misses
    by 0.1 or more)."""
    summary = run_sweep(parse_config(DT_N200), tmp_path, workers=2)
    assert summary.complete and summary.counts == {"converged": 96}
    with ResultStore.open(tmp_path) as store:
        rows = store.rows()
    assert max(r["residual"] for r in rows) < 1e-12  # polished on the support: rounding level
    fits = transitions(rows)
    (key, columns), = fits.items()
    assert key[0] == "bp" and [t.delta for t in columns] == [0.25, 0.5]
    for t in columns:
        assert abs(t.rho50 - weak_threshold(t.delta)) < 0.05, t
    png = plot_phase(rows, tmp_path / "phase.png")
    assert (tmp_path / "phase.png").stat().st_size > 10_000 and png.endswith("phase.png")
