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
    """Newton on ``Q^T X(Q nu) = z`` in primal units: ``(nu, x, iterations, converged)``.

    Starts at the minimum-norm interpolator (``nu = z``, exact in the limit ``a -> inf``) and
    stops when ``||Q^T x - z|| <= tol * max(||z||, ||x||)``.
    """
    nu = np.array(z, dtype=float)
    for it in range(max_iter + 1):
        x, slope = kernel_primal(Q @ nu, log_a, k)
        grad = Q.T @ x - z
        if not np.all(np.isfinite(x)):
            return nu, x, it, False
        if np.linalg.norm(grad) <= tol * max(np.linalg.norm(z), np.linalg.norm(x)) or it == max_iter:
            return nu, x, it, bool(np.linalg.norm(grad) <= tol * max(np.linalg.norm(z), np.linalg.norm(x)))
        H = (Q * slope[:, None]).T @ Q
        nu = nu - np.linalg.solve(H, grad)
    return nu, x, max_iter, False


def kernel_kkt(Q: np.ndarray, x: np.ndarray, log_a: float, k: float) -> float:
    """``||P_perp u(x)||_inf / ||u(x)||_inf`` with ``u(x) = X'(0) grad Q(x)`` recomputed from ``x``."""
    u = kernel_dual(x, log_a, k)
    uinf = float(np.max(np.abs(u))) if u.size else 0.0
    if uinf == 0.0:
        return 0.0
    u = u / uinf
    return float(np.max(np.abs(u - Q @ (Q.T @ u))))
