"""GD/SGD on the real weights, and the effective initialization that predicts their limit."""

import numpy as np
import pytest

import dlnlab as dl

ALPHA = 1e-3


def _even_net(N, alpha=ALPHA):
    """Even et al.'s start: x = u * v, u0 = sqrt(2) alpha, v0 = 0."""
    return dl.TwoLayerDLN(np.full(N, np.sqrt(2) * alpha), np.zeros(N))


def _range_distance(P, g):
    Q = P.basis.Q
    return float(np.linalg.norm(g - Q @ (Q.T @ g)) / np.linalg.norm(g))


@pytest.mark.parametrize("step", [0.05, 0.5, 1.0])
def test_gd_limit_is_flow_limit_of_effective_initialization(step):
    P = dl.random_problem()
    net = _even_net(P.N)
    run = dl.gradient_descent(P, net, step=step, steps=200_000, tol=1e-12)
    assert run.converged and run.residual <= 1e-12
    # the iterate is exactly on the effective network's flow curve: KKT up to accumulated rounding
    assert run.kkt <= 1e-10
    lim = dl.flow_limit(P, run.effective_init)
    # both are interpolators with the same KKT, so they agree up to the GD residual (1e-12)
    # amplified by the conditioning of the Bregman projection (~1e2 here)
    assert np.max(np.abs(run.x - lim.x)) <= 1e-9


def test_effective_kkt_by_closed_form_hyperbolic_entropy():
    """Independent of the map: grad Q(x) = asinh(2x/|d|)/2 for the two-layer net (docs/theory.md section 3)."""
    P = dl.random_problem()
    run = dl.gradient_descent(P, _even_net(P.N), step=0.5, steps=50_000, tol=1e-13)
    eff = run.effective_init
    d = np.abs(eff.delta)
    g = 0.5 * np.arcsinh(2 * run.x / d) - 0.5 * np.arcsinh(2 * eff.x0 / d)
    assert _range_distance(P, g) <= 1e-10


def test_large_steps_change_the_limit_small_steps_do_not():
    """Even et al.: alpha_inf < alpha coordinatewise, by more for larger steps; the plain flow
    limit is the gamma -> 0 limit of GD."""
    P = dl.random_problem()
    net = _even_net(P.N)
    plain = dl.flow_limit(P, net).x
    gaps, shrink = [], []
    for step in (0.01, 0.1, 1.0):
        run = dl.gradient_descent(P, net, step=step, steps=200_000, tol=1e-12)
        eff = run.effective_init
        alpha_inf = np.sqrt(np.abs((eff.u0 + eff.v0) * (eff.u0 - eff.v0)) / 2)  # sqrt(alpha_+ alpha_-)
        shrink.append(float(np.max(alpha_inf / ALPHA)))
        gaps.append(float(np.max(np.abs(run.x - plain))))
    assert shrink[0] < 1 and shrink[0] > shrink[1] > shrink[2]
    assert gaps[0] < gaps[1] < gaps[2]
    assert gaps[2] > 0.1  # a different interpolator (support changes), not a rounding effect
    assert gaps[0] < 1e-5


def test_effective_scales_match_even_et_al_formula():
    """alpha_+- = alpha exp(-1/2 sum_k q_+-(gamma g_k)), q_+-(x) = -+2x - log((1 -+ x)^2), from an
    independent plain GD loop on (u, v) that records the gradients."""
    P = dl.random_problem()
    A, y = P.A, P.y
    gamma, steps = 0.4, 400
    u, v = np.full(P.N, np.sqrt(2) * ALPHA), np.zeros(P.N)
    qp = np.zeros(P.N)
    qm = np.zeros(P.N)
    for _ in range(steps):
        g = A.T @ (A @ (u * v) - y)
        x = gamma * g
        qp += -2 * x - np.log((1 - x) ** 2)
        qm += 2 * x - np.log((1 + x) ** 2)
        u, v = u - gamma * v * g, v - gamma * u * g
    run = dl.gradient_descent(P, _even_net(P.N), step=gamma, steps=steps, tol=0.0)
    eff = run.effective_init
    assert run.iterations == steps and np.allclose(run.x, u * v, rtol=1e-12, atol=1e-300)
    alpha_plus, alpha_minus = ALPHA * np.exp(-0.5 * qp), ALPHA * np.exp(-0.5 * qm)
    # u0' + v0' = sqrt(2) alpha_+, u0' - v0' = sqrt(2) alpha_- (summed logs: rounding ~1e-13)
    assert np.allclose((eff.u0 + eff.v0) / np.sqrt(2), alpha_plus, rtol=1e-10)
    assert np.allclose((eff.u0 - eff.v0) / np.sqrt(2), alpha_minus, rtol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 2])
def test_sgd_effective_initialization(batch_size):
    P = dl.random_problem()
    run = dl.gradient_descent(P, _even_net(P.N), step=0.3, steps=200_000, batch_size=batch_size, seed=4, tol=1e-12)
    assert run.converged and run.kkt <= 1e-10 and run.batch_size == batch_size
    assert np.max(np.abs(run.x - dl.flow_limit(P, run.effective_init).x)) <= 1e-9
    again = dl.gradient_descent(P, _even_net(P.N), step=0.3, steps=200_000, batch_size=batch_size, seed=4, tol=1e-12)
    assert np.array_equal(run.x, again.x)  # the seed fixes the batches


def test_symmetric_depth_two_gd_and_depth_three():
    P = dl.random_problem()
    sym = dl.SymmetricDLN(depth=2, alpha=ALPHA)
    run = dl.gradient_descent(P, sym, step=0.3, steps=100_000, tol=1e-12)
    assert run.converged and run.kkt <= 1e-10
    assert np.max(np.abs(run.x - dl.flow_limit(P, run.effective_init).x)) <= 1e-9
    deep = dl.gradient_descent(P, dl.SymmetricDLN(depth=3, alpha=1e-2), step=0.1, steps=100_000, tol=1e-10)
    assert deep.converged and deep.effective_init is None and deep.kkt is None


def test_small_steps_follow_the_gradient_flow():
    """GD is the Euler scheme of the flow: after K steps of size h, x differs from x(K h) by O(h)."""
    P = dl.random_problem()
    net = _even_net(P.N, alpha=0.1)
    t_end = 3.0
    ref = dl.flow_trajectory(P, net, [t_end], rtol=1e-12, atol=1e-15).x[-1]
    errs = []
    for h in (0.02, 0.01, 0.005):
        run = dl.gradient_descent(P, net, step=h, steps=int(round(t_end / h)), tol=0.0)
        errs.append(float(np.max(np.abs(run.x - ref))))
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2))  # first order: halving h halves the error


def test_layered_gd_decreases_loss():
    P = dl.random_problem()
    rng = np.random.default_rng(0)
    U = rng.uniform(0.2, 0.6, (3, 5))
    run = dl.gradient_descent(P, dl.LayeredDLN(U), step=0.05, steps=20_000, tol=1e-10)
    assert run.converged and run.effective_init is None
    assert np.allclose(np.prod(run.weights, axis=0), run.x)


def test_divergence_is_reported():
    P = dl.random_problem()
    run = dl.gradient_descent(P, _even_net(P.N), step=3.0, steps=1000)
    assert run.status == "diverged" and "reduce the step" in run.message and run.effective_init is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(step=0.0), "step"),
    (dict(step=float("nan")), "step"),
    (dict(step=0.1, steps=-1), "steps"),
    (dict(step=0.1, batch_size=0), "batch_size"),
    (dict(step=0.1, batch_size=7), "batch_size"),
    (dict(step=0.1, tol=1.0), "tol"),
    (dict(step=0.1, tol=-1e-3), "tol"),
])
def test_bad_gd_arguments(kwargs, match):
    P = dl.random_problem()
    with pytest.raises(dl.OptionError, match=match):
        dl.gradient_descent(P, _even_net(P.N), **kwargs)


def test_gd_rejects_wrong_size_and_unknown_network():
    P = dl.random_problem()
    with pytest.raises(dl.NetworkError, match="coordinates"):
        dl.gradient_descent(P, _even_net(4), step=0.1)
    with pytest.raises(dl.NetworkError, match="declare their weights.*NonNegativeDLN"):
        dl.gradient_descent(P, object(), step=0.1)


# ---------------------------------------------------------------- every trainable network


def _nonneg_problem():
    """The random problem with data reachable from x >= 0 (so the non-negative network has a limit)."""
    P = dl.random_problem()
    return dl.Problem(P.A, P.A @ np.array([0.5, 0.0, 1.0, 0.0, 0.2]))


_LAYERS = np.array([[0.3, 0.2, 0.25, 0.4, 0.35], [0.5, 0.45, 0.6, 0.55, 0.5], [0.7, 0.8, 0.65, 0.9, 0.75]])


def _plain_symmetric(p, alpha):
    def run(A, y, gamma, K):
        u, v = np.full(A.shape[1], alpha), np.full(A.shape[1], alpha)
        for _ in range(K):
            g = A.T @ (A @ (u ** p - v ** p) - y)
            u, v = u - gamma * p * u ** (p - 1) * g, v + gamma * p * v ** (p - 1) * g
        return u ** p - v ** p
    return run


def _plain_twolayer(A, y, gamma, K):
    u, v = np.full(A.shape[1], 0.2), np.linspace(-0.1, 0.1, A.shape[1])
    for _ in range(K):
        g = A.T @ (A @ (u * v) - y)
        u, v = u - gamma * v * g, v - gamma * u * g
    return u * v


def _plain_layered(A, y, gamma, K):
    a, b, c = (row.copy() for row in _LAYERS)
    for _ in range(K):
        g = A.T @ (A @ (a * b * c) - y)
        a, b, c = a - gamma * b * c * g, b - gamma * a * c * g, c - gamma * a * b * g
    return a * b * c


def _plain_nonnegative(A, y, gamma, K):
    u = np.full(A.shape[1], 0.3)
    for _ in range(K):
        u = u * (1 - 2 * gamma * (A.T @ (A @ (u * u) - y)))
    return u * u


FAMILIES = {
    "symmetric-2": (lambda N: dl.SymmetricDLN(depth=2, alpha=0.2), _plain_symmetric(2, 0.2), dl.random_problem),
    "symmetric-3": (lambda N: dl.SymmetricDLN(depth=3, alpha=0.3), _plain_symmetric(3, 0.3), dl.random_problem),
    "twolayer": (lambda N: dl.TwoLayerDLN(np.full(N, 0.2), np.linspace(-0.1, 0.1, N)), _plain_twolayer,
                 dl.random_problem),
    "layered": (lambda N: dl.LayeredDLN(_LAYERS), _plain_layered, dl.random_problem),
    "nonnegative": (lambda N: dl.NonNegativeDLN(u0=np.full(N, 0.3)), _plain_nonnegative, _nonneg_problem),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_gd_iterates_are_the_plain_loop(family):
    make, plain, problem = FAMILIES[family]
    P = problem()
    run = dl.gradient_descent(P, make(P.N), step=0.05, steps=50, tol=0.0)
    assert run.iterations == 50 and run.status == "max_iter" and not run.success
    # the same updates in another association order: rounding ~1e-16 per step, 50 steps
    assert np.allclose(run.x, plain(P.A, P.y, 0.05, 50), rtol=1e-12, atol=1e-14)
    assert run.residual == pytest.approx(P.relative_residual(run.x), rel=1e-15)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_small_steps_converge_to_the_flow_limit(family):
    """GD is first order in the step: its limit is the flow limit of an initialization that
    differs by log gains ~ gamma^2 sum_k g_k^2 = O(gamma) (module docstring), so the distance
    to the flow limit of the same network is O(gamma): small at gamma, about halved at gamma / 2."""
    make, _, problem = FAMILIES[family]
    P = problem()
    net = make(P.N)
    lim = dl.flow_limit(P, net).x
    errs = []
    for gamma in (0.02, 0.01):
        run = dl.gradient_descent(P, net, step=gamma, steps=400_000, tol=1e-12)
        assert run.success and P.relative_residual(run.x) <= 1e-12
        errs.append(float(np.max(np.abs(run.x - lim))))
        if family == "nonnegative":
            assert np.all(run.x >= 0)
    assert errs[0] <= 0.02 * np.max(np.abs(lim))  # O(gamma): measured 0.001 to 0.007 relative at gamma = 0.02
    assert 0.45 <= errs[1] / errs[0] <= 0.55  # first order: halving the step halves it (measured 0.500 +- 0.001)


@pytest.mark.parametrize("family", ["symmetric-2", "twolayer", "nonnegative"])
def test_gd_limit_is_the_effective_networks_flow_limit(family):
    make, _, problem = FAMILIES[family]
    P = problem()
    run = dl.gradient_descent(P, make(P.N), step=0.1, steps=400_000, tol=1e-12)
    assert run.success and run.kkt <= 1e-10
    lim = dl.flow_limit(P, run.effective_init)
    # interpolators with the same KKT point up to rounding: residual 1e-12 times the conditioning (~1e2)
    assert np.max(np.abs(run.x - lim.x)) <= 1e-9
    if family == "nonnegative":  # an entropic LP: the limit is >= 0 and the effective costs are shifted
        assert np.all(run.x >= 0) and isinstance(run.effective_init, dl.NonNegativeDLN)


def test_layered_depth_two_is_the_two_layer_network():
    P = dl.random_problem()
    u0, v0 = np.full(P.N, 0.2), np.linspace(-0.1, 0.1, P.N)
    a = dl.gradient_descent(P, dl.LayeredDLN(np.vstack([u0, v0])), step=0.1, steps=50_000, tol=1e-12)
    b = dl.gradient_descent(P, dl.TwoLayerDLN(u0, v0), step=0.1, steps=50_000, tol=1e-12)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.log_gains, b.log_gains)


def test_nonnegative_underflowing_start_is_refused():
    P = _nonneg_problem()
    with pytest.raises(dl.NetworkError, match="underflows"):
        dl.gradient_descent(P, dl.NonNegativeDLN(cost=np.ones(P.N), reg=1e-4), step=0.1)  # u0 = e^-5000


def test_result_vocabulary_and_dict():
    P = dl.random_problem()
    run = dl.gradient_descent(P, _even_net(P.N), step=0.5, steps=20_000)
    assert isinstance(run, dl.Result) and run.status in dl.STATUSES and run.success == run.converged
    d = run.to_dict()
    assert d["success"] is True and d["iterations"] == run.iterations and d["x"] == run.x.tolist()
    assert d["effective_init"] == run.effective_init.spec
    short = dl.gradient_descent(P, _even_net(P.N), step=0.5, steps=10)
    assert short.status == "max_iter" and not short.success and "tol" in short.message
