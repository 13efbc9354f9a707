"""Linear programs solved with the non-negative DLN (Wang, Ghosal, Mazumder 2023; docs/theory.md section 7).

    min c^T x   s.t.   A x = b,  x >= 0.

The network ``x = u * u`` trained by gradient flow on ``1/2 ||A x - b||^2`` from
``u0 = exp(-c / (2 reg))`` converges to the entropic LP solution (`dlnlab.nonnegative`)

    x(reg) = argmin  c^T x + reg sum(x log x - x)   s.t.  A x = b,

and ``x(reg)`` tends to an LP solution as ``reg -> 0``. `solve_lp` offers three methods:

- ``"flow"`` (default): the limit itself, by Newton on the m-dimensional dual (the engine of
  `dlnlab.limits`, ``newton``, with the `EntropicMap`), followed along ``reg -> 0`` by a
  predictor-corrector continuation in reg (tangent predictor); at each stage a *crossover*
  tries to finish exactly: it solves the restricted systems ``A_S x_S = b``, ``A_S^T y = c_S``
  on the face S the entropic point reveals, or, when no face is resolved yet, takes the basis
  of the largest entropic x, pushes the entropic point to a vertex (Megiddo's primal push)
  and repairs the basis with a bounded number of simplex pivots; either way it verifies
  ``x >= 0`` and ``c - A^T y >= 0``. The path usually stops at reg ~ 1e-2 (normalized).
- ``"gd"``: gradient descent on ``u``: ``u <- u * (1 - 2 eta A^T r)``, ``r = A (u*u) - b``.
- ``"eg"``: exponentiated gradient ``x <- x * exp(-4 eta A^T r)`` (GD to first order in eta).

Why the flow method has its own continuation instead of `flow_limit`'s generic one:
`flow_limit` picks its starting scale from the size of ``x`` (meaningless for ``reg``), runs to a
fixed target scale, and requires ``m < N`` with a pivoted QR of ``A^T`` (23 s for a
1000 x 10000 matrix with LAPACK's tall QR here, against about 1 s for Cholesky-QR). An LP
needs ``reg`` chosen adaptively: stop as soon as the crossover certifies a solution.

Every result carries its certificate: primal residual, dual infeasibility, complementarity
and the duality gap of ``(x, dual)``, all relative (see `LPResult`), recomputed from the returned
point before any status is claimed.

Examples
--------
>>> import numpy as np, dlnlab as dl
>>> A = np.array([[1.0, 1.0, 1.0, 0.0], [1.0, -1.0, 0.0, 1.0]]); b = np.array([2.0, 0.5])
>>> res = dl.solve_lp([1.0, 2.0, 3.0, 1.0], A, b)
>>> res.status, round(res.objective, 12), res.x.round(12).tolist()
('converged', 2.75, [1.25, 0.75, 0.0, 0.0])
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linprog

from ..engine import newton
from ..errors import ConvergenceError, ProblemError, SolverError, UnboundedLPError
from ..networks.nonnegative import EntropicMap
from .certificate import LP_TOL, LPResult, _certify, _check_tol, _result
from .crossover import _face_candidates, _face_solve, _simplex_repair
from ..problems import real_array
from .data import _as_lp, _positive_costs
from .descent import descend
from .path import PATH_TOL, REG_MIN, _diagnose, _make_path

METHODS = ("flow", "gd", "eg")


def solve_lp(c, A, b, method: str = "flow", *, reg: float | None = None, tol: float = LP_TOL,
             step: float | None = None, max_iter: int | None = None, time_limit: float | None = None,
             bound: float | None = None, reference: float | None = None, record_every: int = 10,
             throw: bool = True) -> LPResult:
    """Solve ``min c^T x`` subject to ``A x = b, x >= 0`` with a non-negative DLN (docs/theory.md section 7).

    Parameters
    ----------
    method
        ``"flow"`` (gradient-flow limit, continuation in reg, exact crossover), ``"gd"``
        (multiplicative GD on u) or ``"eg"`` (exponentiated gradient).
    reg
        the entropic regularization (lambda) of gd/eg's initialization ``u0 = exp(-c/(2 reg))``
        (default ``0.1 max|c|``); for "flow" the start of the continuation, in units of
        ``max_j c_j / ||a_j||`` (the path runs on unit-norm columns; default 1).
    tol
        certificate tolerance of a "converged" result (relative, see `LPResult`), in (0, 1).
    step
        gd/eg step ``eta`` (fixed); default: the adaptive rule of `descend`.
    max_iter, time_limit
        budgets (gd/eg: iterations, default 10000; flow: stages, default 200).
    bound
        big-M bound ``M`` on ``1^T x`` used when some ``c_i <= 0`` (default ``100 (1 + ||x_ls||_1)``).
    reference
        a known optimal value; sets ``reference_gap``.
    throw
        raise `ConvergenceError` (flow) when no certified solution was found.

    Raises `InfeasibleLPError`, `UnboundedLPError`, `NotStrictlyFeasibleError` (the DLN needs a
    point ``x > 0`` with ``A x = b``), `ProblemError` for malformed input.
    """
    c, A, b = _as_lp(c, A, b)
    tol = _check_tol("tol", tol)
    if method not in METHODS:
        raise ProblemError(f"method must be one of {METHODS}; got {method!r}.")
    if method in ("gd", "eg"):
        return descend(c, A, b, method=method, reg=reg, step=step, max_iter=10000 if max_iter is None else max_iter,
                       time_limit=time_limit, reference=reference, record_every=record_every)
    if not np.any(b):
        if np.all(c >= 0):  # x = 0 is feasible and c^T x >= 0
            return _result(c, A, b, np.zeros_like(c), np.zeros(A.shape[0]), status="converged", method="flow",
                           iterations=0, reference=reference, tol=tol)
    if np.all(c > 0):
        return _solve_flow(c, A, b, reg, tol, max_iter, reference, throw)
    if bound is None:
        x_ls = np.linalg.lstsq(A, b, rcond=None)[0]
        bound = 100.0 * (1.0 + float(np.abs(x_ls).sum()))
    m, n = A.shape
    for attempt in range(4):
        c2, A2, b2, kind, w, t = _positive_costs(c, A, b, bound)
        res = _solve_flow(c2, A2, b2, reg, tol, max_iter, None, throw)
        x, y = (res.x, res.dual - t * w) if kind == "row-space" else (res.x[:n], res.dual[:m])
        shift = kind if kind == "row-space" else f"big-M (M = {bound:.3g})"
        out = _result(c, A, b, x, y, status=res.status, method="flow", iterations=res.iterations, stages=res.stages,
                      reg=res.reg, reference=reference, shift=shift, tol=tol, message=res.message, trace=res.trace)
        if kind == "row-space" or not res.success or out.success:
            return out
        # The bound row carries a positive price: every optimum of the LP has 1^T x > M, or none exists.
        if attempt >= 1:
            h = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
            if h.status == 3:
                raise UnboundedLPError(
                    f"The LP is unbounded below: with 1^T x <= M the optimum sits on the bound (M up to {bound:.3g}) "
                    "and HiGHS confirms a feasible ray of decreasing cost. Add constraints that bound x, or check "
                    "the signs of c.")
            if h.status == 0:
                bound = max(100.0 * bound, 10.0 * (1.0 + float(np.sum(h.x))))
                continue
        bound *= 100.0
    raise SolverError(f"The big-M bound stayed active up to M = {bound:.3g} although HiGHS finds the LP bounded; "
                      "pass bound= larger than 1^T x of an optimal solution.")


#: Entropic duality gap (normalized, relative) below which crossovers are attempted.
CROSSOVER_GAP = 0.1


def _solve_flow(c, A, b, reg, tol, max_stages, reference, throw) -> LPResult:
    # Columns scaled to unit norm (x_j -> ||a_j|| x_j, c_j -> c_j / ||a_j||; the LP's solutions
    # and its dual y are unchanged): badly scaled columns otherwise stall the continuation.
    norms = np.linalg.norm(A, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    path = _make_path(c / norms, A / norms, b, normalize_b=True)
    path.colscale = norms
    reg0 = 1.0 if reg is None else float(reg) / path.cscale
    r = path.Q.shape[1]
    max_pivots = max(50, r // 2)
    trace = {"reg": [], "iterations": [], "gap": [], "pivots": []}
    found = {}

    def certified(xn, mu):
        x, y = path.beta * xn / norms, path.cscale * path.basis.to_dual(mu)
        if max(_certify(c, A, b, x, y)[1:]) <= tol:
            found["sol"] = (x, y)
            return True
        return False

    def attempt():
        rn, xn, mu = path.reduced_costs_n(), path.xn(), path.state.mu
        gap = abs(float(rn @ xn)) / (1.0 + abs(float(path.cn @ xn)))  # entropic LP gap, normalized
        for key, value in (("reg", path.reg * path.cscale), ("iterations", path.iterations), ("gap", gap),
                           ("pivots", 0)):
            trace[key].append(value)
        if gap > CROSSOVER_GAP:
            return False
        for S in _face_candidates(rn, path.reg, r):
            sol = _face_solve(path.Q, path.z, path.cn, xn, mu, S)
            if sol is not None and certified(*sol):
                return True
        # columns still deciding between the face and its complement: about ten per pivot needed
        undecided = int(np.count_nonzero((rn > 3.0 * path.reg) & (rn < 30.0 * path.reg)))
        if undecided > 10 * max_pivots:
            return False
        sol = _simplex_repair(path.Q, path.z, path.cn, xn, rn, max_pivots)
        if sol is not None:
            trace["pivots"][-1] = sol[2]
            return certified(sol[0], sol[1])
        return False

    if not path.start(reg0):
        _diagnose(A, b, path.beta)
        msg = f"Newton failed at the starting reg = {reg0 * path.cscale:.3g} although the LP is strictly feasible."
        return _fail(c, A, b, path, msg, reference, throw)
    if not path.interior():
        _diagnose(A, b, path.beta)  # raises NotStrictlyFeasibleError unless HiGHS finds an interior point
    if not attempt():
        ok, message = path.follow(REG_MIN, attempt, max_stages=200 if max_stages is None else max_stages)
        if "sol" not in found:
            msg = (f"no certified LP solution down to reg = {path.reg * path.cscale:.3g}"
                   f"{' (' + message + ')' if message else ''}.")
            return _fail(c, A, b, path, msg, reference, throw, trace)
    x, y = found["sol"]
    trace = {k: np.asarray(v) for k, v in trace.items()}
    return _result(c, A, b, x, y, status="converged", method="flow", iterations=path.iterations, stages=path.stages,
                   reg=0.0, reference=reference, tol=tol, trace=trace)


def _fail(c, A, b, path, msg, reference, throw, trace=None):
    res = _result(c, A, b, path.x(), path.y(), status="failed", method="flow", iterations=path.iterations,
                  stages=path.stages, reg=path.reg * path.cscale, reference=reference, message=msg,
                  trace={k: np.asarray(v) for k, v in (trace or {}).items()})
    if throw:
        raise ConvergenceError(f"solve_lp(method='flow'): {msg} Pass throw=False to inspect the partial result.", res)
    return res


def entropic_lp(c, A, b, reg: float, *, tol: float = 1e-12, throw: bool = True) -> LPResult:
    """The entropic LP ``argmin c^T x + reg sum(x log x - x), A x = b`` (the DLN flow limit).

    It equals the gradient-flow limit of ``x = u * u`` from ``u0 = exp(-c / (2 reg))``.
    Certificates are those of the LP (``duality_gap`` measures the distance to LP optimality);
    ``status`` is ``"unverified"`` when Newton converged (an entropic point at ``reg > 0`` is not
    the LP optimum; see `LPResult` for what is still checked), ``tol`` in (0, 1).

    >>> import numpy as np, dlnlab as dl
    >>> res = dl.entropic_lp([1.0, 2.0], [[1.0, 1.0]], [1.0], reg=1.0)
    >>> np.allclose(res.x, np.exp(-np.array([1.0, 2.0])) / np.exp(-np.array([1.0, 2.0])).sum())
    True
    """
    c, A, b = _as_lp(c, A, b)
    tol = _check_tol("tol", tol)
    reg = float(reg)
    if not (math.isfinite(reg) and reg > 0):
        raise ProblemError(f"reg must be positive and finite; got {reg!r}.")
    path = _make_path(c, A, b, normalize_b=False)
    target = reg / path.cscale
    ok = path.start(max(target, 1.0))
    message = ""
    if ok and target < 1.0:
        ok, message = path.follow(target, tol=PATH_TOL)
        if ok:  # polish at the target
            path.state, its, ok = newton(path.Q, path.z, EntropicMap(path.cn, target), path.state, tol=tol,
                                          max_iter=30)
            path.iterations += its
    elif ok:
        path.state, its, ok = newton(path.Q, path.z, EntropicMap(path.cn, target), path.state, tol=tol, max_iter=30)
        path.iterations += its
    scale = max(1.0, float(np.max(np.abs(path.basis.Q @ path.basis.z))))
    if ok and not path.interior():
        _diagnose(A, b, scale)
    if not ok:
        _diagnose(A, b, scale)
        msg = f"Newton did not converge for the entropic LP at reg = {reg:g}. {message}"
        res = _result(c, A, b, path.x(), path.y(), status="failed", method="flow", iterations=path.iterations,
                      stages=path.stages, reg=reg, message=msg)
        if throw:
            raise ConvergenceError(msg + " Pass throw=False to inspect the partial result.", res)
        return res
    return _result(c, A, b, path.x(), path.y(), status="unverified", method="flow", iterations=path.iterations,
                   stages=path.stages, reg=reg, primal_tol=LP_TOL)



def basis_pursuit_lp(A, y, method: str = "flow", **kwargs):
    """Basis pursuit ``min ||x||_1, A x = y`` as the LP ``A -> [A, -A]``, ``c = 1`` (docs/theory.md section 7).

    Returns ``(x, result)`` with ``x = x_plus - x_minus`` and the `LPResult` of the split LP.

    >>> import numpy as np, dlnlab as dl
    >>> x, res = dl.basis_pursuit_lp([[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0])
    >>> res.status, round(float(np.abs(x).sum()), 12)
    ('converged', 3.0)
    """
    A = real_array(A, "A")
    y = real_array(y, "y")
    if A.ndim != 2:
        raise ProblemError(f"A must be 2-D; got shape {A.shape}.")
    n = A.shape[1]
    res = solve_lp(np.ones(2 * n), np.hstack([A, -A]), y, method=method, **kwargs)
    return res.x[:n] - res.x[n:], res
