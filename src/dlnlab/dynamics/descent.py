"""Gradient descent and SGD on a network's real weights, and their effective initialization.

GD runs on the weights themselves (that is what training does) with loss
``1/2 ||A x - y||^2``; SGD replaces the gradient ``A^T (A x - y)`` by the unbiased
``(m / b) A_B^T (A_B x - y_B)`` on a batch ``B`` of ``b`` rows (random reshuffling, one pass
per epoch).

Effective initialization (Even et al. 2023, docs/theory.md section 6), exact form. For
``x = u * v`` a step with gradient ``g_k`` multiplies the rotated weights
``w_+- = (u +- v) / 2`` by ``1 -+ gamma g_k``. Writing ``S_K = -gamma sum_k g_k`` (a point of
range(A^T), as in the flow) and

    c_+ = sum_k [log|1 - gamma g_k| + gamma g_k],    c_- = sum_k [log|1 + gamma g_k| - gamma g_k],

the iterate is *exactly* ``x_K = P_K e^{2 S_K} - M_K e^{-2 S_K}`` with ``P_K = P_0 e^{2 c_+}``,
``M_K = M_0 e^{2 c_-}``: a point on the gradient-flow curve of the two-layer network started
from ``u0' +- v0' = (u0 +- v0) e^{c_+-}`` (`TwoLayerDLN`), at dual point ``S_K``. When GD
converges (``A x_K -> y``, ``c_+-`` converge since ``c ~ -gamma^2 g^2 / 2``), its limit is therefore
``flow_limit`` of that effective network: ``argmin_{Ax=y} D_Q(x, x0')`` -- Even et al.'s
``alpha_+- = alpha exp(-1/2 sum q_+-(gamma g_k))`` and ``beta_0 = (alpha_+^2 - alpha_-^2) / 2``
(``x0' = u0' v0'``), with ``alpha_inf = sqrt(alpha_+ alpha_-) = alpha exp(-1/2 sum q(gamma g_k))``,
``q(x) = -1/2 log((1 - x^2)^2)``. Since ``c_+- <= 0`` the effective scale is smaller: large steps
make GD sparser.

Azulay's ``x = u+ v+ - u- v-`` (`AzulayDLN`) is the same: ``(u+ + v+)`` and ``(u- - v-)`` are multiplied by
``1 - gamma g_k``, ``(u+ - v+)`` and ``(u- + v-)`` by ``1 + gamma g_k``, so ``x_K`` is the two-layer iterate
with the merged ``P = P+ + M-``, ``M = M+ + P-`` (docs/theory.md section 2) and the effective network
is built from ``AzulayDLN.two_layer``.

Relation to the symmetric network: ``TwoLayerDLN(sqrt(2) alpha, 0)`` (Even et al.'s start) is
``SymmetricDLN(depth=2, alpha=alpha / sqrt(2))`` (same limit, flow at half speed). The effective
network is *not* symmetric in general (``alpha_+ != alpha_-``, per-coordinate); its
symmetric part has weight scale ``alpha_inf / sqrt(2)`` per coordinate and ``x0' = beta_0`` is
the small perturbation term. GD on the symmetric depth-2 network itself (``u^2 - v^2``,
factors ``1 -+ 2 gamma g``) has the same structure and is handled exactly too. Depth > 2 (and
layered L >= 3) networks run, but have no exact effective initialization (``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError
from ..networks.azulay import AzulayDLN
from ..networks.layered import LayeredDLN
from ..networks.symmetric import SymmetricDLN
from ..problems import as_problem
from ..networks.twolayer import TwoLayerDLN

#: A loss above this multiple of the initial loss (or non-finite) counts as divergence.
DIVERGENCE_FACTOR = 1e12


@dataclass(frozen=True)
class GDResult:
    """The last GD/SGD iterate and its evidence.

    Attributes: ``x``; ``weights`` (the final weight arrays); ``loss`` (full loss
    ``1/2 ||A x - y||^2`` at every checked iterate, the first at the start);
    ``checked`` (iteration numbers of those losses); ``iterations``; ``residual``
    (``||A x - y|| / ||y||``); ``status`` (``"converged"``: residual <= tol; ``"max_steps"``;
    ``"diverged"``); ``effective_init`` (a `TwoLayerDLN` whose gradient-flow limit is the GD
    limit, or None); ``kkt`` (distance of ``grad Q_eff(x) - grad Q_eff(x0')`` from
    range(A^T), relative; None without an effective initialization).
    """

    x: np.ndarray
    weights: tuple
    loss: np.ndarray
    checked: np.ndarray
    iterations: int
    residual: float
    status: str
    effective_init: TwoLayerDLN | None
    kkt: float | None
    step: float
    batch_size: int | None
    seed: int
    message: str = field(default="")

    @property
    def converged(self) -> bool:
        return self.status == "converged"


def _setup(net, N):
    """Initial weights, the forward map, the weight update and the effective-init factor kappa."""
    if isinstance(net, SymmetricDLN):
        p = net.depth
        w = [np.full(N, net.alpha), np.full(N, net.alpha)]

        def forward(w):
            return w[0] ** p - w[1] ** p

        def update(w, g, gamma):
            return [w[0] - gamma * p * w[0] ** (p - 1) * g, w[1] + gamma * p * w[1] ** (p - 1) * g]

        # u^2 - v^2: P = u^2, M = v^2, rotated weights (u, v) scale by (1 -+ 2 gamma g)
        pair = (2.0 * net.alpha * np.ones(N), 2.0 * net.alpha * np.ones(N), 2.0) if p == 2 else None
        return w, forward, update, pair
    if isinstance(net, LayeredDLN) and net.depth == 2:
        net = TwoLayerDLN(net.inits[0], net.inits[1])
    if isinstance(net, TwoLayerDLN):
        if net.size != N:
            raise NetworkError(f"the network has {net.size} coordinates but A has N = {N} columns.")
        w = [net.u0.copy(), net.v0.copy()]

        def forward(w):
            return w[0] * w[1]

        def update(w, g, gamma):
            return [w[0] - gamma * w[1] * g, w[1] - gamma * w[0] * g]

        return w, forward, update, (net.u0 + net.v0, net.u0 - net.v0, 1.0)
    if isinstance(net, AzulayDLN):
        if net.size not in (1, N):
            raise NetworkError(f"the network has {net.size} coordinates but A has N = {N} columns.")
        w = [np.broadcast_to(a, (N,)).copy() for a in (net.up, net.vp, net.um, net.vm)]

        def forward(w):
            return w[0] * w[1] - w[2] * w[3]

        def update(w, g, gamma):
            return [w[0] - gamma * w[1] * g, w[1] - gamma * w[0] * g, w[2] + gamma * w[3] * g,
                    w[3] + gamma * w[2] * g]

        tl = net.two_layer
        return w, forward, update, (np.broadcast_to(tl.u0 + tl.v0, (N,)), np.broadcast_to(tl.u0 - tl.v0, (N,)), 1.0)
    if isinstance(net, LayeredDLN):
        if net.size != N:
            raise NetworkError(f"the network has {net.size} coordinates but A has N = {N} columns.")
        w = [row.copy() for row in net.inits]

        def forward(w):
            return np.prod(w, axis=0)

        def update(w, g, gamma):
            out = []
            for j in range(len(w)):
                others = np.prod([w[k] for k in range(len(w)) if k != j], axis=0)
                out.append(w[j] - gamma * others * g)
            return out

        return w, forward, update, None
    raise NetworkError(f"gradient_descent supports SymmetricDLN, TwoLayerDLN, AzulayDLN and LayeredDLN; "
                       f"got {type(net).__name__}.")


def gradient_descent(A, y=None, net=None, *, step: float, steps: int = 100_000, batch_size: int | None = None,
                     seed: int = 0, tol: float = 1e-10) -> GDResult:
    """GD (``batch_size=None``) or SGD on the weights of ``net``, from its initialization.

    Stops when ``||A x - y|| / ||y|| <= tol`` (checked every iteration for GD, every epoch
    for SGD), after ``steps`` iterations, or on divergence. See the module docstring for
    ``effective_init``: ``dl.flow_limit(A, y, result.effective_init)`` predicts the GD limit.

    Example
    -------
    >>> import numpy as np, dlnlab as dl
    >>> P = dl.random_problem()
    >>> net = dl.TwoLayerDLN(np.full(5, np.sqrt(2) * 1e-3), np.zeros(5))
    >>> run = dl.gradient_descent(P, net, step=0.5, steps=20000)
    >>> lim = dl.flow_limit(P, run.effective_init)
    >>> run.status, bool(np.max(np.abs(run.x - lim.x)) < 1e-8)
    ('converged', True)
    """
    if net is None:
        if y is None or isinstance(y, np.ndarray):
            raise TypeError("gradient_descent(A, y, net, step=...): the network is missing.")
        net, y = y, None
    problem = as_problem(A, y)
    A_, y_ = problem.A, problem.y
    m, N = A_.shape
    gamma = float(step)
    if not math.isfinite(gamma) or gamma <= 0:
        raise NetworkError(f"step must be a positive finite number; got {step!r}.")
    if int(steps) != steps or steps < 0:
        raise NetworkError(f"steps must be a non-negative integer; got {steps!r}.")
    if batch_size is not None and not (1 <= int(batch_size) <= m and int(batch_size) == batch_size):
        raise NetworkError(f"batch_size must be an integer in [1, m = {m}] (or None for full GD); got {batch_size!r}.")
    if not (tol >= 0):
        raise NetworkError(f"tol must be >= 0; got {tol!r}.")
    w, forward, update, pair = _setup(net, N)
    rng = np.random.default_rng(seed)
    b = None if batch_size is None or int(batch_size) == m else int(batch_size)
    check_every = 1 if b is None else max(1, m // b)
    ynorm = problem.y_norm if problem.y_norm > 0 else 1.0

    x = forward(w)
    r = A_ @ x - y_
    losses, checked = [0.5 * float(r @ r)], [0]
    cp, cm = np.zeros(N), np.zeros(N)
    kappa = pair[2] if pair is not None else 0.0
    order, pos = np.arange(m), m
    status, message, it = "max_steps", f"stopped after steps = {steps} iterations", 0
    residual = math.sqrt(2 * losses[0]) / ynorm
    if residual <= tol:
        status, message = "converged", ""
    while status == "max_steps" and it < steps:
        if b is None:
            g = A_.T @ r
        else:
            if pos + b > m:
                order, pos = rng.permutation(m), 0
            rows = order[pos:pos + b]
            pos += b
            g = (m / b) * (A_[rows].T @ (A_[rows] @ x - y_[rows]))
        if pair is not None:
            t = kappa * gamma * g
            with np.errstate(divide="ignore"):
                cp += np.log(np.abs(1.0 - t)) + t
                cm += np.log(np.abs(1.0 + t)) - t
        w = update(w, g, gamma)
        x = forward(w)
        it += 1
        if b is None or it % check_every == 0 or it == steps:
            r = A_ @ x - y_
            loss = 0.5 * float(r @ r)
            losses.append(loss)
            checked.append(it)
            if not math.isfinite(loss) or loss > DIVERGENCE_FACTOR * max(losses[0], 1e-300):
                status = "diverged"
                message = f"the loss grew to {loss:.3g} at iteration {it}: reduce the step (now {gamma:g})."
                break
            residual = math.sqrt(2 * loss) / ynorm
            if residual <= tol:
                status, message = "converged", ""
    residual = problem.relative_residual(x) if np.all(np.isfinite(x)) else math.inf
    effective, kkt = None, None
    if pair is not None and status != "diverged":
        if not (np.all(np.isfinite(cp)) and np.all(np.isfinite(cm))):
            message = (message + "; " if message else "") + ("a step hit 1 -+ gamma g = 0 exactly, which zeroes a "
                                                             "rotated weight: no effective initialization")
        else:
            plus, minus = pair[0] * np.exp(cp), pair[1] * np.exp(cm)
            effective = TwoLayerDLN(0.5 * (plus + minus), 0.5 * (plus - minus))
            with np.errstate(all="ignore"):
                kkt = _bregman_kkt(problem, effective, x)
    return GDResult(x=x, weights=tuple(w), loss=np.array(losses), checked=np.array(checked), iterations=it,
                    residual=residual, status=status, effective_init=effective, kkt=kkt, step=gamma,
                    batch_size=b, seed=seed, message=message)


def _bregman_kkt(problem, net, x):
    """``||P_perp z||_inf / ||z||_inf`` for ``z = grad Q(x) - grad Q(x0)`` (the map's dual of x)."""
    sign, gap = net.mirror_map().dual(x)
    z = sign * (1.0 - gap)
    size = float(np.max(np.abs(z)))
    if size == 0:
        return 0.0
    Q = problem.basis.Q
    return float(np.max(np.abs(z - Q @ (Q.T @ z)))) / size
