"""Layered and two-layer networks: their mirror maps against independent formulas and quadrature."""

import mpmath as mp
import numpy as np
import pytest

import dlnlab as dl
from dlnlab.reference.full_network import layered_flow

INITS3 = np.array([[0.3, 0.2, 0.1], [0.5, -0.4, 0.6], [0.7, 0.8, -0.9]])


def _z(sign, gap):
    return sign * (1.0 - gap)


def _sg(z):
    z = np.asarray(z, float)
    return np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z)


def _mp_reference(U, r):
    """(z, x) at smallest-layer value r for coordinate columns of U, by mpmath quadrature of docs/theory.md's formula."""
    mp.mp.dps = 30
    zs, xs = [], []
    for i in range(U.shape[1]):
        col = U[:, i]
        j = int(np.argmin(np.abs(col)))
        r0 = mp.mpf(col[j])
        others = np.delete(col, j)
        deltas = [mp.mpf(u) ** 2 - r0 ** 2 for u in others]
        sigma = int(np.prod(np.sign(others)))

        def f(t):
            out = mp.mpf(1)
            for d in deltas:
                out /= mp.sqrt(t * t + d)
            return out

        ri = mp.mpf(r[i])
        psi, psi0 = mp.quad(f, [0, ri]), mp.quad(f, [0, r0])
        theta = sigma * ri
        for d in deltas:
            theta *= mp.sqrt(ri * ri + d)
        zs.append((sigma * (psi - psi0)))
        xs.append(theta)
    return zs, xs


@pytest.mark.parametrize("L, seed", [(3, 0), (4, 1), (5, 2)])
def test_layered_map_against_mpmath_quadrature(L, seed):
    rng = np.random.default_rng(seed)
    U = rng.uniform(0.1, 1.0, (L, 4)) * rng.choice([-1.0, 1.0], (L, 4))
    net = dl.LayeredDLN(U)
    M = net.mirror_map()
    for scale in (0.3, 3.0, 30.0):  # from near the start to deep in the barrier's tail
        r = rng.standard_normal(4) * scale
        zs, xs = _mp_reference(U, r)
        z = np.array([float(v) for v in zs]) * net.dual_scale
        x_ref = np.array([float(v) for v in xs])
        # primal: quadrature and Newton inversion reach ~1e-14 relative, but near the barrier
        # x is ill-conditioned in z: rounding z to float64 alone moves x by
        # eps * |z| * X'(z) / |x| relative (X' = slope, checked by finite differences below)
        cond = np.abs(z) * M.slope(*_sg(z)) / np.abs(x_ref)
        assert np.all(np.abs(M.primal(*_sg(z)) - x_ref) <= (1e-13 + 8 * 2.2e-16 * cond) * np.abs(x_ref))
        # dual (x -> z) is well conditioned: float64 rounding of z
        assert np.allclose(_z(*M.dual(x_ref)), z, rtol=0, atol=1e-13 * max(1.0, float(np.max(np.abs(z)))))


@pytest.mark.parametrize("net", [
    dl.LayeredDLN(INITS3),
    dl.LayeredDLN(np.vstack([INITS3, [[1.2, -1.1, 1.5]]])),
    dl.TwoLayerDLN([0.3, -0.2, 1e-3], [0.1, 0.5, 0.0]),
], ids=["L3", "L4", "two-layer"])
def test_slope_and_conjugate_are_derivative_and_antiderivative(net):
    M = net.mirror_map()
    z = np.array([0.31, -0.22, 0.05])
    h = 1e-6  # central differences: truncation ~h^2 ~ 1e-12, rounding ~1e-16/h = 1e-10
    dx = (M.primal(*_sg(z + h)) - M.primal(*_sg(z - h))) / (2 * h)
    assert np.allclose(dx, M.slope(*_sg(z)), rtol=1e-7)
    dF = (M.conjugate(*_sg(z + h)) - M.conjugate(*_sg(z - h))) / (2 * h)
    assert np.allclose(dF, M.primal(*_sg(z)), rtol=1e-7)
    assert np.all(M.slope(*_sg(z)) > 0)


def test_layered_dual_domain_is_bounded_for_three_layers():
    net = dl.LayeredDLN(INITS3)
    M = net.mirror_map()
    zmax = net.dual_scale * (M.psi_max - M.sigma * M.psi0)  # upper end of the domain for sigma = +1
    inside = M.primal(*_sg(zmax * (1 - 1e-9)))
    outside = M.primal(*_sg(zmax * (1 + 1e-9)))
    assert np.all(np.isfinite(inside[M.sigma > 0])) and np.all(np.isinf(outside[M.sigma > 0]))
    assert np.all(np.isinf(M.conjugate(*_sg(zmax * (1 + 1e-9)))[M.sigma > 0]))


def test_two_layer_map_is_theory_closed_form():
    """docs/theory.md section 3 (L = 2): x = (d/2) sinh(2 (s + s0)), s0 = asinh(2 x0 / d) / 2, d = |delta|.

    (docs/theory.md writes delta = u0^2 - v0^2, which is negative when |v0| > |u0|; the flow
    x' = sqrt(4 x^2 + delta^2) g only sees |delta|.)
    """
    u0, v0 = np.array([0.3, -0.2, 0.7]), np.array([0.1, 0.5, -0.2])
    net = dl.TwoLayerDLN(u0, v0)
    delta, x0 = np.abs(u0 ** 2 - v0 ** 2), u0 * v0
    s = np.array([0.4, -1.3, 2.2])
    ref = 0.5 * delta * np.sinh(2 * (s + 0.5 * np.arcsinh(2 * x0 / delta)))
    x = net.mirror_map().primal(*_sg(net.dual_scale * s))
    assert np.allclose(x, ref, rtol=1e-13)
    u, v = net.weights(s)
    assert np.allclose(u * v, ref, rtol=1e-13) and np.allclose(u ** 2 - v ** 2, net.delta, rtol=1e-13)


def test_two_layers_equal_layered_of_depth_two_and_symmetric_depth_two():
    P = dl.random_problem()
    alpha = 1e-3
    uv = dl.TwoLayerDLN(np.full(5, np.sqrt(2) * alpha), np.zeros(5))  # Even et al.'s initialization
    lay = dl.LayeredDLN(np.vstack([np.full(5, np.sqrt(2) * alpha), np.zeros(5)]))
    sym = dl.SymmetricDLN(depth=2, alpha=alpha / np.sqrt(2))
    x1, x2, x3 = (dl.flow_limit(P, n).x for n in (uv, lay, sym))
    assert np.allclose(x1, x2, rtol=1e-12, atol=1e-15) and np.allclose(x1, x3, rtol=1e-10, atol=1e-15)
    # x_sym(t) = x_uv(2 t)
    t = np.array([0.0, 1.0, 5.0, 12.0])
    a = dl.flow_trajectory(P, sym, t, rtol=1e-12, atol=1e-15).x
    b = dl.flow_trajectory(P, uv, 2 * t, rtol=1e-12, atol=1e-15).x
    assert np.max(np.abs(a - b)) <= 1e-9 * np.max(np.abs(a))


def test_two_layer_limit_is_bregman_projection_of_x0():
    """KKT of argmin D_Q(x, x0): (1/2) asinh(2x/delta) - (1/2) asinh(2 x0/delta) in range(A^T)."""
    P = dl.random_problem()
    u0 = np.array([1e-2, -3e-2, 2e-2, 5e-3, 1e-2])
    v0 = np.array([2e-2, 1e-2, -2.5e-2, 0.0, 3e-3])
    net = dl.TwoLayerDLN(u0, v0)
    res = dl.flow_limit(P, net)
    delta, x0 = np.abs(net.delta), net.x0
    g = 0.5 * np.arcsinh(2 * res.x / delta) - 0.5 * np.arcsinh(2 * x0 / delta)
    Qb = P.basis.Q
    assert np.linalg.norm(g - Qb @ (Qb.T @ g)) <= 1e-12 * np.linalg.norm(g)
    assert res.residual <= 1e-12


def test_layered_limit_matches_long_full_network_flow():
    P = dl.random_problem()
    rng = np.random.default_rng(11)
    U = rng.uniform(0.3, 0.9, (3, 5)) * rng.choice([-1.0, 1.0], (3, 5))
    res = dl.flow_limit(P, dl.LayeredDLN(U))
    x_full, _ = layered_flow(P.A, P.y, U, np.array([400.0]))
    # the full flow at t = 400 is within ~1e-10 of its limit here (residual decays like e^{-t/10})
    assert np.allclose(x_full[0], res.x, rtol=0, atol=1e-8)


def test_small_initializations_by_continuation():
    P = dl.line_problem()
    tiny = dl.TwoLayerDLN([1e-30, 2e-30, -1e-30], [1e-31, 0.0, 3e-31])
    res = dl.flow_limit(P, tiny)
    assert res.converged and res.stages > 0 and res.kkt <= 1e-9
    lay = dl.LayeredDLN(INITS3 * 1e-2)
    res3 = dl.flow_limit(P, lay)
    assert res3.converged and res3.residual <= 1e-11


def test_layered_small_scale_precision_limit_is_reported_not_hidden():
    """L >= 3 at small scale: the dual sits ~1e-5 from a barrier that float64 z resolves only
    to ~1e-16 absolute (the barrier is not at |z| = 1, so the boundary-relative gap of
    `dlnlab.networks.base` cannot help): the residual stalls above 1e-12 and the result says why."""
    P = dl.line_problem()
    res = dl.flow_limit(P, dl.LayeredDLN(INITS3 * 1e-5), throw=False)
    assert res.residual > 1e-11 and res.residual <= 1e-8
    assert res.status == "failed" or "resolution" in res.message


@pytest.mark.parametrize("inits, match", [
    ([[0.1, 0.2], [0.1, 0.5], [0.7, 0.9]], "equal smallest"),
    ([[0.1, 0.2], [-0.1, 0.5], [0.7, 0.9]], "equal smallest"),
    ([[0.1, 0.2, 0.3]], "L >= 2"),
    ([[0.1, np.nan], [0.2, 0.3]], "non-finite"),
    ([[0.0, 0.1], [0.0, 0.2]], "saddle"),
])
def test_bad_layered(inits, match):
    with pytest.raises(dl.NetworkError, match=match):
        dl.LayeredDLN(inits)


@pytest.mark.parametrize("u0, v0, match", [
    ([0.1, 0.2], [0.1], "same length"),
    ([0.1, 0.0], [0.2, 0.0], "saddle"),
    ([0.1, np.inf], [0.2, 0.1], "non-finite"),
    ([[0.1]], [[0.2]], "1-D"),
])
def test_bad_two_layer(u0, v0, match):
    with pytest.raises(dl.NetworkError, match=match):
        dl.TwoLayerDLN(u0, v0)
