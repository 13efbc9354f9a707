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
    """``Q^T diag(d) Q`` as ``B^T B``, ``B = diag(sqrt d) Q``: numpy runs a product of a matrix with
    its own transpose as a symmetric rank-k update (half the flops of a general product) and
    fills both triangles, so the result is exactly symmetric."""
    if Q.shape[0] == 0:
        return np.zeros((Q.shape[1], Q.shape[1]))
    B = Q * np.sqrt(d)[:, None]
    H = B.T @ B
    if not np.array_equal(H, H.T):  # a numpy that ran a general product: symmetrize
        H = np.triu(H) + np.triu(H, 1).T
    return H


def solve_psd(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H v = b`` for symmetric positive semidefinite ``H``, regularized when needed.

    A jitter of 1e-14 * max(diag H) caps the step in directions of negligible curvature
    (which appear at tiny scales when the support has fewer than m coordinates); it
    changes well-resolved directions by 1e-14 relative, far below the tolerance.
    """
    return _solve_psd_factor(H, b)[0]


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


#: A kept factorization is reused while the slopes have changed by at most this factor
#: ``kappa = max(rho_max, 1) / min(rho_min, 1)``, ``rho = d / d_ref`` (see `HessianCache`).
REUSE_KAPPA = 256.0
#: Preconditioned CG iterations allowed to one Newton system before it is factored afresh.
REUSE_CG_ITERATIONS = 20
#: Problems with fewer Hessian flops ``N r^2`` than this factor every step: their factorization is
#: cheaper than the Python of a CG loop.
REUSE_WORK = 1e8


class HessianCache:
    """Newton systems ``(Q^T diag(d) Q + j I) v = b`` of one problem, solved with a kept factorization.

    The dense Hessian of ``r`` dual variables costs ``N r^2`` flops (a Gram product); a product
    with it costs ``4 N r`` (two passes over ``Q``). Between nearby Newton points the slopes
    ``d`` change little, so the Cholesky factor of a former Hessian ``H_ref = Q^T diag(d_ref) Q``
    preconditions conjugate gradients on the exact one: with ``rho = d / d_ref``,

        min(rho_min, 1) (H_ref + j I)  <=  H + j I  <=  max(rho_max, 1) (H_ref + j I),

    so the preconditioned condition number is at most ``kappa = max(rho_max, 1) / min(rho_min, 1)``
    and CG reaches a relative residual ``eta`` within ``~0.5 sqrt(kappa) log(2 / eta)`` steps.
    `solve` uses the kept factor when that bound is within twice `REUSE_CG_ITERATIONS` steps and
    CG confirms it within `REUSE_CG_ITERATIONS`, and otherwise forms, factors and keeps the Hessian of the point (the
    direct solve of `solve_psd`, same jitter ``j``). Any direction it returns solves the system
    to relative residual ``eta``; Newton's stopping test uses the exact gradient, so the reuse
    changes the path to a limit, not the limit.

    >>> import numpy as np
    >>> Q = np.linalg.qr(np.random.default_rng(0).standard_normal((40, 12)))[0]
    >>> cache = HessianCache(force=True)
    >>> d, b = np.linspace(1.0, 2.0, 40), np.ones(12)
    >>> v1 = cache.solve(Q, d, b, eta=1e-8)
    >>> v2 = cache.solve(Q, 1.1 * d, b, eta=1e-8)          # reuses the factor of the first
    >>> cache.factorizations, bool(np.allclose(1.1 * v2, v1, rtol=1e-6))
    (1, True)
    """

    def __init__(self, force: bool = False):
        self.force = force
        self.factor = None  # (Cholesky factor of H_ref + j I, d_ref, j)
        self.factorizations = 0
        self.cg_iterations = 0

    def solve(self, Q: np.ndarray, d: np.ndarray, b: np.ndarray, *, eta: float, keep=None) -> np.ndarray:
        """``v`` with ``||(H + j I) v - b|| <= eta ||b||`` (exactly, up to rounding, after a fresh factorization);
        ``keep``: the coordinates of ``d`` the Hessian is formed over (the others are negligible)."""
        N, r = Q.shape
        if self.factor is not None and (self.force or N * r * r >= REUSE_WORK):
            v = self._reuse(Q, d, b, eta)
            if v is not None:
                return v
        H = weighted_gram(Q, d) if keep is None or keep.all() else weighted_gram(Q[keep], d[keep])
        self.factorizations += 1
        v, c, jitter = _solve_psd_factor(H, b)
        self.factor = None if c is None else (c, d.copy(), jitter)
        return v

    def _reuse(self, Q, d, b, eta):
        c, d_ref, jitter = self.factor
        if d_ref.shape != d.shape:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = np.where(d_ref > 0, d / d_ref, np.where(d > 0, np.inf, 1.0))
        kappa = max(float(rho.max()), 1.0) / min(float(rho.min()), 1.0)
        if not (math.isfinite(kappa) and kappa <= REUSE_KAPPA):
            return None
        eta = min(max(eta, 1e-13), 0.5)
        # the bound is pessimistic (CG took about a quarter of it): try up to twice the budget
        if 0.5 * math.sqrt(kappa) * math.log(2.0 / eta) > 2 * REUSE_CG_ITERATIONS:
            return None

        def precondition(v):
            return _potrs(c, v, lower=True)[0]

        # CG on (H + j I) v = b from v = 0, preconditioned by the kept factor
        bnorm = float(np.sqrt(b @ b))
        if not bnorm > 0:
            return np.zeros_like(b)
        v = np.zeros_like(b)
        res = b.copy()
        w = precondition(res)
        p = w
        rw = float(res @ w)
        for _ in range(REUSE_CG_ITERATIONS):
            Hp = Q.T @ (d * (Q @ p)) + jitter * p
            curv = float(p @ Hp)
            self.cg_iterations += 1
            if not (curv > 0 and math.isfinite(curv)):
                return None
            alpha = rw / curv
            v = v + alpha * p
            res = res - alpha * Hp
            if float(np.sqrt(res @ res)) <= eta * bnorm:
                return v if np.isfinite(v).all() else None
            w = precondition(res)
            rw_new = float(res @ w)
            p = w + (rw_new / rw) * p
            rw = rw_new
        return None


def _solve_psd_factor(H: np.ndarray, b: np.ndarray):
    """`solve_psd` that also returns the Cholesky factor it used and its jitter (None, None without one)."""
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
                return v, c, jitter
        jitter *= 100.0
    return np.linalg.lstsq(H, b, rcond=None)[0], None, None
