"""The stochastic gradient flow (SGF) of SGD on a network's weights, by Euler-Maruyama.

SGD with step ``gamma`` and batches of ``b`` rows drawn with replacement takes
``W <- W - gamma J^T (g + xi)``, ``g = A^T (A x - y)``, ``xi`` of mean 0 and covariance
``Sigma(W) / b``, ``Sigma = A^T (m diag(r^2) - r r^T) A`` (``r = A x - y``). Its continuous
model (Li, Tai and E; used for diagonal networks by Pesme, Pillaud-Vivien and Flammarion 2021)
is the Ito SDE, in the SGD time ``t = k gamma``,

    dW = -J^T ( g dt + sqrt(gamma / b) C dB ),        C = A^T sqrt(m) diag(r) (I - 1 1^T / m),

with ``B`` a standard Brownian motion in R^m (``C C^T = Sigma``; ``noise="sgd"``), or with
``C = sqrt(2 F(W)) A^T`` (``noise="isotropic"``: the ``r_i^2`` replaced by their mean, the
Gaussian-data model in which ``Sigma ~ 2 F A^T A``).

Effective initialization (derived here by Ito's formula; the networks of
`dlnlab.networks.base.EffectiveInit`). A rotated weight obeys ``dw_j = -kappa_j w_j dH`` with
``dH = g dt + sqrt(gamma / b) C dB``, a process in range(A^T). Hence

    log w_j(t) = log w_j(0) - kappa_j H(t) - (gamma kappa_j^2 / (2 b)) int_0^t diag(C C^T) ds,

so ``x(t)`` lies on the gradient-flow curve of ``net.effective_network(c(t))`` with
``c_j(t) = -(gamma kappa_j^2 / (2 b)) int_0^t diag(Sigma(W_s)) ds <= 0``: a *smaller* effective
initialization than gradient flow's (``c = 0``), and where the loss goes to 0 the SGF limit is
``flow_limit`` of that network. For ``x = u^2 - v^2`` (``kappa = +-2``) and the isotropic noise
this is ``alpha_inf = alpha exp(-(2 gamma / b) diag(A^T A) int_0^inf 2 F ds)``, the form of
Pesme et al.'s theorem (``alpha_inf = alpha exp(-c gamma diag(X^T X) int L)``; their loss and
time normalization -- the constant ``c`` in their units -- could not be checked against the paper
here, so dlnlab states the formula in its own units, ``F = 1/2 ||A x - y||^2``).

The Euler-Maruyama step ``W <- W - J^T h``, ``h = g dt + sqrt(gamma / b) C dB_k``, is itself a
GD step with gradient ``h`` in range(A^T), so the *discrete* iterate carries the exact log
gains ``c_j = sum_k [log|1 - kappa_j h_k| + kappa_j h_k]`` of `dlnlab.gradient_descent`
(``effective_init``); as ``dt -> 0`` they tend to the SDE's ``c(t)`` (``predicted_init``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import OptionError
from ..networks.base import Network
from ..problems import as_problem, scaled_norm
from ..results import Result
from .descent import DIVERGENCE_FACTOR, _bregman_kkt, _non_negative, _positive, _trainable

#: ``noise=`` values of `stochastic_flow`.
NOISES = ("sgd", "isotropic")


@dataclass(frozen=True)
class SGFResult(Result):
    """The end of an Euler-Maruyama run of the stochastic gradient flow (a `dlnlab.results.Result`).

    ``x``, ``weights`` (final ``W``); ``time`` (``iterations * dt``); ``residual``
    (``||A x - y|| / ||y||`` from ``x``); ``status`` (``"converged"``: residual ``<= tol``;
    ``"max_iter"``: the horizon or step budget ended first; ``"diverged"``); ``effective_init``
    / ``log_gains`` (the exact effective network of the discrete iterate); ``predicted_init`` /
    ``predicted_log_gains`` (the SDE's Ito formula, integrated along the path); ``limit`` (the
    `LimitResult` of ``flow_limit(A, y, predicted_init)``: the predicted SGF limit);
    ``kkt`` (distance of ``x`` from ``effective_init``'s flow curve); ``loss`` and ``times``
    (the loss ``1/2 ||A x - y||^2`` at every iterate); ``step``, ``dt``, ``batch_size``,
    ``noise``, ``seed``, ``tol``.
    """

    x: np.ndarray
    weights: tuple
    iterations: int
    time: float
    residual: float
    status: str
    effective_init: Network | None
    log_gains: np.ndarray | None
    predicted_init: Network | None
    predicted_log_gains: np.ndarray | None
    limit: object
    kkt: float | None
    loss: np.ndarray
    times: np.ndarray
    step: float
    dt: float
    batch_size: int
    noise: str
    seed: int
    tol: float
    network: Network = field(metadata={"dict": False})
    message: str = field(default="")


def stochastic_flow(A, y=None, net=None, *, step: float, batch_size: int = 1, dt: float | None = None,
                    time: float | None = None, steps: int = 1_000_000, noise: str = "sgd", seed: int = 0,
                    brownian=None, tol: float = 1e-10, limit: bool = True) -> SGFResult:
    """Euler-Maruyama for the stochastic gradient flow of SGD(step, batch_size) on ``net`` (module docstring).

    ``dt``: the integrator's time step (default ``step / 10``), in SGD time (``dt = step`` is
    one SGD step's worth). Runs until ``||A x - y|| / ||y|| <= tol``, time ``time``, or
    ``steps`` steps. ``brownian``: the increments ``dB_k`` (a ``K x m`` array, each row of
    variance ``dt``: pass the same path at two step sizes by summing pairs of rows); default
    ``sqrt(dt) numpy.random.default_rng(seed).standard_normal(m)`` per step. ``limit``:
    compute ``flow_limit`` of ``predicted_init``.

    Examples
    --------
    >>> import numpy as np, dlnlab as dl
    >>> P = dl.random_problem()
    >>> net = dl.SymmetricDLN(depth=2, alpha=1e-2)
    >>> run = dl.stochastic_flow(P, net, step=0.05, dt=0.005, tol=1e-9)
    >>> run.status, bool(np.all(run.predicted_log_gains <= 0))
    ('converged', True)
    """
    if net is None:
        net, y = y, None
    problem = as_problem(A, y)
    A_ = problem.A.toarray() if hasattr(problem.A, "toarray") else np.asarray(problem.A, dtype=float)
    y_ = np.asarray(problem.y, dtype=float)
    m, N = A_.shape
    gamma = _positive("step", step)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 1 <= batch_size <= m:
        raise OptionError(f"batch_size must be an integer in [1, m = {m}]; got {batch_size!r}.")
    b = int(batch_size)
    h_t = gamma / 10.0 if dt is None else _positive("dt", dt)
    if noise not in NOISES:
        raise OptionError(f"noise must be one of {NOISES}; got {noise!r}.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise OptionError(f"steps must be a non-negative integer; got {steps!r}.")
    budget = int(steps)
    if time is not None:
        budget = min(budget, int(math.ceil(_non_negative("time", time) / h_t - 1e-9)))
    if brownian is not None:
        dB = np.asarray(brownian, dtype=float)
        if dB.ndim != 2 or dB.shape[1] != m or not np.all(np.isfinite(dB)):
            raise OptionError(f"brownian must be a finite K x {m} array of increments; got shape {dB.shape}.")
        budget = min(budget, dB.shape[0])
    tol = float(tol)
    if not 0.0 <= tol < 1.0:
        raise OptionError(f"tol must be a relative residual in [0, 1) (0: run to the horizon); got {tol!r}.")
    W, rates = _trainable(net, N)
    tracked = rates.size > 0
    gains = np.zeros((rates.size, N)) if tracked else None
    pred = np.zeros((rates.size, N)) if tracked else None
    rng = np.random.default_rng(seed)
    ynorm = problem.y_norm if problem.y_norm > 0 else 1.0
    A2 = A_ * A_
    scale = math.sqrt(gamma / b)

    x = net.weights_to_x(W)
    r = A_ @ x - y_
    rnorm0 = rnorm = scaled_norm(r)
    losses = [0.5 * rnorm * rnorm]
    it, diverged, met = 0, False, rnorm / ynorm <= tol
    ito = 0.5 * gamma * h_t * rates[:, None] ** 2  # Ito drift of log w_j per step: -(gamma kappa_j^2 / 2) diag dt
    while not met and it < budget:
        db = dB[it] if brownian is not None else math.sqrt(h_t) * rng.standard_normal(m)
        g = A_.T @ r
        if noise == "sgd":  # sqrt(m) A^T diag(r) (I - 1 1^T / m) dB
            zeta = math.sqrt(m) * (A_.T @ (r * db) - (float(db.sum()) / m) * g)
            diag = (m * (A2.T @ (r * r)) - g * g) / b
        else:
            zeta = rnorm * (A_.T @ db)  # sqrt(2 F) = ||r||
            diag = (rnorm * rnorm / b) * A2.sum(axis=0)
        h = g * h_t + scale * zeta
        if tracked:
            kh = rates[:, None] * h
            with np.errstate(divide="ignore"):
                gains += np.log(np.abs(1.0 - kh)) + kh
            pred -= ito * diag
        W = W - net.pullback(W, h)
        x = net.weights_to_x(W)
        it += 1
        r = A_ @ x - y_
        rr = float(r @ r)
        rnorm = math.sqrt(rr) if 1e-290 < rr < 1e290 else scaled_norm(r)  # squares in range: the plain norm
        losses.append(0.5 * rnorm * rnorm)
        if not math.isfinite(rnorm) or rnorm > math.sqrt(DIVERGENCE_FACTOR) * (rnorm0 or 1e-300):
            diverged = True
            break
        met = rnorm / ynorm <= tol
    residual = problem.relative_residual(x) if np.all(np.isfinite(x)) else math.inf
    if diverged:
        status, message = "diverged", f"the loss grew to {losses[-1]:.3g} at t = {it * h_t:g}: reduce dt or step."
    elif residual <= tol:
        status, message = "converged", ""
    else:
        status, message = "max_iter", f"relative residual {residual:.3g} > tol = {tol:g} at t = {it * h_t:g}"
    effective = predicted = lim = kkt = None
    log_gains = pred_gains = None
    if tracked and not diverged:
        if np.all(np.isfinite(gains)):
            log_gains, effective = gains, net.effective_network(gains)
            with np.errstate(all="ignore"):
                kkt = _bregman_kkt(problem, effective, x)
        pred_gains, predicted = pred, net.effective_network(pred)
        if limit:
            from ..limits import flow_limit
            lim = flow_limit(problem, predicted)
    elif not tracked:
        message = (message + "; " if message else "") + "this network has no exact effective initialization"
    return SGFResult(x=x, weights=tuple(W), iterations=it, time=it * h_t, residual=residual, status=status,
                     effective_init=effective, log_gains=log_gains, predicted_init=predicted,
                     predicted_log_gains=pred_gains, limit=lim, kkt=kkt, loss=np.array(losses),
                     times=h_t * np.arange(len(losses)), step=gamma, dt=h_t, batch_size=b, noise=noise, seed=seed,
                     tol=tol, network=net, message=message)
