"""Gradient descent and SGD on a network's real weights, and their effective initialization.

GD runs on the weights ``W`` themselves (that is what training does) with loss
``1/2 ||A x(W) - y||^2``, for every network that declares its weights
(`dlnlab.networks.base.Trainable`: ``init_weights``, ``weights_to_x``, ``pullback``); the
step is ``W <- W - gamma pullback(W, g)`` with ``g = A^T (A x - y)``. SGD replaces ``g`` by the
unbiased ``(m / b) A_B^T (A_B x - y_B)`` on a batch ``B`` of ``b`` rows (random reshuffling,
one pass per epoch, or independent draws with replacement); `gradient_descent` also takes
step schedules, weight decay, label noise and a previous run to continue.

Effective initialization (Even et al. 2023, docs/theory.md section 6), exact form. For
``x = u * v`` a step with gradient ``g_k`` multiplies the rotated weights
``w_+- = (u +- v) / 2`` by ``1 -+ gamma g_k``. Writing ``S_K = -gamma sum_k g_k`` (a point of
range(A^T), as in the flow) and

    c_+ = sum_k [log|1 - gamma g_k| + gamma g_k],    c_- = sum_k [log|1 + gamma g_k| - gamma g_k],

the iterate is *exactly* ``x_K = P_K e^{2 S_K} - M_K e^{-2 S_K}`` with ``P_K = P_0 e^{2 c_+}``,
``M_K = M_0 e^{2 c_-}``: a point on the gradient-flow curve of the two-layer network started
from ``w_+-' = w_+- e^{c_+-}`` (`TwoLayerDLN.from_rotated`, in log domain), at dual point
``S_K``. When GD converges (``A x_K -> y``, ``c_+-`` converge since ``c ~ -gamma^2 g^2 / 2``),
its limit is therefore ``flow_limit`` of that effective network: ``argmin_{Ax=y} D_Q(x, x0')``
-- Even et al.'s ``alpha_+- = alpha exp(-1/2 sum q_+-(gamma g_k))`` and
``beta_0 = (alpha_+^2 - alpha_-^2) / 2`` (``x0' = u0' v0'``), with
``alpha_inf = sqrt(alpha_+ alpha_-) = alpha exp(-1/2 sum q(gamma g_k))``,
``q(x) = -1/2 log((1 - x^2)^2)``. Since ``c_+- <= 0`` the effective scale is smaller: large steps
make GD sparser.

The same identity holds for every network with ``gd_rates`` (`dlnlab.networks.base.EffectiveInit`):
a step multiplies rotated weight ``j`` by ``1 - kappa_j gamma g``, the log gains are
``c_j = sum_k [log|1 - kappa_j gamma g_k| + kappa_j gamma g_k]`` and ``net.effective_network(c)``
is the network whose flow limit is the GD limit: the symmetric depth-2 network ``u^2 - v^2``
(``kappa = +-2``, a two-layer effective network), the two-layer and depth-2 layered networks
(``kappa = +-1``) and the non-negative network ``x = u * u`` (``kappa = 2``: ``u <- u (1 - 2 gamma g)``,
effective costs ``cost - 2 reg c``, so the GD limit is an entropic LP and stays ``>= 0``).
Depth > 2 (and layered L >= 3) networks run, but have no exact effective initialization (``None``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import orth

from ..errors import NetworkError, OptionError
from ..networks.base import EffectiveInit, Network, Trainable
from ..problems import Problem, as_problem, real_array, scaled_norm
from .classification import check_labels, check_loss, log_loss, log_neg_derivative
from ..results import Result

#: A loss above this multiple of the initial loss (or non-finite) counts as divergence.
DIVERGENCE_FACTOR = 1e12


#: ``sampling=`` values: random reshuffling (one pass per epoch) or independent draws with replacement.
SAMPLINGS = ("shuffle", "replacement")
#: ``record=`` values: per-iteration quantities kept in ``GDResult.history``.
RECORDS = ("loss", "gains", "sharpness")


@dataclass(frozen=True)
class GDResult(Result):
    """The last GD/SGD iterate and its evidence (a `dlnlab.results.Result`).

    Attributes: ``x``; ``weights`` (the final weight rows ``W``, one array per row: pass the
    result as ``init_weights=`` to continue); ``loss`` (full loss ``1/2 ||A x - y||^2`` at
    every checked iterate, the first at the start); ``checked`` (iteration numbers of those
    losses); ``iterations`` (of this run); ``residual`` (``||A x - y|| / ||y||``, recomputed
    from the returned ``x``); ``status`` (``"converged"``: that residual is ``<= tol``, so
    ``success``; ``"max_iter"``; ``"diverged"``); ``effective_init`` (the network whose
    gradient flow passes through ``x``, whose limit is the GD limit, or None); ``log_gains``
    (the ``c_j`` of the module docstring, one row per rotated weight, or None); ``kkt``
    (distance of the effective network's dual of ``x`` from range(A^T), relative, over the
    coordinates whose float64 ``x`` resolves the dual; None without an effective initialization); ``step`` (None under a schedule); ``history``
    (the ``record=`` quantities, one entry per iterate from the start: ``"loss"`` of shape
    ``(iterations + 1,)``, ``"gains"`` of shape ``(iterations + 1, J, N)``, ``"sharpness"``
    (`dlnlab.sharpness` of the weights) of shape ``(iterations + 1,)``); ``langevin`` (the
    temperature); ``average_x``, ``average_weights``, ``averaged`` (the network output at the
    mean weights over the last ``averaged`` iterates, with ``average=``; else None, None, 0);
    ``converges_to`` (what the theory says the run tends to, in words: the effective network's
    flow limit, or what a noise variant converges to instead, or that no prediction exists).
    """

    x: np.ndarray
    weights: tuple
    loss: np.ndarray
    checked: np.ndarray
    iterations: int
    residual: float
    status: str
    effective_init: Network | None
    log_gains: np.ndarray | None
    kkt: float | None
    step: float | None
    batch_size: int | None
    sampling: str
    seed: int
    weight_decay: float
    label_noise: float
    tol: float
    network: Network
    history: dict
    message: str = field(default="")
    langevin: float = 0.0
    average_x: np.ndarray | None = None
    average_weights: tuple | None = None
    averaged: int = 0
    converges_to: str = ""
    loss_name: str = "square"
    log_loss: np.ndarray | None = None

    @property
    def converged(self) -> bool:
        """``success`` (kept under the name earlier versions used)."""
        return self.success


def _trainable(net, N):
    """The initial weights of ``net`` and its rates ``kappa_j`` (empty without an effective initialization)."""
    if not isinstance(net, Trainable):
        raise NetworkError(f"gradient_descent trains networks that declare their weights (init_weights, weights_to_x, "
                           f"pullback: dlnlab.networks.base.Trainable); {type(net).__name__} does not. Use "
                           "SymmetricDLN, TwoLayerDLN, AzulayDLN, LayeredDLN or NonNegativeDLN, or flow_trajectory for its flow.")
    W = np.array(net.init_weights(N), dtype=float)
    if W.ndim != 2 or W.shape[1] != N:
        raise NetworkError(f"{type(net).__name__}.init_weights({N}) must return a J x {N} array; got shape {W.shape}.")
    rates = np.array(net.gd_rates if isinstance(net, EffectiveInit) else (), dtype=float)
    return W, rates


def _schedule(step, schedule, steps):
    """``(step_at(k), iteration budget, constant step or None)`` from ``step=`` or ``schedule=``."""
    if (step is None) == (schedule is None):
        raise OptionError("give exactly one of step= (a constant step) or schedule= (a callable k -> step, or a list "
                          "of (n_steps, step) pairs).")
    if schedule is None:
        gamma = _positive("step", step)
        return (lambda k: gamma), steps, gamma
    if callable(schedule):
        return (lambda k: _positive(f"schedule({k})", schedule(k))), steps, None
    try:
        pairs = [(n, s) for n, s in schedule]
    except (TypeError, ValueError):
        raise OptionError(f"schedule must be a callable k -> step or a list of (n_steps, step) pairs; got {schedule!r}."
                          ) from None
    if not pairs:
        raise OptionError("schedule is an empty list; give at least one (n_steps, step) pair.")
    counts, values = [], []
    for n, s in pairs:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise OptionError(f"schedule: n_steps must be a non-negative integer; got {n!r}.")
        counts.append(int(n))
        values.append(_positive("a schedule step", s))
    ends = np.cumsum(counts)
    return (lambda k: values[int(np.searchsorted(ends, k, side="right"))]), min(steps, int(ends[-1])), None


def _start(init_weights, net, W0, rates):
    """The starting weights and log gains (None where the effective initialization is not tracked)."""
    gains = np.zeros((rates.size, W0.shape[1])) if rates.size else None
    if init_weights is None:
        return W0, gains
    if isinstance(init_weights, GDResult):
        made_by = getattr(init_weights.network, "spec", init_weights.network)
        if init_weights.network is not net and made_by != getattr(net, "spec", net):
            raise OptionError(f"init_weights is the result of {made_by}, not of {getattr(net, 'spec', net)}; continue "
                              "a run with the network that made it.")
        W = np.array(init_weights.weights, dtype=float)
        gains = None if init_weights.log_gains is None or gains is None else np.array(init_weights.log_gains)
    elif isinstance(init_weights, Mapping) and "weights" in init_weights:  # a GDResult.to_dict() (JSON)
        made_by = init_weights.get("network")
        if made_by is not None and made_by != getattr(net, "spec", None):
            raise OptionError(f"init_weights is the result of {made_by}, not of {getattr(net, 'spec', net)}; continue "
                              "a run with the network that made it.")
        W = np.array(real_array(init_weights["weights"], "init_weights['weights']", OptionError))
        saved = init_weights.get("log_gains")
        if made_by is None or saved is None or gains is None:
            gains = None  # without the network that made them, gains cannot be trusted
        else:
            saved = np.array(real_array(saved, "init_weights['log_gains']", OptionError))
            if saved.shape != gains.shape:
                raise OptionError(f"init_weights['log_gains'] must have shape {gains.shape}; got {saved.shape}.")
            gains = saved
    else:
        W = np.array(real_array(init_weights, "init_weights", OptionError))
        gains = None  # a start that is not the network's initialization: no effective network
    if W.shape != W0.shape or not np.all(np.isfinite(W)):
        raise OptionError(f"init_weights must be a previous GDResult or a finite {W0.shape[0]} x {W0.shape[1]} array "
                          f"of weights (the shape of the network's weights); got shape {W.shape}.")
    return W, gains


def _record(record, tracked):
    names = (record,) if isinstance(record, str) else tuple(record)
    bad = [r for r in names if r not in RECORDS]
    if bad:
        raise OptionError(f"record takes names from {RECORDS}; got {bad}.")
    if "gains" in names and not tracked:
        raise OptionError("record='gains' needs an effective initialization: a network with gd_rates (symmetric "
                          "depth 2, two-layer, layered depth 2, non-negative) started from its initialization or a "
                          "previous GDResult.")
    return names


def gradient_descent(A, y=None, net=None, *, step: float | None = None, steps: int = 100_000, schedule=None,
                     batch_size: int | None = None, sampling: str = "shuffle", seed: int = 0,
                     weight_decay: float = 0.0, label_noise: float = 0.0, langevin: float = 0.0, average=False,
                     init_weights=None, record=(), tol: float = 1e-10, loss: str = "square") -> GDResult:
    """GD (``batch_size=None``) or SGD on the weights of ``net``, from its initialization.

    Iteration ``k`` draws from one ``numpy.random.default_rng(seed)``, in this order: the
    batch ``B`` of ``b = batch_size`` rows (``sampling="shuffle"``: consecutive slices of a
    permutation drawn at each epoch start, a remainder below ``b`` dropped;
    ``"replacement"``: ``rng.integers(0, m, b)``, independent draws), then the label noise
    ``xi = rng.standard_normal(m)`` if ``label_noise = sigma > 0``. With ``y_k = y + sigma xi``
    (HaoChen et al.) and step ``gamma_k``,

        g = (m / b) A_B^T (A_B x - y_k,B),        W <- W - gamma_k (net.pullback(W, g) + weight_decay W).

    With ``langevin = T > 0`` (SGLD) the update adds ``sqrt(2 gamma_k T) zeta``, ``zeta =
    rng.standard_normal(W.shape)`` drawn last: for small steps the weights sample the Gibbs
    density ``exp(-(F(W) + weight_decay/2 ||W||^2) / T)``, so there is no limit point and no
    effective initialization. ``average = k0`` (an int; ``True``: 0) keeps the mean of the
    weights ``W_k`` for ``k0 < k <= K`` (tail averaging; ``average_x = x(mean W)``).

    ``gamma_k`` is ``step``, or ``schedule(k)`` (a callable), or from a list of
    ``(n_steps, step)`` pairs (n_1 iterations at step_1, then n_2 at step_2, ...; the run
    ends with the list). ``init_weights`` continues from a previous result or its
    ``to_dict()`` (its weights and log gains: the effective initialization stays exact; the
    generator restarts from ``seed`` and ``k`` from 0) or from a weight array (no effective
    initialization).
    ``record`` names per-iteration quantities for ``history`` (`RECORDS`).

    Stops when ``||A x - y|| / ||y|| <= tol`` (checked every iteration for GD, every epoch
    for SGD; ``tol = 0`` runs all ``steps``), after ``steps`` iterations, or on divergence.
    ``dl.flow_limit(A, y, result.effective_init)`` is the GD limit (module docstring; with
    weight decay or label noise the iterate still lies on that network's flow, which need
    not interpolate). Bad option values raise `OptionError`.

    Classification: with ``loss="exponential"`` or ``"logistic"``, ``y`` holds labels in
    {-1, +1}, the loss is ``f(x) = sum_i l(y_i a_i^T x)``, ``g = grad f(x) = A^T (y * l'(y * A x))``
    (on a batch: ``(m / b)`` times the batch's sum), ``GDResult.loss`` holds ``f`` and
    ``log_loss`` its logarithm (exact below float64's range), ``residual`` is
    ``f(x) / f(x_0)`` and the run stops once ``log f(x) <= log f(x_0) + log tol``. The
    effective initialization is exact for every loss (it depends on the gradients only).
    Label noise is a square-loss option.

    Examples
    --------
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
            raise NetworkError("gradient_descent(A, y, net, step=...) needs a network, e.g. "
                               "dl.SymmetricDLN(depth=2, scale=1e-6); none was given.")
        net, y = y, None
    kind = check_loss(loss)
    if kind == "square":
        problem = as_problem(A, y)
        A_, y_, Z = problem.A, problem.y, None
    else:
        if isinstance(A, Problem):
            A, y = A.A, A.y
        A_, y_, Z = check_labels(A, y)
        problem = None
    m, N = A_.shape
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer, float)) or not (
            math.isfinite(steps) and int(steps) == steps and steps >= 0):
        raise OptionError(f"steps must be a non-negative integer; got {steps!r}.")
    step_at, budget, gamma = _schedule(step, schedule, int(steps))
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                   or not 1 <= batch_size <= m):
        raise OptionError(f"batch_size must be an integer in [1, m = {m}] (or None for full GD); got {batch_size!r}.")
    if sampling not in SAMPLINGS:
        raise OptionError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}.")
    lam, sigma = _non_negative("weight_decay", weight_decay), _non_negative("label_noise", label_noise)
    temp = _non_negative("langevin", langevin)
    if isinstance(average, bool):
        k0 = 0 if average else None
    elif isinstance(average, (int, np.integer)) and average >= 0:
        k0 = int(average)
    else:
        raise OptionError(f"average must be False, True or a non-negative iteration count to skip; got {average!r}.")
    if Z is not None and sigma > 0:
        raise OptionError(f"label_noise applies to the square loss; loss={kind!r} takes labels +-1 as they are.")
    tol = float(tol)
    if not 0.0 <= tol < 1.0:
        raise OptionError(f"tol must be a relative residual in [0, 1) (0: run all steps); got {tol!r}.")
    W0, rates = _trainable(net, N)
    W, gains = _start(init_weights, net, W0, rates)
    if temp > 0:
        gains = None  # noise on the weights leaves the flow curve: no effective initialization
        if "gains" in ((record,) if isinstance(record, str) else tuple(record)):
            raise OptionError("record='gains' has no meaning with langevin > 0: noise on the weights leaves the "
                              "flow curve, so there is no effective initialization whose gains to record.")
    names = _record(record, gains is not None)
    if "sharpness" in names:
        from .sharpness import sharpness as _sharp
        Ad = A_.toarray() if hasattr(A_, "toarray") else A_
    rng = np.random.default_rng(seed)
    full = batch_size is None or (int(batch_size) == m and sampling == "shuffle")
    b = None if full else int(batch_size)
    check_every = 1 if b is None else max(1, m // b)
    if Z is None:
        ynorm = problem.y_norm if problem.y_norm > 0 else 1.0

        def residual_of(x, rows=None):
            return A_ @ x - y_ if rows is None else A_[rows] @ x - y_[rows]

        def measure(r):  # (loss, log of the stopping quantity): 0.5 rnorm^2, scaled for any data size
            rn = scaled_norm(r)
            return 0.5 * rn * rn, (math.log(rn / ynorm) if rn > 0 else -math.inf) if math.isfinite(rn) else math.inf
    else:
        def residual_of(x, rows=None):  # r with g = A^T r: r_i = y_i l'(y_i a_i^T x)
            Zr, yr = (Z, y_) if rows is None else (Z[rows], y_[rows])
            with np.errstate(over="ignore"):
                return -yr * np.exp(log_neg_derivative(kind, Zr @ x))

        def measure(_r):
            with np.errstate(over="ignore", invalid="ignore"):
                ll = log_loss(kind, Z @ x) if np.all(np.isfinite(x)) else math.inf
            return (math.exp(ll) if ll < 709 else math.inf), ll

    x = net.weights_to_x(W)
    r = residual_of(x)
    loss0, score0 = measure(r)
    score = score0
    losses, checked, checked_logs = [loss0], [0], [score0]
    log_tol = math.log(tol) if tol > 0 else -math.inf
    history = {name: [] for name in names}

    def keep(loss):
        if "loss" in history:
            history["loss"].append(loss)
        if "gains" in history:
            history["gains"].append(gains.copy())
        if "sharpness" in history:
            history["sharpness"].append(_sharp(Ad, y_, net, W) if np.all(np.isfinite(W)) else math.nan)

    loss = losses[0]
    keep(loss)
    W_sum, n_avg = (np.zeros_like(W), 0) if k0 is not None else (None, 0)
    order, pos = np.arange(m), m
    diverged, met, it = False, (score <= log_tol if Z is None else False), 0
    while not met and it < budget:
        gamma_k = step_at(it)
        rows = None
        if b is not None and sampling == "shuffle":
            if pos + b > m:
                order, pos = rng.permutation(m), 0
            rows = order[pos:pos + b]
            pos += b
        elif b is not None:
            rows = rng.integers(0, m, size=b)
        noise = sigma * rng.standard_normal(m) if sigma > 0 else None
        if rows is None:
            g = A_.T @ (r if noise is None else r - noise)
        else:
            if Z is None:
                target = y_[rows] if noise is None else y_[rows] + noise[rows]
                g = (m / b) * (A_[rows].T @ (A_[rows] @ x - target))
            else:
                g = (m / b) * (A_[rows].T @ residual_of(x, rows))
        if gains is not None:
            kg = rates[:, None] * g
            with np.errstate(divide="ignore"):
                gains += np.log(np.abs(1.0 - gamma_k * (lam + kg))) + gamma_k * kg
        move = net.pullback(W, g)
        W = W - gamma_k * (move + lam * W if lam else move)
        if temp > 0:
            W = W + math.sqrt(2.0 * gamma_k * temp) * rng.standard_normal(W.shape)
        x = net.weights_to_x(W)
        it += 1
        if W_sum is not None and it > k0:
            W_sum += W
            n_avg += 1
        check = b is None or it % check_every == 0 or it == budget
        if check or "loss" in history or (Z is not None and b is None):
            r = residual_of(x)
            loss, score = measure(r)
        keep(loss)
        if check:
            losses.append(loss)
            checked.append(it)
            checked_logs.append(score)
            growth = score - score0 if Z is not None else 2.0 * (score - score0)
            if not math.isfinite(score) or growth > math.log(DIVERGENCE_FACTOR):
                diverged = True
                break
            met = score - (score0 if Z is not None else 0.0) <= log_tol
    if Z is None:
        residual = problem.relative_residual(x) if np.all(np.isfinite(x)) else math.inf
        reached = residual <= tol
    else:  # recomputed from the returned x
        final = log_loss(kind, Z @ x) if np.all(np.isfinite(x)) else math.inf
        residual = math.exp(final - score0) if final - score0 < 709 else math.inf
        reached = final - score0 <= log_tol
    if diverged:
        status = "diverged"
        message = f"the loss grew to {losses[-1]:.3g} at iteration {it}: reduce the step (now {gamma_k:g})."
    elif reached:
        status, message = "converged", ""
    elif Z is None:
        status, message = "max_iter", f"relative residual {residual:.3g} > tol = {tol:g} after {it} iterations"
    else:
        status, message = "max_iter", f"relative loss {residual:.3g} > tol = {tol:g} after {it} iterations"
    effective, kkt, log_gains = None, None, None
    if gains is not None and not diverged:
        if not np.all(np.isfinite(gains)):
            message = (message + "; " if message else "") + ("a step hit 1 - kappa gamma g = 0 exactly, which zeroes "
                                                             "a rotated weight: no effective initialization")
        else:
            log_gains = gains
            effective = net.effective_network(gains)
            with np.errstate(all="ignore"):
                kkt = _bregman_kkt(problem, effective, x, A_)
    avg_W = W_sum / n_avg if n_avg else None
    avg_x = net.weights_to_x(avg_W) if avg_W is not None else None
    converges_to = _converges_to(effective is not None, rates.size > 0, lam, sigma, temp, b, avg_W is not None)
    return GDResult(x=x, weights=tuple(W), loss=np.array(losses), checked=np.array(checked), iterations=it,
                    residual=residual, status=status, effective_init=effective, log_gains=log_gains, kkt=kkt,
                    step=gamma, batch_size=b, sampling=sampling, seed=seed, weight_decay=lam, label_noise=sigma,
                    tol=tol, network=net, history={k: np.array(v) for k, v in history.items()}, message=message,
                    langevin=temp, average_x=avg_x, average_weights=None if avg_W is None else tuple(avg_W),
                    averaged=n_avg, converges_to=converges_to,
                    loss_name=kind, log_loss=None if Z is None else np.array(checked_logs))


def _converges_to(effective, has_rates, lam, sigma, temp, b, averaged) -> str:
    """What the theory predicts for this variant, in words (`GDResult.converges_to`)."""
    if temp > 0:
        text = ("no point: with Langevin noise the weights sample the Gibbs density exp(-(F(W) + weight_decay/2 "
                "||W||^2) / T) for small steps; no effective initialization")
    elif not has_rates:
        text = "no prediction: this network has no exact effective initialization (depth > 2)"
    elif not effective:
        text = "no prediction: the run did not keep an exact effective initialization (weight-array start or a zeroed weight)"
    elif sigma > 0:
        text = ("no fixed point: x stays on the flow of effective_init, whose scale keeps shrinking while the label "
                "noise lasts (about -gamma^2 kappa^2 g^2 / 2 per step, g including the noise), toward the sparsest "
                "(min-l1) interpolator (HaoChen et al. 2021); flow_limit(effective_init) is the limit were the noise "
                "switched off now")
    elif lam > 0:
        text = ("a stationary point of 1/2 ||A x - y||^2 + weight_decay/2 ||W||^2 (not an interpolator); x stays on "
                "the flow of effective_init")
    else:
        text = ("flow_limit(A, y, effective_init): the interpolator that minimizes the effective network's "
                "potential (exact " + ("SGD" if b is not None else "GD") + " identity)")
    if averaged:
        text += "; average_x is a mean of flow points, not on any one network's flow (no effective initialization)"
    return text


def _positive(name, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise OptionError(f"{name} must be a positive finite number; got {value!r}.")
    return v


def _non_negative(name, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (math.isfinite(v) and v >= 0):
        raise OptionError(f"{name} must be a non-negative finite number (0: off); got {value!r}.")
    return v


#: Relative accuracy of the dual below which a coordinate of ``x`` counts as resolving it (`_bregman_kkt`).
DUAL_RESOLUTION = 1e-12
_SUBNORMAL = 2.0 ** -1074


def _bregman_kkt(problem, net, x, A=None):
    """``||P_perp z||_inf / ||z||_inf`` for ``z = grad Q(x) - grad Q(x0)`` (the map's dual of x).

    A float64 ``x_j`` carries its dual to ``dz_j = (eps |x_j| + 2^-1074) / X'(z_j)``. Where both
    terms of the map are below float64's range (``X'(z_j) < 2^-1074 / (1e-12 ||z||_inf)``, e.g. an
    effective start ``e^-1700`` after a long edge-of-stability run) ``x_j`` rounds to 0 or a
    subnormal and says nothing about ``z_j``: those coordinates are left free, and the distance
    is that of the others from range(A_R^T) (the projection of range(A^T) on them)."""
    mirror = net.mirror_map()
    sign, gap = mirror.dual(x)
    z = sign * (1.0 - gap)
    with np.errstate(all="ignore"):
        slope = np.asarray(mirror.slope(sign, gap), dtype=float)
    known = np.isfinite(z)
    size = float(np.max(np.abs(z[known]))) if known.any() else math.nan
    if size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        resolved = ~(slope * (DUAL_RESOLUTION * size) < _SUBNORMAL) & known
    if resolved.all() or not resolved.any():
        Q = problem.basis.Q if problem is not None else orth(A.T)
    else:
        A = problem.A if problem is not None else A
        A = A.toarray() if hasattr(A, "toarray") else np.asarray(A, dtype=float)
        z = z[resolved]
        size = float(np.max(np.abs(z)))
        Q = orth(A[:, resolved].T)
    return float(np.max(np.abs(z - Q @ (Q.T @ z)))) / size
