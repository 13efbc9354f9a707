"""The non-negative DLN x = u*u: its mirror map and flow limit against the full network."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import dlnlab as dl


def _full_network(A, b, u0, t_end, times=None):
    """Integrate u' = -2 u * A^T (A u*u - b) together with lam' = b - A u*u (independent of dlnlab)."""
    n = A.shape[1]

    def rhs(_, w):
        u = w[:n]
        r = A @ (u * u) - b
        return np.concatenate([-2.0 * u * (A.T @ r), -r])

    return solve_ivp(rhs, (0.0, t_end), np.concatenate([u0, np.zeros(A.shape[0])]), method="DOP853",
                     rtol=1e-12, atol=1e-14, t_eval=times, dense_output=times is None)


def _small_problem(seed, m=2, n=5):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    b = A @ (0.2 + rng.random(n))  # strictly feasible: an interior point exists
    u0 = 0.5 + rng.random(n)
    return A, b, u0


@pytest.mark.parametrize("seed", [0, 1])
def test_map_constant_is_four_along_the_trajectory(seed):
    """docs/theory.md section 3 for x = u*u: x(t) = u0^2 exp(4 A^T lam(t)) at every time, not only in the limit."""
    A, b, u0 = _small_problem(seed)
    times = np.array([0.05, 0.5, 2.0, 10.0])
    sol = _full_network(A, b, u0, times[-1], times)
    net = dl.NonNegativeDLN(u0=u0)
    M = net.mirror_map()
    for k in range(times.size):
        x = sol.y[:5, k] ** 2
        lam = sol.y[5:, k]
        z = net.dual_scale * (A.T @ lam)  # s = A^T lam, z = 4 reg s
        sign = np.where(z < 0, -1.0, 1.0)
        # DOP853 at rtol 1e-12 over t <= 10: accumulated error ~1e-11 relative
        assert np.allclose(M.primal(sign, 1.0 - sign * z), x, rtol=1e-10, atol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flow_limit_matches_full_network(seed):
    """flow_limit with the non-negative DLN equals the end point of the integrated network (1e-8)."""
    A, b, u0 = _small_problem(seed)
    sol = _full_network(A, b, u0, 400.0)
    x_ode = sol.sol(400.0)[:5] ** 2
    res = dl.flow_limit(A, b, dl.NonNegativeDLN(u0=u0))
    assert res.converged and res.residual < 1e-12
    # the flow converges linearly (rate >= lambda_min(A X A^T) ~ 0.1 here): at t = 400 it is
    # at machine precision, so the 1e-8 tolerance is the integrator's, not the physics'
    assert np.max(np.abs(res.x - x_ode)) < 1e-8 * max(1.0, np.max(np.abs(x_ode)))


def test_flow_limit_is_the_gibbs_distribution_on_the_simplex():
    """With A = 1^T, b = 1 the entropic limit is softmax(-c / reg): a closed form."""
    c = np.array([0.3, 1.0, 2.5, 0.0])
    for reg in (2.0, 0.5):
        res = dl.flow_limit(np.ones((1, 4)), np.array([1.0]), dl.NonNegativeDLN.for_lp(c, reg))
        gibbs = np.exp(-c / reg) / np.exp(-c / reg).sum()
        assert np.allclose(res.x, gibbs, rtol=1e-12, atol=0)


def test_split_network_equals_symmetric_depth_two():
    """x = u+^2 - u-^2 from u0 = alpha on [A, -A] is the depth-2 symmetric DLN: x = 2 alpha^2 sinh(4 s)."""
    P = dl.random_problem()
    alpha = 0.3
    split = dl.flow_limit(np.hstack([P.A, -P.A]), P.y, dl.NonNegativeDLN(u0=alpha))
    sym = dl.flow_limit(P, dl.SymmetricDLN(depth=2, alpha=alpha))
    x = split.x[:5] - split.x[5:]
    assert np.allclose(x, sym.x, rtol=1e-10, atol=1e-12)


def test_map_inverse_conjugate_and_potential():
    M = dl.NonNegativeDLN(cost=[1.0, 0.4, -0.7, 1.0], reg=1e-3).mirror_map()
    x = np.array([3.0, 1e-5, 0.2, 1e-200])
    sign, gap = M.dual(x)
    assert np.allclose(M.primal(sign, gap), x, rtol=1e-11, atol=0)  # 1e-16 / reg amplification in log x
    # F' = x: central difference of the conjugate in z (z = sign (1 - gap), dz = -sign dgap)
    h = 1e-7
    dF = (M.conjugate(sign, gap - sign * h) - M.conjugate(sign, gap + sign * h)) / (2 * h)
    assert np.allclose(dF[:3], x[:3], rtol=1e-5)
    # Q(x) = c x + reg (x log x - x), the entropic LP objective, and Q(0) = 0
    c = np.array([1.0, 0.4, -0.7, 1.0])
    assert np.allclose(M.potential(x)[:3], c[:3] * x[:3] + 1e-3 * (x[:3] * np.log(x[:3]) - x[:3]), rtol=1e-12)
    assert M.potential(np.array([0.0]))[0] == 0.0 and M.potential(np.array([-1.0]))[0] == np.inf


def test_family_in_reg():
    net = dl.NonNegativeDLN.for_lp([1.0, 2.0], reg=0.1)
    assert np.isclose(net.log_scale, np.log(0.1)) and net.small_parameter == 0.1
    other = net.at_log_scale(np.log(1e-3))
    assert np.isclose(other.reg, 1e-3) and np.array_equal(other.cost, net.cost)
    assert np.allclose(np.log(net.initialization), -net.cost / (2 * net.reg))
    u0 = np.array([0.5, 2.0])
    assert np.allclose(dl.NonNegativeDLN(u0=u0).initialization, u0, rtol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(u0=[1.0, 0.0]), "positive"),
    (dict(u0=[1.0, -2.0]), "positive"),
    (dict(u0=[np.nan]), "non-finite"),
    (dict(), "exactly one"),
    (dict(u0=1.0, cost=[1.0]), "exactly one"),
    (dict(cost=[1.0], reg=0.0), "reg"),
    (dict(cost=[1.0], reg=np.inf), "reg"),
    (dict(cost=[[1.0]]), "1-D"),
])
def test_bad_networks(kwargs, match):
    with pytest.raises(dl.NetworkError, match=match):
        dl.NonNegativeDLN(**kwargs)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 4), extra=st.integers(1, 5))
def test_limit_is_the_bregman_projection(seed, m, extra):
    """Property: x_inf > 0, A x_inf = b and log(x_inf / x0) lies in range(A^T) (the KKT condition)."""
    rng = np.random.default_rng(seed)
    n = m + extra
    A = rng.standard_normal((m, n))
    b = A @ (0.1 + rng.random(n))
    u0 = np.exp(rng.uniform(-1.5, 1.5, n))
    res = dl.flow_limit(A, b, dl.NonNegativeDLN(u0=u0))
    assert np.all(res.x > 0)
    assert np.linalg.norm(A @ res.x - b) <= 1e-10 * max(1.0, np.linalg.norm(b))
    g = np.log(res.x / u0**2)
    w, *_ = np.linalg.lstsq(A.T, g, rcond=None)
    # the residual of the range test is rounding of log over the solution's dynamic range
    assert np.linalg.norm(A.T @ w - g) <= 1e-9 * max(1.0, np.linalg.norm(g))


def test_gd_on_the_weights_reaches_the_gibbs_distribution():
    """x = u * u, A = 1^T, b = 1: the flow limit of costs c is the Gibbs distribution
    exp(-c / reg) / Z (closed form). GD's limit is that of its effective costs c - 2 reg c_gain;
    with one row, g = A^T r is the same on every coordinate, so the costs shift by a constant
    that Z removes: at every stable step GD reaches the Gibbs distribution itself."""
    A, b = np.array([[1.0, 1.0, 1.0]]), np.array([1.0])
    net = dl.NonNegativeDLN(cost=[1.0, 2.0, 3.0], reg=1.0)
    gibbs = np.exp(-net.cost) / np.exp(-net.cost).sum()
    for step in (0.05, 0.3):
        run = dl.gradient_descent(A, b, net, step=step, steps=100_000, tol=1e-14)
        eff = run.effective_init
        assert run.success and np.all(run.x > 0) and np.ptp(run.log_gains) <= 1e-14
        exact = np.exp(-eff.cost / eff.reg) / np.exp(-eff.cost / eff.reg).sum()
        # the residual 1e-14 and the summed logs (~1e-15 per step) bound the distance
        assert np.allclose(run.x, exact, rtol=1e-12) and np.allclose(run.x, gibbs, rtol=1e-12)
