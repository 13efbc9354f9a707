"""flow_trajectory: the m-dimensional dual ODE against the full networks' weight flows."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.reference.full_network import layered_flow, symmetric_flow

# The reduced ODE at rtol 1e-12 and the full network at rtol 1e-13 both resolve x to ~1e-11
# relative on these 3 x 5 problems; 1e-8 (the bar) leaves three orders of margin.
TRAJ_RTOL = 1e-8


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("depth, alpha", [(2.0, 0.1), (3.0, 0.3)])
def test_symmetric_trajectory_matches_full_network(depth, alpha):
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=depth, alpha=alpha)
    times = np.array([0.0, 0.5, 1.0, 2.0, 4.0]) / net.dual_scale  # through the l1 transition
    ref = symmetric_flow(P.A, P.y, depth, alpha, times)
    tr = dl.flow_trajectory(P, net, times, rtol=1e-12, atol=1e-15)
    assert tr.success and _rel(tr.x, ref) <= TRAJ_RTOL


def test_two_layer_trajectory_matches_full_network():
    P = dl.random_problem()
    u0 = np.array([0.3, -0.2, 0.25, 0.1, 0.4])
    v0 = np.array([0.1, 0.3, -0.05, 0.0, -0.4])  # includes |u0| = |v0| (delta = 0) at the last coordinate
    times = np.array([0.0, 1.0, 3.0, 10.0])
    ref, _ = layered_flow(P.A, P.y, np.vstack([u0, v0]), times)
    tr = dl.flow_trajectory(P, dl.TwoLayerDLN(u0, v0), times, rtol=1e-12, atol=1e-15)
    assert tr.success and _rel(tr.x, ref) <= TRAJ_RTOL


def test_layered_trajectory_matches_full_network_and_conserves():
    P = dl.random_problem()
    rng = np.random.default_rng(3)
    U = rng.uniform(0.2, 0.8, (3, 5)) * rng.choice([-1.0, 1.0], (3, 5))
    times = np.array([0.0, 0.5, 2.0, 6.0])
    ref, layers = layered_flow(P.A, P.y, U, times)
    net = dl.LayeredDLN(U)
    tr = dl.flow_trajectory(P, net, times, rtol=1e-12, atol=1e-15)
    assert tr.success and _rel(tr.x, ref) <= TRAJ_RTOL
    # the full network conserves (u^j)^2 - (u^k)^2 (relative to the weights' size, Radau 1e-13)
    diffs = layers ** 2 - layers[:, :1] ** 2
    assert np.max(np.abs(diffs - diffs[0])) <= 1e-10
    # and the layers reconstructed from the reduced trajectory's x are the network's layers
    for k in range(times.size):
        assert np.allclose(net.layers(tr.x[k]), layers[k], rtol=0, atol=1e-8)


@pytest.mark.parametrize("net", [
    dl.SymmetricDLN(depth=2, scale=1e-30),
    dl.SymmetricDLN(depth=3, scale=1e-6),
    dl.SymmetricDLN(depth=4, scale=1e-3),
    dl.TwoLayerDLN([1e-3, 2e-3, -1e-3], [0.0, 1e-3, 5e-4]),
    dl.LayeredDLN([[0.3, 0.2, 0.1], [0.5, -0.4, 0.6], [0.7, 0.8, -0.9]]),
], ids=["p2-1e-30", "p3-1e-6", "p4-1e-3", "two-layer", "layered-3"])
def test_long_times_sit_on_flow_limit(net):
    P = dl.line_problem()
    T = np.array([0.0, 1.0, 3.0, 1e3, 1e9, 1e15])
    tr = dl.flow_trajectory(P, net, T / net.dual_scale)
    lim = dl.flow_limit(P, net)
    # at rest the trajectory is the polished dual minimizer: same point as the dual Newton
    # up to the integrator tolerance (1e-10) times the map's condition (<= ~3e3 here)
    assert _rel(tr.x[-3:], np.tile(lim.x, (3, 1))) <= 1e-8
    assert tr.residual[-1] <= 1e-9
    assert np.allclose(tr.x[0], getattr(net, "x0", np.zeros(3)), rtol=0, atol=1e-15)


def test_mirror_flow_identity_on_full_network():
    """Labarriere et al.: d/dt grad Q(x(t)) = -grad f(x(t)) = A^T (y - A x), with the map's grad Q.

    x(t) comes from the full network's weights; grad Q from the map's inverse (dual units
    z = dual_scale * s); the time derivative by a central difference (h = 1e-4: error ~1e-8).
    """
    P = dl.random_problem()
    rng = np.random.default_rng(7)
    U = rng.uniform(0.2, 0.8, (3, 5)) * rng.choice([-1.0, 1.0], (3, 5))
    net = dl.LayeredDLN(U)
    M = net.mirror_map()
    h, t = 1e-4, 1.5
    X, _ = layered_flow(P.A, P.y, U, np.array([t - h, t, t + h]))
    s = [M.dual(x) for x in X]
    z = [sg * (1 - gp) for sg, gp in s]
    dgradQ = (z[2] - z[0]) / (2 * h) / net.dual_scale
    assert np.allclose(dgradQ, P.A.T @ (P.y - P.A @ X[1]), rtol=0, atol=1e-6)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), depth=st.sampled_from([2.0, 2.5, 3.0]), log_scale=st.floats(-12, 0))
def test_loss_never_increases(seed, depth, log_scale):
    """Gradient flow decreases the loss; the dual ODE must reproduce that at any output grid."""
    P = dl.gaussian_problem(4, 9, 2, seed=seed)
    net = dl.SymmetricDLN(depth=depth, scale=10.0 ** log_scale)
    times = np.geomspace(1e-3, 1e3, 25) / net.dual_scale
    tr = dl.flow_trajectory(P, net, np.concatenate([[0.0], times]))
    # decreases up to the integration error of the loss (~1e-10 of its initial value)
    assert np.all(np.diff(tr.loss) <= 1e-10 * tr.loss[0])


@pytest.mark.parametrize("times, match", [
    ([1.0, -1.0], ">= 0"),
    ([-1.0, 2.0], ">= 0"),
    ([2.0, 1.0], "sorted"),
    ([0.0, np.inf], "NaN or inf"),
    ([np.nan], "NaN or inf"),
    ([], "non-empty"),
    ([[0.0, 1.0]], "1-D"),
    ("abc", "real number"),
])
def test_bad_times(times, match):
    with pytest.raises(dl.TimeGridError, match=match):
        dl.flow_trajectory(dl.line_problem(), dl.SymmetricDLN(depth=2, scale=1e-3), times)


def test_bad_method_and_missing_network():
    with pytest.raises(dl.OptionError, match="method"):
        dl.flow_trajectory(dl.line_problem(), dl.SymmetricDLN(depth=2, scale=1e-3), [1.0], method="RK45")
    with pytest.raises(dl.NetworkError, match="needs a network"):
        dl.flow_trajectory(dl.line_problem(), None, [1.0])


def test_tiny_scale_at_depth_3_is_flagged_imprecise():
    """p > 2 near the barrier: float64 rounding of the dual costs k eps / gap relative in x."""
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=3, scale=1e-40)
    tr = dl.flow_trajectory(P, net, [0.0, 10.0 / net.dual_scale], throw=False)
    assert tr.status == "imprecise" and tr.condition * np.finfo(float).eps > 1e-8
    with pytest.raises(dl.ConvergenceError, match="imprecise|rounding"):
        dl.flow_trajectory(P, net, [0.0, 10.0 / net.dual_scale])


def test_zero_time_only_and_rescaled_time():
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=2, scale=np.exp(-40.0))
    tr = dl.flow_trajectory(P, net, [0.0, 0.0])
    assert np.all(tr.x == 0) and tr.nfev == 0 and np.allclose(tr.loss, 9.0)
    assert dl.rescaled_time(net, 10.0) == pytest.approx(1.0, rel=1e-14)  # T = 4 t / log(1/a)


def test_cli_flow_and_saddle(tmp_path):
    import json

    from typer.testing import CliRunner

    from dlnlab.cli import app

    runner = CliRunner()
    path = dl.line_problem().save(tmp_path / "line.npz")
    out = runner.invoke(app, ["flow", str(path), "--depth", "3", "--scale", "1e-6", "--times", "0,0.5,3",
                              "--rescaled", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    net = dl.SymmetricDLN(depth=3, scale=1e-6)
    ref = dl.flow_trajectory(dl.line_problem(), net, np.array([0, 0.5, 3]) / net.dual_scale)
    assert np.allclose(payload["x"], ref.x, rtol=0, atol=1e-14) and payload["status"] == "converged"
    out = runner.invoke(app, ["flow", str(path), "--scale", "1e-3", "--times", "2,1"])
    assert out.exit_code == 2 and "sorted" in out.output
    out = runner.invoke(app, ["flow", str(path), "--scale", "1e-3", "--times", "a,b"])
    assert out.exit_code == 2 and "comma-separated" in out.output
    out = runner.invoke(app, ["saddle", str(path)])
    assert out.exit_code == 0 and "status converged" in out.output


def test_a_spent_step_budget_is_max_iter_and_iterations_count_the_steps():
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=2, scale=1e-6)
    short = dl.flow_trajectory(P, net, [0.0, 1e4], max_steps=5, throw=False)
    assert short.status == "max_iter" and not short.success and short.iterations == 5
    full = dl.flow_trajectory(P, net, [0.0, 1e4])
    assert full.success and full.iterations > 5 and full.to_dict()["iterations"] == full.iterations


@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0])
@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e-6, 1e-20, 1e-100])
def test_fast_primal_of_the_right_hand_side_against_extended_precision(depth, scale):
    """The right-hand side's unchecked map evaluation equals X(z) to 40 digits' rounding.

    ``z`` is exact input; the bound 5e-14 is ~c eps (c <= 50, the sinh path's argument) plus a
    few roundings of the powers. Tiny ``|z|`` (the kernel regime) keep it too (measured <= 2.8e-15):
    the log-domain and depth > 2 forms cancelled there (``x = 0`` at ``|z| < eps``); 350 digits
    resolve them."""
    import mpmath as mp

    from dlnlab.dynamics.trajectory import _fast_primal

    net = dl.SymmetricDLN(depth=depth, scale=scale)
    fast = _fast_primal(net.mirror_map())
    assert fast is not None
    z = np.concatenate([np.random.default_rng(3).uniform(-0.999999, 0.999999, 60), [0.0, 1 - 1e-12, -(1 - 1e-9)],
                        [1e-5, -1e-20, 1e-100, -1e-300]])
    x = fast(z)
    with mp.workdps(350):
        if depth == 2:
            m = net.mirror_map()
            exact = [2 * mp.exp(mp.mpf(m.log_a)) * mp.sinh(mp.mpf(m.c) * mp.mpf(v)) for v in z]
        else:  # X(z) = a ((1 - z)^-k - (1 + z)^-k), k = p / (p - 2), in the map's own variables
            m = net.mirror_map()
            a, k = mp.mpf(m._a), mp.mpf(m.k)
            exact = [a * ((1 - mp.mpf(v)) ** -k - (1 + mp.mpf(v)) ** -k) for v in z]
        exact = np.array([float(v) for v in exact])
    scale_x = np.maximum(np.abs(exact), np.finfo(float).tiny)
    assert np.max(np.abs(x - exact) / scale_x) <= 5e-14


@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0])
@pytest.mark.parametrize("scale", [1e-3, 1e-6, 1e-20])
def test_fast_field_and_slope_match_the_checked_map(depth, scale):
    """The right-hand side with the map's constants folded into A (and integer-k powers from
    reciprocals) equals ``y - A X(A^T w)`` from the map's own ``primal``; the slope equals ``slope``.

    Measured: field 1.6e-16 relative to ``|A| (|x| + X' |z|)`` (the rounding of ``z`` included),
    slope 5.5e-15 relative; bound 1e-13."""
    from dlnlab.dynamics.dual import dual_primal
    from dlnlab.dynamics.trajectory import _fast_field, _fast_maps

    P = dl.gaussian_problem(8, 40, 2, seed=1)
    m = dl.SymmetricDLN(depth=depth, scale=scale).mirror_map()
    field, (_, slope) = _fast_field(m, P.A, P.y), _fast_maps(m)
    rng = np.random.default_rng(0)
    for _ in range(5):
        w = rng.standard_normal(8)
        w *= 0.999 / np.max(np.abs(P.A.T @ w))  # max |z| = 0.999: inside every domain
        x, sign, gap = dual_primal(m, P.A, w)
        ref = P.y - P.A @ x
        exact = m.slope(sign, gap)
        # an ulp of z (another summation order of A^T w) moves x_i by X'(z_i) |z_i| eps
        sens = np.abs(x) + exact * np.abs(P.A.T @ w)
        assert np.max(np.abs(field(w) - ref)) <= 1e-13 * np.max(np.abs(P.A) @ sens)
        assert np.max(np.abs(slope(P.A.T @ w) - exact) / exact) <= 1e-13
    if m.barrier:  # outside the domain the fast paths step aside (the checked path takes over)
        w = 1.5 * w
        assert field(w) is None and slope(P.A.T @ w) is None


@pytest.mark.parametrize("log10_scale", [-3.0, 10.0, -200.0])
def test_two_layer_fast_maps_against_extended_precision(log10_scale):
    """`TwoLayerMap`'s unchecked ``X(z) = P e^{cz} - M e^{-cz}`` and ``X'`` equal the exact values to
    ~(|log P| + c) eps relative (measured 9e-16, 3.6e-15, 2.9e-14 at c = 4.8, 1, 458), also at tiny ``|z|`` where the
    balanced start ``P = M`` cancels (the map's own ``primal`` gave 0 below ``eps``) and on one-signed
    coordinates (``v0 = +-u0``: ``M = 0`` or ``P = 0``)."""
    import mpmath as mp

    from dlnlab.dynamics.trajectory import _two_layer_maps

    u = 10.0 ** (log10_scale / 2) * np.array([1.0, 2.0, 1.0, 0.5, 3.0, 1.0])
    v = u * np.array([0.0, 0.3, 1.0, -1.0, -0.9, 0.0])
    m = dl.TwoLayerDLN(u, v).mirror_map()
    primal, slope = _two_layer_maps(m)
    assert primal is not None and slope is not None
    for z in (np.array([1e-300, -1e-100, 1e-20, -1e-9, 0.3, -0.7]), np.array([0.0, 1e-16, -0.2, 0.9, 0.5, -1e-200])):
        x, d = primal(z), slope(z)
        with mp.workdps(350):
            P = [mp.exp(mp.mpf(float(lp))) if np.isfinite(lp) else mp.mpf(0) for lp in m.log_p]
            M = [mp.exp(mp.mpf(float(lm))) if np.isfinite(lm) else mp.mpf(0) for lm in m.log_m]
            c = mp.mpf(m.c)
            ex = [P[i] * mp.exp(c * mp.mpf(z[i])) - M[i] * mp.exp(-c * mp.mpf(z[i])) for i in range(6)]
            ed = [c * (P[i] * mp.exp(c * mp.mpf(z[i])) + M[i] * mp.exp(-c * mp.mpf(z[i]))) for i in range(6)]
            ex, ed = np.array([float(v) for v in ex]), np.array([float(v) for v in ed])
        bound = 1e-13
        assert np.all(np.abs(x - ex) <= bound * np.abs(ex))
        assert np.all(np.abs(d - ed) <= bound * ed)


def test_integer_power_by_squaring():
    # measured 3.7e-16 relative for k <= 16 (a few roundings); an aliasing slip gave 3.0 at k = 6
    from dlnlab.dynamics.trajectory import _integer_power

    u = np.array([0.7, 1.3, 2.0, 1e-3])
    for k in range(1, 17):
        assert np.max(np.abs(_integer_power(u.copy(), k) / u**k - 1.0)) <= 1e-14
