"""The certificate of an LP solution: `LPResult` and its recomputation from ``(x, y)``.

For ``min c^T x, A x = b, x >= 0`` and a dual ``y`` with reduced costs ``r = c - A^T y``:
primal residual, dual infeasibility, complementarity and duality gap (docs/theory.md section 7).

>>> import numpy as np
>>> _certify(np.array([1.0, 2.0]), np.array([[1.0, 1.0]]), np.array([1.0]), np.array([1.0, 0.0]), np.array([1.0]))[1:]
(0.0, 0.0, 0.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Certificate tolerance of an LP solution: relative primal residual, dual infeasibility,
#: complementarity and duality gap (see `LPResult`). The crossover lands near 1e-15; 1e-9
#: leaves room for the conditioning of the optimal basis.
LP_TOL = 1e-9


@dataclass(frozen=True)
class LPResult:
    """A solution of ``min c^T x, A x = b, x >= 0`` and the evidence for it.

    Certificates (all relative, infinity norms): ``primal_residual = ||Ax - b|| / (1 + ||b||)``;
    ``dual_infeasibility = max(0, -min r) / (1 + ||c||)`` with reduced costs ``r = c - A^T y``;
    ``complementarity = |x . r| / (1 + |c^T x|)``; ``gap = |c^T x - b^T y| / (1 + |c^T x|)``.
    ``reference_gap = |c^T x - ref| / max(|ref|, 1e-300)`` when a reference optimum was given.
    ``reg`` is the entropic regularization of the point returned (0 after an exact crossover);
    ``status``: ``"optimal"`` (all certificates <= tol), ``"entropic"`` (the entropic solution at
    ``reg``), ``"stopped"`` (iteration or time budget reached), ``"failed"``.
    ``trace`` holds the per-stage (flow) or per-checkpoint (gd, eg) history as arrays.
    """

    x: np.ndarray
    objective: float
    y: np.ndarray
    reduced_costs: np.ndarray
    primal_residual: float
    dual_infeasibility: float
    complementarity: float
    gap: float
    status: str
    method: str
    iterations: int
    stages: int = 0
    reg: float = 0.0
    reference_gap: float = math.nan
    shift: str = ""
    message: str = ""
    trace: dict = field(default_factory=dict, repr=False)

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"

    @property
    def max_violation(self) -> float:
        return max(self.primal_residual, self.dual_infeasibility, self.complementarity, self.gap)


def _certify(c, A, b, x, y):
    """The four relative certificates of `LPResult` for the pair ``(x, y)``."""
    r = c - A.T @ y
    cx = float(c @ x)
    primal = float(np.max(np.abs(A @ x - b), initial=0.0)) / (1.0 + float(np.max(np.abs(b), initial=0.0)))
    dual = max(0.0, -float(np.min(r, initial=0.0))) / (1.0 + float(np.max(np.abs(c), initial=0.0)))
    compl = abs(float(x @ r)) / (1.0 + abs(cx))
    gap = abs(cx - float(b @ y)) / (1.0 + abs(cx))
    return r, primal, dual, compl, gap


def _result(c, A, b, x, y, *, status, method, iterations, stages=0, reg=0.0, reference=None, shift="",
            message="", trace=None, tol=LP_TOL) -> LPResult:
    r, primal, dual, compl, gap = _certify(c, A, b, x, y)
    if status == "optimal" and not max(primal, dual, compl, gap) <= tol:
        status, message = "failed", f"the certificates exceed {tol:g}: " + message
    objective = float(c @ x)
    ref_gap = math.nan if reference is None else abs(objective - reference) / max(abs(reference), 1e-300)
    return LPResult(x=x, objective=objective, y=y, reduced_costs=r, primal_residual=primal, dual_infeasibility=dual,
                    complementarity=compl, gap=gap, status=status, method=method, iterations=iterations,
                    stages=stages, reg=reg, reference_gap=ref_gap, shift=shift, message=message,
                    trace={} if trace is None else trace)

