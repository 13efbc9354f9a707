"""Basis pursuit and its certificate constant by one plain HiGHS LP each (for the tests).

Independent of `dlnlab.l1`: no cleaning, polishing or verification, only the textbook LPs

    BP:   min 1^T (u + v)  s.t.  A (u - v) = y,  u, v >= 0,     x = u - v;
    rho:  min t  s.t.  A_S^T w = sigma,  -t <= A_{S^c}^T w <= t    (docs/theory.md section 5).

Their answers are exact to HiGHS' feasibility tolerance (1e-7 on the scaled LP).

>>> import numpy as np
>>> x = basis_pursuit([[1.0, 0.5]], [1.0])
>>> np.round(x, 9).tolist(), round(certificate_rho([[1.0, 0.5]], [0], [1.0]), 9)
([1.0, 0.0], 0.5)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..errors import SolverError


def _solve(*args, **kwargs):
    res = linprog(*args, method="highs", **kwargs)
    if res.status != 0:
        raise SolverError(f"HiGHS: {res.message}")
    return res


def basis_pursuit(A, y) -> np.ndarray:
    """``argmin ||x||_1 s.t. A x = y``: HiGHS' vertex of the LP on ``x = u - v`` (a `scipy.sparse`
    ``A`` reaches HiGHS sparse)."""
    y = np.asarray(y, float)
    if sp.issparse(A):
        A = sp.csc_array(A, dtype=float)
        A_eq = sp.hstack([A, -A], format="csc")
    else:
        A = np.asarray(A, float)
        A_eq = np.hstack([A, -A])
    N = A.shape[1]
    r = _solve(np.ones(2 * N), A_eq=A_eq, b_eq=y, bounds=(0, None))
    return r.x[:N] - r.x[N:]


def basis_pursuit_on_support(A, y, tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """`basis_pursuit`'s support (``|x_i| > tol``, HiGHS' tolerance) and ``x`` re-solved exactly
    from ``A_S x_S = y`` by least squares: ``(x, support mask)``."""
    A, y = np.asarray(A, float), np.asarray(y, float)
    support = np.abs(basis_pursuit(A, y)) > tol
    x = np.zeros(A.shape[1])
    x[support] = np.linalg.lstsq(A[:, support], y, rcond=None)[0]
    return x, support


def certificate_rho(A, S, sigma) -> float:
    """``rho = min ||A_{S^c}^T w||_inf s.t. A_S^T w = sigma`` as one LP."""
    A = np.asarray(A, float)
    S, sigma = np.asarray(S, dtype=int), np.asarray(sigma, float)
    m, N = A.shape
    Sc = np.setdiff1d(np.arange(N), S)
    k = Sc.size
    A_ub = np.block([[A[:, Sc].T, -np.ones((k, 1))], [-A[:, Sc].T, -np.ones((k, 1))]])
    r = _solve(np.r_[np.zeros(m), 1.0], A_ub=A_ub, b_ub=np.zeros(2 * k),
               A_eq=np.c_[A[:, S].T, np.zeros(S.size)], b_eq=sigma, bounds=(None, None))
    return float(r.x[-1])
