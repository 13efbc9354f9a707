"""Classification by a network: gradient flow on the exponential or logistic loss.

With labels ``y_i = +-1`` and ``f(x) = sum_i l(y_i a_i^T x)`` (``l(u) = e^{-u}`` or
``log(1 + e^{-u})``), gradient flow on the weights of any network of docs/theory.md section 2
is still the mirror flow ``x(t) = X(A^T lam(t))``, now with ``lam' = -grad f``: in
``mu = y * lam`` (``mu >= 0``, increasing) and the margins ``gamma = Z x`` of ``Z = diag(y) A``,

    mu_i' = -l'(gamma_i),     x = X(Z^T mu)        (an m-dimensional ODE).

On separable data ``||x|| -> infinity``, the loss decays like ``1/t`` (up to logarithms) and a
loss of 1e-300 needs ``t ~ 1e300``. The ODE is therefore integrated in the map's scaled dual
``w = dual_scale * mu`` against the logarithmic clock ``tau = log(1 + t)``:

    dw_i/dtau = dual_scale * exp(tau + log(-l'(gamma_i))),

whose right-hand side stays of size one down to any loss, and every loss is kept as its
logarithm (``log f = logsumexp(log l(gamma_i))``). Since ``grad Q(x(t)) = Z^T mu(t)`` lies in
range(Z^T), ``x(t) = argmin {Q(x) : Z x = gamma(t)}`` exactly, for the network's potential ``Q``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import expit, logsumexp

from ..engine.linalg import weighted_gram
from ..errors import ConvergenceError, NetworkError, OptionError, ProblemError
from ..networks.base import Network
from ..results import Result, check_tolerance
from .dual import dual_primal

#: Losses of a margin ``u = y_i a_i^T x`` that `flow_trajectory` and `gradient_descent` take besides "square".
LOSSES = ("exponential", "logistic")
_EPS = float(np.finfo(float).eps)
_HUGE = 1e150
MAX_ROUNDING = 1e-8


def check_loss(loss) -> str:
    """``loss`` if it names a loss (``"square"`` or one of `LOSSES`), else `OptionError`."""
    if loss != "square" and loss not in LOSSES:
        raise OptionError(f"loss must be 'square' or one of {LOSSES}; got {loss!r}.")
    return loss


def check_labels(A, labels):
    """``(A, y, Z = diag(y) A)`` for a finite ``m x N`` matrix and labels in {-1, +1}."""
    try:
        A = np.asarray(A, dtype=float)
        y = np.asarray(labels, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ProblemError("A and labels must be real arrays.") from None
    if A.ndim != 2 or A.shape[0] == 0 or A.shape[1] == 0 or y.shape != (A.shape[0],):
        raise ProblemError(f"A must be an m x N matrix and labels a vector of length m; got A {A.shape}, "
                           f"labels {y.shape}.")
    if not np.all(np.isfinite(A)):
        raise ProblemError("A must be finite (no NaN or inf).")
    if not np.all(np.abs(y) == 1.0):
        raise ProblemError("classification labels must be -1 or +1 (one per row of A); "
                           f"got values {np.unique(y)[:5]}.")
    return A, y, y[:, None] * A


def log_loss_terms(loss: str, u: np.ndarray) -> np.ndarray:
    """``log l(u)`` for each margin ``u``, exact in log domain (no underflow down to any loss)."""
    u = np.asarray(u, dtype=float)
    if loss == "exponential":
        return -u
    # log(log(1 + e^{-u})) = -u + log(log1p(e^{-u}) / e^{-u}) for u > 0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        e = np.exp(-np.abs(u))
        pos = -u + np.log(np.where(e > 0, np.log1p(e) / np.where(e > 0, e, 1.0), 1.0))
        neg = np.log(np.logaddexp(0.0, -u))
    return np.where(u > 0, pos, neg)


def log_neg_derivative(loss: str, u: np.ndarray) -> np.ndarray:
    """``log(-l'(u))``: ``-u`` (exponential) or ``-log(1 + e^u)`` (logistic)."""
    if loss == "exponential":
        return -np.asarray(u, dtype=float)
    return -np.logaddexp(0.0, u)


def _curvature_factor(loss: str, u: np.ndarray) -> np.ndarray:
    """``-d log(-l'(u)) / du``: 1 (exponential) or ``sigmoid(u)`` (logistic)."""
    if loss == "exponential":
        return np.ones_like(u)
    return expit(u)


def log_loss(loss: str, margins: np.ndarray) -> float:
    """``log f = log sum_i l(u_i)`` of the margins ``u_i = y_i a_i^T x``."""
    return float(logsumexp(log_loss_terms(loss, margins)))


def margins_of(Z: np.ndarray, x: np.ndarray) -> dict:
    """Normalized margins ``min_i (Z x)_i / ||x||`` in l1 and l2, and the l2 direction."""
    x = np.asarray(x, dtype=float)
    g = float(np.min(Z @ x))
    n1, n2 = float(np.sum(np.abs(x))), float(np.linalg.norm(x))
    return {"margin_l1": g / n1 if n1 > 0 else 0.0, "margin_l2": g / n2 if n2 > 0 else 0.0,
            "direction": x / n2 if n2 > 0 else np.zeros_like(x)}


@dataclass(frozen=True)
class ClassificationTrajectory(Result):
    """``x(t)`` of gradient flow on a classification loss, with the direction and margins.

    Attributes: ``t`` (requested times), ``x`` (``len(t) x N``), ``direction``
    (``x / ||x||_2``), ``margin_l1`` and ``margin_l2`` (``min_i y_i a_i^T x / ||x||``),
    ``log_loss`` (``log f(x(t))``, exact at any loss), ``loss`` (``exp(log_loss)``, 0 below
    float64 range), ``dual`` (``mu(t) = y * lam(t)``), ``loss_name``, ``iterations``, ``nfev``,
    ``njev``, ``condition``, ``accuracy``, ``status``, ``method``, ``message``. ``status`` is
    "converged" when the integration met its tolerance at every output and the margins,
    losses and directions recomputed from the returned ``x`` are finite.
    """

    t: np.ndarray
    x: np.ndarray
    direction: np.ndarray
    margin_l1: np.ndarray
    margin_l2: np.ndarray
    log_loss: np.ndarray
    loss: np.ndarray
    dual: np.ndarray
    loss_name: str
    iterations: int
    nfev: int
    njev: int
    condition: float
    accuracy: float
    status: str
    method: str
    rtol: float
    atol: float
    network: object = field(repr=False, metadata={"dict": False})
    message: str = ""

    @property
    def final(self) -> np.ndarray:
        """``x`` at the last requested time."""
        return self.x[-1]


def classification_trajectory(A, labels, net, t, *, loss: str, rtol: float = 1e-10, atol: float = 1e-12,
                              method: str = "LSODA", max_steps: int = 100_000,
                              throw: bool = True) -> ClassificationTrajectory:
    """The flow of `flow_trajectory` with ``loss="exponential"`` or ``"logistic"`` (module docstring).

    ``t`` are validated output times (any size up to float64's range: ``t = 1e300`` is a
    loss near 1e-300). Example::

        >>> import numpy as np, dlnlab as dl
        >>> A, y = np.array([[1.0, 2.0], [-2.0, 1.0]]), np.array([1.0, -1.0])
        >>> tr = dl.flow_trajectory(A, y, dl.SymmetricDLN(depth=2, scale=1e-3), [0.0, 1e3, 1e300],
        ...                         loss="exponential")
        >>> bool(tr.log_loss[-1] < -680), bool(tr.margin_l1[-1] > 0)
        (True, True)
    """
    if not isinstance(net, Network):
        raise NetworkError("flow_trajectory(A, labels, net, times, loss=...) needs a network such as "
                           f"dl.SymmetricDLN(depth=2, scale=1e-3); got {type(net).__name__}.")
    if loss not in LOSSES:
        raise OptionError(f"loss must be one of {LOSSES} for classification; got {loss!r}.")
    if method not in ("LSODA", "Radau"):
        raise OptionError(f"method must be 'LSODA' or 'Radau'; got {method!r}.")
    rtol = check_tolerance(rtol, "rtol", "flow_trajectory")
    if not (atol > 0 and math.isfinite(atol)):
        raise OptionError(f"flow_trajectory needs atol > 0 (finite); got atol={atol!r}.")
    A_, y_, Z = check_labels(A, labels)
    m, N = Z.shape
    mapping = net.mirror_map()
    d = float(net.dual_scale)
    absZ = np.abs(Z)
    taus = np.log1p(np.asarray(t, dtype=float))

    def primal(w):
        x, sign, gap = dual_primal(mapping, Z, w)
        return (x if x is not None and np.all(np.isfinite(x)) else None), sign, gap

    calls = [0, 0]

    def rhs(tau, w):
        calls[0] += 1
        x, _, _ = primal(w)
        if x is None:  # outside the domain: a huge rate makes the integrator reject the trial step
            return np.full(m, _HUGE)
        expo = np.minimum(tau + log_neg_derivative(loss, Z @ x), 340.0)
        return d * np.exp(expo)

    def jac(tau, w):
        calls[1] += 1
        x, sign, gap = primal(w)
        if x is None:
            return np.zeros((m, m))
        u = Z @ x
        rate = d * np.exp(np.minimum(tau + log_neg_derivative(loss, u), 340.0)) * _curvature_factor(loss, u)
        with np.errstate(over="ignore", invalid="ignore"):
            slope = mapping.slope(sign, gap)
        slope = np.clip(np.nan_to_num(slope, nan=_HUGE, posinf=_HUGE), 0.0, _HUGE)
        return -rate[:, None] * weighted_gram(Z.T, slope)

    W = np.full((taus.size, m), np.nan)
    w, tau_cur, steps, status, message, used = np.zeros(m), 0.0, 0, "converged", "", method
    first = None
    for k, tk in enumerate(taus):
        if tk > tau_cur:
            with np.errstate(over="ignore", invalid="ignore"):
                sol = solve_ivp(rhs, (tau_cur, tk), w, method=method, jac=jac, rtol=rtol, atol=atol,
                                first_step=None if first is None else min(first, tk - tau_cur))
            steps += max(int(sol.t.size) - 1, 0)
            if sol.status < 0 or not np.all(np.isfinite(sol.y[:, -1])):
                status, message = "failed", (f"{method} stopped at t = {math.expm1(float(sol.t[-1])):.3g}: "
                                             f"{sol.message}")
                break
            if sol.t.size >= 2:
                first = float(sol.t[-1] - sol.t[-2])
            w, tau_cur = sol.y[:, -1], tk
            if steps >= max_steps:
                W[k] = w
                status, message = "max_iter", f"more than max_steps = {max_steps} integrator steps."
                break
        W[k] = w
    X = np.full((taus.size, N), np.nan)
    condition = 0.0
    for k, wk in enumerate(W):
        if not np.all(np.isfinite(wk)):
            continue
        x, sign, gap = primal(wk)
        if x is None:
            continue
        X[k] = x
        size = float(np.max(np.abs(x)))
        if size > 0:
            with np.errstate(over="ignore", invalid="ignore"):
                slope = mapping.slope(sign, gap)
            condition = max(condition, float(np.max(slope * (absZ.T @ np.abs(wk)))) / size)
    logl = np.full(taus.size, np.nan)
    m1, m2 = np.full(taus.size, np.nan), np.full(taus.size, np.nan)
    D = np.full((taus.size, N), np.nan)
    for k in range(taus.size):
        if np.all(np.isfinite(X[k])):
            logl[k] = log_loss(loss, Z @ X[k])
            mg = margins_of(Z, X[k])
            m1[k], m2[k], D[k] = mg["margin_l1"], mg["margin_l2"], mg["direction"]
    if status == "converged" and not np.all(np.isfinite(logl)):
        status, message = "failed", "x(t) left the floating-point range or the map's domain at some output time."
    if status == "converged" and _EPS * condition > MAX_ROUNDING:
        status, message = "imprecise", (f"float64 rounding of the dual alone moves x by ~{_EPS * condition:.1e} "
                                        "relative: the scale is too small for a float64 trajectory at this depth.")
    with np.errstate(under="ignore"):
        lossv = np.exp(logl)
    res = ClassificationTrajectory(t=np.asarray(t, dtype=float), x=X, direction=D, margin_l1=m1, margin_l2=m2,
                                   log_loss=logl, loss=lossv, dual=W / d, loss_name=loss, iterations=steps,
                                   nfev=calls[0], njev=calls[1], condition=condition,
                                   accuracy=(rtol + _EPS) * condition, status=status, method=used, rtol=rtol,
                                   atol=atol, network=net, message=message)
    if throw and status != "converged":
        raise ConvergenceError(f"flow_trajectory: {message} Pass throw=False to inspect the result.", res)
    return res
