"""Azulay et al.'s ``x = u+ v+ - u- v-``: the merged two-layer mirror map against the full 4N weight flow."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app

# initial weights: 0 or of magnitude in [1e-3, 2] (so that c = log(1/scale) <= 15 and e^{c z} stays in range)
REAL = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False).map(lambda v: 0.0 if abs(v) < 1e-3 else v)


def _sg(z):
    z = np.asarray(z, dtype=float)
    return np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z)


def _rel(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _random_case(seed, m=3, N=6, size=0.3):
    """A random m x N problem and four random signed initializations of size ``size``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N))
    y = A @ rng.standard_normal(N)
    return A, y, [rng.uniform(-size, size, N) for _ in range(4)]


def _remaining(A, y, W):
    """Linearized ``||x_inf - x||`` from the weights: ``x' = D g``, ``D = u+^2 + v+^2 + u-^2 + v-^2``,
    frozen ``D`` gives ``rho' = -A D A^T rho`` and the rest of the path ``D A^T (A D A^T)^+ rho``."""
    D = np.sum(W ** 2, axis=0)
    rho = y - A @ (W[0] * W[1] - W[2] * W[3])
    return float(np.linalg.norm(D * (A.T @ np.linalg.lstsq((A * D) @ A.T, rho, rcond=None)[0])))


@pytest.mark.parametrize("seed", [0, 1])
def test_limit_matches_full_network(seed, full_network_oracle):
    A, y, inits = _random_case(seed)
    lim = dl.flow_limit(A, y, dl.AzulayDLN(*inits))
    assert lim.status == "converged" and lim.success
    x, W = full_network_oracle.azulay_flow(A, y, *inits, [1e3])
    # the weight flow has (linearly) < 1e-12 left to travel at T = 1e3 (measured ~1e-15), and Radau
    # at rtol 1e-13 on O(1) weights resolves x to ~1e-13 (measured <= 2e-13): 1e-10 has wide margin
    assert _remaining(A, y, W[-1]) < 1e-12
    assert np.max(np.abs(x[-1] - lim.x)) <= 1e-10 * np.max(np.abs(lim.x))
    # the full network conserves u^2 - v^2 in both pairs (to the integrator's 1e-13 relative)
    assert np.allclose(W[-1, 0] ** 2 - W[-1, 1] ** 2, inits[0] ** 2 - inits[1] ** 2, rtol=0, atol=1e-10)
    assert np.allclose(W[-1, 2] ** 2 - W[-1, 3] ** 2, inits[2] ** 2 - inits[3] ** 2, rtol=0, atol=1e-10)


def test_trajectory_and_weights_match_full_network(full_network_oracle):
    A, y, inits = _random_case(2)
    net = dl.AzulayDLN(*inits)
    times = np.array([0.0, 0.5, 2.0, 8.0, 30.0])
    ref, W = full_network_oracle.azulay_flow(A, y, *inits, times)
    tr = dl.flow_trajectory(A, y, net, times, rtol=1e-12, atol=1e-15)
    # reduced ODE at rtol 1e-12 and full network at 1e-13 both resolve x to ~1e-11 relative
    # (as in tests/test_dynamics.py); 1e-8 leaves three orders of margin
    assert tr.success and _rel(tr.x, ref) <= 1e-8
    # the four weights on the flow, from the dual point s = A^T lam(t) alone
    for k in range(times.size):
        assert np.allclose(np.array(net.weights(A.T @ tr.dual[k])), W[k], rtol=0, atol=1e-8)


def test_map_is_the_two_pieces():
    """x(z) = X+(z) - X-(-z) and F(z) = F+(z) + F-(-z), with X+- the two-layer maps of the two pairs."""
    _, _, (up, vp, um, vm) = _random_case(3, N=5, size=1.0)
    net = dl.AzulayDLN(up, vp, um, vm)
    m = net.mirror_map()
    plus = dataclasses.replace(dl.TwoLayerDLN(up, vp).mirror_map(), c=m.c)
    minus = dataclasses.replace(dl.TwoLayerDLN(um, vm).mirror_map(), c=m.c)
    z = np.array([-1.7, -0.3, 0.0, 0.4, 2.1])
    sign, gap = _sg(z)
    assert np.allclose(m.primal(sign, gap), plus.primal(sign, gap) - minus.primal(-sign, gap), rtol=1e-13)
    assert np.allclose(m.conjugate(sign, gap), plus.conjugate(sign, gap) + minus.conjugate(-sign, gap),
                       rtol=1e-13)
    assert np.allclose(m.primal(*_sg(np.zeros(5))), net.x0, rtol=1e-13, atol=1e-16)
    # the same x(s) as the equivalent two-layer network, in the same units
    assert net.two_layer.dual_scale == net.dual_scale
    assert np.allclose(net.two_layer.mirror_map().primal(sign, gap), m.primal(sign, gap), rtol=1e-13)


@settings(max_examples=60, deadline=None)
@given(w=st.lists(st.tuples(REAL, REAL, REAL, REAL).filter(lambda t: any(t)), min_size=1, max_size=5),
       x=st.floats(-1e6, 1e6, allow_nan=False))
def test_primal_inverts_dual_and_conjugate_differentiates_to_primal(w, x):
    net = dl.AzulayDLN(*np.array(w).T)
    m = net.mirror_map()
    xs = np.full(net.size, x)
    sign, gap = m.dual(xs)
    ok = np.isfinite(gap)  # a one-signed coordinate (P = 0 or M = 0) has no dual for x of the other sign
    back = m.primal(sign, np.where(ok, gap, 1.0))
    assert np.allclose(back[ok], xs[ok], rtol=1e-12, atol=1e-12 * np.max(np.exp(np.logaddexp(m.log_p, m.log_m))))
    # F' = X by central differences at the dual point (h = 1e-6: truncation ~1e-12 F''', rounding ~1e-10 F)
    z = sign * (1.0 - gap)
    z = np.where(ok & (np.abs(z) < 5.0), z, 0.0)
    h = 1e-6
    deriv = (m.conjugate(*_sg(z + h)) - m.conjugate(*_sg(z - h))) / (2 * h)
    X = m.primal(*_sg(z))
    scale = m.slope(*_sg(z)) / m.c + np.abs(X)
    assert np.all(np.abs(deriv - X) <= 1e-7 * scale)


def test_reduces_to_two_layer_exactly():
    P = dl.random_problem()
    up, vp = np.array([0.3, -0.2, 0.25, 0.1, 0.4]), np.array([0.1, 0.3, -0.05, 0.0, -0.4])
    az, tl = dl.AzulayDLN(up, vp, 0.0, 0.0), dl.TwoLayerDLN(up, vp)
    np.testing.assert_array_equal(az.mirror_map().log_p, tl.mirror_map().log_p)
    np.testing.assert_array_equal(az.mirror_map().log_m, tl.mirror_map().log_m)
    assert az.dual_scale == tl.dual_scale and az.log_scale == tl.log_scale
    # the same map in the same units: the same dual Newton, bit for bit
    np.testing.assert_array_equal(dl.flow_limit(P, az).x, dl.flow_limit(P, tl).x)


def test_equal_weights_are_the_symmetric_depth_two_network():
    P = dl.random_problem()
    alpha = 1e-2
    az, sym = dl.AzulayDLN(alpha, alpha, alpha, alpha), dl.SymmetricDLN(depth=2, alpha=alpha)
    # the same limit; the two solve in different units (c = log(1/(2 alpha^2)) vs log(1/alpha^2)), so
    # they agree to the dual Newton's resolution, not bit for bit
    assert np.allclose(dl.flow_limit(P, az).x, dl.flow_limit(P, sym).x, rtol=1e-11, atol=1e-14)
    # x_sym(t) = x_az(2 t)
    t = np.array([0.0, 1.0, 5.0, 12.0])
    a = dl.flow_trajectory(P, sym, t, rtol=1e-12, atol=1e-15).x
    b = dl.flow_trajectory(P, az, 2 * t, rtol=1e-12, atol=1e-15).x
    assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(a))


def test_scale_outside_float_range_of_the_squares():
    """Weights whose squares underflow (1e-170) or overflow (1e160) still give log scale = log max(P + M)."""
    for f in (1e-170, 1e160):
        net = dl.AzulayDLN(2 * f, f, f, 0.0)
        assert np.isclose(net.log_scale, np.log(3.0) + 2 * np.log(f), rtol=1e-15)  # (4 + 1 + 1) f^2 / 2


def test_scale_family():
    P = dl.line_problem()
    net = dl.AzulayDLN([0.3, 0.1, 0.2], [0.1, -0.2, 0.0], [0.05, 0.2, 0.1], 0.1)
    assert isinstance(net, dl.ScaleFamily)
    small = net.at_log_scale(net.log_scale - 60.0)
    f = np.exp(-30.0)
    assert np.isclose(small.log_scale, net.log_scale - 60.0, rtol=0, atol=1e-12)
    assert np.allclose(small.up, f * net.up, rtol=1e-14) and np.allclose(small.vm, f * net.vm, rtol=1e-14)
    # tiny scale, reached by continuation: the same limit as the equivalent two-layer network
    lim = dl.flow_limit(P, small)
    assert lim.success
    assert np.allclose(lim.x, dl.flow_limit(P, small.two_layer).x, rtol=1e-10, atol=1e-14)


def test_rate_study_takes_the_family_to_zero_scale():
    """The depth-2 rate theory (docs/theory.md section 5) applies: the fitted slope is the predicted one."""
    from dlnlab.studies import rates
    net = dl.AzulayDLN([1e-3, 2e-3, 1e-3, 3e-3, 2e-3], 1e-3, [0.0, 1e-3, 2e-3, 0.0, 1e-3], [5e-4, 0.0, 0.0, 1e-3, 0.0])
    assert rates.rate_depth(net) == 2.0
    study = rates.rate_study(dl.random_problem(), networks=[net], log10_scales=np.arange(-40.0, -301.0, -40.0))
    curve = study.curves[0]
    assert all(s == "converged" for s in curve.statuses)
    # at scales 1e-40..1e-300 the error is in its asymptotic regime: slopes agree to 2e-9 (measured)
    assert abs(curve.fit.slope - curve.predicted_slope) <= 1e-6 * curve.predicted_slope


def test_spec_round_trip_and_broadcast():
    net = dl.network_from_spec("azulay:up=0.1,vp=0.2;0.3;0.4,um=0,vm=-0.5")
    assert net.size == 3 and net.um.tolist() == [0.0, 0.0, 0.0]
    assert dl.network_from_spec(net.spec).spec == net.spec
    back = dl.network_from_spec(net.spec)
    for key in ("up", "vp", "um", "vm"):
        np.testing.assert_array_equal(getattr(back, key), getattr(net, key))
    assert dl.network_from_spec("azulay:up=0.1,vp=0.1,um=0.1,vm=0.1", size=4).size == 4


@settings(max_examples=40, deadline=None)
@given(w=st.lists(st.tuples(REAL, REAL, REAL, REAL).filter(lambda t: any(t)), min_size=1, max_size=5))
def test_spec_round_trip_is_exact(w):
    net = dl.AzulayDLN(*np.array(w).T)
    back = dl.network_from_spec(net.spec)
    assert back.spec == net.spec
    for key in ("up", "vp", "um", "vm"):
        np.testing.assert_array_equal(getattr(back, key), getattr(net, key))


@pytest.mark.parametrize("args, words", [
    (([0.1, 0.2], [0.1, 0.2, 0.3], 0.0, 0.0), ["one entry per coordinate", "vp 3"]),
    ((0.0, 0.0, 0.0, 0.0), ["all four weights at 0", "nonzero"]),
    (([0.1, np.nan], 0.1, 0.1, 0.1), ["non-finite"]),
    ((0.1, "a", 0.1, 0.1), ["vp", "real number"]),
    ((np.ones((2, 2)), 0.1, 0.1, 0.1), ["1-D"]),
])
def test_bad_inits_are_network_errors(args, words):
    with pytest.raises(dl.NetworkError) as err:
        dl.AzulayDLN(*args)
    for w in words:
        assert w in str(err.value)


@pytest.mark.parametrize("spec, words", [
    ("azulay:up=0.1,vp=0.1", ["um=", "vm="]),
    ("azulay:up=0.1;0.2,vp=0,um=0.1,vm=0.1", ["3 coordinates"]),
    ("azulay:up=0.1,vp=0.1,um=0.1,vm=0.1,alpha=1", ["unknown key 'alpha'", "up, vp, um, vm"]),
])
def test_bad_specs(spec, words):
    with pytest.raises(dl.NetworkError) as err:
        dl.network_from_spec(spec, size=3)
    for w in words:
        assert w in str(err.value)


def test_cli_limit_json_is_the_library_result(tmp_path):
    P = dl.random_problem()
    path = P.save(tmp_path / "random.npz")
    spec = "azulay:up=0.1;0.2;-0.1;0.05;0.3,vp=0.1,um=0.2,vm=-0.05"
    out = CliRunner().invoke(app, ["limit", str(path), "--network", spec, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    ref = dl.flow_limit(P, dl.network_from_spec(spec, size=P.N)).to_dict()
    assert set(payload) == set(ref)
    # the same deterministic computation: the JSON text of floats round-trips exactly
    assert payload["x"] == ref["x"] and payload["status"] == ref["status"] == "converged"
    assert payload["network"] == ref["network"] == dl.network_from_spec(spec, size=P.N).spec


def test_gradient_descent_has_the_merged_effective_initialization():
    """GD on the four weights is GD on the equivalent two-layer network (same P, M factors each step)."""
    P = dl.random_problem()
    net = dl.AzulayDLN([1e-3, 2e-3, 1e-3, 3e-3, 2e-3], 1e-3, [0.0, 1e-3, 2e-3, 0.0, 1e-3], 5e-4)
    run = dl.gradient_descent(P, net, step=0.5, steps=20000)
    assert run.status == "converged" and len(run.weights) == 4
    twin = dl.gradient_descent(P, net.two_layer, step=0.5, steps=20000)
    # the same iterates in exact arithmetic; float64 rounding over the ~300 steps: 1.5e-19 (measured)
    assert np.max(np.abs(run.x - twin.x)) <= 1e-10
    # the GD limit is the flow limit of the effective network (docs/theory.md section 6); GD stops at
    # residual 1e-10, measured 2e-10 from that limit
    lim = dl.flow_limit(P, run.effective_init)
    assert run.kkt < 1e-8 and np.max(np.abs(run.x - lim.x)) <= 1e-8
