"""Exact l1 faces: removing the rounding drift of tiny gaps (docs/theory.md section 4)."""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import lapack

from .steps import DualState

#: Coordinates with gap below this are candidates for an exact l1 face (docs/theory.md section 4).
#: Snapping is exact whenever the consistency test passes, so the threshold only bounds
#: the work; 0.3 catches faces from eps ~ 0.1 on, before drift can matter.
SNAP_GAP = 0.3
#: ``sign_F`` must lie in range(Q_F^T) to this accuracy, per unit of cond(A), for F to count as a
#: face (`face_tolerance`). Householder QR is backward stable, so range(Q) misses range(A^T) by
#: an angle of ~1e-16 cond(A): a true face of a 4 x 5 problem with cond(A) = 150 measured 1.2e-14
#: (below 1e-14 * 150), columns 2e-12 apart at cond(A) = 1 measured 1.4e-12 (rejected).
SNAP_CONSISTENCY = 1e-14
#: `face_tolerance` never exceeds this: on data so ill-conditioned that range(Q) is uncertain
#: beyond it, no face is snapped (the continuation still converges; only ties stay unresolved).
SNAP_CONSISTENCY_CAP = 1e-10
#: Singular values of ``Q_F`` below this fraction of the largest count as zero. The rows of
#: ``Q`` carry rounding of ~1e-15 of their size (duplicate columns of A give rows that
#: differ by that much), so the rank test must look well above it; the consistency test
#: (`SNAP_CONSISTENCY`) guards what the projection may then change.
FACE_RANK_RTOL = 1e-12
#: `face_projector` skips its SVD when ``||R||_F ||R^{-1}||_F`` (an upper bound on ``cond_2(Q_F)``, with
#: ``R^T R = Q_F Q_F^T``) is below this: the SVD would then find full row rank (singular values above
#: 1e-6 of the largest, far above `FACE_RANK_RTOL`) and return None. Gaussian 1000 x 10000 faces of
#: 200-230 rows measured bounds of ~1e3; the SVD cost them 1.7 Gram products ``A A^T`` each.
FULL_RANK_BOUND = 1e6
#: Gaps more than this factor apart are snapped on separate levels (see `_finest_level`):
#: a level then keeps ~1e-16 * LEVEL_RATIO relative precision in its smallest gap.
LEVEL_RATIO = 1e4


def face_tolerance(R11: np.ndarray) -> float:
    """The consistency a face needs on data whose row basis has triangular factor ``R11``
    (`dlnlab.problems.RowBasis`): `SNAP_CONSISTENCY` times LAPACK's estimate of cond(R11) = cond(A)
    (``trcon``, O(m^2)), at most `SNAP_CONSISTENCY_CAP`.

    >>> face_tolerance(np.eye(3))
    1e-14
    """
    rcond, info = lapack.dtrcon(np.asarray(R11, dtype=float), norm="1", uplo="U")
    cond = 1.0 / rcond if info == 0 and rcond > 0 else math.inf
    return min(SNAP_CONSISTENCY * max(cond, 1.0), SNAP_CONSISTENCY_CAP)


def snap_to_face(Q: np.ndarray, state: DualState, faces: dict, tol: float = SNAP_CONSISTENCY) -> DualState:
    """Remove the rounding drift of tiny gaps on an exact face of the l1 ball.

    On a set F with ``sign_F`` in range(A_F^T) (a face of the BP dual), ``sign_F (1 - gap_F)``
    lies in range(A_F^T) for every dual point, hence so does ``sign_F * gap_F``. Incremental
    updates keep this only up to ~1e-16 absolute, which swamps gaps of 1e-20 and would let
    rounding, not the depth-dependent potential, choose among the l1 minimizers. Projecting
    ``sign_F * gap_F`` back onto range(A_F^T) restores it to relative precision. It changes
    nothing when ``A_F^T`` has full row rank (a unique face) or when no face is resolved.
    ``tol``: the consistency asked of ``sign_F`` (`face_tolerance` of the data).
    """
    F = _finest_level(state.gap)
    if F.size < 2:
        return state
    key = F.tobytes() + state.sign[F].tobytes()
    if key not in faces:
        faces[key] = face_projector(Q[F], state.sign[F], tol)
    U = faces[key]
    if U is None:
        return state
    sF = state.sign[F]
    v = sF * state.gap[F]
    gF = sF * (U @ (U.T @ v))
    if not np.all(gF > 0):
        return state
    gap = state.gap.copy()
    gap[F] = gF
    return DualState(state.mu, state.sign, gap, state.travel)


def _finest_level(gap: np.ndarray) -> np.ndarray:
    """The coordinates of the smallest gaps: those below `SNAP_GAP` and below the first jump
    of more than `LEVEL_RATIO` in their sorted values.

    A projection is accurate to ~1e-16 of the largest gap it sees, so gaps of 1e-17 must not
    share one with gaps of 0.2 (that would let rounding of the large ones decide among the
    small ones: duplicate columns would stop being equal).
    """
    F = np.flatnonzero(gap < SNAP_GAP)
    if F.size < 2:
        return F
    order = F[np.argsort(gap[F])]
    g = gap[order]
    jumps = np.flatnonzero(g[1:] > LEVEL_RATIO * np.maximum(g[:-1], 1e-320))
    return order[: jumps[0] + 1] if jumps.size else order


def face_projector(QF: np.ndarray, sF: np.ndarray, tol: float = SNAP_CONSISTENCY) -> np.ndarray | None:
    """Orthonormal basis of range(A_F^T) if F is an overdetermined face (``sign_F`` in it to
    ``tol``); else None (a face of full row rank is certified by `FULL_RANK_BOUND` without an SVD)."""
    if QF.shape[0] <= QF.shape[1] and _certified_full_row_rank(QF):
        return None
    U, sv, _ = np.linalg.svd(QF, full_matrices=False)
    r = int(np.sum(sv > FACE_RANK_RTOL * sv[0]))
    if r >= QF.shape[0]:
        return None
    U = U[:, :r]
    if np.max(np.abs(sF - U @ (U.T @ sF))) > tol:
        return None
    return U


def _certified_full_row_rank(QF: np.ndarray) -> bool:
    """Whether ``cond_2(Q_F) <= ||R||_F ||R^{-1}||_F < FULL_RANK_BOUND``, ``R^T R = Q_F Q_F^T`` (Cholesky):
    ``n^3`` flops for ``n`` rows, against ``n^2 r`` and more for the SVD.

    >>> _certified_full_row_rank(np.eye(3)[:2]), _certified_full_row_rank(np.array([[1.0, 0.0], [1.0, 0.0]]))
    (True, False)
    """
    R, info = lapack.dpotrf(QF @ QF.T, lower=False, clean=True)
    if info != 0:
        return False
    Rinv, info = lapack.dtrtri(R, lower=False)
    if info != 0:
        return False
    with np.errstate(over="ignore"):  # a near-singular R: ||R^-1|| = inf, not certified
        bound = float(np.linalg.norm(R)) * float(np.linalg.norm(Rinv))
    return math.isfinite(bound) and bound < FULL_RANK_BOUND
