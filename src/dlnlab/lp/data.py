"""LP data: validation of ``(c, A, b)`` and the cost shifts that make ``c > 0``.

>>> c, A, b = _as_lp([1, 2], [[1, 1]], [1])
>>> A.shape, c.dtype.name
((1, 2), 'float64')
"""

from __future__ import annotations

import numpy as np

from ..errors import ProblemError


def _as_lp(c, A, b):
    """``(c, A, b)`` as float64 arrays of matching shapes, or `ProblemError` saying what is wrong."""
    for name, v in (("A", A), ("b", b), ("c", c)):
        if np.iscomplexobj(v):
            raise ProblemError(f"{name} has complex entries; an LP needs real data. Split a complex system "
                               "into its real and imaginary parts first.")
    try:
        A = np.array(A, dtype=float)
        b = np.array(b, dtype=float).ravel()
        c = np.array(c, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"c, A, b must be real numeric arrays ({exc}).") from None
    if A.ndim != 2 or A.size == 0:
        raise ProblemError(f"A must be a non-empty 2-D matrix (m x n); got shape {A.shape}.")
    m, n = A.shape
    if b.shape != (m,):
        raise ProblemError(f"b must have {m} entries (one per row of A); got {b.shape[0]}.")
    if c.shape != (n,):
        raise ProblemError(f"c must have {n} entries (one per column of A); got {c.shape[0]}.")
    for name, v in (("A", A), ("b", b), ("c", c)):
        if not np.all(np.isfinite(v)):
            raise ProblemError(f"{name} has non-finite entries (NaN or inf); clean the data first.")
    return c, A, b


def _positive_costs(c, A, b, bound):
    """Make costs positive without changing the LP's solutions; returns (c', A', b', kind, w, t).

    - ``c > 0``: unchanged.
    - ``1`` in the row space of A (``A^T w = 1``: transport, simplex constraints): ``1^T x = w^T b``
      on the feasible set, so ``c + t 1`` has the same minimizers (exact; ``kind = "row-space"``).
    - otherwise the big-M construction: a slack ``s >= 0`` and the row ``1^T x + s = M`` with costs
      ``(c + t, t)``; on it ``c'^T x' = c^T x + t M``. It is exact when some optimal x has
      ``1^T x < M`` (then the slack is basic > 0 and ``y`` is dual feasible for the original LP);
      `solve_lp` verifies this and raises M (x100, three times) when the bound is active.
    """
    if np.all(c > 0):
        return c, A, b, "", None, 0.0
    t = float(np.max(np.abs(c))) - float(np.min(c))
    t = t if t > 0 else 1.0
    w, *_ = np.linalg.lstsq(A.T, np.ones(A.shape[1]), rcond=None)
    if np.max(np.abs(A.T @ w - 1.0)) <= 1e-12:
        return c + t, A, b, "row-space", w, t
    m, n = A.shape
    A2 = np.zeros((m + 1, n + 1))
    A2[:m, :n] = A
    A2[m, :] = 1.0
    return np.append(c + t, t), A2, np.append(b, bound), "big-M", None, t

