import math

import numpy as np
import pytest

import dlnlab as dl


def test_scale_alpha_conventions():
    net = dl.SymmetricDLN(depth=3, alpha=1e-3)
    assert math.isclose(net.scale, 1e-9, rel_tol=1e-12)
    net2 = dl.SymmetricDLN(depth=3, scale=1e-9)
    assert math.isclose(net2.alpha, 1e-3, rel_tol=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=1.5, scale=1e-3), "depth"),
        (dict(depth=float("nan"), scale=1e-3), "depth"),
        (dict(depth=2, scale=0.0), "positive"),
        (dict(depth=2, scale=-1.0), "positive"),
        (dict(depth=2, alpha=float("inf")), "positive"),
        (dict(depth=2), "exactly one"),
        (dict(depth=2, scale=1e-3, alpha=1e-3), "exactly one"),
    ],
)
def test_bad_networks(kwargs, match):
    with pytest.raises(dl.NetworkError, match=match):
        dl.SymmetricDLN(**kwargs)


@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0, 10.0])
@pytest.mark.parametrize("scale", [10.0, 1e-3, 1e-30, 1e-300])
def test_map_matches_theory_formula_and_inverts(depth, scale):
    """X(z) against docs/theory.md section 3 evaluated directly (where float64 can), and X^-1(X(z)) = z."""
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    M = net.mirror_map()
    # dual points spread from the l1 boundary (tiny gaps) to the origin
    gap = np.array([1e-3, 0.01, 0.3, 0.7, 1.0])
    if M.barrier:
        gap = np.concatenate([[1e-12], gap])
    sign = np.where(np.arange(gap.size) % 2, -1.0, 1.0)
    x = M.primal(sign, gap)
    s = sign * (1 - gap) / net.dual_scale  # docs/theory.md's s
    a = net.scale
    with np.errstate(over="ignore"):
        if depth == 2:
            ref = 2 * a * np.sinh(4 * s)
        else:
            tau = depth * (depth - 2) * net.alpha ** (depth - 2) * s
            k = depth / (depth - 2)
            ref = a * ((1 - tau) ** (-k) - (1 + tau) ** (-k))
    ok = np.isfinite(ref) & (np.abs(ref) > 1e-290)
    # direct evaluation loses ~k * 1e-16 / gap relative precision near the boundary
    assert np.allclose(x[ok], ref[ok], rtol=1e-9 / gap[ok].min() * 1e-3 + 1e-12, atol=0)
    s2, g2 = M.dual(x)
    nz = x != 0
    assert np.array_equal(s2[nz], sign[nz])
    # inverse keeps the gap to relative precision (the map's purpose)
    assert np.allclose(g2[nz], gap[nz], rtol=1e-10, atol=0)


@pytest.mark.parametrize("depth", [2.0, 3.0, 4.5])
def test_slope_and_conjugate_are_derivative_and_antiderivative(depth):
    net = dl.SymmetricDLN(depth=depth, scale=1e-4)
    M = net.mirror_map()
    gap = np.linspace(0.05, 1.0, 9)
    sign = np.ones_like(gap)
    h = 1e-6
    # z = 1 - gap, so d/dz = -d/dgap; central differences, error O(h^2) ~ 1e-12 relative
    dx = -(M.primal(sign, gap + h) - M.primal(sign, gap - h)) / (2 * h)
    assert np.allclose(dx, M.slope(sign, gap), rtol=1e-6)
    dF = -(M.conjugate(sign, gap + h) - M.conjugate(sign, gap - h)) / (2 * h)
    assert np.allclose(dF, M.primal(sign, gap), rtol=1e-6)
