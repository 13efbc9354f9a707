"""The kernel regime: symmetric networks at scales far above the data (docs/theory.md section 4).

At ``a = scale >> ||x_ls||`` the dual point ``z`` of `dlnlab.networks.symmetric` is tiny and its
boundary-relative form ``z = sign (1 - gap)`` keeps only ``1e-16 / |z|`` of its digits, so the
residual there cannot go below ``~1e-16 a / ||x||`` (`dlnlab.engine.steps.rounding_floor`).
Here the dual is written in primal units, ``u = X'(0) z``, where the map is exactly

    depth 2:  x = u sinh(w) / w,                       w = u / (2a),
    depth p:  x = u (1 + t)^{-k} expm1(2k atanh t) / (2k t),   t = u / (2ak),  k = p / (p-2),

(``x = u (1 + O((u/a)^2))``): every digit of ``u`` is kept and Newton on
``Q^T X(Q nu) = z`` converges in a few steps from the minimum-norm interpolator.
"""

from __future__ import annotations

import math

import numpy as np

from .steps import Local, damped_newton

#: A normalized target scale (data of size 1) at or above this is solved in primal units: the
#: boundary-relative coordinates would leave only ``1e-16 * KERNEL_SCALE`` relative precision.
KERNEL_SCALE = 1e3


def _ratio(v: np.ndarray, log_a: float, k: float) -> np.ndarray:
    """``v / (2a)`` for depth 2 (``k = inf``), ``v / (2ak)`` otherwise, without forming ``a``."""
    return v * (math.exp(-log_a) / (2.0 if math.isinf(k) else 2.0 * k))


def kernel_primal(u: np.ndarray, log_a: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """``x = X(u)`` and ``dx/du`` in primal units (module docstring), for ``|u| << a``.

    >>> x, d = kernel_primal(np.array([1.0]), math.log(1e8), math.inf)
    >>> float(x[0] - 1.0) < 1e-16, float(d[0]) >= 1.0
    (True, True)
    """
    t = _ratio(u, log_a, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        if math.isinf(k):
            gain = np.where(t == 0, 1.0, np.sinh(t) / np.where(t == 0, 1.0, t))
            slope = np.cosh(t)
        else:
            safe = np.where(t == 0, 1.0, t)
            gain = np.where(t == 0, 1.0, np.exp(-k * np.log1p(t)) * np.expm1(2 * k * np.arctanh(t)) / (2 * k * safe))
            slope = 0.5 * (np.exp(-(k + 1) * np.log1p(-t)) + np.exp(-(k + 1) * np.log1p(t)))
    return u * gain, slope


def kernel_dual(x: np.ndarray, log_a: float, k: float) -> np.ndarray:
    """The inverse of `kernel_primal`: ``u`` with ``X(u) = x`` (closed form at depth 2, Newton otherwise)."""
    if math.isinf(k):
        t = _ratio(x, log_a, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(t == 0, x, x * np.arcsinh(t) / np.where(t == 0, 1.0, t))
    u = np.array(x, dtype=float)
    for _ in range(6):
        xu, d = kernel_primal(u, log_a, k)
        u = u - (xu - x) / d
    return u


def kernel_limit(Q: np.ndarray, z: np.ndarray, log_a: float, k: float, *, tol: float, max_iter: int):
    """Newton on ``F(nu) = Q^T X(Q nu) - z = 0`` in primal units: ``(nu, x, iterations, converged)``.

    `damped_newton` on the merit ``||F||^2 / 2``: its gradient is ``H F`` with the symmetric
    Jacobian ``H = Q^T diag(X') Q``, so the Newton direction ``-H^{-1} F`` has decrement
    ``||F||^2``. Starts at the minimum-norm interpolator (``nu = z``, exact as ``a -> inf``)
    and stops when ``||F|| <= tol * max(||z||, ||x||)``.
    """
    def evaluate(nu):
        x, slope = kernel_primal(Q @ nu, log_a, k)
        return (nu, x, slope, Q.T @ x - z) if np.all(np.isfinite(x)) else None

    def done(point):
        _, x, _, F = point
        return bool(np.linalg.norm(F) <= tol * max(np.linalg.norm(z), np.linalg.norm(x)))

    def local(point):
        _, _, slope, F = point
        H = (Q * slope[:, None]).T @ Q
        return Local(H @ F, -np.linalg.solve(H, F), done(point))

    def merit_decrease(point, new, t, direction):
        return 0.5 * (float(new[3] @ new[3]) - float(point[3] @ point[3]))

    start = evaluate(np.array(z, dtype=float))
    if start is None:
        return np.array(z, dtype=float), np.full(Q.shape[0], np.nan), 0, False
    (nu, x, _, _), its, ok = damped_newton(start, local, lambda p, t, d: evaluate(p[0] + t * d), merit_decrease,
                                           max_iter=max_iter)
    return nu, x, its, ok


def kernel_kkt(Q: np.ndarray, x: np.ndarray, log_a: float, k: float) -> float:
    """``||P_perp u(x)||_inf / ||u(x)||_inf`` with ``u(x) = X'(0) grad Q(x)`` recomputed from ``x``."""
    u = kernel_dual(x, log_a, k)
    uinf = float(np.max(np.abs(u))) if u.size else 0.0
    if uinf == 0.0:
        return 0.0
    u = u / uinf
    return float(np.max(np.abs(u - Q @ (Q.T @ u))))
