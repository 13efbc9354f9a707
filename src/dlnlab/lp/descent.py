"""Discrete training of the non-negative DLN on an LP: gradient descent (GD) and exponentiated gradient (EG)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from scipy.optimize import linprog

from ..errors import InfeasibleLPError, ProblemError, UnboundedLPError
from .certificate import LPResult, _check_tol, _result
from .data import _as_lp


def _curvature(A, x, v, iters):
    """``lambda_max(A diag(x) A^T)`` by ``iters`` warm-started power steps; returns (estimate, vector)."""
    lam = 0.0
    for _ in range(iters):
        w = A @ (x * (A.T @ v))
        lam = float(np.linalg.norm(w))
        if not lam > 0:
            return 0.0, v
        v = w / lam
    return lam, v


def descend(c, A, b, method: str = "gd", *, reg: float | None = None, step: float | None = None,
            max_iter: int = 10000, time_limit: float | None = None, rtol: float = 1e-10,
            reference: float | None = None, record_every: int = 10) -> LPResult:
    """Discrete training of ``x = u * u`` from ``u0 = exp(-c / (2 reg))`` on ``1/2 ||A x - b||^2``.

    ``"gd"``: ``u <- u * (1 - 2 eta g)``, ``g = A^T (A x - b)``; ``"eg"``: ``x <- x * exp(-4 eta g)``
    (the same to first order in eta). Both run in log domain (``log x``), so an initialization
    ``exp(-c/reg)`` below float range is exact. Step rule (dlnlab's, documented): with ``step``
    given, eta is fixed; otherwise ``eta_k = min(1 / (2.2 L_k), 1 / (4 ||g_k||_inf))`` with
    ``L_k = lambda_max(A X_k A^T)`` (warm-started power iteration, refreshed every 10 steps, doubled
    whenever the loss rises). Near the limit the residual obeys ``r <- (I - 4 eta A X A^T) r``,
    stable for ``4 eta L < 2``: the rule stays at 0.9 of that limit; the second bound keeps
    each multiplicative factor in [1/4, 9/4]. (Wang et al.'s own rule was not available to us.)

    The dual estimate ``y_k = 4 reg sum_j eta_j (b - A x_j)`` (exact for EG:
    ``x_k = exp((A^T y_k - c)/reg)``) gives the LP certificates of the result. Status:
    ``"unverified"`` once ``||A x - b|| <= rtol ||b||`` (``rtol`` in (0, 1); the limit is the entropic
    LP solution, not the LP's), ``"max_iter"`` at ``max_iter``/``time_limit``, ``"failed"`` if the loss
    became non-finite, or if the returned point does not bear the claim out: the residual is
    recomputed from the returned ``x``, and an LP with some ``c_i < 0`` needs a dual-feasible ``y``
    (without one the LP may be unbounded below, and the point says nothing about it).
    A run that ends without such a point asks HiGHS about the LP (scaled to size 1), as
    ``solve_lp(method="flow")`` does: `InfeasibleLPError` or `UnboundedLPError` when it is one;
    otherwise the result's ``message`` names every certificate the point does not meet.

    >>> import numpy as np, dlnlab as dl
    >>> res = dl.descend([1.0, 2.0], [[1.0, 1.0]], [1.0], "eg", reg=1.0, max_iter=2000)
    >>> res.status, bool(np.allclose(res.x, [0.7310586, 0.2689414], atol=1e-6))
    ('unverified', True)
    """
    c, A, b = _as_lp(c, A, b)
    rtol = _check_tol("rtol", rtol)
    if method not in ("gd", "eg"):
        raise ProblemError(f"descend: method must be 'gd' or 'eg'; got {method!r}.")
    cmax = float(np.max(np.abs(c))) or 1.0
    reg = 0.1 * cmax if reg is None else float(reg)
    if not (math.isfinite(reg) and reg > 0):
        raise ProblemError(f"reg must be positive and finite; got {reg!r}.")
    if step is not None and not (math.isfinite(step) and step > 0):
        raise ProblemError(f"step must be positive and finite; got {step!r}.")
    v = np.random.default_rng(0).standard_normal(A.shape[0])
    L, last_loss = 0.0, math.inf
    logx = -c / reg
    lam = np.zeros(A.shape[0])
    bnorm = float(np.linalg.norm(b)) or 1.0
    t0 = time.perf_counter()
    trace = {"iteration": [], "loss": [], "objective": [], "residual": [], "time": []}
    status, k = "max_iter", 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_iter + 1):
            x = np.exp(logx)
            res_vec = A @ x - b
            rel = float(np.linalg.norm(res_vec)) / bnorm
            if not math.isfinite(rel):
                status = "failed"
                break
            if k % record_every == 0 or rel <= rtol or k == max_iter:
                trace["iteration"].append(k)
                trace["loss"].append(0.5 * float(res_vec @ res_vec))
                trace["objective"].append(float(c @ x))
                trace["residual"].append(rel)
                trace["time"].append(time.perf_counter() - t0)
            if rel <= rtol:
                status = "unverified"
                break
            if k == max_iter or (time_limit is not None and time.perf_counter() - t0 > time_limit):
                break
            g = A.T @ res_vec
            if step is None:
                loss = float(res_vec @ res_vec)
                if k % 10 == 0:
                    L, v = _curvature(A, x, v, 20 if k == 0 else 3)
                if loss > last_loss:
                    L *= 2.0
                last_loss = loss
                ginf = float(np.max(np.abs(g)))
                eta = min(1.0 / (2.2 * L) if L > 0 else math.inf, 1.0 / (4.0 * ginf) if ginf > 0 else math.inf)
            else:
                eta = step
            lam -= eta * res_vec
            if method == "gd":
                logx = logx + 2.0 * np.log(np.abs(1.0 - 2.0 * eta * g))
            else:
                logx = logx - 4.0 * eta * g
    x = np.exp(logx)
    y = 4.0 * reg * lam
    trace = {key: np.asarray(v) for key, v in trace.items()}
    message = "" if status != "failed" else "the loss became non-finite: the step is too large for this problem."
    if status == "unverified":  # the stopping test, redone on the point returned
        with np.errstate(over="ignore", invalid="ignore"):
            rel = float(np.linalg.norm(A @ x - b)) / bnorm
        if not rel <= rtol:
            status, message = "failed", f"the returned x has relative residual {rel:.1e} > rtol = {rtol:g}."
    # ||r||_inf / (1 + ||b||_inf) <= rtol ||b||_2 / (1 + ||b||_inf) <= sqrt(m) rtol: in the certificate's units
    primal_tol = math.sqrt(A.shape[0]) * rtol
    res = _result(c, A, b, x, y, status=status, method=method, iterations=k, reg=reg, reference=reference,
                  message=message, trace=trace, primal_tol=primal_tol)
    if res.status != "unverified":
        # no feasible, bounded point: the LP itself may be infeasible or unbounded (HiGHS decides, as for "flow")
        kind = _classify(c, A, b)
        if kind == "infeasible":
            raise InfeasibleLPError(f"descend(method={method!r}): the LP is infeasible (HiGHS finds no x >= 0 with "
                                    f"A x = b); after {k} steps the primal residual is {res.primal_residual:.1e}.")
        if kind == "unbounded":
            raise UnboundedLPError(f"descend(method={method!r}): the LP is unbounded below (HiGHS confirms a "
                                   f"feasible ray of decreasing cost); after {k} steps c^T x = {res.objective:.3g}.")
    return _explained(res, primal_tol)


def _classify(c, A, b) -> str:
    """HiGHS on the LP scaled to size 1: ``"infeasible"``, ``"unbounded"``, ``"optimal"`` or ``"unknown"``."""
    sA = float(np.max(np.abs(A))) or 1.0
    sb = float(np.max(np.abs(b))) or 1.0
    sc = float(np.max(np.abs(c))) or 1.0
    h = linprog(c / sc, A_eq=A / sA, b_eq=b / sb, bounds=(0, None), method="highs")
    return {0: "optimal", 2: "infeasible", 3: "unbounded"}.get(h.status, "unknown")


def _explained(res: LPResult, primal_tol: float) -> LPResult:
    """``res`` with a message naming the certificates it does not meet (none is claimed "converged")."""
    why = (f"primal residual {res.primal_residual:.1e} (feasibility needs <= {primal_tol:.1e}), dual infeasibility "
           f"{res.dual_infeasibility:.1e}, complementarity {res.complementarity:.1e}, gap {res.duality_gap:.1e}")
    if res.status == "unverified":
        text = (f"an entropic point at reg = {res.reg:.3g}, feasible and on a bounded LP but not certified "
                f"optimal: {why}.")
    elif res.status == "max_iter":
        text = f"stopped after {res.iterations} steps without a feasible point: {why}."
    else:
        text = f"{why}."
    message = f"{res.message} {text}" if res.message else text
    return dataclasses.replace(res, message=message)
