"""The entropic path ``x(reg) = argmin c^T x + reg sum(x log x - x), A x = b`` (docs/theory.md section 7).

It is the gradient-flow limit of the non-negative DLN ``x = u * u`` from ``u0 = exp(-c / (2 reg))``,
computed by Newton on the dual of the orthonormal system ``Q^T x = z`` and followed as
``reg -> 0`` by predictor-corrector continuation; `_diagnose` classifies a failure (HiGHS phase 1).
Costs are normalized by ``max|c|`` (here 2: normalized reg 0.5 is reg 1).

>>> import numpy as np
>>> path = _make_path(np.array([1.0, 2.0]), np.array([[1.0, 1.0]]), np.array([1.0]), normalize_b=False)
>>> path.start(0.5), bool(np.allclose(path.x(), [0.7310586, 0.2689414]))
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.optimize import linprog

from ..engine import DualState, newton, solve_psd, step_to, weighted_gram
from ..errors import InfeasibleLPError, NotInRangeError, NotStrictlyFeasibleError, SolverError
from ..networks.nonnegative import EntropicMap
from ..problems import _row_basis

#: Newton's stopping tolerance along the path (relative residual of the orthonormal system).
#: The crossover re-solves the face exactly, so intermediate points need no more.
PATH_TOL = 1e-9
#: Smallest ``reg / max|c|`` the continuation tries before giving up: below it the dual
#: coordinate's rounding (1e-16 absolute) is amplified by ``1/reg`` beyond 1e-4 in ``log x``.
REG_MIN = 1e-12


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
        return solve_psd(H, rhs)

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

