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
and the duality gap of ``(x, y)``, all relative (see `LPResult`).

Example
-------
>>> import numpy as np, dlnlab as dl
>>> A = np.array([[1.0, 1.0, 1.0, 0.0], [1.0, -1.0, 0.0, 1.0]]); b = np.array([2.0, 0.5])
>>> res = dl.solve_lp([1.0, 2.0, 3.0, 1.0], A, b)
>>> res.status, round(res.objective, 12), res.x.round(12).tolist()
('optimal', 2.75, [1.25, 0.75, 0.0, 0.0])
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.optimize import linprog

from ..errors import (ConvergenceError, InfeasibleLPError, NotInRangeError, NotStrictlyFeasibleError,
                     ProblemError, SolverError, UnboundedLPError)
from ..engine import DualState, newton, step_to, weighted_gram
from ..networks.nonnegative import EntropicMap
from ..problems import _row_basis

#: Certificate tolerance of an LP solution: relative primal residual, dual infeasibility,
#: complementarity and duality gap (see `LPResult`). The crossover lands near 1e-15; 1e-9
#: leaves room for the conditioning of the optimal basis.
LP_TOL = 1e-9
#: Newton's stopping tolerance along the path (relative residual of the orthonormal system).
#: The crossover re-solves the face exactly, so intermediate points need no more.
PATH_TOL = 1e-9
#: Smallest ``reg / max|c|`` the continuation tries before giving up: below it the dual
#: coordinate's rounding (1e-16 absolute) is amplified by ``1/reg`` beyond 1e-4 in ``log x``.
REG_MIN = 1e-12

METHODS = ("flow", "gd", "eg")


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


# ---------------------------------------------------------------------------- input and certificates


def _as_lp(c, A, b):
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


# ---------------------------------------------------------------------------- the dual system


@dataclass(frozen=True)
class _Basis:
    """``A x = b  <=>  Q^T x = z`` with ``Q`` (n x r) of full column rank; ``y = to_dual(mu)``."""

    Q: np.ndarray
    z: np.ndarray
    L: np.ndarray | None
    row: object | None

    def to_dual(self, mu):
        if self.L is not None:
            return sla.solve_triangular(self.L, mu, lower=True, trans="T", check_finite=False)
        return self.row.to_dual(mu)


def _basis(A, b) -> _Basis:
    """Cholesky-QR (``Q = A^T L^{-T}``, ``L L^T = A A^T``) when A is well conditioned, else pivoted QR.

    Cholesky-QR costs two matrix products; its columns are orthonormal up to eps cond(A)^2,
    which only affects conditioning: ``Q^T x - z = L^{-1} (A x - b)`` holds either way.
    """
    try:
        L = sla.cholesky(A @ A.T, lower=True, check_finite=False)
        d = np.diag(L)
        if d.min() > 1e-6 * d.max():  # cond(A) ~< 1e6: Newton's systems stay well scaled
            Q = sla.solve_triangular(L, A, lower=True, check_finite=False).T
            z = sla.solve_triangular(L, b, lower=True, check_finite=False)
            return _Basis(np.ascontiguousarray(Q), z, L, None)
    except (np.linalg.LinAlgError, ValueError):
        pass
    try:
        row = _row_basis(A, b)
    except NotInRangeError as exc:
        raise InfeasibleLPError(f"A x = b has no solution at all, let alone one with x >= 0: {exc}") from None
    return _Basis(row.Q, row.z, None, row)


def _fresh_state(n, r):
    return DualState(np.zeros(r), np.ones(n), np.ones(n), np.zeros(r))


# ---------------------------------------------------------------------------- infeasibility diagnosis


def _diagnose(A, b, scale):
    """HiGHS phase 1: ``max t s.t. A x = b, x >= t, t <= 1`` on ``b / scale``; raises the right error.

    Returns ``t*`` when the problem is strictly feasible (then the failure was numerical).
    """
    m, n = A.shape
    A_eq = sp.hstack([sp.csr_matrix(A), sp.csr_matrix((m, 1))]).tocsr()
    A_ub = sp.hstack([-sp.identity(n, format="csr"), sp.csr_matrix(np.ones((n, 1)))]).tocsr()
    cost = np.zeros(n + 1)
    cost[-1] = -1.0
    bounds = [(0, None)] * n + [(None, 1.0)]
    res = linprog(cost, A_ub=A_ub, b_ub=np.zeros(n), A_eq=A_eq, b_eq=b / scale, bounds=bounds, method="highs")
    if res.status == 2:
        raise InfeasibleLPError("The LP is infeasible: HiGHS phase 1 finds no x >= 0 with A x = b. "
                                "Check the signs of b and the constraints.")
    if res.status != 0:
        raise SolverError(f"HiGHS phase 1 failed ({res.message}); cannot classify the LP.")
    t = float(-res.fun)
    if t <= 1e-9:
        # coordinates that are zero at the phase-1 optimum include every forced zero
        zeros = np.flatnonzero(res.x[:n] <= 1e-9)
        raise NotStrictlyFeasibleError(
            f"A x = b, x >= 0 is feasible but has no point with x > 0 (HiGHS phase 1: max over feasible x of min_i x_i = {abs(t) * scale:.1e}); "
            "the DLN/entropic limit exp((A^T y - c)/reg) > 0 does not exist. Some of the columns "
            f"{zeros[:10].tolist()}{'...' if zeros.size > 10 else ''} are forced to 0: remove them and "
            "solve the reduced LP, or use scipy.optimize.linprog (HiGHS).")
    return t


# ---------------------------------------------------------------------------- the entropic path


@dataclass
class _Path:
    """Normalized LP on the dual system: costs ``cn = c / cscale`` (max 1), ``x = beta * xn / colscale``."""

    Q: np.ndarray
    z: np.ndarray
    cn: np.ndarray
    basis: _Basis
    cscale: float
    beta: float
    colscale: np.ndarray | float = 1.0
    state: DualState | None = None
    reg: float = math.inf  # normalized reg of `state`
    iterations: int = 0  # Hessian factorizations: Newton steps and tangent solves
    stages: int = 0

    def xn(self):
        return EntropicMap(self.cn, self.reg).primal(self.state.sign, self.state.gap)

    def x(self):
        return self.beta * self.xn() / self.colscale

    def y(self):
        return self.cscale * self.basis.to_dual(self.state.mu)

    def reduced_costs_n(self):
        """``cn - z`` to full precision from the boundary-relative state (normalized units)."""
        return (self.cn - self.state.sign) + self.state.sign * self.state.gap

    def start(self, reg, max_iter=100):
        self.state = _fresh_state(self.Q.shape[0], self.Q.shape[1])
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging dual is reported, not warned
            self.state, its, ok = newton(self.Q, self.z, EntropicMap(self.cn, reg), self.state, tol=PATH_TOL,
                                      max_iter=max_iter)
        self.iterations += its
        self.reg = reg
        return ok

    def interior(self):
        """Whether the entropic point, projected onto ``Q^T x = z``, is clearly positive.

        A cheap witness of strict feasibility; when it fails (the dual diverges and some x_i
        only reached the Newton tolerance on their way to 0), HiGHS phase 1 decides.
        """
        x = self.xn()
        dx = self.Q @ (self.z - self.Q.T @ x)
        return bool(np.min(x + dx) > 1e3 * float(np.max(np.abs(dx))))

    def tangent(self):
        """``d mu / d reg`` on the path: ``(Q^T X Q) mu' = Q^T (x log x)`` (implicit differentiation)."""
        x = self.xn()
        logx = EntropicMap(self.cn, self.reg)._exponent(self.state.sign, self.state.gap)
        keep = x > 1e-22 * x.max()
        Qk = self.Q[keep]
        H = weighted_gram(Qk, x[keep])
        rhs = Qk.T @ (x[keep] * logx[keep])
        self.iterations += 1
        try:
            cf = sla.cho_factor(H + 1e-14 * np.max(np.diag(H)) * np.eye(H.shape[0]), lower=True, check_finite=False)
            return sla.cho_solve(cf, rhs, check_finite=False)
        except np.linalg.LinAlgError:
            return np.linalg.lstsq(H, rhs, rcond=None)[0]

    def follow(self, reg_end, stop=None, *, sigma=0.3, max_stages=200, tol=PATH_TOL):
        """Continuation from the current ``reg`` down to ``reg_end`` (or until ``stop()`` is True).

        Predictor: the tangent of the path (one extra linear solve); corrector: Newton (at most
        12 steps). A failed stage is retried with the square root of the ratio ``sigma``; a
        stage solved in <= 3 steps squares the next ratio (down to 1e-3), one needing >= 7
        takes its square root: about five Newton steps per stage.
        """
        while self.reg > reg_end:
            if self.stages >= max_stages:
                return False, f"the continuation needed more than {max_stages} stages"
            new_reg = max(self.reg * sigma, reg_end)
            mapping = EntropicMap(self.cn, new_reg)
            dmu = self.tangent() * (new_reg - self.reg)
            guess = step_to(self.state, dmu, self.Q @ dmu, False)
            with np.errstate(over="ignore", invalid="ignore"):
                new, its, ok = newton(self.Q, self.z, mapping, guess, tol=tol, max_iter=12)
            self.iterations += its
            if not ok:
                sigma = math.sqrt(sigma)
                if sigma > 0.99:
                    return False, f"the continuation stalled at reg = {self.reg * self.cscale:.3g}"
                continue
            self.state, self.reg = new, new_reg
            self.stages += 1
            if its <= 3:
                sigma = max(sigma * sigma, 1e-3)
            elif its >= 7:
                sigma = math.sqrt(sigma)
            if stop is not None and stop():
                return True, "stopped"
        return True, ""


def _make_path(c, A, b, normalize_b: bool) -> _Path:
    basis = _basis(A, b)
    cscale = float(np.max(np.abs(c)))
    cscale = cscale if cscale > 0 else 1.0
    beta = 1.0
    if normalize_b:
        x_ls = basis.Q @ basis.z  # min-norm solution of the (scaled) system: the size of x
        beta = float(np.max(np.abs(x_ls))) or 1.0
    return _Path(basis.Q, basis.z / beta, c / cscale, basis, cscale, beta)


def entropic_lp(c, A, b, reg: float, *, tol: float = 1e-12, throw: bool = True) -> LPResult:
    """The entropic LP ``argmin c^T x + reg sum(x log x - x), A x = b`` (the DLN flow limit).

    It equals the gradient-flow limit of ``x = u * u`` from ``u0 = exp(-c / (2 reg))``.
    Certificates are those of the LP (``gap`` measures the distance to LP optimality);
    ``status`` is ``"entropic"`` when Newton converged.

    >>> import numpy as np, dlnlab as dl
    >>> res = dl.entropic_lp([1.0, 2.0], [[1.0, 1.0]], [1.0], reg=1.0)
    >>> np.allclose(res.x, np.exp(-np.array([1.0, 2.0])) / np.exp(-np.array([1.0, 2.0])).sum())
    True
    """
    c, A, b = _as_lp(c, A, b)
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
    return _result(c, A, b, path.x(), path.y(), status="entropic", method="flow", iterations=path.iterations,
                   stages=path.stages, reg=reg)


# ---------------------------------------------------------------------------- crossover
#
# All crossover work is in the normalized orthonormal system ``Q^T x = z`` (r x n, full row
# rank even when A is not) with costs ``cn``; `_solve_flow` maps back and certifies in A, b, c.


def _face_candidates(rn, reg, r):
    """Candidate optimal supports from entropic reduced costs ``rn`` (normalized units).

    On the path ``rn_i = -reg log x_i``: O(reg) on the optimal face, O(1) off it. Candidates:
    the columns below the largest relative jump among the smallest ``2r + 1`` values.
    """
    n = rn.size
    order = np.argsort(rn)
    K = min(n, 2 * r + 1)
    rs = np.maximum(rn[order[:K]], reg)
    cands = []
    if K >= 2:
        k = int(np.argmax(np.log(rs[1:]) - np.log(rs[:-1]))) + 1
        cands.append(np.sort(order[:k]))
    return cands


def _face_solve(Q, z, cn, xn, mu, S):
    """The point of face S nearest the entropic pair: ``Q_S^T x_S = z``, ``Q_S mu = cn_S`` (least squares).

    Returns ``(x, mu)`` with ``x >= 0`` or None when the face's primal solution has a negative entry.
    """
    QS = Q[S]
    dx = sla.lstsq(QS.T, z - QS.T @ xn[S], lapack_driver="gelsy", check_finite=False)[0]
    xS = xn[S] + dx
    if xS.size and xS.min() < -1e3 * np.finfo(float).eps * max(1.0, float(np.abs(xS).max())):
        return None
    x = np.zeros_like(xn)
    x[S] = np.maximum(xS, 0.0)
    dmu = sla.lstsq(QS, cn[S] - QS @ mu, lapack_driver="gelsy", check_finite=False)[0]
    return x, mu + dmu


class _BasisInverse:
    """``B^{-1}`` for ``B = Q[basis].T`` as an LU factorization times a product of eta matrices.

    A pivot (column ``i`` of B replaced by ``a``, ``d = B^{-1} a``) appends
    ``E = I - (d - e_i) e_i^T / d_i``; FTRAN applies ``B0^{-1}`` then the E's, BTRAN the
    transposes in reverse. Refactorized every `REFACTOR` pivots (O(r^3)).
    """

    REFACTOR = 50

    def __init__(self, Q, basis):
        self.Q = Q
        self.basis = basis
        self.lu = sla.lu_factor(Q[basis].T, check_finite=False)
        self.etas = []

    def ftran(self, v):
        """``B^{-1} v`` for a vector or a matrix of columns."""
        w = sla.lu_solve(self.lu, v, check_finite=False)
        for i, d in self.etas:
            wi = w[i] / d[i]
            w = w - np.multiply.outer(d, wi)
            w[i] = wi
        return w

    def btran(self, v):
        w = np.array(v, dtype=float)
        for i, d in reversed(self.etas):
            w[i] = w[i] - (d @ w - w[i]) / d[i]
        return sla.lu_solve(self.lu, w, trans=1, check_finite=False)

    def replace(self, i, j, d):
        self.basis[i] = j
        if len(self.etas) >= self.REFACTOR:
            self.lu = sla.lu_factor(self.Q[self.basis].T, check_finite=False)
            self.etas = []
        else:
            self.etas.append((i, d))


def _start_basis(Q, xn, rn):
    """r linearly independent columns of ``Q^T`` favouring the largest entropic ``x`` (pivoted QR)."""
    n, r = Q.shape
    cand = np.argsort(rn)[: min(n, 2 * r)]
    w = np.sqrt(np.maximum(xn[cand] / max(float(xn.max()), 1e-300), 1e-150))
    R, piv = sla.qr(Q[cand].T * w, mode="r", pivoting=True, check_finite=False)
    d = np.abs(np.diag(R))
    if d.size < r or not d[r - 1] > 0:
        return None
    return cand[piv[:r]].copy()


def _primal_push(Q, z, xn, inv, in_basis):
    """Move the superbasic entries of the feasible ``xn`` to 0 keeping ``Q^T x = z, x >= 0``.

    Megiddo's primal push: pushing ``x_j -> 0`` moves ``x_B`` along ``B^{-1} q_j``; when a basic
    entry reaches 0 first, ``j`` enters the basis in its place. Superbasics go in batches of
    decreasing size: after each batch the rest are pushed together if that keeps ``x_B >= 0``
    (the segment stays feasible by convexity). Ends at a basic feasible solution (True) or
    False if rounding makes the last check fail.
    """
    n, r = Q.shape
    xB = xn[inv.basis].copy()
    sb = np.flatnonzero(~in_basis & (xn > 0))
    sb = sb[np.argsort(-xn[sb])]
    done, batch = 0, 0
    while True:
        rest = sb[done:]
        if rest.size:
            bulk = xB + inv.ftran(Q[rest].T @ xn[rest])
        else:
            bulk = xB
        if bulk.min() >= -1e-11 * (1.0 + float(np.max(np.abs(bulk)))):
            break
        if rest.size == 0:
            return False
        batch = max(16, 2 * batch)
        chunk = rest[:batch]
        D = inv.ftran(Q[chunk].T)  # B^{-1} q_j for the whole batch (BLAS-3), kept current below
        for k, j in enumerate(chunk):
            xj = xn[j]
            d = D[:, k]
            neg = np.flatnonzero(d < -1e-12 * max(1.0, float(np.max(np.abs(d)))))
            t, i = xj, -1
            if neg.size:
                ratios = np.maximum(xB[neg], 0.0) / -d[neg]
                kk = int(np.argmin(ratios))
                if ratios[kk] < xj:
                    t, i = float(ratios[kk]), int(neg[kk])
            xB = xB + t * d
            if i < 0:
                continue
            # x_B[i] reached 0 first: j enters with its remaining value
            xB[i] = xj - t
            d = d.copy()
            in_basis[inv.basis[i]] = False
            in_basis[j] = True
            inv.replace(i, int(j), d)
            rest_D = D[:, k + 1:]
            if rest_D.size:  # apply the new eta matrix to the pending columns
                wi = rest_D[i] / d[i]
                rest_D -= np.outer(d, wi)
                rest_D[i] = wi
        done += min(batch, rest.size)
    return True


def _simplex_repair(Q, z, cn, xn, rn, max_pivots):
    """Exact LP vertex from the entropic point: a basis from it, then a bounded simplex.

    The basis of the largest entropic ``x`` is used as is when it is primal or dual feasible
    (primal or dual simplex follows); otherwise `_primal_push` turns the feasible entropic
    point into a basic feasible solution first. Primal simplex prices by Dantzig's rule and
    switches to Bland's after repeated degenerate pivots. Returns ``(x, mu, pivots)`` at an
    optimal basis, None if ``max_pivots`` did not suffice.
    """
    n, r = Q.shape
    basis = _start_basis(Q, xn, rn)
    if basis is None:
        return None
    try:
        inv = _BasisInverse(Q, basis)
    except (np.linalg.LinAlgError, ValueError):
        return None
    in_basis = np.zeros(n, dtype=bool)
    in_basis[basis] = True
    mode, stalls, pushed = None, 0, False
    for pivot in range(max_pivots + 1):
        xB = inv.ftran(z)
        mu = inv.btran(cn[inv.basis])
        red = cn - Q @ mu
        red[in_basis] = 0.0
        if not (np.all(np.isfinite(xB)) and np.all(np.isfinite(red))):
            return None
        ptol = 1e-11 * (1.0 + float(np.max(np.abs(xB))))
        dtol = 1e-11 * (1.0 + float(np.max(np.abs(mu))))
        primal_ok = xB.min() >= -ptol
        dual_ok = red.min() >= -dtol
        if primal_ok and dual_ok:
            x = np.zeros(n)
            x[inv.basis] = np.maximum(xB, 0.0)
            return x, mu, pivot
        if pivot == max_pivots:
            return None
        if mode is None:
            if not (primal_ok or dual_ok) and not pushed:
                pushed = True
                if not _primal_push(Q, z, xn, inv, in_basis):
                    return None
                continue
            mode = "primal" if primal_ok else "dual" if dual_ok else None
        if mode == "primal" and primal_ok:
            neg = np.flatnonzero(red < -dtol)
            j = int(neg[0]) if stalls > 5 else int(np.argmin(red))  # Bland's rule against cycling
            d = inv.ftran(Q[j])
            pos = np.flatnonzero(d > 1e-12 * max(1.0, float(np.max(np.abs(d)))))
            if pos.size == 0:
                return None  # an improving ray: impossible with c > 0 unless rounding
            ratios = np.maximum(xB[pos], 0.0) / d[pos]
            best = ratios.min()
            ties = pos[ratios <= best + 1e-14 * (1.0 + best)]
            i = int(ties[np.argmin(inv.basis[ties])])
            stalls = stalls + 1 if best <= ptol else 0
        elif mode == "dual" and dual_ok:
            neg = np.flatnonzero(xB < -ptol)
            i = int(neg[np.argmin(inv.basis[neg])]) if stalls > 5 else int(np.argmin(xB))
            e = np.zeros(r)
            e[i] = 1.0
            alpha = Q @ inv.btran(e)
            cand = np.flatnonzero((alpha < -1e-12 * max(1.0, float(np.max(np.abs(alpha))))) & ~in_basis)
            if cand.size == 0:
                return None  # the LP would be infeasible: rounding
            ratios = np.maximum(red[cand], 0.0) / -alpha[cand]
            best = ratios.min()
            ties = cand[ratios <= best + 1e-14 * (1.0 + best)]
            j = int(ties.min())
            stalls = stalls + 1 if best <= dtol else 0
            d = inv.ftran(Q[j])
        else:
            return None
        in_basis[inv.basis[i]] = False
        in_basis[j] = True
        inv.replace(i, j, d)
    return None


# ---------------------------------------------------------------------------- cost shifts


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


# ---------------------------------------------------------------------------- solve_lp


def solve_lp(c, A, b, method: str = "flow", *, reg: float | None = None, tol: float = LP_TOL,
             step: float | None = None, max_iter: int | None = None, time_limit: float | None = None,
             bound: float | None = None, reference: float | None = None, record_every: int = 10,
             throw: bool = True) -> LPResult:
    """Solve ``min c^T x s.t. A x = b, x >= 0`` with a non-negative DLN (docs/theory.md section 7).

    Parameters
    ----------
    method : ``"flow"`` (gradient-flow limit, continuation in reg, exact crossover), ``"gd"``
        (multiplicative GD on u) or ``"eg"`` (exponentiated gradient).
    reg : the entropic regularization (lambda) of gd/eg's initialization ``u0 = exp(-c/(2 reg))``
        (default ``0.1 max|c|``); for "flow" the start of the continuation, in units of
        ``max_j c_j / ||a_j||`` (the path runs on unit-norm columns; default 1).
    tol : certificate tolerance of an "optimal" result (relative, see `LPResult`).
    step : gd/eg step ``eta`` (fixed); default: the adaptive rule of `descend`.
    max_iter, time_limit : budgets (gd/eg: iterations, default 10000; flow: stages, default 200).
    bound : big-M bound ``M`` on ``1^T x`` used when some ``c_i <= 0`` (default ``100 (1 + ||x_ls||_1)``).
    reference : a known optimal value; sets ``reference_gap``.
    throw : raise `ConvergenceError` (flow) when no certified solution was found.

    Raises `InfeasibleLPError`, `UnboundedLPError`, `NotStrictlyFeasibleError` (the DLN needs a
    point ``x > 0`` with ``A x = b``), `ProblemError` for malformed input.
    """
    c, A, b = _as_lp(c, A, b)
    if method not in METHODS:
        raise ProblemError(f"method must be one of {METHODS}; got {method!r}.")
    if method in ("gd", "eg"):
        return descend(c, A, b, method=method, reg=reg, step=step, max_iter=10000 if max_iter is None else max_iter,
                       time_limit=time_limit, reference=reference, record_every=record_every)
    if not np.any(b):
        if np.all(c >= 0):  # x = 0 is feasible and c^T x >= 0
            return _result(c, A, b, np.zeros_like(c), np.zeros(A.shape[0]), status="optimal", method="flow",
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
        x, y = (res.x, res.y - t * w) if kind == "row-space" else (res.x[:n], res.y[:m])
        shift = kind if kind == "row-space" else f"big-M (M = {bound:.3g})"
        out = _result(c, A, b, x, y, status=res.status, method="flow", iterations=res.iterations, stages=res.stages,
                      reg=res.reg, reference=reference, shift=shift, tol=tol, message=res.message, trace=res.trace)
        if kind == "row-space" or not res.optimal or out.optimal:
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
    return _result(c, A, b, x, y, status="optimal", method="flow", iterations=path.iterations, stages=path.stages,
                   reg=0.0, reference=reference, tol=tol, trace=trace)


def _fail(c, A, b, path, msg, reference, throw, trace=None):
    res = _result(c, A, b, path.x(), path.y(), status="failed", method="flow", iterations=path.iterations,
                  stages=path.stages, reg=path.reg * path.cscale, reference=reference, message=msg,
                  trace={k: np.asarray(v) for k, v in (trace or {}).items()})
    if throw:
        raise ConvergenceError(f"solve_lp(method='flow'): {msg} Pass throw=False to inspect the partial result.", res)
    return res


# ---------------------------------------------------------------------------- GD and EG


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
    ``"entropic"`` once ``||A x - b|| <= rtol ||b||`` (the limit is the entropic LP solution, not the
    LP's), ``"stopped"`` at ``max_iter``/``time_limit``, ``"failed"`` if the loss became non-finite.

    >>> import numpy as np, dlnlab as dl
    >>> res = dl.descend([1.0, 2.0], [[1.0, 1.0]], [1.0], "eg", reg=1.0, max_iter=2000)
    >>> res.status, bool(np.allclose(res.x, [0.7310586, 0.2689414], atol=1e-6))
    ('entropic', True)
    """
    c, A, b = _as_lp(c, A, b)
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
    status, k = "stopped", 0
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
                status = "entropic"
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
    return _result(c, A, b, x, y, status=status, method=method, iterations=k, reg=reg, reference=reference,
                   message=message, trace=trace)


# ---------------------------------------------------------------------------- basis pursuit


def basis_pursuit_lp(A, y, method: str = "flow", **kwargs):
    """Basis pursuit ``min ||x||_1, A x = y`` as the LP ``A -> [A, -A]``, ``c = 1`` (docs/theory.md section 7).

    Returns ``(x, result)`` with ``x = x_plus - x_minus`` and the `LPResult` of the split LP.

    >>> import numpy as np, dlnlab as dl
    >>> x, res = dl.basis_pursuit_lp([[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0])
    >>> res.status, round(float(np.abs(x).sum()), 12)
    ('optimal', 3.0)
    """
    A = np.asarray(A, dtype=float)
    if A.ndim != 2:
        raise ProblemError(f"A must be 2-D; got shape {A.shape}.")
    n = A.shape[1]
    res = solve_lp(np.ones(2 * n), np.hstack([A, -A]), y, method=method, **kwargs)
    return res.x[:n] - res.x[n:], res
