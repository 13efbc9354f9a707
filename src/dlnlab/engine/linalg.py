"""The dense linear algebra of the engine: weighted Gram matrices and PSD solves, one or a stack,
and the BLAS threading the engine chooses for them (`blas_threads`)."""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import scipy.linalg as sla

#: First jitter of `solve_psd`, relative to ``max(diag H)``.
JITTER = 1e-14

_potrf, _potrs = sla.lapack.dpotrf, sla.lapack.dpotrs


def weighted_gram(Q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Q^T diag(d) Q`` by a symmetric rank-k update (half the flops of a general product)."""
    if Q.shape[0] == 0:
        return np.zeros((Q.shape[1], Q.shape[1]))
    B = np.asfortranarray(Q * np.sqrt(d)[:, None])
    H = sla.blas.dsyrk(1.0, B, trans=1, lower=1)
    return H + np.tril(H, -1).T


def solve_psd(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H v = b`` for symmetric positive semidefinite ``H``, regularized when needed.

    A jitter of 1e-14 * max(diag H) caps the step in directions of negligible curvature
    (which appear at tiny scales when the support has fewer than m coordinates); it
    changes well-resolved directions by 1e-14 relative, far below the tolerance.
    """
    diag = H.diagonal()
    scale = float(diag.max()) if H.size else 1.0
    if not math.isfinite(scale) or scale <= 0:
        scale = 1.0
    jitter = JITTER * scale
    for _ in range(8):
        # LAPACK's Cholesky directly (what cho_factor / cho_solve call, without their per-call checks),
        # of H + jitter I (the jitter added to the diagonal of a copy)
        Hj = H.copy()
        Hj.flat[::H.shape[0] + 1] = diag + jitter
        c, info = _potrf(Hj, lower=True, clean=False, overwrite_a=True)
        if info == 0:
            v, info = _potrs(c, b, lower=True)
            if info == 0 and np.isfinite(v).all():
                return v
        jitter *= 100.0
    return np.linalg.lstsq(H, b, rcond=None)[0]


def weighted_gram_stack(Q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Q_b^T diag(d_b) Q_b`` for stacks ``Q`` (B, N, r) and ``d`` (B, N), symmetric by construction."""
    X = Q * np.sqrt(d)[:, :, None]
    return np.matmul(np.swapaxes(X, 1, 2), X)


def solve_psd_stack(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`solve_psd` on a stack: ``H_b v_b = b_b`` for (B, r, r) ``H`` and (B, r) ``b``.

    One Cholesky of the whole stack with `solve_psd`'s first jitter; if any matrix is not
    numerically positive definite, each is solved alone by `solve_psd`.
    """
    diag = np.diagonal(H, axis1=1, axis2=2)
    scale = np.max(diag, axis=1, initial=0.0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    try:
        L = np.linalg.cholesky(H + (JITTER * scale)[:, None, None] * np.eye(H.shape[1]))
        v = sla.cho_solve((L, True), b[:, :, None], check_finite=False)[:, :, 0]
        if np.all(np.isfinite(v)):
            return v
    except np.linalg.LinAlgError:
        pass
    return np.stack([solve_psd(Hb, bb) for Hb, bb in zip(H, b)]) if len(b) else b.copy()


#: Problems whose Hessian ``Q^T diag(d) Q`` costs fewer flops than this (``N r^2``) run BLAS on one
#: thread: their many small factorizations are slower multi-threaded (measured 2.2x slower for
#: 300 x 3000, 1.5x for 800 x 8000, 1.3x faster for 1200 x 12000, on 2 cores). Set it to 0 to keep
#: the process's own threading for every size, or to ``math.inf`` for one thread always.
SINGLE_THREAD_WORK = 1e10

_blas = None  # the BLAS libraries loaded in this process (threadpoolctl), found on first use


@contextmanager
def blas_threads(N: int, r: int):
    """Within it, BLAS on one thread when ``N r^2 < SINGLE_THREAD_WORK``, restored on exit.

    Libraries already on one thread (``OPENBLAS_NUM_THREADS=1``, a sweep worker) are left alone.

    >>> with blas_threads(5, 3):
    ...     pass
    """
    global _blas
    if not N * r * r < SINGLE_THREAD_WORK:
        yield
        return
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    changed = [(lib, n) for lib in _blas if (n := lib.num_threads) != 1]
    for lib, _ in changed:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)
