"""Derivatives of the flow limit (docs/theory.md section 10) against independent computations.

References: central finite differences of `flow_limit` itself; at tiny scales, the derivative of
the basis-pursuit solution on its support (``dx_S = A_S^{-1} (dy - dA_S x_S)``, a closed form),
and finite differences of the extended-precision limit (`mp_oracle`) in the log scale.

Step sizes. Central differences err by ``h^2 |x'''| / 6`` plus ``eps_x / h`` (``eps_x`` ~ 1e-15
relative: the limit's own accuracy). On these problems the limit is smooth on the scale of the
data, so ``h = 1e-5`` (relative to data of size 1) makes both terms ~1e-10: four orders below
the 1e-6 tolerance, which therefore tests the formula and not the differencing (measured
3e-10 to 6e-9 on every case below, except 1.2e-7 for the layered network at scale 7e-13, whose
limit is solved to a residual of 5e-12: the rounding term is 5e-12 / h there).
"""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.networks.symmetric import HyperbolicMap

H = 1e-5
RTOL = 1e-6

_U = np.array([0.10, 0.20, 0.05, 0.30, 0.10])
_V = np.array([0.00, 0.10, -0.05, 0.20, 0.30])
_LAYERS = np.array([[0.30, 0.20, 0.10, 0.25, 0.15], [0.50, -0.40, 0.60, 0.45, 0.35], [0.70, 0.80, -0.90, 0.65, 0.55]])

NETWORKS = {
    "sym2-1e-2": lambda: dl.SymmetricDLN(depth=2, scale=1e-2),
    "sym2-1e-12": lambda: dl.SymmetricDLN(depth=2, scale=1e-12),
    "sym2-1e-100": lambda: dl.SymmetricDLN(depth=2, scale=1e-100),
    "sym2.5-1e-3": lambda: dl.SymmetricDLN(depth=2.5, scale=1e-3),
    "sym2.5-1e-100": lambda: dl.SymmetricDLN(depth=2.5, scale=1e-100),
    "sym3-1e-3": lambda: dl.SymmetricDLN(depth=3, scale=1e-3),
    "sym3-1e-30": lambda: dl.SymmetricDLN(depth=3, scale=1e-30),
    "sym3-1e-100": lambda: dl.SymmetricDLN(depth=3, scale=1e-100),
    "sym4-1e-3": lambda: dl.SymmetricDLN(depth=4, scale=1e-3),
    "sym4-1e-100": lambda: dl.SymmetricDLN(depth=4, scale=1e-100),
    "twolayer": lambda: dl.TwoLayerDLN(u0=_U, v0=_V),
    "twolayer-1e-100": lambda: dl.TwoLayerDLN(u0=_U * 1e-50, v0=_V * 1e-50),
    "azulay": lambda: dl.AzulayDLN(up=_U, vp=_V, um=0.5 * _V, vm=0.3 * _U),
    "layered3": lambda: dl.LayeredDLN(_LAYERS),
    "layered3-small": lambda: dl.LayeredDLN(_LAYERS * 1e-4),
    "layered2": lambda: dl.LayeredDLN(_LAYERS[:2]),
    "nonneg-0.3": lambda: dl.NonNegativeDLN(cost=[1.0, 0.5, 0.8, 0.9, 0.3], reg=0.3),
    "nonneg-0.02": lambda: dl.NonNegativeDLN(cost=[1.0, 0.5, 0.8, 0.9, 0.3], reg=0.02),
}


def problem_for(net):
    """The seed paper's random problem (unique BP solution, support of size m = 3); for the
    non-negative network its entrywise absolute value with ``y = A 1`` (strictly feasible)."""
    P = dl.random_problem()
    if isinstance(net, dl.NonNegativeDLN):
        A = np.abs(P.A)
        return A, A @ np.ones(P.N)
    return P.A, P.y


def direction(A, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(A.shape), rng.standard_normal(A.shape[0]), float(rng.standard_normal())


def shifted(net, t):
    return net.at_log_scale(net.log_scale + t)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_jvp_and_vjp_match_finite_differences(name):
    net = NETWORKS[name]()
    A, y = problem_for(net)
    dA, dy, dt = direction(A)
    res = dl.flow_limit(A, y, net)
    dx = res.jvp(dA=dA, dy=dy, dlog_scale=dt)
    plus = dl.flow_limit(A + H * dA, y + H * dy, shifted(net, H * dt)).x
    minus = dl.flow_limit(A - H * dA, y - H * dy, shifted(net, -H * dt)).x
    fd = (plus - minus) / (2 * H)
    assert rel(dx, fd) < RTOL
    # the linearized constraint A dx + dA x = dy holds to rounding
    assert np.linalg.norm(A @ dx + dA @ res.x - dy) < 1e-12 * np.linalg.norm(dy)
    # vjp against the same finite difference, for a cotangent unrelated to dx
    c = np.random.default_rng(1).standard_normal(A.shape[1])
    g = res.vjp(c)
    assert g.A.shape == A.shape and g.y.shape == y.shape
    pairing = float(np.sum(g.A * dA) + g.y @ dy + g.log_scale * dt)
    assert abs(pairing - c @ fd) < RTOL * np.linalg.norm(c) * np.linalg.norm(fd)


@pytest.mark.parametrize("size", [1e-6, 1e6])
@pytest.mark.parametrize("depth", [2, 3])
def test_derivatives_in_the_callers_units(size, depth):
    """flow_limit solves data of any size as data of size 1 (at a rescaled scale); the derivatives
    are in the caller's units all the same (finite differences with steps relative to the data)."""
    P = dl.random_problem()
    A, y = P.A, size * P.y
    net = dl.SymmetricDLN(depth=depth, scale=1e-6)
    dA, dy, dt = direction(A)
    dy = size * dy
    res = dl.flow_limit(A, y, net)
    fd = (dl.flow_limit(A + H * dA, y + H * dy, shifted(net, H * dt)).x
          - dl.flow_limit(A - H * dA, y - H * dy, shifted(net, -H * dt)).x) / (2 * H)
    assert rel(res.jvp(dA=dA, dy=dy, dlog_scale=dt), fd) < RTOL


@pytest.mark.parametrize("depth", [2, 2.5, 3, 4])
def test_tiny_scale_derivative_is_bp_derivative(depth):
    """At a = 1e-100 the limit is BP's solution up to ~a^(1-rho) (depth 2) or ~a (section 5), and
    so is its derivative: dx_S = A_S^{-1} (dy - dA_S x*_S), dx = 0 off S; by transposition
    gy = A_S^{-T} c_S and gA = -gy x*^T."""
    P = dl.random_problem()
    A, y = P.A, P.y
    S = np.array([2, 3, 4])
    x_star = np.zeros(P.N)
    x_star[S] = np.linalg.solve(A[:, S], y)
    dA, dy, _ = direction(A, seed=2)
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=1e-100))
    expected = np.zeros(P.N)
    expected[S] = np.linalg.solve(A[:, S], dy - dA[:, S] @ x_star[S])
    dx = res.jvp(dA=dA, dy=dy)
    # a^(1-rho) = 1e-74 at depth 2; rounding of the 3x3 solves (cond(A_S) ~ 10) is ~1e-15
    assert np.max(np.abs(dx - expected)) < 1e-13 * np.max(np.abs(expected))
    assert np.max(np.abs(dx[[0, 1]])) < 1e-60
    c = np.random.default_rng(3).standard_normal(P.N)
    g = res.vjp(c)
    gy = np.linalg.solve(A[:, S].T, c[S])
    assert np.allclose(g.y, gy, rtol=1e-13, atol=1e-13 * np.max(np.abs(gy)))
    assert np.allclose(g.A, -np.outer(gy, x_star), rtol=1e-12, atol=1e-12 * np.max(np.abs(gy)))


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_derivative_at_a_non_unique_bp_input_grows_without_bound(depth):
    """docs/theory.md section 5: at ``A = [1, 1 - d]``, ``y = 1``, BP's solution jumps at d = 0.
    There the limit is (1/2, 1/2) and differentiating ``X(s) + (1-d) X((1-d) s) = 1`` gives the
    closed form ``dx/dd = (1/2 + s X'(s), 1/2 - s X'(s)) / 2``, which grows like log(1/a) at
    depth 2 and like a^(-(p-2)/p) at depth p > 2."""
    A, y = np.array([[1.0, 1.0]]), np.array([1.0])
    sizes = []
    for a in (1e-10, 1e-50, 1e-100):
        net = dl.SymmetricDLN(depth=depth, scale=a)
        res = dl.flow_limit(A, y, net)
        mapping = net.mirror_map()
        sign, gap = mapping.dual(np.array([0.5]))
        sxs = float((1.0 - gap[0]) * mapping.slope(sign, gap)[0])  # s X'(s) = z dX/dz
        expected = np.array([0.5 + sxs, 0.5 - sxs]) / 2
        dx = res.jvp(dA=np.array([[0.0, -1.0]]))
        assert rel(dx, expected) < 1e-12  # both sides are a few ulps of the slope: measured <= 6e-15
        sizes.append(float(np.linalg.norm(dx)))
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] > (50 if depth == 2 else 1e20)


@pytest.mark.parametrize("name", ["sym2-1e-2", "sym2.5-1e-3", "sym3-1e-3", "sym4-1e-3", "twolayer", "azulay",
                                  "layered3", "layered2", "nonneg-0.3"])
def test_dx_dlog_scale_matches_finite_differences(name):
    """``h = 1e-4`` in log scale: the limit moves by ~1e-3 |x| per unit there, so the rounding term
    ``1e-15 / h`` and the truncation ``h^2 / 6`` are both <= 1e-8 relative (measured <= 3e-9)."""
    net = NETWORKS[name]()
    A, y = problem_for(net)
    res = dl.flow_limit(A, y, net)
    h = 1e-4
    fd = (dl.flow_limit(A, y, shifted(net, h)).x - dl.flow_limit(A, y, shifted(net, -h)).x) / (2 * h)
    assert rel(res.dx_dlog_scale, fd) < RTOL
    assert np.allclose(res.jvp(dlog_scale=1.0), res.dx_dlog_scale, rtol=0, atol=0)


@pytest.mark.parametrize("depth", [2, 3])
def test_dx_dlog_scale_at_tiny_scale_against_extended_precision(depth, mp_oracle):
    """At a = 1e-100, dx/dlog a is ~1e-11 (depth 2) or ~1e-98 (depth 3), far below the float64
    resolution of x; it is compared with central differences of the mpmath limit (``h = 1e-4``:
    truncation h^2/6 ~ 2e-9 relative, the mpmath limit is exact to ~1e-(dps-12))."""
    A, y = np.array([[1.0, 0.9]]), np.array([1.0])
    l10 = -100.0
    res = dl.flow_limit(A, y, dl.SymmetricDLN.from_log_scale(depth, l10 * math.log(10)))
    h = 1e-4
    plus = mp_oracle.mp_flow_limit(A, y, depth, l10 + h / math.log(10))
    minus = mp_oracle.mp_flow_limit(A, y, depth, l10 - h / math.log(10))
    with mpmath.workdps(plus.dps):
        fd = np.array([float((p - m) / (2 * h)) for p, m in zip(plus.x, minus.x)])
    assert rel(res.dx_dlog_scale, fd) < RTOL
    assert 0 < np.max(np.abs(fd)) < (1e-10 if depth == 2 else 1e-96)


families = st.sampled_from(["sym2", "sym3", "sym4", "twolayer", "nonneg"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=families, m=st.integers(1, 3), extra=st.integers(1, 3), log10_scale=st.floats(-60, -1),
       seed=st.integers(0, 2**31 - 1))
def test_adjoint_identity(family, m, extra, log10_scale, seed):
    """<vjp(c), d> == <c, jvp(d)> for random problems, networks, scales, directions.

    Both sides come from the same factorization, so they agree to rounding: 1e-10 of the
    sizes of the terms leaves five orders above float64 for these small problems."""
    N = m + extra
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N))
    if family == "sym2":
        net = dl.SymmetricDLN.from_log_scale(2, log10_scale * math.log(10))
    elif family == "sym3":
        net = dl.SymmetricDLN.from_log_scale(3, log10_scale * math.log(10))
    elif family == "sym4":
        net = dl.SymmetricDLN.from_log_scale(4, log10_scale * math.log(10))
    elif family == "twolayer":
        f = 10.0 ** (log10_scale / 2)
        net = dl.TwoLayerDLN(u0=f * rng.uniform(0.5, 1.5, N), v0=f * rng.uniform(-0.4, 0.4, N))
    else:
        A = np.abs(A) + 0.1
        net = dl.NonNegativeDLN(cost=rng.uniform(0.2, 1.0, N), reg=10.0 ** max(log10_scale / 20, -2))
    x0 = rng.standard_normal(N) if family != "nonneg" else rng.uniform(0.5, 1.5, N)
    y = A @ x0
    res = dl.flow_limit(A, y, net, throw=False)
    assume(res.success)
    dA, dy, dt = rng.standard_normal(A.shape), rng.standard_normal(m), float(rng.standard_normal())
    c = rng.standard_normal(N)
    dx = res.jvp(dA=dA, dy=dy, dlog_scale=dt)
    g = res.vjp(c)
    terms = [np.sum(g.A * dA), g.y @ dy, g.log_scale * dt]
    size = sum(abs(t) for t in terms) + float(np.linalg.norm(c) * np.linalg.norm(dx))
    assert abs(sum(terms) - c @ dx) <= 1e-10 * size


class PlainMap:
    """A mirror map without ``log_scale_rate`` (depth 2, delegating to `HyperbolicMap`)."""

    def __init__(self):
        self._m = HyperbolicMap(log_a=math.log(1e-3))
        self.barrier = False

    def __getattr__(self, name):
        if name in ("primal", "slope", "conjugate", "dual", "potential"):
            return getattr(self._m, name)
        raise AttributeError(name)


class PlainNetwork:
    def mirror_map(self):
        return PlainMap()

    @property
    def dual_scale(self):
        return dl.SymmetricDLN(depth=2, scale=1e-3).dual_scale


def test_network_without_scale_rate():
    """A network outside the scale families differentiates in the data (its limit is the
    depth-2 limit at scale 1e-3) and says why it cannot in the scale."""
    P = dl.random_problem()
    res = dl.flow_limit(P, PlainNetwork())
    ref = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-3))
    dA, dy, _ = direction(P.A)
    assert rel(res.jvp(dA=dA, dy=dy), ref.jvp(dA=dA, dy=dy)) < 1e-10
    assert res.vjp(np.ones(P.N)).log_scale is None
    with pytest.raises(dl.NetworkError, match="log_scale_rate"):
        res.dx_dlog_scale
    with pytest.raises(dl.NetworkError, match="log_scale_rate"):
        res.jvp(dlog_scale=1.0)


def test_errors_and_dict():
    P = dl.random_problem()
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-6))
    assert "problem" not in res.to_dict()
    with pytest.raises(dl.ProblemError, match="shape"):
        res.jvp(dy=np.ones(2))
    with pytest.raises(dl.ProblemError, match="shape"):
        res.vjp(np.ones(3))
    failed = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-6), max_iter=1, throw=False)
    with pytest.raises(dl.ConvergenceError, match="converged"):
        failed.jvp(dy=np.ones(3))
    A = np.vstack([P.A, P.A[0]])
    deficient = dl.flow_limit(A, A @ res.x, dl.SymmetricDLN(depth=3, scale=1e-6))
    with pytest.raises(dl.ProblemError, match="full row rank"):
        deficient.jvp(dy=np.ones(4))
    # the scale derivative needs no full row rank: it matches the full-rank problem's
    assert rel(deficient.dx_dlog_scale, dl.flow_limit(P.A, A[:3] @ res.x, res.network).dx_dlog_scale) < 1e-8


@pytest.mark.parametrize("net", [dl.SymmetricDLN(depth=2, scale=1e-3),
                                 dl.TwoLayerDLN(np.array([1e-3, 2e-3, 5e-4, 1e-3, 3e-3]), np.zeros(5)),
                                 dl.AzulayDLN(up=np.full(5, 1e-3), vp=np.full(5, 1e-3), um=np.full(5, 2e-3),
                                             vm=np.zeros(5))])
def test_per_coordinate_log_scales_match_finite_differences(net):
    """``jvp(dlog_scale=t)`` for an (N,) vector ``t`` against central differences of the limit of
    `shifted_network` and ``vjp_log_scales`` as its exact adjoint. At h = 1e-5 the difference
    quotient carries O(h^2) truncation and the limits' rounding (~1e-15 ||x||) divided by h."""
    from dlnlab.derivatives import shifted_network

    P = dl.random_problem()
    rng = np.random.default_rng(3)
    t, c = rng.standard_normal(P.N), rng.standard_normal(P.N)
    res = dl.flow_limit(P, net)
    dx = res.jvp(dlog_scale=t)
    h = 1e-5
    plus = dl.flow_limit(P, shifted_network(net, h * t)).x
    minus = dl.flow_limit(P, shifted_network(net, -h * t)).x
    fd = (plus - minus) / (2 * h)
    assert np.linalg.norm(dx - fd) <= 1e-6 * np.linalg.norm(fd) + 1e-15 / h * np.linalg.norm(res.x)
    g = res._linearization.vjp_log_scales(c)
    assert float(g @ t) == pytest.approx(float(c @ dx), rel=1e-12)
    # a uniform shift is the scale family's own derivative
    if isinstance(net, dl.SymmetricDLN):
        np.testing.assert_allclose(res.jvp(dlog_scale=np.ones(P.N)), res.dx_dlog_scale, rtol=1e-12, atol=1e-15)
