"""Sharpness and the stochastic gradient flow against independent computations."""

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.dynamics.sharpness import hessian


def _loss_hessian_fd(P, net, W, h=1e-4):
    """Central second differences of ``1/2 ||A x(W) - y||^2``, from ``weights_to_x`` alone."""
    A, y = np.asarray(P.A, dtype=float), np.asarray(P.y, dtype=float)
    loss = lambda V: 0.5 * float(np.sum((A @ net.weights_to_x(V.reshape(W.shape)) - y) ** 2))
    w = W.ravel()
    n = w.size
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (loss(w + E[i] + E[j]) - loss(w + E[i] - E[j]) - loss(w - E[i] + E[j])
                       + loss(w - E[i] - E[j])) / (4 * h * h)
    return H


@pytest.mark.parametrize("net", [dl.TwoLayerDLN(np.linspace(0.2, 0.9, 5), np.linspace(-0.4, 0.3, 5)),
                                 dl.SymmetricDLN(depth=2, alpha=0.5), dl.SymmetricDLN(depth=3, alpha=0.7)])
def test_hessian_and_sharpness_match_finite_differences(net):
    P = dl.random_problem()
    W = net.init_weights(P.A.shape[1]) * (1.0 + 0.3 * np.random.default_rng(0).standard_normal((1, 5)))
    H = hessian(P, net, W)
    H_fd = _loss_hessian_fd(P, net, W)
    # second differences at h = 1e-4 carry O(h^2) truncation and O(eps / h^2) ~ 1e-8 rounding
    assert np.max(np.abs(H - H_fd)) <= 1e-6 * max(1.0, np.max(np.abs(H_fd)))
    top = np.linalg.eigvalsh(H_fd)[-1]
    assert dl.sharpness(P, net, W, method="dense") == pytest.approx(top, rel=1e-6)
    assert dl.sharpness(P, net, W, method="lanczos") == pytest.approx(dl.sharpness(P, net, W, method="dense"),
                                                                       rel=1e-9)


def test_stochastic_flow_converges_strongly_on_one_brownian_path():
    """Euler-Maruyama at dt, dt/2 against dt/4 on the same Brownian path: the error shrinks."""
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=2, alpha=0.1)
    m, fine, K = P.A.shape[0], 0.0025, 4000
    dB = np.sqrt(fine) * np.random.default_rng(1).standard_normal((K, m))
    xs = []
    for f in (4, 2, 1):
        run = dl.stochastic_flow(P, net, step=0.05, dt=fine * f, time=K * fine,
                                 brownian=dB.reshape(K // f, f, m).sum(axis=1), tol=1e-300, limit=False)
        assert run.time == pytest.approx(K * fine)
        xs.append(run.x)
    coarse, middle = np.linalg.norm(xs[0] - xs[2]), np.linalg.norm(xs[1] - xs[2])
    # strong order >= 1/2: halving dt cuts the error by at least 1/sqrt(2) (measured: 0.55)
    assert middle <= 0.75 * coarse
    assert middle <= 5e-3 * np.linalg.norm(xs[2])


def test_stochastic_flow_limit_is_the_effective_networks_flow_limit():
    P = dl.random_problem()
    run = dl.stochastic_flow(P, dl.SymmetricDLN(depth=2, alpha=1e-2), step=0.05, dt=0.005, tol=1e-9)
    assert run.status == "converged" and run.success
    limit = dl.flow_limit(P, run.effective_init)
    # the effective network's limit is the interpolator the run tends to: equal up to the residual 1e-9
    assert np.linalg.norm(limit.x - run.x) <= 1e-7 * np.linalg.norm(limit.x)
    assert np.all(run.predicted_log_gains <= 0)  # SGF shrinks the effective initialization


def test_lanczos_is_the_default_above_the_dense_limit():
    """800 weights (> DENSE_LIMIT = 600): ``auto`` takes Lanczos on Hessian-vector products; it
    agrees with the dense eigenvalue to Lanczos's tolerance (measured 9e-16 relative)."""
    from dlnlab.dynamics.sharpness import DENSE_LIMIT
    P = dl.gaussian_problem(100, 400, 5, seed=0)
    rng = np.random.default_rng(2)
    net = dl.TwoLayerDLN(0.3 + 0.1 * rng.random(P.N), 0.2 * rng.standard_normal(P.N))
    W = net.init_weights(P.N) * (1.0 + 0.5 * rng.standard_normal((2, P.N)))
    assert W.size > DENSE_LIMIT
    dense = dl.sharpness(P, net, W, method="dense")
    assert dl.sharpness(P, net, W) == pytest.approx(dense, rel=1e-9)


def test_record_sharpness_along_a_run():
    """``record="sharpness"`` is the sharpness of each iterate: against `dl.sharpness` of the
    weights of a plain numpy GD loop after k steps (measured 1.1e-15 relative)."""
    P = dl.random_problem()
    u0, v0 = np.full(P.N, 0.6), np.linspace(-0.3, 0.3, P.N)
    net = dl.TwoLayerDLN(u0, v0)
    run = dl.gradient_descent(P, net, step=0.05, steps=12, tol=0.0, record="sharpness")
    assert run.history["sharpness"].shape == (13,)
    u, v = u0.copy(), v0.copy()
    for k in range(13):
        assert run.history["sharpness"][k] == pytest.approx(dl.sharpness(P, net, np.vstack([u, v])), rel=1e-12)
        g = P.A.T @ (P.A @ (u * v) - P.y)
        u, v = u - 0.05 * v * g, v - 0.05 * u * g
    assert np.ptp(run.history["sharpness"]) > 0.5  # it moves along the run (2.49 -> 1.31): not one value repeated
