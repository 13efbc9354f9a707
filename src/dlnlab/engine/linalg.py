"""The dense linear algebra of the engine: weighted Gram matrices and PSD solves, one or a stack,
and the BLAS threading the engine chooses for them (`blas_threads`)."""

from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext

import numpy as np
import scipy.linalg as sla

#: First jitter of `solve_psd`, relative to ``max(diag H)``.
JITTER = 1e-14

_potrf, _potrs = sla.lapack.dpotrf, sla.lapack.dpotrs
_trtrs, _getrf, _getrs = sla.lapack.dtrtrs, sla.lapack.dgetrf, sla.lapack.dgetrs


def weighted_gram(Q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Q^T diag(d) Q`` as ``B^T B``, ``B = diag(sqrt d) Q``: numpy runs a product of a matrix with
    its own transpose as a symmetric rank-k update (half the flops of a general product) and
    fills both triangles, so the result is exactly symmetric."""
    if Q.shape[0] == 0:
        return np.zeros((Q.shape[1], Q.shape[1]))
    B = Q * np.sqrt(d)[:, None]
    with gram_threads():
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
#: 300 x 3000, 1.5x for 800 x 8000, 1.3x faster for 1200 x 12000, on 2 cores). Larger ones run only
#: their Gram products with the process's threads (`gram_threads`), the rest on one thread. Set it to
#: 0 to keep the process's own threading for every size, or to ``math.inf`` for one thread always.
SINGLE_THREAD_WORK = 1e10

_blas = None  # the BLAS libraries loaded in this process (threadpoolctl), found on first use
_gram = []  # [(library, threads)]: the threading `blas_threads` set aside for the Gram products


def _libraries():
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
    return _blas


@contextmanager
def blas_threads(N: int, r: int):
    """Within it, BLAS on one thread, restored on exit; when ``N r^2 >= SINGLE_THREAD_WORK``, the Gram
    products (`gram_threads`) keep the process's threads.

    Libraries already on one thread (``OPENBLAS_NUM_THREADS=1``, a sweep worker) are left alone.

    >>> with blas_threads(5, 3):
    ...     pass
    """
    global _gram
    if not SINGLE_THREAD_WORK > 0:  # the process's own threading everywhere
        yield
        return
    with serial_blas() as changed:
        outer, _gram = _gram, (changed if N * r * r >= SINGLE_THREAD_WORK else [])
        try:
            yield
        finally:
            _gram = outer


@contextmanager
def serial_blas():
    """Within it, every BLAS library of the process on one thread, restored on exit; yields the
    ``(library, threads)`` it changed.

    For the engine's small dense work beside the Gram products of a large problem (Cholesky of
    ``r x r``, triangular solves, the products of CG): numpy and scipy each load their own OpenBLAS,
    and a multi-threaded factorization right after a multi-threaded Gram product competes with the
    other pool's spinning threads (``r = 1000`` on 2 cores: 0.27-0.9 s, against 15-27 ms on one
    thread; a CG product 11-27 ms against 7-11 ms).
    """
    changed = [(lib, n) for lib in _libraries() if (n := lib.num_threads) != 1]
    for lib, _ in changed:
        lib.set_num_threads(1)
    try:
        yield changed
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)


@contextmanager
def gram_threads():
    """Within it, the threading that `blas_threads` set aside for a large problem's Gram products
    (nothing changes elsewhere)."""
    saved = _gram
    if not saved:
        yield
        return
    for lib, n in saved:
        lib.set_num_threads(n)
    try:
        yield
    finally:
        for lib, _ in saved:
            lib.set_num_threads(1)


#: A kept factorization is reused while the slopes left to it have changed by at most this factor
#: relative to one another, ``kappa = max(rho) / min(rho)`` over them, ``rho = d / d_ref`` (see `HessianCache`).
REUSE_KAPPA = 256.0
#: The bounds on ``kappa`` that `HessianCache` tries, each with the coordinates outside it corrected
#: exactly (a low-rank correction of the kept factor); the cheapest by `reuse_cost` is used.
REUSE_WINDOWS = (4.0, 8.0, 16.0, 32.0, 64.0, 128.0, REUSE_KAPPA)
#: Preconditioned CG iterations allowed to one Newton system before it is factored afresh.
REUSE_CG_ITERATIONS = 20
#: A window is tried while CG's bound is at most this many times `REUSE_CG_ITERATIONS`.
REUSE_BOUND_SLACK = 2.0
#: Problems with fewer Hessian flops ``N r^2`` than this factor every step: their factorization is
#: cheaper than the Python of a CG loop.
REUSE_WORK = 1e8
#: A low-rank correction has at most this fraction of ``r`` coordinates (beyond it the correction's
#: own factorization approaches the Hessian's).
MAX_CORRECTION = 0.5
#: The kept columns ``L^{-1} q_i`` of corrected coordinates (see `HessianCache`) number at most this many
#: times ``r`` (their Gram matrix is kept too); beyond, they are computed afresh for the coordinates at hand.
MAX_KEPT_ROWS = 2
#: Time of one CG iteration (two passes over ``Q``, bound by memory bandwidth, one thread) in units
#: of a Gram product ``N r^2``: measured 0.025-0.06 at 1000 x 10000 on 2 cores (`reuse_cost`).
CG_ITERATION_COST = 0.05
#: Time of a flop of the correction's setup (one thread) in units of a flop of the Gram product (the
#: process's threads): measured 3.6 (busy machine) to 5 (quiet) at 1000 x 10000 on 2 cores.
SETUP_FLOP_COST = 4.0


def reuse_cost(N: int, r: int, kappa: float, corrected: int, new: int, eta: float) -> float:
    """The cost, in Gram products ``N r^2``, of a reused solve: CG's iteration bound
    ``0.5 sqrt(kappa) log(2 / eta)`` at `CG_ITERATION_COST` each, plus a correction of ``corrected``
    coordinates, ``new`` of them not yet solved for (a triangular solve ``r^2 new``, their part of the
    capacitance ``new c r``, its LU ``2/3 c^3``) at `SETUP_FLOP_COST`.

    >>> round(reuse_cost(10000, 1000, 16.0, 0, 0, 1e-2), 2)
    0.53
    """
    c = float(corrected)
    setup = (r * r * float(new) + float(new) * c * r + 2.0 / 3.0 * c ** 3) / (float(N) * r * r)
    return 0.5 * math.sqrt(kappa) * math.log(2.0 / eta) * CG_ITERATION_COST + SETUP_FLOP_COST * setup


def reuse_windows(rho: np.ndarray, widths=REUSE_WINDOWS):
    """For each width ``kappa`` in ``widths``: the window ``[t / sqrt(k), t sqrt(k)]``, ``k <= kappa``,
    that holds the most ratios ``rho``, as ``(corrected, t, k)``: the indices outside it, its center and
    its actual width. Zero and infinite ratios are always corrected, NaN ones (``0 / 0``: a coordinate
    absent from both Hessians) never.

    >>> [(c.tolist(), round(t, 3), round(k, 3))
    ...  for c, t, k in reuse_windows(np.array([1.0, 1.1, 0.9, 50.0, 0.0]), [4.0])]
    [([3, 4], 0.995, 1.222)]
    """
    ok = (rho > 0) & np.isfinite(rho)
    idx = np.flatnonzero(ok)
    bad = np.flatnonzero(~ok & ~np.isnan(rho))
    if idx.size == 0:
        return [(bad, 1.0, 1.0) for _ in widths]
    lr = np.log(rho[idx])
    order = np.argsort(lr)
    ls = lr[order]
    out = []
    for kappa in widths:
        ends = np.searchsorted(ls, ls + math.log(kappa), side="right")
        i = int(np.argmax(ends - np.arange(ls.size)))
        j = int(ends[i]) - 1
        corrected = np.sort(np.concatenate([idx[order[:i]], idx[order[j + 1:]], bad]))
        out.append((corrected, math.exp(0.5 * (ls[i] + ls[j])), math.exp(ls[j] - ls[i])))
    return out


class HessianCache:
    """Newton systems ``(Q^T diag(d) Q + j I) v = b`` of one problem, solved with a kept factorization.

    The dense Hessian of ``r`` dual variables costs ``N r^2`` flops (a Gram product); a product
    with it costs ``4 N r`` (two passes over ``Q``). Between nearby Newton points most slopes change
    little relative to one another (at a new scale, all but a few change by about one common factor),
    so the Cholesky factor of a former Hessian ``H_ref = Q^T diag(d_ref) Q + j_ref I``, scaled and
    corrected on a few coordinates, preconditions conjugate gradients on the exact one: with
    ``rho = d / d_ref``, a set ``C`` of coordinates and ``t > 0``,

        M = t H_ref + Q_C^T diag(d_C - t d_ref_C) Q_C,     system  H + t j_ref I,

    the two agree exactly on ``C``, so ``min(rho / t) M <= H + t j_ref I <= max(rho / t) M`` over the
    coordinates outside ``C``: the preconditioned condition number is at most their
    ``kappa = max(rho) / min(rho)``, and CG reaches a relative residual ``eta`` within
    ``~0.5 sqrt(kappa) log(2 / eta)`` steps. `reuse_windows` picks ``t`` and ``C`` (the ratios outside
    the window of width ``kappa`` that holds the most) for each of `REUSE_WINDOWS`; the cheapest by
    `reuse_cost` is applied by the Woodbury identity on the kept factor ``L`` (``|C| r^2`` flops to set
    up, ``Z = L^{-1} Q_C^T |d_C - t d_ref_C|^{1/2}``, an LU of the ``|C| x |C|`` capacitance
    ``S + Z^T Z / t``, ``S`` the signs of ``d_C - t d_ref_C``). `solve` uses it when CG's bound is within
    `REUSE_BOUND_SLACK` times `REUSE_CG_ITERATIONS` steps and CG confirms it within
    `REUSE_CG_ITERATIONS`, and otherwise forms, factors and keeps the Hessian of the point (the direct
    solve of `solve_psd`, its jitter ``j``). Any direction it returns solves its system to relative
    residual ``eta``; Newton's stopping test uses the exact gradient, so the reuse changes the path to
    a limit, not the limit.

    >>> import numpy as np
    >>> Q = np.linalg.qr(np.random.default_rng(0).standard_normal((40, 12)))[0]
    >>> cache = HessianCache(force=True)
    >>> d, b = np.linspace(1.0, 2.0, 40), np.ones(12)
    >>> v1 = cache.solve(Q, d, b, eta=1e-8)
    >>> v2 = cache.solve(Q, 1e3 * d, b, eta=1e-8)          # reuses the factor of the first
    >>> cache.factorizations, bool(np.allclose(1e3 * v2, v1, rtol=1e-6))
    (1, True)
    """

    def __init__(self, force: bool = False):
        self.force = force
        self.factor = None  # (Cholesky factor of H_ref + j I, d_ref, j)
        self.factorizations = 0
        self.cg_iterations = 0
        self.corrections = 0  # reused solves with a low-rank correction
        self.corrected = 0  # coordinates in those corrections, summed

    def use_factor(self, factor: np.ndarray, d_ref: np.ndarray, jitter: float = 0.0) -> None:
        """Keep the lower Cholesky factor of ``Q^T diag(d_ref) Q + jitter I``, computed elsewhere."""
        self._kept((factor, np.array(d_ref, dtype=float), float(jitter)))

    def _kept(self, factor) -> None:
        self.factor = factor
        if factor is not None:  # the columns of L^{-1} Q_C^T computed so far, as rows, and their Gram matrix
            self._row = np.full(factor[1].shape, -1)
            self._rows = np.empty((0, factor[0].shape[0]))
            self._gram = np.empty((0, 0))

    def solve(self, Q: np.ndarray, d: np.ndarray, b: np.ndarray, *, eta: float, keep=None, image: bool = False):
        """``v`` with ``||(H + j I) v - b|| <= eta ||b||`` (exactly, up to rounding, after a fresh factorization);
        ``keep``: the coordinates of ``d`` the Hessian is formed over (the others are negligible);
        ``image``: return ``(v, Q v)`` (CG has ``Q v`` as a sum of its products ``Q p``: one pass over ``Q`` less)."""
        N, r = Q.shape
        large = N * r * r >= REUSE_WORK
        if self.factor is not None and (self.force or large):
            with serial_blas() if large else nullcontext():
                found = self._reuse(Q, d, b, eta)
            if found is not None:
                return found if image else found[0]
        H = weighted_gram(Q, d) if keep is None or keep.all() else weighted_gram(Q[keep], d[keep])
        self.factorizations += 1
        with serial_blas() if large else nullcontext():
            v, c, jitter = _solve_psd_factor(H, b)
            Qv = Q @ v if image else None
        self._kept(None if c is None else (c, d.copy(), jitter))
        return (v, Qv) if image else v

    def _reuse(self, Q, d, b, eta):
        c, d_ref, jitter = self.factor
        if d_ref.shape != d.shape:
            return None
        N, r = Q.shape
        eta = min(max(eta, 1e-13), 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            rho = d / d_ref
        best = None
        for C, t, k in reuse_windows(rho):
            # the bound is pessimistic (CG took about a quarter of it): up to REUSE_BOUND_SLACK times the budget
            bound = 0.5 * math.sqrt(k) * math.log(2.0 / eta)
            if C.size > MAX_CORRECTION * r or bound > REUSE_BOUND_SLACK * REUSE_CG_ITERATIONS:
                continue
            cost = reuse_cost(N, r, k, C.size, np.count_nonzero(self._row[C] < 0), eta)
            if best is None or cost < best[0]:
                best = (cost, C, t)
        if best is None:
            return None
        _, C, t = best
        precondition = self._preconditioner(Q, d, C, t)
        if precondition is None:
            return None
        if C.size:
            self.corrections += 1
            self.corrected += C.size
        return self._cg(Q, d, b, eta, t * jitter, precondition)

    def _preconditioner(self, Q, d, C, t):
        """``v -> M^{-1} v`` for ``M = t L L^T + Q_C^T diag(d_C - t d_ref_C) Q_C`` (``L``: the kept
        factor) by the Woodbury identity; None when its capacitance matrix is singular.

        With ``Y = L^{-1} Q_C^T`` (its columns and their Gram matrix kept while the factor is, up to
        `MAX_KEPT_ROWS` r of them), ``w = |d_C - t d_ref_C|^{1/2}``,
        ``S`` the signs and ``Z = Y diag(w)``: ``M^{-1} v = L^{-T} (u - Z K^{-1} Z^T u / t) / t``,
        ``u = L^{-1} v``, ``K = S + Z^T Z / t``.
        """
        c, d_ref, _ = self.factor
        if C.size == 0:
            return lambda v: _potrs(c, v, lower=True)[0] / t
        new = C[self._row[C] < 0]
        if new.size:
            if self._rows.shape[0] + new.size > MAX_KEPT_ROWS * c.shape[0]:  # start the kept rows afresh
                self._kept(self.factor)
                new = C
            Y, info = _trtrs(c, Q[new].T, lower=1)
            if info != 0 or not np.isfinite(Y).all():
                return None
            Y = Y.T
            n = self._rows.shape[0]
            cross = Y @ self._rows.T
            gram = np.empty((n + new.size, n + new.size))
            gram[:n, :n] = self._gram
            gram[n:, :n] = cross
            gram[:n, n:] = cross.T
            gram[n:, n:] = Y @ Y.T
            self._row[new] = np.arange(n, n + new.size)
            self._rows = np.concatenate([self._rows, Y])
            self._gram = gram
        delta = d[C] - t * d_ref[C]
        w = np.sqrt(np.abs(delta))
        rows = self._row[C]
        Zt = self._rows[rows] * w[:, None]
        K = self._gram[np.ix_(rows, rows)] * (w[:, None] * (w[None, :] / t))
        if not (np.isfinite(Zt).all() and np.isfinite(K).all()):
            return None
        if np.all(delta >= 0):  # K = I + Z^T Z / t is positive definite
            K.flat[:: K.shape[0] + 1] += 1.0
            L, info = _potrf(K, lower=True, clean=False, overwrite_a=True)
            if info != 0:
                return None

            def capacitance(u):
                return _potrs(L, u, lower=True)[0]
        else:
            K.flat[:: K.shape[0] + 1] += np.where(delta < 0, -1.0, 1.0)
            lu, piv, info = _getrf(K, overwrite_a=1)
            if info != 0:
                return None

            def capacitance(u):
                return _getrs(lu, piv, u)[0]

        def corrected(v):
            u = _trtrs(c, v, lower=1)[0]
            u = u - (capacitance(Zt @ u) / t) @ Zt
            return _trtrs(c, u, lower=1, trans=1)[0] / t

        return corrected

    def _cg(self, Q, d, b, eta, jitter, precondition):
        """CG on ``(H + jitter I) v = b`` from ``v = 0``: ``(v, Q v)``, or None unless it converges within
        `REUSE_CG_ITERATIONS`."""
        bnorm = float(np.sqrt(b @ b))
        if not bnorm > 0:
            return np.zeros_like(b), np.zeros(Q.shape[0])
        v = np.zeros_like(b)
        Qv = np.zeros(Q.shape[0])
        res = b.copy()
        w = precondition(res)
        p = w
        rw = float(res @ w)
        if not (rw > 0 and math.isfinite(rw)):
            return None
        for _ in range(REUSE_CG_ITERATIONS):
            Qp = Q @ p
            Hp = Q.T @ (d * Qp) + jitter * p
            curv = float(p @ Hp)
            self.cg_iterations += 1
            if not (curv > 0 and math.isfinite(curv)):
                return None
            alpha = rw / curv
            v = v + alpha * p
            Qv += alpha * Qp
            res = res - alpha * Hp
            if float(np.sqrt(res @ res)) <= eta * bnorm:
                return (v, Qv) if np.isfinite(v).all() else None
            w = precondition(res)
            rw_new = float(res @ w)
            if not (rw_new > 0 and math.isfinite(rw_new)):
                return None
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
