"""The flattest interpolator of ``x = u * v``: the step-size bound of ``even2023-stepsize``.

GD with step ``gamma`` can converge only to a minimum whose sharpness (`dlnlab.sharpness`) is at
most ``2 / gamma``; among interpolators with balanced weights (``|u| = |v| = sqrt|x|``) the
sharpness is ``lambda_max(A diag(2|x|) A^T)``, so GD cannot converge with a step above
``2 / min_x lambda_max(...)`` (`flattest_interpolator`).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import eigh, null_space
from scipy.optimize import minimize


def balanced_sharpness(A, x) -> float:
    """Sharpness at an interpolator ``x`` with balanced weights ``|u| = |v| = sqrt|x|``:
    ``lambda_max(A diag(2|x|) A^T)`` (the nonzero spectrum of ``J^T J``)."""
    A = np.asarray(A, dtype=float)
    return float(np.linalg.eigvalsh((A * (2.0 * np.abs(x))) @ A.T)[-1])


def flattest_interpolator(A, y, x0=None):
    """``(x, s)``: an interpolator minimizing ``s(x) = lambda_max(A diag(2|x|) A^T)``, and ``s``.

    ``s`` is convex in ``x``; minimized over ``x = x_p + Z w`` (Z a null-space basis) with
    L-BFGS on the smoothing ``lambda_max -> lambda_max + log(sum_i e^{beta (lambda_i -
    lambda_max)}) / beta``, ``|x| -> sqrt(x^2 + delta^2)``, continued to ``beta = 1e4``,
    ``delta = 1e-6`` (bias ``<= log(m) / beta + O(delta)``, ~3e-4). The returned ``s`` is the
    exact sharpness of the returned interpolator, so it bounds the minimum from above.
    Weights with ``|u| != |v|`` are sharper (``u^2 + v^2 >= 2|uv|``), so no interpolation
    point of GD has sharpness below ``s``, and GD with a step above ``2 / s`` cannot converge
    (linear stability: a converging GD limit has ``step * sharpness <= 2``).
    """
    A, y = np.asarray(A, dtype=float), np.asarray(y, dtype=float)
    Z = null_space(A)
    xp = np.linalg.lstsq(A, y, rcond=None)[0]
    w = np.zeros(Z.shape[1]) if x0 is None else Z.T @ (np.asarray(x0, dtype=float) - xp)
    for beta, delta in ((10.0, 1e-2), (100.0, 1e-3), (1e3, 1e-4), (1e4, 1e-6)):
        def smooth(w, beta=beta, delta=delta):
            x = xp + Z @ w
            ax = np.sqrt(x * x + delta * delta)
            ev, V = eigh((A * (2.0 * ax)) @ A.T)
            e = np.exp(beta * (ev - ev[-1]))
            E = (V * (e / e.sum())) @ V.T
            dt = np.einsum("ij,ik,kj->j", A, E, A)  # d lambda_soft / d t_j, t = 2|x|
            return ev[-1] + math.log(e.sum()) / beta, Z.T @ (dt * 2.0 * x / ax)
        w = minimize(smooth, w, jac=True, method="L-BFGS-B", options=dict(maxiter=3000, gtol=1e-12)).x
    x = xp + Z @ w
    return x, balanced_sharpness(A, x)
