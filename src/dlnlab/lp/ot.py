"""Entropic optimal transport as the flow limit of a non-negative DLN (docs/theory.md section 7).

Transport ``a`` (n) to ``b`` (m) at cost ``C`` (n x m): the LP ``min <C, P>`` over plans
``P >= 0`` with ``P 1 = a``, ``P^T 1 = b``. The non-negative DLN ``P = U * U`` trained on the
marginal loss from ``U0 = exp(-C / (2 reg))`` starts at Sinkhorn's Gibbs kernel
``K = U0^2 = exp(-C / reg)`` and converges to the entropic plan

    P = argmin <C, P> + reg sum(P log P - P)  s.t. marginals  =  exp((f_i + g_j - C_ij) / reg).

`solve_ot` computes it by ``method="flow"`` (Newton on the (n + m)-dimensional dual, with
the Schur complement of the row block, from one Sinkhorn sweep, with continuation in reg
when the target is too small to start at: the dense LP engine of `dlnlab.lp` cannot hold
the n m x (n + m) constraint matrix) or ``method="sinkhorn"`` (`sinkhorn`: alternating scaling, log-domain
stabilized by absorption). Both return the duals ``f, g`` and the marginal error.

>>> import numpy as np, dlnlab as dl
>>> x = np.linspace(0, 1, 5); C = (x[:, None] - x[None, :]) ** 2
>>> res = dl.solve_ot(np.full(5, 0.2), np.full(5, 0.2), C, reg=0.001)
>>> res.status, res.marginal_error < 1e-12, bool(np.allclose(res.plan, np.diag(np.full(5, 0.2)), atol=1e-6))
('converged', True, True)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.special import logsumexp

from ..engine import solve_psd
from ..errors import ConvergenceError, InfeasibleLPError, ProblemError
from ..results import Result
from .certificate import _check_tol

METHODS = ("flow", "sinkhorn")


@dataclass(frozen=True)
class OTResult(Result):
    """An entropic transport plan and its evidence.

    ``plan = exp((f_i + g_j - C_ij) / reg)``; ``cost = <C, plan>``; ``objective`` adds
    ``reg sum(P log P - P)``; ``marginal_error = ||P 1 - a||_1 + ||P^T 1 - b||_1`` relative to
    the mass; ``iterations`` (Newton steps and tangent solves, or Sinkhorn sweeps); ``status``
    (`dlnlab.results.STATUSES`) ``"converged"`` when the marginal error recomputed from the returned
    plan is <= tol, ``"imprecise"`` when the solver stopped on its own (normalized) test but the
    returned plan misses tol by rounding, ``"max_iter"`` (Sinkhorn's budget) or ``"failed"``.
    """

    plan: np.ndarray
    cost: float
    objective: float
    f: np.ndarray
    g: np.ndarray
    reg: float
    marginal_error: float
    iterations: int
    status: str
    method: str
    message: str = ""


def _as_ot(a, b, C, reg):
    for name, v in (("a", a), ("b", b), ("C", C), ("reg", reg)):
        if np.iscomplexobj(v):
            raise ProblemError(f"{name} has complex entries; transport needs real masses and costs.")
    try:
        a = np.array(a, dtype=float).ravel()
        b = np.array(b, dtype=float).ravel()
        C = np.array(C, dtype=float)
        reg = float(reg)
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"a, b, C and reg must be numeric ({exc}).") from None
    if C.shape != (a.size, b.size):
        raise ProblemError(f"C must have shape (len(a), len(b)) = ({a.size}, {b.size}); got {C.shape}.")
    for name, v in (("a", a), ("b", b), ("C", C)):
        if v.size == 0 or not np.all(np.isfinite(v)):
            raise ProblemError(f"{name} must be non-empty and finite.")
    if a.min() < 0 or b.min() < 0:
        raise ProblemError("The marginals a and b must be non-negative (masses).")
    if not (math.isfinite(reg) and reg > 0):
        raise ProblemError(f"reg must be positive and finite; got {reg!r}. For exact (unregularized) transport "
                           "use solve_lp on the transport LP or POT's ot.emd.")
    ma, mb = a.sum(), b.sum()
    if ma <= 0 or abs(ma - mb) > 1e-12 * max(ma, mb):
        raise InfeasibleLPError(f"No transport plan exists: the masses differ (sum a = {ma!r}, sum b = {mb!r}). "
                                "Normalize both marginals to the same total.")
    return a, b, C, reg


def _plan(f, g, C, reg):
    with np.errstate(over="ignore"):
        return np.exp((f[:, None] + g[None, :] - C) / reg)


def _finish(a, b, C, reg, P, f, g, its, status, method, message, scale, tol):
    """Map the normalized solution (unit mass, costs divided by ``scale``) back and measure it."""
    mass = float(a.sum())
    P = P * mass
    f = scale * f + reg * math.log(mass)
    g = scale * g
    err = (np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum()) / mass
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = float(np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0) - P))
    cost = float(np.sum(C * P))
    if status == "converged" and not err <= tol:  # the claim, rechecked on the returned plan
        status, message = "imprecise", f"marginal error {err:.1e} of the returned plan exceeds tol = {tol:g}."
    return OTResult(plan=P, cost=cost, objective=cost + reg * ent, f=f, g=g, reg=reg, marginal_error=float(err),
                    iterations=its, status=status, method=method, message=message)


# ---------------------------------------------------------------------------- Newton (the flow limit)


def _newton_step(P, r_a, r_b, reg, rhs=None):
    """Solve ``[[diag(P1), P], [P^T, diag(P^T 1)]] (df, dg) = rhs`` with ``dg[-1] = 0`` (the gauge).

    Default ``rhs = -reg (P1 - a, P^T 1 - b)``: the Newton step of the dual. Eliminates the row
    block: ``S = diag(P^T 1) - P^T diag(1/P1) P`` (m x m, positive definite without its last row).
    """
    rows, cols = P.sum(1), P.sum(0)
    if rhs is None:
        rhs = (-reg * r_a, -reg * r_b)
    ra, rb = rhs
    # Entries below 1e-13 of the largest change S by < 1e-13 relative per term: Newton with this
    # Hessian still contracts by ~1e-13 per step, and the gradient (hence the fixed point) is
    # exact. At small reg the plan is sparse and so is the product.
    keep = P > 1e-13 * float(P.max())
    if keep.mean() < 0.2:
        W = sp.csr_matrix(np.where(keep, P, 0.0) / np.sqrt(rows)[:, None])
        S = np.diag(cols) - (W.T @ W).toarray()
    else:
        W = np.asfortranarray(P / np.sqrt(rows)[:, None])
        H = sla.blas.dsyrk(1.0, W, trans=1, lower=1)
        S = np.diag(cols) - (H + np.tril(H, -1).T)
    t = rb - P.T @ (ra / rows)
    k = P.shape[1] - 1
    Sk = S[:k, :k]
    dg = np.zeros(P.shape[1])
    if k:
        dg[:k] = solve_psd(Sk, t[:k])
    df = (ra - P @ dg) / rows
    return df, dg


def _dual_value(f, g, a, b, C, reg):
    P = _plan(f, g, C, reg)
    return reg * float(P.sum()) - float(f @ a) - float(g @ b), P


def _newton(f, g, a, b, C, reg, tol, max_iter):
    """Damped Newton on ``Phi(f, g) = reg sum P - <f, a> - <g, b>`` until the marginal error <= tol."""
    phi, P = _dual_value(f, g, a, b, C, reg)
    for it in range(max_iter + 1):
        r_a, r_b = P.sum(1) - a, P.sum(0) - b
        err = float(np.abs(r_a).sum() + np.abs(r_b).sum())
        if not math.isfinite(err):
            return f, g, P, it, False
        if err <= tol:
            return f, g, P, it, True
        if it == max_iter:
            return f, g, P, it, False
        df, dg = _newton_step(P, r_a, r_b, reg)
        dec = -float(df @ r_a + dg @ r_b)  # directional derivative of Phi along the step, < 0
        t = 1.0
        for _ in range(50):
            with np.errstate(over="ignore", invalid="ignore"):
                phi1, P1 = _dual_value(f + t * df, g + t * dg, a, b, C, reg)
            if math.isfinite(phi1) and phi1 <= phi + 1e-4 * t * dec:
                break
            if math.isfinite(phi1) and abs(phi1 - phi) <= 1e-14 * (abs(phi) + 1.0):
                r1 = np.abs(P1.sum(1) - a).sum() + np.abs(P1.sum(0) - b).sum()
                if r1 < err:  # Phi cannot resolve the decrease: accept if the marginals improve
                    break
            t *= 0.5
        else:
            return f, g, P, it, False
        f, g, phi, P = f + t * df, g + t * dg, phi1, P1
    return f, g, P, max_iter, False


def _ot_flow(a, b, C, reg, tol, max_iter):
    """Newton from one log-domain Sinkhorn sweep, at reg itself when that converges within 15 steps;
    otherwise at the smallest of ``10 reg, 100 reg, ..., 1`` that does, followed by continuation in
    reg down to the target (tangent predictor, Newton corrector, adaptive ratio)."""
    start = reg
    total = 0
    while True:
        f = start * (np.log(a) - logsumexp(-C / start, axis=1))
        g = np.zeros(b.size)
        last = start >= 1.0
        f, g, P, its, ok = _newton(f, g, a, b, C, start, tol if start == reg else 1e-9, 100 if last else 15)
        total += its
        if ok or last:
            break
        start = min(10.0 * start, 1.0)
    cur, sigma = start, 0.3
    while ok and cur > reg:
        if total > max_iter:
            return f, g, P, total, False, f"more than {max_iter} Newton steps"
        new = max(cur * sigma, reg)
        # tangent of the path: H (f', g') = ((P log P) 1, (P log P)^T 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            PL = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
        df, dg = _newton_step(P, None, None, cur, rhs=(PL.sum(1), PL.sum(0)))
        total += 1
        f1, g1, P1, its, ok1 = _newton(f + (new - cur) * df, g + (new - cur) * dg, a, b, C, new,
                                       tol if new == reg else 1e-9, 12)
        total += its
        if not ok1:
            sigma = math.sqrt(sigma)
            if sigma > 0.99:
                return f, g, P, total, False, f"the continuation stalled at reg = {cur:.3g}"
            continue
        f, g, P, cur = f1, g1, P1, new
        if its <= 3:
            sigma = max(sigma * sigma, 1e-3)
        elif its >= 7:
            sigma = math.sqrt(sigma)
    return f, g, P, total, ok, "" if ok else "Newton failed at the starting reg"


# ---------------------------------------------------------------------------- Sinkhorn


def _sinkhorn(a, b, C, reg, tol, max_iter, time_limit, tau=1e50):
    """Alternating scaling ``u = a / (K v)``, ``v = b / (K^T u)`` with ``K = exp((f + g - C)/reg)``.

    Log-domain stabilized by absorption: when ``u`` or ``v`` leave ``[1/tau, tau]`` they are
    absorbed into the potentials ``f += reg log u``, ``g += reg log v`` and ``K`` is rebuilt, so
    nothing under- or overflows at any reg; the first sweep is a full log-domain one.
    """
    f = reg * (np.log(a) - logsumexp(-C / reg, axis=1))
    g = reg * (np.log(b) - logsumexp((f[:, None] - C) / reg, axis=0))
    K = _plan(f, g, C, reg)
    u, v = np.ones(a.size), np.ones(b.size)
    t0 = time.perf_counter()
    it = 0
    for it in range(1, max_iter + 1):
        Kv = K @ v
        u = a / Kv
        Ktu = K.T @ u
        v = b / Ktu
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(v))) or np.any(Kv == 0) or np.any(Ktu == 0):
            return f, g, K, it, False, "scaling underflowed; increase reg"
        if np.max(np.abs(np.log(u))) > math.log(tau) or np.max(np.abs(np.log(v))) > math.log(tau):
            f, g = f + reg * np.log(u), g + reg * np.log(v)
            K = _plan(f, g, C, reg)
            u, v = np.ones(a.size), np.ones(b.size)
        if it % 10 == 0 or it == max_iter:
            err = float(np.abs(u * (K @ v) - a).sum())  # the column marginal is exact after the v-update
            if err <= tol:
                break
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                return f + reg * np.log(u), g + reg * np.log(v), None, it, False, "time limit reached"
    else:
        return f + reg * np.log(u), g + reg * np.log(v), None, it, False, f"{max_iter} sweeps did not reach tol"
    return f + reg * np.log(u), g + reg * np.log(v), None, it, True, ""


def sinkhorn(a, b, C, reg: float, *, tol: float = 1e-12, max_iter: int = 100_000,
             time_limit: float | None = None) -> OTResult:
    """Entropic OT by Sinkhorn's scaling (log-stabilized); see `solve_ot`."""
    return solve_ot(a, b, C, reg, method="sinkhorn", tol=tol, max_iter=max_iter, time_limit=time_limit,
                    throw=False)


def solve_ot(a, b, C, reg: float, method: str = "flow", *, tol: float = 1e-12, max_iter: int | None = None,
             time_limit: float | None = None, throw: bool = True) -> OTResult:
    """The entropic transport plan from ``a`` to ``b`` at cost ``C`` (the DLN flow limit; see module).

    Parameters
    ----------
    reg
        entropic regularization ``lambda`` > 0 (the DLN starts at ``U0 = exp(-C / (2 reg))``).
    method
        ``"flow"`` (dual Newton with continuation in reg) or ``"sinkhorn"``.
    tol
        marginal error ``||P1 - a||_1 + ||P^T 1 - b||_1`` relative to the mass, in (0, 1).
    max_iter
        Newton steps (flow, default 500) or Sinkhorn sweeps (default 100000).
    throw
        raise `ConvergenceError` if not converged (flow); else return with ``status``.

    Zero-mass entries of ``a`` or ``b`` carry no transport: their rows/columns of the plan are 0.
    """
    a, b, C, reg = _as_ot(a, b, C, reg)
    tol = _check_tol("tol", tol)
    if method not in METHODS:
        raise ProblemError(f"method must be one of {METHODS}; got {method!r}.")
    rows, cols = np.flatnonzero(a > 0), np.flatnonzero(b > 0)
    mass = a.sum()
    an, bn, Cn = a[rows] / mass, b[cols] / mass, C[np.ix_(rows, cols)]
    scale = float(np.max(np.abs(Cn))) or 1.0
    Cn, regn = Cn / scale, reg / scale
    if method == "flow":
        f, g, P, its, ok, message = _ot_flow(an, bn, Cn, regn, tol, 500 if max_iter is None else max_iter)
    else:
        f, g, P, its, ok, message = _sinkhorn(an, bn, Cn, regn, tol, 100_000 if max_iter is None else max_iter,
                                              time_limit)
        P = _plan(f, g, Cn, regn)
    plan = np.zeros(C.shape)
    plan[np.ix_(rows, cols)] = P
    F = np.full(a.size, -np.inf)
    G = np.full(b.size, -np.inf)
    F[rows], G[cols] = f, g
    budget = method == "sinkhorn" and not message.startswith("scaling underflowed")
    status = "converged" if ok else "max_iter" if budget else "failed"
    res = _finish(a, b, C, reg, plan, F, G, its, status, method, message, scale, tol)
    if throw and not ok and method == "flow":
        raise ConvergenceError(f"solve_ot did not converge ({message}); marginal error {res.marginal_error:.2e}. "
                               "Pass throw=False to inspect the partial result.", res)
    return res
