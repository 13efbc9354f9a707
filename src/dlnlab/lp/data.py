"""LP data: validation of ``(c, A, b)`` and the cost shifts that make ``c > 0``.

>>> c, A, b = _as_lp([1, 2], [[1, 1]], [1])
>>> A.shape, c.dtype.name
((1, 2), 'float64')
"""

from __future__ import annotations

import numpy as np

from ..errors import ProblemError
from ..problems import real_array


def _as_lp(c, A, b):
    """``(c, A, b)`` as float64 arrays of matching shapes, or `ProblemError` saying what is wrong.

    ``A`` may be `scipy.sparse`: the LP engine works on a dense basis of its rows, so it is densified.
    """
    A = np.array(real_array(A, "A"))  # a copy: the solvers scale it in place; a sparse A is densified
    b = real_array(b, "b").ravel()
    c = real_array(c, "c").ravel()
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

