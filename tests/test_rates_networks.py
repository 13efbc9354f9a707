"""Rate studies and deviations for every network family with a scale (dlnlab.studies).

The two-layer network ``x = u * v`` from ``u0 = 2 sqrt(a)``, ``v0 = 0`` has the flow limit of the
symmetric depth-2 network at scale ``a`` (docs/theory.md section 2) but a different mirror map and
dual coordinates, so the two deviations are independent computations of the same number.
"""

import math

import numpy as np
import pytest

import dlnlab as dl
from dlnlab import theory
from dlnlab.studies import deviation, rates

LN10 = math.log(10.0)
#: Initial layers for the seed random problem (N = 5), a unique smallest layer per coordinate.
LAYERS = np.array([[0.3, 0.2, 0.1, 0.25, 0.15], [0.5, -0.4, 0.6, 0.45, -0.35], [0.7, 0.8, -0.9, 0.65, 0.75]])


@pytest.mark.parametrize("problem", ["random", "gauss-3x7"])
@pytest.mark.parametrize("log10_scale", [-40.0, -200.0])
def test_two_layer_deviation_equals_the_symmetric_one(problem, log10_scale):
    """Same limit, two maps: the deviations agree to ~1e-13 in log10 (observed <= 1e-13; both are
    exact to ~cond * log(1/a) * 1e-16 relative); 1e-10 is asserted. The 3 x 7 problem has |S| = 1 < m,
    so the free dual directions are refined in the two-layer map's log domain too."""
    P = dl.random_problem() if problem == "random" else dl.gaussian_problem(3, 7, 1, seed=0)
    target = theory.bp_target(P)
    a = 10.0 ** log10_scale
    sym = dl.flow_limit(P, dl.SymmetricDLN.from_log_scale(2, log10_scale * LN10))
    two = dl.flow_limit(P, dl.TwoLayerDLN(u0=np.full(P.N, 2 * math.sqrt(a)), v0=np.zeros(P.N)))
    d_sym = deviation.deviation_from_bp(P, sym, target.support, target.x)
    d_two = deviation.deviation_from_bp(P, two, target.support, target.x)
    assert d_two.log10_norm == pytest.approx(d_sym.log10_norm, abs=1e-10)
    assert np.allclose(d_two.direction, d_sym.direction, atol=1e-10)
    assert d_two.log10_norm < -13  # far below what float64 subtraction can show
    assert d_two.free_residual <= 1e-12


@pytest.mark.parametrize("net", [
    dl.TwoLayerDLN(u0=[0.02, 0.01, 0.03, 0.015, 0.02], v0=[0.0, 0.01, -0.005, 0.0, 0.01]),
    dl.LayeredDLN(LAYERS * 0.1),
], ids=["two-layer", "layered-3"])
def test_deviation_equals_subtraction_where_float64_resolves_it(net):
    """Where x_inf - x* is far above 1e-16, the identity-based deviation is the plain difference
    (to ~1e-15 absolute: the difference's own rounding; 1e-12 asserted)."""
    P = dl.random_problem()
    target = theory.bp_target(P)
    res = dl.flow_limit(P, net)
    dev = deviation.deviation_from_bp(P, res, target.support, target.x)
    assert np.linalg.norm(res.x - target.x) > 1e-4
    assert np.max(np.abs(dev.vector() - (res.x - target.x))) <= 1e-12


def test_rate_study_on_a_two_layer_network():
    """A shaped two-layer initialization: slope 1 - rho = 0.7449 (docs/theory.md section 5; the
    shape changes the constant only, by O(1/log(1/a)) in the exponent, which a fit down to 1e-300
    resolves to ~1e-4; 1e-3 asserted); no closed-form constant is claimed for it."""
    net = dl.TwoLayerDLN(u0=[1e-3, 2e-3, 1e-3, 3e-3, 2e-3], v0=[0.0, 1e-3, 0.0, 0.0, -1e-3])
    study = rates.rate_study(dl.random_problem(), networks=[net], log10_scales=np.arange(-20.0, -301.0, -20.0))
    (curve,) = study.curves
    assert curve.depth == 2.0 and curve.method == "deviation"
    assert curve.predicted_slope == pytest.approx(1 - 0.2551, abs=1e-4)
    assert curve.fit.slope == pytest.approx(curve.predicted_slope, abs=1e-3)
    assert curve.predicted_log10_constant is None
    (record,) = study.records()
    assert record["pass"] and record["depth"] == 2.0 and record["curve"] == curve.network != ""


def test_networks_replace_depths():
    """The symmetric network given as a network is the depth study's own curve."""
    grid = np.arange(-20.0, -101.0, -40.0)
    P = dl.random_problem()
    by_depth = rates.rate_study(P, depths=(3,), log10_scales=grid).curves[0]
    by_net = rates.rate_study(P, depths=(2, 4), networks=[dl.SymmetricDLN(depth=3, scale=1e-3)],
                              log10_scales=grid).curves
    assert len(by_net) == 1
    assert np.array_equal(by_net[0].log10_error, by_depth.log10_error)
    assert by_net[0].predicted_log10_constant == by_depth.predicted_log10_constant


def test_networks_outside_the_rate_theory_are_refused():
    P = dl.random_problem()
    with pytest.raises(dl.NetworkError, match="linear program"):
        rates.rate_study(P, networks=[dl.NonNegativeDLN(u0=1e-3)])
    with pytest.raises(dl.NetworkError, match="not a scale family"):
        rates.rate_study(P, networks=[object()])
    with pytest.raises(dl.NetworkError, match="empty"):
        rates.rate_study(P, networks=[])
    # non-unique BP: the selected minimizer is the symmetric network's, not the two-layer one's
    with pytest.raises(dl.NetworkError, match="not unique"):
        rates.rate_study(dl.line_problem(), networks=[dl.TwoLayerDLN(u0=[1e-3] * 3, v0=[0.0] * 3)])


def test_layered_deviation_says_what_it_cannot_resolve():
    """The layered map (L >= 3) is evaluated in float64 only: the free dual directions (|S| < m)
    and entries below the underflow are refused with a NetworkError, not answered wrongly."""
    P = dl.gaussian_problem(3, 7, 1, seed=0)
    target = theory.bp_target(P)
    U = np.abs(np.random.default_rng(0).uniform(0.05, 0.1, (3, 7))) * [[1.0], [1.5], [2.0]]
    res = dl.flow_limit(P, dl.LayeredDLN(U))
    with pytest.raises(dl.NetworkError, match="free dual directions"):
        deviation.deviation_from_bp(P, res, target.support, target.x)


def test_non_negative_deviation_in_log_domain():
    """The entropic map is evaluated in log domain: off-support entries of 1e-434 and 1e-869,
    far below the float64 underflow, against the Gibbs closed form x_j / x_0 = exp(-c_j / reg)
    (x_0 = 1 - 1e-434; the dual coordinates carry ~1e-16 absolute error, i.e. ~1e-13 relative
    on x_j after division by reg = 1e-3; 1e-9 in log10 asserted)."""
    A, y = np.array([[1.0, 1.0, 1.0]]), np.array([1.0])
    res = dl.flow_limit(A, y, dl.NonNegativeDLN(cost=[0.0, 1.0, 2.0], reg=1e-3))
    assert res.x[1] == 0.0  # underflowed in float64
    dev = deviation.deviation_from_bp(dl.Problem(A, y), res, [0])
    assert dev.log10_off[0] == pytest.approx(-1000.0 / LN10, abs=1e-9)
    assert dev.log10_off[1] == pytest.approx(-2000.0 / LN10, abs=1e-9)
    assert dev.log10_norm == pytest.approx(math.log10(math.sqrt(2)) - 1000.0 / LN10, abs=1e-9)
