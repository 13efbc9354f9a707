"""`deviation_limit`: the flow limit as ``x* + delta`` with ``delta`` to full relative precision.

Rate studies (THEORY.md section 5) need ``||x_inf - x*||`` long after it has dropped below
the float64 resolution of ``x*`` (``a^{1-rho}`` at ``a = 1e-100``). Subtracting two float64
vectors cannot resolve it; this module computes the deviation directly, for exact data
``y = A x*`` with ``x*`` supported on ``S`` and ``A_S`` injective.

Split the orthonormal dual as ``mu = U a + V b`` with ``range(U) = range(Q_S^T)`` and
``V`` spanning ``null(Q_S)``. Then ``z_S = Q_S U a`` does not depend on ``b`` and
``V^T z = V^T Q^T x* = 0`` exactly, so the limit conditions ``Q^T (x - x*) = 0`` read

    V^T Q_off^T x_off(a, b) = 0                        (the free directions)
    A_S delta_S = -A_off x_off                          (the support's deviation)

where ``x_off`` are the off-support entries (tiny, but evaluated to relative precision
from their dual coordinates). `flow_limit` fixes ``a`` to float64 accuracy (the support
values); ``b`` only enters through ``x_off``, which float64 residuals cannot see once they
are below 1e-16, so it is refined here by Newton on the convex function
``Phi_b(b) = sum_{i not in S} F(z_i)``, evaluated without the support terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .errors import ConvergenceError, NotBPSolutionError
from .limits import LimitResult, flow_limit
from .mirror import normalize
from .problems import Problem


@dataclass(frozen=True)
class DeviationResult:
    """``x_inf = x_star + delta`` with ``delta`` resolved to relative precision.

    ``error`` is ``||delta||_2``; ``free_residual`` the relative residual of the
    free-direction equations ``||V^T Q_off^T x_off|| / ||x_off||`` (0 when ``|S| = rank A``);
    ``limit`` the underlying `LimitResult`; ``iterations`` the refinement's Newton steps.
    """

    delta: np.ndarray
    x_star: np.ndarray
    support: np.ndarray
    error: float
    free_residual: float
    iterations: int
    status: str
    limit: LimitResult

    @property
    def x(self) -> np.ndarray:
        return self.x_star + self.delta


def deviation_limit(A, x_star, net, *, rtol: float = 1e-12, max_iter: int = 500,
                    throw: bool = True) -> DeviationResult:
    """The flow limit on exact data ``y = A x_star`` as ``x_star + delta`` (see module docstring).

    Example
    -------
    >>> import dlnlab as dl
    >>> P = dl.kink_problem(0.1)
    >>> dev = deviation_limit(P.A, P.x_true, dl.SymmetricDLN(depth=2, scale=1e-100))
    >>> bool(1e-12 < dev.error < 1e-8)   # ~ a^(1 - rho) = 1e-10, far below float64 of x*
    True
    """
    A = np.asarray(A, dtype=float)
    x_star = np.asarray(x_star, dtype=float)
    problem = Problem(A, A @ x_star)
    S = np.flatnonzero(x_star)
    off = np.setdiff1d(np.arange(problem.N), S)
    Q = problem.basis.Q
    QS = Q[S]
    if S.size == 0:
        raise NotBPSolutionError("x_star is zero: the flow limit is 0 and there is no deviation to resolve.")
    U_full, sv, _ = np.linalg.svd(QS.T, full_matrices=True)
    k = int(np.sum(sv > max(QS.shape) * np.finfo(float).eps * sv[0]))
    if k < S.size:
        raise NotBPSolutionError(
            f"A restricted to the support of x_star ({S.size} columns) has rank {k}: x_star is not a "
            "unique basis pursuit solution. Pass the unique BP solution (dl.basis_pursuit).")
    limit = flow_limit(problem, net, rtol=rtol, throw=throw)
    mapping = net.mirror_map()
    V = U_full[:, k:]
    W = Q[off] @ V
    z_off = (Q[off] @ (Q.T @ _z(limit)))  # start: the flow limit's dual, projected
    status, its, free_res = "converged", 0, 0.0
    if V.shape[1] > 0:
        c0 = z_off - W @ (V.T @ (Q.T @ _z(limit)))
        b = V.T @ (Q.T @ _z(limit))
        b, its, ok, free_res = _refine_free(mapping, c0, W, b, rtol, max_iter)
        z_off = c0 + W @ b
        if not ok:
            status = "failed"
    sign, gap = normalize(np.where(z_off < 0, -1.0, 1.0), 1.0 - np.abs(z_off))
    x_off = mapping.primal(sign, gap)
    delta = np.zeros(problem.N)
    delta[off] = x_off
    delta[S] = -np.linalg.lstsq(A[:, S], A[:, off] @ x_off, rcond=None)[0]
    result = DeviationResult(delta=delta, x_star=x_star, support=S, error=scaled_norm(delta),
                             free_residual=free_res, iterations=its, status=status, limit=limit)
    if throw and status != "converged":
        raise ConvergenceError(f"deviation_limit: the free-direction refinement did not converge "
                               f"(relative residual {free_res:.1e}).", result)
    return result


def scaled_norm(v: np.ndarray) -> float:
    """``||v||_2`` without underflow (entries of 1e-200 square to 0 in float64)."""
    big = float(np.max(np.abs(v))) if v.size else 0.0
    return big * float(np.linalg.norm(v / big)) if big > 0 else 0.0


def _z(limit: LimitResult) -> np.ndarray:
    return limit.sign * (1.0 - limit.gap)


def _refine_free(mapping, c0, W, b, rtol, max_iter):
    """Damped Newton on ``sum F(c0 + W b)`` in ``b``, scaled to the size of the off-support entries."""

    def evaluate(b):
        zo = c0 + W @ b
        sign, gap = normalize(np.where(zo < 0, -1.0, 1.0), 1.0 - np.abs(zo))
        if mapping.barrier and not np.all(gap > 0):
            return None
        return sign, gap

    point = evaluate(b)
    if point is None:
        return b, 0, False, np.inf
    for it in range(max_iter + 1):
        sign, gap = point
        x = mapping.primal(sign, gap)
        size = float(np.max(np.abs(x))) if x.size else 0.0
        if size == 0.0:
            return b, it, True, 0.0
        grad = W.T @ (x / size)
        res = float(np.linalg.norm(grad)) / float(np.linalg.norm(x / size))
        if res <= rtol:
            return b, it, True, res
        if it == max_iter:
            return b, it, False, res
        d = mapping.slope(sign, gap) / size
        H = (W.T * d) @ W
        H += 1e-14 * np.max(np.diag(H)) * np.eye(H.shape[0])
        step = -sla.solve(H, grad, assume_a="pos")
        F0 = mapping.conjugate(sign, gap) / size
        slope0 = float(grad @ step)
        t = 1.0
        for _ in range(80):
            trial = evaluate(b + t * step)
            if trial is not None:
                F1 = mapping.conjugate(*trial) / size
                if np.all(np.isfinite(F1)):
                    dF = float(np.sum(F1 - F0))
                    if dF <= 1e-4 * t * slope0:
                        break
                    if abs(dF) <= 1e-13 * float(np.sum(np.abs(F0))):
                        # below the rounding of the sum: accept if the gradient shrinks
                        x1 = mapping.primal(*trial) / size
                        if np.linalg.norm(W.T @ x1) < np.linalg.norm(grad):
                            break
            t *= 0.5
        else:
            return b, it, False, res
        b = b + t * step
        point = trial
    return b, max_iter, False, res
