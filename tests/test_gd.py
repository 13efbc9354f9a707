"""GD/SGD on the real weights, and the effective initialization that predicts their limit."""

import json

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


@pytest.mark.parametrize("batch_size, sampling", [(1, "shuffle"), (2, "shuffle"), (1, "replacement")])
def test_sgd_effective_initialization(batch_size, sampling):
    P = dl.random_problem()
    kw = dict(step=0.3, steps=200_000, batch_size=batch_size, sampling=sampling, seed=4, tol=1e-12)
    run = dl.gradient_descent(P, _even_net(P.N), **kw)
    assert run.converged and run.kkt <= 1e-10 and run.batch_size == batch_size
    assert np.max(np.abs(run.x - dl.flow_limit(P, run.effective_init).x)) <= 1e-9
    again = dl.gradient_descent(P, _even_net(P.N), **kw)
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
    (dict(step=0.1, steps=float("inf")), "steps"),
    (dict(step=0.1, steps="many"), "steps"),
    (dict(step=0.1, batch_size=0), "batch_size"),
    (dict(step=0.1, batch_size=7), "batch_size"),
    (dict(step=0.1, batch_size=2.5), "batch_size"),
    (dict(step=0.1, batch_size="two"), "batch_size"),
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
    with pytest.raises(dl.NetworkError, match="0 or inf in float64"):
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


# ---------------------------------------------------------------- sampling, schedules, decay, noise, restarts


_U0, _V0 = np.full(5, 0.2), np.linspace(-0.1, 0.1, 5)


def _twolayer():
    return dl.TwoLayerDLN(_U0, _V0)


def _plain(P, K, *, step=lambda k: 0.05, b=None, sampling="shuffle", seed=0, lam=0.0, sigma=0.0, start=None,
           T=0.0, k0=None):
    """Plain numpy SGD on x = u * v with the documented draws: batch first, then label noise, then
    the Langevin noise (temperature ``T``) on the weights. Returns x, the weights, the full loss
    at every iterate and c_+ from the weights, c_+ = log|w_+(k) / w_+(0)| + sum_j gamma_j g_j (the
    exact identity of the module docstring); with ``k0``, also x at the mean of W_k, k0 < k <= K."""
    A, y = P.A, P.y
    m = A.shape[0]
    u, v = (_U0.copy(), _V0.copy()) if start is None else (start[0].copy(), start[1].copy())
    wp0 = np.abs(u + v)
    rng = np.random.default_rng(seed)
    order, pos = np.arange(m), m
    S = np.zeros(A.shape[1])
    losses, cplus = [0.5 * np.sum((A @ (u * v) - y) ** 2)], [np.zeros(A.shape[1])]
    for k in range(K):
        rows = np.arange(m)
        if b is not None and sampling == "shuffle":
            if pos + b > m:
                order, pos = rng.permutation(m), 0
            rows, pos = order[pos:pos + b], pos + b
        elif b is not None:
            rows = rng.integers(0, m, size=b)
        yk = y + sigma * rng.standard_normal(m) if sigma else y
        g = (m / len(rows)) * A[rows].T @ (A[rows] @ (u * v) - yk[rows])
        gamma = step(k)
        u, v = u - gamma * (v * g + lam * u), v - gamma * (u * g + lam * v)
        if T:
            zeta = rng.standard_normal((2, A.shape[1]))
            u, v = u + np.sqrt(2 * gamma * T) * zeta[0], v + np.sqrt(2 * gamma * T) * zeta[1]
        if k0 is not None and k + 1 > k0:
            mean = (u, v) if k + 1 == k0 + 1 else (mean[0] + u, mean[1] + v)
        S += gamma * g
        losses.append(0.5 * np.sum((A @ (u * v) - y) ** 2))
        cplus.append(np.log(np.abs(u + v) / wp0) + S)
    if k0 is not None:
        return u * v, (u, v), (mean[0] / (K - k0)) * (mean[1] / (K - k0))
    return u * v, (u, v), np.array(losses), np.array(cplus)


# every comparison below: the same arithmetic up to association order, 50-100 steps: 1e-12 relative
@pytest.mark.parametrize("sampling", ["shuffle", "replacement"])
def test_sgd_sampling_is_the_plain_loop(sampling):
    P = dl.random_problem()
    run = dl.gradient_descent(P, _twolayer(), step=0.05, steps=60, batch_size=2, sampling=sampling, seed=7, tol=0.0,
                              record=("loss", "gains"))
    x, _, losses, cplus = _plain(P, 60, b=2, sampling=sampling, seed=7)
    assert run.sampling == sampling and np.allclose(run.x, x, rtol=1e-12, atol=1e-15)
    assert np.allclose(run.history["loss"], losses, rtol=1e-10, atol=1e-15)
    assert run.history["gains"].shape == (61, 2, P.N)
    assert np.allclose(run.history["gains"][:, 0], cplus, rtol=1e-9, atol=1e-12)


def test_replacement_sampling_full_batch_is_still_stochastic():
    P = dl.random_problem()
    gd = dl.gradient_descent(P, _twolayer(), step=0.05, steps=20, tol=0.0)
    sgd = dl.gradient_descent(P, _twolayer(), step=0.05, steps=20, batch_size=P.m, sampling="replacement", tol=0.0)
    assert sgd.batch_size == P.m and not np.allclose(gd.x, sgd.x, rtol=1e-6)
    assert np.allclose(sgd.x, _plain(P, 20, b=P.m, sampling="replacement")[0], rtol=1e-12, atol=1e-15)


def test_schedules_callable_and_pieces():
    P = dl.random_problem()
    run = dl.gradient_descent(P, _twolayer(), schedule=lambda k: 0.1 / (1 + 0.05 * k), steps=80, tol=0.0)
    assert run.step is None and run.iterations == 80
    assert np.allclose(run.x, _plain(P, 80, step=lambda k: 0.1 / (1 + 0.05 * k))[0], rtol=1e-12, atol=1e-15)
    pieces = dl.gradient_descent(P, _twolayer(), schedule=[(30, 0.2), (0, 9.0), (40, 0.05)], tol=0.0)
    assert pieces.iterations == 70  # the run ends with the list
    x = _plain(P, 70, step=lambda k: 0.2 if k < 30 else 0.05)[0]
    assert np.allclose(pieces.x, x, rtol=1e-12, atol=1e-15)
    # the effective initialization stays exact under a schedule
    long = dl.gradient_descent(P, _twolayer(), schedule=[(500, 0.3), (100_000, 0.1)], tol=1e-12)
    assert long.success and long.kkt <= 1e-10
    assert np.max(np.abs(long.x - dl.flow_limit(P, long.effective_init).x)) <= 1e-9


def test_weight_decay_and_label_noise_are_the_plain_loop():
    P = dl.random_problem()
    run = dl.gradient_descent(P, _twolayer(), step=0.05, steps=100, batch_size=2, weight_decay=0.3, label_noise=0.1,
                              seed=3, tol=0.0, record="gains")
    x, _, _, cplus = _plain(P, 100, b=2, seed=3, lam=0.3, sigma=0.1)
    assert run.weight_decay == 0.3 and run.label_noise == 0.1
    assert np.allclose(run.x, x, rtol=1e-12, atol=1e-15)
    assert np.allclose(run.log_gains[0], cplus[-1], rtol=1e-10, atol=1e-12)
    # the iterate still lies on the effective network's flow (dual point in range(A^T))
    assert run.kkt <= 1e-10
    full = dl.gradient_descent(P, _twolayer(), step=0.05, steps=100, label_noise=0.1, seed=3, tol=0.0)
    assert np.allclose(full.x, _plain(P, 100, sigma=0.1, seed=3)[0], rtol=1e-12, atol=1e-15)


def test_langevin_and_averaging_are_the_plain_loop():
    """SGLD draws its weight noise last (after the batch and the label noise), and tail averaging
    is the output at the mean weights: both against the plain loop, same arithmetic (1e-12)."""
    P = dl.random_problem()
    run = dl.gradient_descent(P, _twolayer(), step=0.05, steps=80, batch_size=2, label_noise=0.1, langevin=1e-3,
                              average=30, seed=4, tol=0.0)
    x, _, x_mean = _plain(P, 80, b=2, sigma=0.1, T=1e-3, k0=30, seed=4)
    assert np.allclose(run.x, x, rtol=1e-12, atol=1e-15)
    assert run.averaged == 50 and np.allclose(run.average_x, x_mean, rtol=1e-12, atol=1e-15)
    assert run.effective_init is None  # no limit point, no effective initialization
    gd = dl.gradient_descent(P, _twolayer(), step=0.05, steps=80, average=True, tol=0.0)
    assert np.allclose(gd.average_x, _plain(P, 80, k0=0)[2], rtol=1e-12, atol=1e-15)


def test_weight_decay_limit_is_a_regularized_point():
    """With weight decay lam, GD on u * v converges to a stationary point of
    1/2 ||A x - y||^2 + lam/2 (||u||^2 + ||v||^2): its weight gradient vanishes."""
    P = dl.random_problem()
    run = dl.gradient_descent(P, _twolayer(), step=0.1, steps=50_000, weight_decay=1e-2, tol=0.0)
    u, v = run.weights
    g = P.A.T @ (P.A @ (u * v) - P.y)
    assert np.max(np.abs(np.concatenate([v * g + 1e-2 * u, u * g + 1e-2 * v]))) <= 1e-10
    assert run.status == "max_iter" and run.residual > 1e-4  # decay trades fit for small weights


def test_continuing_from_a_result_is_one_run():
    P = dl.random_problem()
    whole = dl.gradient_descent(P, _twolayer(), step=0.1, steps=50, tol=0.0)
    first = dl.gradient_descent(P, _twolayer(), step=0.1, steps=30, tol=0.0)
    rest = dl.gradient_descent(P, _twolayer(), step=0.1, steps=20, tol=0.0, init_weights=first)
    assert rest.iterations == 20
    assert np.array_equal(rest.x, whole.x) and np.array_equal(rest.log_gains, whole.log_gains)  # same arithmetic
    assert np.allclose(rest.effective_init.mirror_map().log_p, whole.effective_init.mirror_map().log_p, rtol=0)
    saved = json.loads(json.dumps(first.to_dict()))  # e.g. `dlnlab gd --json`: floats round-trip exactly
    again = dl.gradient_descent(P, _twolayer(), step=0.1, steps=20, tol=0.0, init_weights=saved)
    assert np.array_equal(again.x, whole.x) and np.array_equal(again.log_gains, whole.log_gains)
    with pytest.raises(dl.OptionError, match="network that made it"):
        dl.gradient_descent(P, _even_net(P.N), step=0.1, init_weights=saved)
    with pytest.raises(dl.OptionError, match="log_gains"):
        dl.gradient_descent(P, _twolayer(), step=0.1, init_weights={**saved, "log_gains": [[0.0] * 5]})
    raw = dl.gradient_descent(P, _twolayer(), step=0.1, steps=20, tol=0.0, init_weights=np.array(first.weights))
    assert raw.effective_init is None and raw.log_gains is None
    assert np.allclose(raw.x, _plain(P, 20, step=lambda k: 0.1, start=first.weights)[0], rtol=1e-12, atol=1e-15)


def test_effective_initialization_below_float64_range():
    """40 x 100 Gaussian problem, 36000 steps at step 2.4 (at the edge of stability: the log
    gains reach -1789), then step 1 to convergence. The effective start of some coordinates is
    below float64 (u0 = v0 = 0 as floats) while the weights stay healthy (max |W| 0.72): it is
    carried in log domain, so the run reaches its limit, which is the flow limit of its
    effective initialization."""
    P = dl.gaussian_problem(40, 100, 5, seed=1)
    net = dl.TwoLayerDLN(np.full(P.N, np.sqrt(2) * 1e-2), np.zeros(P.N))
    run = dl.gradient_descent(P, net, schedule=[(36_000, 2.4), (300_000, 1.0)], tol=1e-11)
    assert run.success and P.relative_residual(run.x) <= 1e-11
    eff = run.effective_init
    assert run.log_gains.min() < -1700 and 0.1 < np.max(np.abs(run.weights)) < 1  # healthy weights
    assert np.any((eff.u0 == 0) & (eff.v0 == 0)) and np.all(np.isfinite(eff.mirror_map().log_p))
    # one coordinate's output is below float64 (x = -(1.8e-165)^2 rounds to -0): its dual is
    # free in the KKT, the other 99 are checked (docstring of _bregman_kkt)
    assert np.sum(run.x == 0) == 1
    assert run.kkt <= 1e-10  # measured 3.4e-15
    # the prediction: the GD limit is flow_limit of the effective network (measured 1.5e-11:
    # residual 1e-11 times the projection's conditioning)
    assert np.max(np.abs(run.x - dl.flow_limit(P, eff).x)) <= 1e-9
    # independent of the map: log|w_+-(K) / w_+-(0)| - c_+- = -+sum gamma_k g_k lies in range(A^T)
    # (per coordinate from the larger rotated weight; the other may underflow)
    u, v = run.weights
    plus = np.abs(u + v) >= np.abs(u - v)
    with np.errstate(divide="ignore"):
        dp = np.log(np.abs(u + v) / (np.sqrt(2) * 1e-2)) - run.log_gains[0]
        dm = np.log(np.abs(u - v) / (np.sqrt(2) * 1e-2)) - run.log_gains[1]
    assert _range_distance(P, np.where(plus, dp, -dm)) <= 1e-10


def test_two_layer_dual_of_zero_below_float64_range():
    """x = P e^{cz} - M e^{-cz} = 0 at cz = (log M - log P) / 2, also where P M underflows
    (it was log(0) - log P: -inf, and the KKT NaN); one-signed maps send 0 to +-inf."""
    from dlnlab.networks.twolayer import TwoLayerMap
    m = TwoLayerMap(log_p=np.array([-1600.0, -2.0, -np.inf, -3.0]), log_m=np.array([-1500.0, -1.0, -4.0, -np.inf]),
                    c=2.0)
    sign, gap = m.dual(np.zeros(4))
    cz = 2.0 * sign * (1 - gap)
    assert np.allclose(cz[:2], [50.0, 0.5], rtol=1e-15) and cz[2] == np.inf and cz[3] == -np.inf


@pytest.mark.parametrize("kwargs, match", [
    (dict(), "exactly one of step"),
    (dict(step=0.1, schedule=[(5, 0.1)]), "exactly one of step"),
    (dict(schedule=[(5, -0.1)]), "schedule step"),
    (dict(schedule=[(2.5, 0.1)]), "n_steps"),
    (dict(schedule=[]), "empty"),
    (dict(schedule="fast"), "pairs"),
    (dict(schedule=lambda k: 0.1 if k < 3 else 0.0, steps=10), r"schedule\(3\)"),
    (dict(step=0.1, sampling="bootstrap", batch_size=2), "sampling"),
    (dict(step=0.1, weight_decay=-1.0), "weight_decay"),
    (dict(step=0.1, label_noise=float("nan")), "label_noise"),
    (dict(step=0.1, init_weights=np.ones((3, 5))), "init_weights"),
    (dict(step=0.1, init_weights=np.full((2, 5), np.inf)), "init_weights"),
    (dict(step=0.1, record=("loss", "speed")), "record"),
])
def test_bad_training_options(kwargs, match):
    P = dl.random_problem()
    with pytest.raises(dl.OptionError, match=match):
        dl.gradient_descent(P, _twolayer(), **kwargs)


def test_options_that_need_the_effective_initialization():
    P = dl.random_problem()
    with pytest.raises(dl.OptionError, match="record='gains'"):
        dl.gradient_descent(P, dl.SymmetricDLN(depth=3, alpha=0.3), step=0.1, record="gains")
    other = dl.gradient_descent(P, _even_net(P.N), step=0.1, steps=5)
    with pytest.raises(dl.OptionError, match="continue a run with the network that made it"):
        dl.gradient_descent(P, _twolayer(), step=0.1, init_weights=other)


class _CubeNet:
    """A network known to no module of dlnlab: x = u^3, declared only through Trainable."""

    def init_weights(self, size):
        return np.full((1, size), 0.5)

    def weights_to_x(self, W):
        return W[0] ** 3

    def pullback(self, W, g):
        return (3 * W[0] ** 2 * g)[None, :]


def test_a_new_network_trains_by_declaring_its_weights():
    P = dl.random_problem()
    assert isinstance(_CubeNet(), dl.networks.Trainable) and not isinstance(_CubeNet(), dl.networks.EffectiveInit)
    run = dl.gradient_descent(P, _CubeNet(), step=0.05, steps=50, tol=0.0)
    u = np.full(P.N, 0.5)
    for _ in range(50):
        u = u - 0.05 * 3 * u ** 2 * (P.A.T @ (P.A @ u ** 3 - P.y))
    assert np.allclose(run.x, u ** 3, rtol=1e-12, atol=1e-15) and run.effective_init is None
    net = _CubeNet()
    half = dl.gradient_descent(P, net, step=0.05, steps=25, tol=0.0)
    rest = dl.gradient_descent(P, net, step=0.05, steps=25, tol=0.0, init_weights=half)
    assert np.array_equal(rest.x, run.x)


def test_a_missing_network_is_a_network_error():
    P = dl.random_problem()
    with pytest.raises(dl.NetworkError, match="needs a network"):
        dl.gradient_descent(P.A, P.y, step=0.1)


def test_each_variant_names_what_it_converges_to():
    """`GDResult.converges_to`: the effective network's flow limit where theory gives one (and the
    result carries that network), otherwise what the variant tends to instead, or no prediction."""
    P = dl.random_problem()
    run = lambda net=None, **kw: dl.gradient_descent(P, net or _twolayer(), step=0.05, steps=20, tol=0.0, **kw)
    cases = [  # (phrase, result, whether the result carries an effective network)
        ("flow_limit(A, y, effective_init)", run(), True),
        ("exact SGD identity", run(batch_size=2, sampling="replacement"), True),
        ("stationary point of 1/2 ||A x - y||^2 + weight_decay/2", run(weight_decay=0.1), True),
        ("no fixed point", run(label_noise=0.1), True),
        ("Gibbs density", run(langevin=1e-3), False),
        ("no exact effective initialization (depth > 2)", run(dl.SymmetricDLN(depth=3, alpha=0.3)), False),
        ("weight-array start", run(init_weights=np.array(run().weights)), False),
    ]
    for phrase, result, effective in cases:
        assert phrase in result.converges_to, (phrase, result.converges_to)
        assert (result.effective_init is not None) == effective
    assert "average_x is a mean of flow points" in run(average=5).converges_to
