"""The numerical ground of the l1 modules: HiGHS calls, rank and null-space tests, tie tolerances.

Ties are decided at the relative tolerances below (about 1e-9): BP's solution map is
discontinuous at ties (docs/theory.md section 5, GHA), so no float64 computation decides a
tie closer than the rounding of its data; these tolerances say where dlnlab draws the line.

>>> import numpy as np
>>> _rank(np.array([[1.0, 2.0], [2.0, 4.0]])), _null_space(np.array([[1.0, 1.0]])).shape
(1, (2, 1))
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from ..errors import ProblemError, SolverError


#: An entry with ``|x_i| <= SUPPORT_RTOL * ||x||_inf`` is zero. HiGHS' primal feasibility
#: tolerance is 1e-7 on the scaled problem; a genuine basic value below 1e-9 relative
#: would change ``||A x - y||`` by less than that tolerance, so it is not resolved anyway.
SUPPORT_RTOL = 1e-9
#: Residual, dual infeasibility and relative duality gap a verified answer must meet.
#: After the cleaning steps they are ~1e-15; 1e-9 leaves room for ill-conditioned ``A_S``.
VERIFY_TOL = 1e-9
#: ``x`` is unique when ``A_S`` is injective and ``rho < 1 - RHO_TOL`` (the polished ``rho``
#: is exact to ~1e-14 on well-conditioned data; exact ties give 1 to that accuracy).
RHO_TOL = 1e-9
#: ``|a_i^T w| >= 1 - TIGHT_TOL`` counts as tight when reading a face off a certificate.
TIGHT_TOL = 1e-9
#: HiGHS' default primal/dual feasibility tolerances are 1e-7: on near-ties it may return a
#: vertex 1e-8 worse than optimal. An unverified answer is retried with the tightest it takes.
TIGHT_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Relative rank tolerance (times ``max(shape)``) of the SVD rank test.
RANK_RTOL = np.finfo(float).eps


def _linprog(c, *, what: str, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None), options=None):
    """HiGHS through scipy; any failure becomes a `SolverError` that names the LP."""
    try:
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs",
                      **({"options": options} if options else {}))
    except ValueError as exc:
        raise SolverError(f"HiGHS rejected the {what} LP: {exc}") from None
    if res.status != 0 or res.x is None:
        raise SolverError(
            f"HiGHS failed on the {what} LP: status {res.status} ({res.message}). "
            "Check the data for huge or tiny entries (rescale A's columns) and retry.")
    return res


def _rank(M: np.ndarray) -> int:
    if M.size == 0:
        return 0
    sv = np.linalg.svd(M, compute_uv=False)
    return int(np.sum(sv > max(M.shape) * RANK_RTOL * sv[0])) if sv[0] > 0 else 0


def _null_space(M: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of ker M."""
    n = M.shape[1]
    if M.shape[0] == 0 or n == 0:
        return np.eye(n)
    _, sv, Vt = np.linalg.svd(M, full_matrices=True)
    r = int(np.sum(sv > max(M.shape) * RANK_RTOL * sv[0])) if sv.size and sv[0] > 0 else 0
    return Vt[r:].T.copy()


def _relative_gap(value: float, dual: float) -> float:
    return abs(value - dual) / value if value > 0 else abs(dual)


def _as_solution(x, N: int) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"x_star must be a real vector ({exc}).") from None
    if x.shape != (N,):
        raise ProblemError(f"x_star must have shape ({N},) to match A's {N} columns; got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ProblemError("x_star has non-finite entries (NaN or inf).")
    return x


