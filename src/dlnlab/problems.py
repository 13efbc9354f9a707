"""Problems `(A, y)`: validation, `.npz` input/output, generators and the papers' fixtures.

A `Problem` is an underdetermined linear system ``A x = y`` (``A`` of shape ``(m, N)``,
``m < N``) with ``y`` in the range of ``A``, optionally with a ground truth ``x_true``.
Validation computes a pivoted QR factorization of ``A^T`` once; the solvers reuse it
(orthonormal rows make the dual Newton systems well scaled).

``A`` may be a `scipy.sparse` matrix. The engine's basis ``Q`` (N x r) is dense whatever ``A``
is, so the problem stores ``A`` densely too (the same memory as ``Q``) and keeps the sparse
form as `Problem.A_sparse`, which basis pursuit hands to HiGHS. Complex, object, string and
date input is refused with `ProblemError`: a cast would drop imaginary parts or parse text.
"""

from __future__ import annotations

import io
import math
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from .errors import InconsistentTruthWarning, NotInRangeError, ProblemError
from .files import atomic_write_bytes

#: Relative tolerance of the range test: ``||P_perp y|| <= RANGE_RTOL * ||y||``.
#: 1e-8 leaves eight orders of magnitude above float64 rounding of a QR projection
#: (about 1e-15 * cond) while rejecting any y that is visibly off range(A).
RANGE_RTOL = 1e-8


@dataclass(frozen=True)
class RowBasis:
    """Orthonormal-row form of a problem: ``Q^T x = z`` is equivalent to ``A x = y``.

    ``Q`` (N x r) has orthonormal columns spanning range(A^T); ``z = R11^{-T} y_P``.
    ``to_dual`` maps a dual vector ``mu`` of the orthonormal system (``A_orth^T mu = Q mu``)
    back to ``lam`` with ``A^T lam = Q mu``.
    """

    Q: np.ndarray
    z: np.ndarray
    R11: np.ndarray
    perm: np.ndarray
    m: int

    @property
    def rank(self) -> int:
        return self.Q.shape[1]

    def to_dual(self, mu: np.ndarray) -> np.ndarray:
        lam = np.zeros(self.m)
        lam[self.perm[: self.rank]] = _solve_upper(self.R11, mu)
        return lam

    def min_norm(self) -> np.ndarray:
        """The minimum-norm solution ``x_ls = Q z`` of ``A x = y``."""
        return self.Q @ self.z

    def off_range(self, v: np.ndarray) -> np.ndarray:
        """``v - Q Q^T v``: the part of ``v`` off range(A^T)."""
        return v - self.Q @ (self.Q.T @ v)


@dataclass(frozen=True)
class GramBasis:
    """The rows of ``A`` themselves as the dual's basis, for a large well-conditioned problem:
    ``Q = A^T / s``, ``z = y / s`` with ``s`` the power of two just above ``||A||_2`` (as estimated by
    10 power steps: ``||Q||_2`` is about 1, as for an orthonormal basis, and the division is exact),
    and ``R11`` the Cholesky factor of ``Q^T Q = R11^T R11`` (``A A^T / s^2``).

    ``Q^T x = z`` is ``A x = y``; Newton's method is affine invariant, so the dual solved in these
    coordinates takes the steps it takes on the orthonormal form, without the cost of orthonormalizing
    (2-3 Gram products at 1000 x 10000). ``to_dual(mu) = mu / s`` (``A^T lam = Q mu``); the projections
    that orthonormality gave for free (`min_norm`, `off_range`) are solves with ``R11``.
    """

    Q: np.ndarray
    z: np.ndarray
    R11: np.ndarray
    scale: float
    m: int

    @property
    def rank(self) -> int:
        return self.m

    @property
    def perm(self) -> np.ndarray:
        return np.arange(self.m)

    def to_dual(self, mu: np.ndarray) -> np.ndarray:
        return np.asarray(mu, dtype=float) / self.scale

    def _normal_solve(self, b: np.ndarray) -> np.ndarray:
        return sla.cho_solve((self.R11, False), b, check_finite=False)

    def min_norm(self) -> np.ndarray:
        """``x_ls = Q (Q^T Q)^{-1} z``, the minimum-norm solution of ``A x = y``."""
        return self.Q @ self._normal_solve(self.z)

    def off_range(self, v: np.ndarray) -> np.ndarray:
        """``v - Q lam`` for the least-squares ``lam`` (normal equations and one step of refinement):
        the part of ``v`` off range(A^T), and an explicit certificate (``||v - Q lam||`` bounds the
        distance of ``v`` from range(A^T) for any ``lam``)."""
        lam = self._normal_solve(self.Q.T @ v)
        res = v - self.Q @ lam
        lam = lam + self._normal_solve(self.Q.T @ res)
        return v - self.Q @ lam


def real_array(v, name: str, error: type = ProblemError) -> np.ndarray:
    """``v`` (array-like or `scipy.sparse`) as a float64 array, or `ProblemError` saying why not.

    Booleans and integers are converted; complex, object (mixed or ragged lists, Python objects),
    string and date/time dtypes are refused rather than cast (raising ``error``, default
    `ProblemError`). A sparse matrix is densified.

    >>> real_array([[1, 0], [0, 2]], "A").dtype.name
    'float64'
    """
    if sp.issparse(v):
        try:
            dense = v.toarray()
        except MemoryError:
            raise error(f"{name} is a sparse {v.shape[0]} x {v.shape[1]} matrix whose dense form "
                               f"({v.shape[0] * v.shape[1] * 8 / 2**30:.1f} GiB) does not fit in memory; the "
                               "dual engine works on a dense orthonormal basis of the rows of the same size. "
                               "Reduce N or select columns first.") from None
        v = dense
    else:
        try:
            v = np.asarray(v)
        except (TypeError, ValueError) as exc:
            raise error(f"{name} must be a real numeric array; got {type(v).__name__} ({exc}).") from None
    kind = v.dtype.kind
    if kind == "c":
        raise error(f"{name} has complex dtype {v.dtype}; dlnlab needs real data. Split a complex system "
                           "into its real and imaginary parts first (e.g. [[Re A, -Im A], [Im A, Re A]]).")
    if kind not in "biuf":
        raise error(f"{name} has dtype {v.dtype} (not a real number type); pass a float array, e.g. "
                           f"np.asarray({name}, dtype=float) once every entry is a number.")
    return v.astype(float, copy=False)


def _as_matrix(A) -> np.ndarray:
    A = real_array(A, "A")
    if A.ndim != 2:
        raise ProblemError(f"A must be 2-D (m x N); got an array of shape {A.shape}. Reshape it, e.g. A.reshape(1, -1) for one row.")
    if A.size == 0:
        raise ProblemError(f"A is empty (shape {A.shape}); pass at least one equation and two unknowns.")
    if not np.all(np.isfinite(A)):
        raise ProblemError(f"A has {int(np.sum(~np.isfinite(A)))} non-finite entries (NaN or inf); clean the data first.")
    return A


def _as_vector(v, name: str, n: int, what: str) -> np.ndarray:
    v = real_array(v, name)
    if v.ndim == 2 and 1 in v.shape:
        v = v.ravel()
    if v.shape != (n,):
        raise ProblemError(f"{name} must have shape ({n},) to match {what}; got {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise ProblemError(f"{name} has non-finite entries (NaN or inf); clean the data first.")
    return v


def _frozen(v: np.ndarray, given) -> np.ndarray:
    """``v`` read-only, copied first when it is the caller's own writable array (never freeze theirs)."""
    if v is given and v.flags.writeable:
        v = v.copy()
    v.setflags(write=False)
    return v


@dataclass(frozen=True, eq=False)
class Problem:
    """A validated underdetermined system ``A x = y`` with ``y`` in range(A).

    ``A`` is anything `numpy.asarray` reads as a real matrix, or a `scipy.sparse` matrix: then
    ``P.A`` is its dense float64 copy (the solvers' basis ``Q`` is dense, of the same size) and
    ``P.A_sparse`` its CSR form (None for dense input), passed to HiGHS by `basis_pursuit`.
    ``x_true`` (a ground truth, optional) is only compared with, never solved for: one that
    does not satisfy ``A x_true = y`` to `RANGE_RTOL` (relative to ``max(||y||, ||A||_F
    ||x_true||)``) emits `InconsistentTruthWarning`, not an error, since ``(A, y)`` is still a
    valid problem and noisy data ``y = A x_true + e`` are a legitimate case (`gaussian_problem`
    with ``noise > 0``); the mismatch is kept as ``P.truth_residual``.

    Examples
    --------
    >>> import dlnlab as dl
    >>> P = dl.Problem([[1, 1, 1], [3, 0, 1]], [3, 3])
    >>> P.m, P.N, P.rank
    (2, 3, 2)
    """

    A: np.ndarray
    y: np.ndarray
    x_true: np.ndarray | None = None
    name: str = ""
    A_sparse: sp.csr_array | None = field(init=False, repr=False)
    _basis: RowBasis | None = field(init=False, repr=False)
    _gram: GramBasis | None = field(init=False, repr=False)

    def __post_init__(self):
        given = self.A
        A = _as_matrix(given)
        A_sparse = sp.csr_array(given, dtype=float, copy=True) if sp.issparse(given) else None
        m, N = A.shape
        if m >= N:
            raise ProblemError(
                f"A has shape {A.shape}: m = {m} equations >= N = {N} unknowns. dlnlab studies "
                "over-parameterized (underdetermined) systems; pass a wide matrix with m < N."
            )
        y = _as_vector(self.y, "y", m, f"the {m} rows of A")
        x_true = None if self.x_true is None else _as_vector(self.x_true, "x_true", N, f"the {N} columns of A")
        A, y = _frozen(A, given), _frozen(y, self.y)
        x_true = None if x_true is None else _frozen(x_true, self.x_true)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "A_sparse", A_sparse)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "x_true", x_true)
        gram = _gram_basis(A, y)
        object.__setattr__(self, "_gram", gram)
        object.__setattr__(self, "_basis", _row_basis(A, y) if gram is None else None)
        if x_true is not None and self.truth_residual > RANGE_RTOL:
            warnings.warn(
                f"x_true does not satisfy A x_true = y: ||A x_true - y|| is {self.truth_residual:.2e} relative to "
                f"max(||y||, ||A||_F ||x_true||) (tolerance {RANGE_RTOL:g}). Errors against x_true then measure "
                "more than recovery; expected when y is noisy, otherwise check that x_true, A and y belong together.",
                InconsistentTruthWarning, stacklevel=3)

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def N(self) -> int:
        return self.A.shape[1]

    @property
    def rank(self) -> int:
        return self.solver_basis.rank

    @property
    def basis(self) -> RowBasis:
        """Orthonormal-row form (see `RowBasis`); computed on first use for a problem whose solvers
        run on its rows (`solver_basis`)."""
        if self._basis is None:
            object.__setattr__(self, "_basis", _row_basis(self.A, self.y, self._gram))
        return self._basis

    @property
    def solver_basis(self) -> RowBasis | GramBasis:
        """The basis `flow_limit` solves the dual in: the rows of ``A`` (`GramBasis`) for a large
        problem whose ``A A^T`` is certified well conditioned, else the orthonormal `basis`."""
        return self._gram if self._gram is not None else self.basis

    @cached_property
    def truth_residual(self) -> float | None:
        """``||A x_true - y|| / max(||y||, ||A||_F ||x_true||)``, or None without ``x_true``."""
        if self.x_true is None:
            return None
        scale = max(self.y_norm, float(np.linalg.norm(self.A)) * float(np.linalg.norm(self.x_true)))
        r = float(np.linalg.norm(self.A @ self.x_true - self.y))
        return r / scale if scale > 0 else r

    @cached_property
    def y_norm(self) -> float:
        return scaled_norm(self.y)

    def relative_residual(self, x: np.ndarray) -> float:
        """``||A x - y|| / ||y||`` (absolute when y = 0), by `scaled_norm` (exact for any data size)."""
        with np.errstate(over="ignore", invalid="ignore"):
            r = scaled_norm(self.A @ x - self.y)
        return r / self.y_norm if self.y_norm > 0 else r

    def transformed(self, M: np.ndarray) -> "Problem":
        """The equivalent problem ``(M A, M y)`` for an invertible ``M`` (same solutions)."""
        M = real_array(M, "M")
        return Problem(M @ self.A, M @ self.y, self.x_true, self.name)

    def save(self, path) -> Path:
        """Write ``A``, ``y`` (and ``x_true``) to a ``.npz`` file atomically."""
        arrays = {"A": self.A, "y": self.y}
        if self.x_true is not None:
            arrays["x_true"] = self.x_true
        return save_npz(path, **arrays)

    @classmethod
    def load(cls, path) -> "Problem":
        """Read a problem from ``.npz`` with keys ``A``, ``y`` and optional ``x_true``."""
        data = load_npz(path, required=("A", "y"), optional=("x_true",))
        return cls(data["A"], data["y"], data.get("x_true"), name=Path(path).stem)


def as_problem(A, y=None) -> Problem:
    """Accept either a `Problem` or the pair ``(A, y)``."""
    if isinstance(A, Problem):
        if y is not None:
            raise ProblemError("Pass either a Problem or (A, y), not both.")
        return A
    if y is None:
        raise ProblemError("y is missing: call with (A, y) or with a Problem.")
    return Problem(A, y)


def scaled_norm(v) -> float:
    """``||v||_2`` at any magnitude: ``math.hypot`` for short vectors, the plain sum of squares
    where it cannot under- or overflow, else ``m ||v / m||`` with ``m = max |v|``.

    >>> scaled_norm(np.array([3e-200, 4e-200]))
    5e-200
    """
    v = np.asarray(v, dtype=float).ravel()
    if v.size <= 64:  # short vectors: math.hypot (scaled and accurately rounded), no numpy calls
        h = math.hypot(*v.tolist())
        if math.isfinite(h):
            return h
    with np.errstate(over="ignore"):
        squares = float(v @ v)
    # the plain sum of squares when it is finite and far above underflow (each lost square is
    # below 2.3e-308, i.e. 1e-100 of it relative even for 1e8 entries): no copy, no max
    if 1e-200 < squares < math.inf:
        return math.sqrt(squares)
    m = float(np.max(np.abs(v))) if v.size else 0.0
    if m == 0.0 or not math.isfinite(m):  # 0, inf or nan: the norm is the same
        return m
    return m * float(np.linalg.norm(v / m))


#: A full-row-rank ``A`` whose triangular factor has a reciprocal condition estimate above this
#: keeps the QR without column pivoting (see `_row_basis`)...
FAST_BASIS_RCOND = 1e-8
#: ... when its QR costs at least this many flops ``m^2 N`` (smaller problems: pivoted QR always).
FAST_BASIS_WORK = 1e8


#: CholeskyQR is tried when LAPACK's estimate of ``1 / cond_1(R)`` of ``A A^T = R^T R`` is above this
#: (its loss of orthogonality grows like ``eps cond(A)^2``; Gaussian 1000 x 10000 measured 0.013, 500 x 1000 0.003)...
CHOLESKY_BASIS_RCOND = 1e-3
#: ... and kept when ``||Q^T Q - I||_F`` is at most this. Householder QR of the Gaussian 1000 x 10000
#: problem measured 1.4e-14, CholeskyQR 1.5e-14: the bound keeps the basis at Householder's level
#: of orthogonality (the KKT evidence, a projection by ``Q Q^T``, is exact to it).
CHOLESKY_BASIS_ORTHOGONALITY = 1e-13


def _gram_basis(A: np.ndarray, y: np.ndarray) -> GramBasis | None:
    """The `GramBasis` of a problem with at least `FAST_BASIS_WORK` flops ``m^2 N`` whose ``A A^T = R^T R``
    has LAPACK's estimate of ``1 / cond_1(R)`` above `CHOLESKY_BASIS_RCOND` (then ``A`` has full row rank
    ``m`` and every ``y`` is in its range); None otherwise. One Gram product and an ``m x m`` Cholesky."""
    m, N = A.shape
    if not (0 < m <= N and m * m * N >= FAST_BASIS_WORK):
        return None
    from .engine.linalg import serial_blas  # (the engine imports the networks, which import this module)

    R = _gram_factor(A)
    if R is None:
        return None
    # s >= ||A||_2 = ||R||_2 (10 power steps on R^T R, 2% added), the next power of two: A / s is exact
    with serial_blas():
        v = np.ones(m) / math.sqrt(m)
        for _ in range(10):
            w = R.T @ (R @ v)
            v = w / np.linalg.norm(w)
        norm = math.sqrt(float(np.linalg.norm(R.T @ (R @ v))))
    if not (math.isfinite(norm) and norm > 0):
        return None
    s = 2.0 ** math.ceil(math.log2(1.02 * norm))
    return GramBasis(Q=(A / s).T, z=y / s, R11=R / s, scale=s, m=m)


def _gram_factor(A: np.ndarray) -> np.ndarray | None:
    """The upper Cholesky factor ``R`` of ``A A^T = R^T R`` where LAPACK's estimate of ``1 / cond_1(R)``
    is above `CHOLESKY_BASIS_RCOND`; None otherwise. One Gram product (on the process's BLAS threads)
    and an ``m x m`` Cholesky (on one)."""
    from .engine.linalg import gram_threads, serial_blas

    with gram_threads():
        G = A @ A.T
    with serial_blas():
        R, info = sla.lapack.dpotrf(G, lower=False, clean=True, overwrite_a=True)
        if info != 0 or not np.all(np.isfinite(R)):
            return None
        rcond, info = sla.lapack.dtrcon(R, norm="1", uplo="U", diag="N")
    return R if info == 0 and rcond > CHOLESKY_BASIS_RCOND else None


def _cholesky_basis(A: np.ndarray, y: np.ndarray, R: np.ndarray | None = None) -> RowBasis | None:
    """The row basis by CholeskyQR, ``R^T R = A A^T``, ``Q = A^T R^{-1}``, or None where it is not certified
    (``R``: the factor when already known, e.g. from `_gram_basis`).

    Its cost is one Gram product, one triangular solve and the certificate (a second Gram product,
    ``Q^T Q``): 3.3 products ``A A^T`` at 1000 x 10000, against 5.2 for the Householder QR.
    ``range(Q) = range(A^T)`` by construction; orthonormality is measured, not assumed: the basis
    is kept only when ``||Q^T Q - I||_F <= CHOLESKY_BASIS_ORTHOGONALITY``.
    """
    if R is None:
        R = _gram_factor(A)
        if R is None:
            return None
    W = sla.solve_triangular(R, A, trans="T", lower=False, check_finite=False)  # W = R^{-T} A = Q^T
    E = W @ W.T
    E.flat[:: E.shape[0] + 1] -= 1.0
    if not float(np.linalg.norm(E)) <= CHOLESKY_BASIS_ORTHOGONALITY:
        return None
    z = sla.solve_triangular(R.T, y, lower=True)
    m = A.shape[0]
    return RowBasis(Q=W.T, z=z, R11=R, perm=np.arange(m), m=m)


_EPS = float(np.finfo(float).eps)
#: Below this many flops ``m^2 N`` the row basis calls LAPACK directly (``dgeqp3``, ``dorgqr``, ``dtrtrs``
#: with their minimal workspace): the checks and workspace queries of `scipy.linalg.qr` and
#: `scipy.linalg.solve_triangular` cost 20 us and 11 us on a 3 x 5 problem, against 2 us each for
#: the LAPACK calls themselves. The same routines run either way.
SMALL_BASIS_WORK = 1e5


def _pivoted_qr(At: np.ndarray):
    """``Q, R, perm`` of `scipy.linalg.qr` ``(At, mode="economic", pivoting=True)`` for ``At`` (N x m, N >= m)."""
    N, m = At.shape
    if m * m * N <= SMALL_BASIS_WORK:
        qr, jpvt, tau, _, info = sla.lapack.dgeqp3(At)
        if info == 0:
            Q, _, info = sla.lapack.dorgqr(qr, tau)
            if info == 0:
                R = qr[:m].copy(order="C")  # its upper triangle, as np.triu returns it (without its 5 us)
                for i in range(1, m):
                    R[i, :i] = 0.0
                return Q, R, jpvt - 1
    return sla.qr(At, mode="economic", pivoting=True)


def _solve_upper(R: np.ndarray, b: np.ndarray, transposed: bool = False) -> np.ndarray:
    """``R^{-1} b`` (``R^{-T} b`` if ``transposed``) for upper-triangular ``R`` with a nonzero diagonal."""
    if R.size <= SMALL_BASIS_WORK:
        # the matrix solved with (R or R^T) as `scipy.linalg.solve_triangular` passes it to LAPACK: itself
        # when F-ordered, else its transpose with the opposite triangle and trans flag (the same rounding)
        M, lower = (R.T, 1) if transposed else (R, 0)
        v, info = (sla.lapack.dtrtrs(M, b, lower=lower, trans=0) if M.flags.f_contiguous else
                   sla.lapack.dtrtrs(M.T, b, lower=1 - lower, trans=1))
        if info == 0:
            return v
    return sla.solve_triangular(R.T, b, lower=True) if transposed else sla.solve_triangular(R, b, lower=False)


def _row_basis(A: np.ndarray, y: np.ndarray, gram: GramBasis | None = None) -> RowBasis:
    """QR of ``A^T``: rank, orthonormal rows, and the range test for ``y``.

    For large problems (`FAST_BASIS_WORK`), first CholeskyQR where it is certified orthonormal
    (`_cholesky_basis`), then the blocked QR without pivoting (half the cost
    of the pivoted one at 1000 x 10000); it
    is kept when ``R`` is well conditioned (LAPACK's estimate of ``1 / cond_1(R)`` above
    `FAST_BASIS_RCOND`, far above the rank threshold ``max(m, N) eps`` of the pivoted QR, so both
    find full rank ``m``). Otherwise the pivoted QR decides the rank.
    """
    m = A.shape[0]
    if 0 < m <= A.shape[1] and m * m * A.shape[1] >= FAST_BASIS_WORK:
        basis = _cholesky_basis(A, y, None if gram is None else gram.R11 * gram.scale)
        if basis is not None:
            return basis
        Q, R = sla.qr(A.T, mode="economic")
        rcond, info = sla.lapack.dtrcon(R, norm="1", uplo="U", diag="N")
        if info == 0 and rcond > FAST_BASIS_RCOND and np.all(np.isfinite(R)):
            z = sla.solve_triangular(R.T, y, lower=True)
            return RowBasis(Q=Q, z=z, R11=R, perm=np.arange(m), m=m)
    Q, R, perm = _pivoted_qr(A.T)
    diag = np.abs(np.diag(R))
    tol = max(A.shape) * _EPS * (diag[0] if diag.size else 0.0)
    r = int(np.sum(diag > tol))
    if r == 0:
        raise ProblemError("A is the zero matrix (numerically); there is nothing to fit.")
    R11 = R[:r, :r]
    yP = y[perm]
    z = _solve_upper(R11, yP[:r], transposed=True)
    if r < m:
        # Rows perm[r:] are combinations of the first r; y must follow the same combinations.
        y_fit = R[:r, r:].T @ z
        off = scaled_norm(yP[r:] - y_fit)
        ynorm = scaled_norm(y)
        if off > RANGE_RTOL * max(ynorm, 1e-300):
            raise NotInRangeError(
                f"y is not in the range of A: A has rank {r} < m = {m} and the least-squares "
                f"residual is {off / max(ynorm, 1e-300):.2e} relative to ||y|| (tolerance {RANGE_RTOL:g}). "
                "Drop the dependent rows of A, or fix y so that A x = y is solvable."
            )
    return RowBasis(Q=Q[:, :r], z=z, R11=R11, perm=perm, m=m)


# ---------------------------------------------------------------- .npz input/output


def save_npz(path, **arrays) -> Path:
    """Write arrays to ``path`` atomically (temporary file, then rename): never half-written."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return atomic_write_bytes(path, buf.getvalue())


def load_npz(path, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """Read named arrays from a ``.npz`` file (``allow_pickle=False``) with clear errors.

    Every way a file can be unusable (missing, a folder, unreadable, not a zip archive, truncated,
    a damaged member, a ``.npy`` array, pickled objects) is a `ProblemError` saying which.
    """
    path = Path(path)
    hint = f"Pass a .npz file with keys {', '.join(required)} (np.savez(path, {', '.join(f'{k}=...' for k in required)}))."
    if not path.exists():
        raise ProblemError(f"{path}: no such file. {hint}")
    if path.is_dir():
        raise ProblemError(f"{path}: is a folder, not a .npz file. {hint}")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise ProblemError(f"{path}: cannot be read ({exc.strerror or exc}). {hint}") from None
    if magic.startswith(b"\x93NUMPY"):
        raise ProblemError(f"{path}: is a single .npy array, not a .npz archive of named arrays. {hint}")
    if not magic.startswith(b"PK"):
        raise ProblemError(f"{path}: is not a .npz (zip) archive. {hint}")
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()  # the CRC of every member: a flipped bit is caught here
        if bad is not None:
            raise ProblemError(f"{path}: damaged .npz archive (member {bad} fails its checksum). {hint}")
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            missing = [k for k in required if k not in keys]
            if missing:
                raise ProblemError(f"{path}: missing key(s) {missing}; found {sorted(keys)}. {hint}")
            return {k: np.array(data[k]) for k in (*required, *optional) if k in keys}
    except ProblemError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ProblemError(f"{path}: holds pickled (object) arrays, which dlnlab does not load. {hint}") from None
        raise ProblemError(f"{path}: damaged .npz archive ({exc}). {hint}") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ProblemError(f"{path}: damaged or truncated .npz archive ({type(exc).__name__}: {exc}). {hint}") from None


# ---------------------------------------------------------------- generators and fixtures


def gaussian_problem(m: int, N: int, sparsity: int, seed: int = 0, *, signs: bool = False,
                     noise: float = 0.0) -> Problem:
    """Compressed-sensing instance: ``A`` iid N(0, 1/m), ``x_true`` k-sparse, ``y = A x_true``.

    Nonzeros of ``x_true`` are standard normal, or ``+-1`` with ``signs=True``. With
    ``noise > 0``, ``y`` gets iid N(0, noise^2) added (still in range(A) since m < N has full rank a.s.).

    >>> P = gaussian_problem(20, 50, 3, seed=1)
    >>> int(np.count_nonzero(P.x_true))
    3
    """
    if not (0 <= sparsity <= N):
        raise ProblemError(f"sparsity must be in [0, N={N}]; got {sparsity}.")
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N)) / np.sqrt(m)
    x = np.zeros(N)
    support = rng.choice(N, size=sparsity, replace=False)
    x[support] = rng.choice([-1.0, 1.0], size=sparsity) if signs else rng.standard_normal(sparsity)
    y = A @ x
    if noise > 0:
        y = y + noise * rng.standard_normal(m)
    with warnings.catch_warnings():  # y = A x_true + noise by construction
        warnings.simplefilter("ignore", InconsistentTruthWarning)
        return Problem(A, y, x, name=f"gaussian-{m}x{N}-k{sparsity}-s{seed}")


def line_problem() -> Problem:
    """docs/theory.md section 4: ``A = [[1,1,1],[3,0,1]], y = (3,3)``; BP face ``{(1-t, 2(1-t), 3t)}``."""
    return Problem([[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0], name="line")


def plane_problem() -> Problem:
    """docs/theory.md section 4: ``A = [[2,-1,0,1],[0,3,2,0]], y = (0,6)``; same limit as `line_problem` plus a 0."""
    return Problem([[2.0, -1.0, 0.0, 1.0], [0.0, 3.0, 2.0, 0.0]], [0.0, 6.0], name="plane")


def random_problem() -> Problem:
    """The seed paper's 3 x 5 problem (docs/theory.md section 5): unique BP solution, rho = 0.2551."""
    A = [[-0.111, 0.120, -0.370, -0.240, -1.197],
         [0.209, -0.972, -0.755, 0.324, -0.109],
         [0.210, -0.391, 0.235, 0.665, 0.353]]
    return Problem(A, [0.973, -0.039, -0.886], name="random")


def kink_problem(eps: float) -> Problem:
    """``A = [1, 1 - eps], y = 1``: BP solution (1, 0) with rho = 1 - eps (docs/theory.md section 5)."""
    if not (0 < eps < 1):
        raise ProblemError(f"eps must be in (0, 1) for a unique BP solution; got {eps}.")
    return Problem([[1.0, 1.0 - eps]], [1.0], np.array([1.0, 0.0]), name=f"kink-{eps:g}")


FIXTURES = {"line": line_problem, "plane": plane_problem, "random": random_problem}
