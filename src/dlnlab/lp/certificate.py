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

from ..errors import OptionError
from ..results import Result, check_status

#: Certificate tolerance of an LP solution: relative primal residual, dual infeasibility,
#: complementarity and duality gap (see `LPResult`). The crossover lands near 1e-15; 1e-9
#: leaves room for the conditioning of the optimal basis.
LP_TOL = 1e-9


@dataclass(frozen=True)
class LPResult(Result):
    """A solution of ``min c^T x, A x = b, x >= 0`` and the evidence for it.

    Certificates (all relative, infinity norms): ``primal_residual = ||Ax - b|| / (1 + ||b||)``;
    ``dual_infeasibility = max(0, -min r) / (1 + ||c||)`` with reduced costs ``r = c - A^T dual``;
    ``complementarity = |x . r| / (1 + |c^T x|)``;
    ``duality_gap = |c^T x - b^T dual| / (1 + |c^T x|)``.
    ``reference_gap = |c^T x - ref| / max(|ref|, 1e-300)`` when a reference optimum was given.
    ``reg`` is the entropic regularization of the point returned (0 after an exact crossover).
    ``status`` (`dlnlab.results.STATUSES`): ``"converged"`` (all four certificates <= tol,
    recomputed from ``x`` and ``dual``), ``"unverified"`` (an entropic solution at ``reg > 0``: feasible,
    on an LP that a dual-feasible point shows bounded, but not the LP optimum), ``"max_iter"``
    (iteration or time budget reached), ``"failed"``.
    ``trace`` holds the per-stage (flow) or per-checkpoint (gd, eg) history as arrays.
    """

    x: np.ndarray
    objective: float
    dual: np.ndarray
    reduced_costs: np.ndarray
    primal_residual: float
    dual_infeasibility: float
    complementarity: float
    duality_gap: float
    status: str
    method: str
    iterations: int
    stages: int = 0
    reg: float = 0.0
    reference_gap: float = math.nan
    shift: str = ""
    message: str = ""
    trace: dict = field(default_factory=dict, repr=False, metadata={"dict": False})

    @property
    def max_violation(self) -> float:
        return max(self.primal_residual, self.dual_infeasibility, self.complementarity, self.duality_gap)


def _certify(c, A, b, x, y):
    """The four relative certificates of `LPResult` for the pair ``(x, y)``."""
    r = c - A.T @ y
    cx = float(c @ x)
    primal = float(np.max(np.abs(A @ x - b), initial=0.0)) / (1.0 + float(np.max(np.abs(b), initial=0.0)))
    dual = max(0.0, -float(np.min(r, initial=0.0))) / (1.0 + float(np.max(np.abs(c), initial=0.0)))
    compl = abs(float(x @ r)) / (1.0 + abs(cx))
    gap = abs(cx - float(b @ y)) / (1.0 + abs(cx))
    return r, primal, dual, compl, gap


def _verify(status, c, b, x, y, certs, tol, primal_tol):
    """The status that the returned ``(x, y)`` supports, and why a claim was dropped ("" if kept).

    ``"converged"`` needs all four certificates <= ``tol``. ``"unverified"`` (an entropic point)
    needs ``x >= 0``, ``primal_residual <= primal_tol`` and a dual-feasible point proving the LP
    bounded below: ``y`` itself (``dual_infeasibility <= tol``) or ``0`` when ``c >= 0``; weak
    duality against that point must then hold, ``c^T x >= b^T y_f`` (up to ``tol``).
    """
    if status in ("failed", "max_iter"):
        return status, ""
    _, primal, dual, compl, gap = certs
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and all(map(math.isfinite, certs[1:]))):
        return "failed", "the returned point or its dual is not finite"
    if status == "converged":
        if max(primal, dual, compl, gap) <= tol:
            return status, ""
        return "failed", (f"the certificates exceed {tol:g} (primal {primal:.1e}, dual {dual:.1e}, "
                          f"complementarity {compl:.1e}, gap {gap:.1e})")
    if float(np.min(x, initial=0.0)) < 0 or not primal <= primal_tol:
        return "failed", f"x is not feasible: primal residual {primal:.1e} > {primal_tol:.1e} or x has negative entries"
    if dual <= tol:
        y_f = y
    elif float(np.min(c, initial=0.0)) >= 0:
        y_f = np.zeros_like(y)
    else:
        return "failed", (f"no dual-feasible point shows the LP bounded below (dual infeasibility {dual:.1e}, "
                          "c has negative entries): the LP may be unbounded; solve_lp(method='flow') classifies it")
    cx = float(c @ x)
    if cx - float(b @ y_f) < -tol * (1.0 + abs(cx)):
        return "failed", "weak duality fails at the returned point (c^T x < b^T y for a dual-feasible y)"
    return status, ""


def _result(c, A, b, x, y, *, status, method, iterations, stages=0, reg=0.0, reference=None, shift="",
            message="", trace=None, tol=LP_TOL, primal_tol=None) -> LPResult:
    """`LPResult` of ``(x, y)`` with the claim of ``status`` rechecked by `_verify`."""
    certs = _certify(c, A, b, x, y)
    r, primal, dual, compl, gap = certs
    checked, why = _verify(check_status(status), c, b, x, y, certs, tol, tol if primal_tol is None else primal_tol)
    if checked != status:
        message = f"{status} claim dropped: {why}." + (" " + message if message else "")
        status = checked
    objective = float(c @ x)
    ref_gap = math.nan if reference is None else abs(objective - reference) / max(abs(reference), 1e-300)
    return LPResult(x=x, objective=objective, dual=y, reduced_costs=r, primal_residual=primal,
                    dual_infeasibility=dual, complementarity=compl, duality_gap=gap, status=status, method=method,
                    iterations=iterations, stages=stages, reg=reg, reference_gap=ref_gap, shift=shift,
                    message=message, trace={} if trace is None else trace)


def _check_tol(name, value):
    """``value`` as a float in (0, 1) or `OptionError`: a relative tolerance must be below 1."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number in (0, 1); got {value!r}.") from None
    if not 0.0 < value < 1.0:
        raise OptionError(f"{name} must be in (0, 1) (a relative tolerance); got {value!r}. "
                          "Typical values are 1e-12 to 1e-6.")
    return value
