"""`saddle_to_saddle`: the scale -> 0 limit of the flow in rescaled time (Pesme-Flammarion 2023).

In the clock ``T = dual_scale * t`` of `dlnlab.dynamics` the dual ``z = A^T w`` of every
symmetric network moves at unit speed, ``z' = A^T (y - A x)``, and as the scale goes to 0
``x_i`` stays 0 until ``|z_i|`` reaches 1. The limit dynamics (docs/theory.md section 6) jumps
between saddles: start at ``s = 0``, ``T = 0`` and repeat

    beta = argmin 1/2 ||A beta - y||^2  s.t. beta_i = 0 if |s_i| < 1,
                                          beta_i >= 0 if s_i = 1, beta_i <= 0 if s_i = -1,
    g = A^T (A beta - y);  stop if g = 0;
    Delta = min over moving coordinates of the step at which s_i - Delta g_i hits +-1;
    s <- s - Delta g,   T <- T + Delta.

Each ``beta`` is a plateau of the loss, entered at ``T``; the last one is a basis-pursuit
solution with dual certificate ``s`` (``s in range(A^T)``, ``|s| <= 1``, ``s_i = sign(beta_i)``).

In the network's own time: ``t = T / dual_scale``; for the symmetric depth-2 network at
scale ``a = alpha^2``, ``t = T log(1/alpha) / 2`` (and ``t = T log(1/alpha)`` for
Pesme-Flammarion's ``x = u v``, ``u0 = sqrt(2) alpha``, ``v0 = 0``, i.e. ``TwoLayerDLN``);
for depth p > 2, ``t = T / (p (p-2) alpha^(p-2))``.

Weighted variant (Zhao et al. 2026): thresholds ``t_i^+`` (for ``s_i -> +``) and ``t_i^-``
replace 1; the end point minimizes ``sum t_i^+ x_i^+ + t_i^- x_i^-`` on ``A x = y``.

The bounded least-squares steps use scipy's `lsq_linear` (BVLS, an active-set method that
is exact in finitely many steps); KKT signs are then enforced on ``g`` to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from ..errors import ConvergenceError, NetworkError
from ..problems import as_problem, scaled_norm
from ..results import Result, check_tolerance


@dataclass(frozen=True)
class Plateau:
    """One saddle visited: ``x`` (the bounded least-squares point), its ``loss``, the rescaled
    time ``start`` at which the flow reaches it and its ``support`` (indices)."""

    x: np.ndarray
    loss: float
    start: float
    support: np.ndarray


@dataclass(frozen=True)
class SaddleResult(Result):
    """The saddle-to-saddle path and its evidence.

    ``plateaus`` (in order), ``jump_times`` (rescaled times ``T`` at which each plateau after the
    first is entered), ``x`` (the final point), ``dual`` (the final ``s = A^T lam``, a weighted-BP
    certificate), ``certificate`` (``max(0, max_i |s_i| / t_i - 1)`` and the sign mismatch on the
    support, should be ~1e-15), ``residual`` (``||A x - y|| / ||y||``), ``status``, ``message``.
    """

    plateaus: tuple
    jump_times: np.ndarray
    x: np.ndarray
    dual: np.ndarray
    certificate: float
    residual: float
    iterations: int
    status: str
    message: str = ""


def _thresholds(weights, N):
    if weights is None:
        return np.ones(N), np.ones(N)
    if isinstance(weights, tuple) and len(weights) == 2:
        plus, minus = (np.broadcast_to(np.asarray(w, dtype=float), (N,)).copy() for w in weights)
    else:
        plus = np.broadcast_to(np.asarray(weights, dtype=float), (N,)).copy()
        minus = plus.copy()
    if not (np.all(np.isfinite(plus)) and np.all(np.isfinite(minus)) and np.all(plus > 0) and np.all(minus > 0)):
        raise NetworkError("weights (thresholds t_i^+, t_i^-) must be positive and finite, one per coordinate "
                           "or a pair (t_plus, t_minus).")
    return plus, minus


def saddle_to_saddle(A, y=None, weights=None, *, max_iter: int | None = None, tol: float = 1e-12,
                     throw: bool = True) -> SaddleResult:
    """The saddle-to-saddle path of the vanishing-scale gradient flow (see the module docstring).

    Parameters
    ----------
    A, y
        the data or a `Problem`.
    weights
        None (thresholds 1), an array ``t`` (symmetric thresholds), or a pair
        ``(t_plus, t_minus)``.
    max_iter
        bound on the number of plateaus (default ``10 N``).
    tol
        relative residual at which the path stops (the final plateau interpolates), ``0 < tol < 1``.

    Examples
    --------
    Pesme-Flammarion's example; the path ends at ``(0, 0, 10/7, -10/49)``:

    >>> import numpy as np
    >>> res = saddle_to_saddle([[1, .5, .7, 0], [.5, 1, .1, .7]], [1, 0])
    >>> np.allclose(res.x, [0, 0, 10 / 7, -10 / 49]), len(res.plateaus)
    (True, 4)
    """
    tol = check_tolerance(tol, "tol", "saddle_to_saddle")
    problem = as_problem(A, y)
    A_, y_ = problem.A, problem.y
    m, N = A_.shape
    t_plus, t_minus = _thresholds(weights, N)
    max_iter = 10 * N if max_iter is None else int(max_iter)
    ynorm = problem.y_norm if problem.y_norm > 0 else 1.0
    gscale = float(np.max(np.abs(A_.T @ y_))) or 1.0
    gtol = 1e-12 * gscale  # |g_i| below this is rounding of a zero KKT component

    s = np.zeros(N)
    state = np.zeros(N, dtype=int)  # +1: s_i = t_i^+, -1: s_i = -t_i^-, 0: strictly inside
    T = 0.0
    plateaus, jumps = [], []
    status, message = "max_iter", f"more than max_iter = {max_iter} plateaus"
    beta = np.zeros(N)
    for it in range(max_iter + 1):
        beta = _bounded_lsq(A_, y_, state)
        r = A_ @ beta - y_
        g = A_.T @ r
        # KKT of the bounded problem: g_i = 0 where beta_i is free to move, sign-constrained at 0
        g[(state != 0) & (beta != 0)] = 0.0
        g[np.abs(g) <= gtol] = 0.0
        rnorm = scaled_norm(r)  # decides for data of any size; the loss itself may under/overflow
        with np.errstate(over="ignore"):
            plateaus.append(Plateau(x=beta, loss=0.5 * rnorm * rnorm, start=T, support=np.flatnonzero(beta)))
        if rnorm <= tol * ynorm or not np.any(g):
            status, message = "converged", ""
            break
        if it == max_iter:
            break
        # s_i moves by -Delta g_i; it stops at t^+ (g_i < 0) or -t^- (g_i > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = np.where(g < 0, (t_plus - s) / -g, np.where(g > 0, (s + t_minus) / g, np.inf))
        hit[(g < 0) & (state == 1)] = np.inf  # already at the boundary it moves to
        hit[(g > 0) & (state == -1)] = np.inf
        delta = float(np.min(hit))
        if not np.isfinite(delta):
            status, message = "failed", "no coordinate can move although the gradient is nonzero (KKT violated)"
            break
        arriving = hit <= delta * (1 + 1e-12)
        s = s - delta * g
        state[g != 0] = 0  # everything that moves leaves its boundary...
        s[arriving & (g < 0)] = t_plus[arriving & (g < 0)]  # ...except the coordinates that arrive
        s[arriving & (g > 0)] = -t_minus[arriving & (g > 0)]
        state[arriving] = np.where(g[arriving] < 0, 1, -1)
        T += delta
        jumps.append(T)
    x = beta
    residual = problem.relative_residual(x)
    bound = np.where(s >= 0, s / t_plus, -s / t_minus)
    on = x != 0
    mismatch = float(np.max(np.abs(np.where(x[on] > 0, s[on] - t_plus[on], s[on] + t_minus[on])))) if on.any() else 0.0
    certificate = max(0.0, float(np.max(bound)) - 1.0, mismatch)
    result = SaddleResult(plateaus=tuple(plateaus), jump_times=np.array(jumps), x=x, dual=s, certificate=certificate,
                          residual=residual, iterations=len(plateaus), status=status, message=message)
    if throw and status != "converged":
        raise ConvergenceError(f"saddle_to_saddle: {message}. Pass throw=False to inspect the path.", result)
    return result


def _bounded_lsq(A, y, state):
    """``argmin ||A beta - y||`` with ``beta_i = 0`` (state 0), ``>= 0`` (+1), ``<= 0`` (-1)."""
    beta = np.zeros(A.shape[1])
    active = np.flatnonzero(state)
    if active.size == 0:
        return beta
    lower = np.where(state[active] > 0, 0.0, -np.inf)
    upper = np.where(state[active] > 0, np.inf, 0.0)
    # beta is positively homogeneous in y: solve for y of size 1 (BVLS squares the residual,
    # which overflows for ||y|| ~ 1e160)
    size = float(np.max(np.abs(y)))
    if not size > 0.0:
        return beta
    sol = lsq_linear(A[:, active], y / size, bounds=(lower, upper), method="bvls", tol=1e-15)
    b = sol.x * size
    b[(state[active] > 0) & (b < 0)] = 0.0
    b[(state[active] < 0) & (b > 0)] = 0.0
    beta[active] = b
    return beta
