"""SGD, early stopping and label noise on ``x = u * v``: gain shapes, noisy recovery, noise shape.

- ``even2023-gains``: the per-coordinate gains ``log(alpha / alpha_inf)`` of GD (concentrated
  on few coordinates) and SGD (near uniform) over many random datasets (Even, Pesme,
  Gunasekar, Flammarion 2023).
- ``vaskevicius2019-early-stopping``: noisy measurements, the early-stopped GD iterate
  (Vaskevicius, Kanade, Rebeschini 2019): the initialization's effect, constant vs doubling
  steps, GD's path against the Lasso path (scikit-learn's ``lasso_path``) and an n-vs-k
  recovery diagram.
- ``haochen2021-label-noise``: label-noise GD from a large initialization recovers the sparse
  solution where plain GD stays near the min-l2 interpolator (HaoChen, Wei, Lee, Ma 2021,
  "Shape matters").

Helpers: `two_layer_sharpness` (the exact top Hessian eigenvalue of ``1/2 ||A (u*v) - y||^2``
in the weights) and `flattest_interpolator` (the interpolator whose balanced weights have the
smallest sharpness: GD cannot converge with a step above ``2 / its sharpness``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import eigh, null_space
from scipy.optimize import minimize

from ... import plots
from ...dynamics.descent import gradient_descent
from ...errors import ExperimentError
from ...l1 import basis_pursuit
from ...limits import flow_limit
from ...networks.twolayer import TwoLayerDLN
from ...problems import Problem, gaussian_problem
from . import check, experiment, record


def two_layer_sharpness(A, y, u, v) -> float:
    """Top eigenvalue of the Hessian of ``L(u, v) = 1/2 ||A (u * v) - y||^2`` in ``(u, v)``.

    With ``r = A (u v) - y``, ``g = A^T r`` and ``J = [A diag(v), A diag(u)]``:
    ``H = J^T J + [[0, diag(g)], [diag(g), 0]]`` (dense, exact; 2N x 2N).

    >>> import numpy as np
    >>> A = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> round(two_layer_sharpness(A, A @ np.ones(2), np.ones(2), np.ones(2)), 12)  # 2 * max_i (A^T A)_ii
    8.0
    """
    A = np.asarray(A, dtype=float)
    u, v = np.asarray(u, dtype=float), np.asarray(v, dtype=float)
    g = A.T @ (A @ (u * v) - np.asarray(y, dtype=float))
    J = np.hstack([A * v, A * u])
    H = J.T @ J
    N = u.size
    H[np.arange(N), N + np.arange(N)] += g
    H[N + np.arange(N), np.arange(N)] += g
    return float(np.linalg.eigvalsh(H)[-1])


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
