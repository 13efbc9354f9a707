"""Null space property constants (docs/theory.md section 8).

The order-s null space constant of ``A`` is

    alpha_s = max_{z in ker A, z != 0}  ||z||_{(s)} / ||z||_1,

where ``||z||_{(s)}`` is the sum of the ``s`` largest ``|z_i|`` (the best ``K``, ``|K| <= s``).
``A`` has the NSP of order s (every s-sparse ``x`` is the unique BP solution of
``A x = A x``) iff ``alpha_s < 1/2``. Computing it is NP-hard (Tillmann-Pfetsch 2014);
`nsp_constant` offers:

- ``"lp"`` (s = 1): ``alpha_1 = max_i max {z_i : A z = 0, ||z||_1 <= 1}``, N LPs, exact.
- ``"enumerate"``: ``max ||z_K||_1`` over the polytope ``ker A ∩ B_1`` is a convex
  maximization, attained with fixed signs on ``K``: one LP ``max <sigma, z_K>`` per
  ``(K, sigma)`` with ``|K| = s`` and ``sigma_{K_1} = +1`` (``z -> -z``): ``C(N,s) 2^(s-1)`` LPs.
- ``"milp"``: one mixed-integer LP (HiGHS) choosing ``(K, sigma)`` with binaries; its
  big-M constants are the coordinate maxima ``M_i = max {z_i : z in ker A ∩ B_1}`` (N LPs),
  which keeps the relaxation at most ``sum of the s largest M_i`` (see `_milp`).
- ``"bound"``: LP upper bounds of Juditsky-Nemirovski type. First
  ``alpha_s <= sum of the s largest M_i <= s alpha_1`` (N LPs). Second, for any ``Y``
  (m x N) and ``z in ker A``, ``z = (I - Y^T A) z``, so by the triangle inequality for
  ``||.||_{(s)}``, ``alpha_s <= min_Y max_j ||(I - Y^T A) e_j||_{(s)}`` (one LP with
  ~N^2 variables, used while ``N <= 60``; Juditsky and Nemirovski, Math. Program. 127,
  2011). At s = 1 both are exact by LP duality. The N LPs' maximizers give a lower bound.

Every result carries a witness ``z`` in ker A attaining ``lower`` (an explicit vector,
projected onto ker A), so ``lower`` is always honest; ``exact`` says whether ``upper``
meets it (up to the LP tolerance). ``"auto"`` prefers an exact method whenever its estimated
cost is small: the enumeration while its LPs (timed on the first) fit in
``AUTO_EXACT_SECONDS``; otherwise the MILP (for N > 40 within that budget, then the bounds
if it has not finished).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ..errors import DLNError, ProblemError, SolverError
from ..results import Result
from .linalg import _linprog, _null_space
from ..problems import Problem, real_array

METHODS = ("auto", "enumerate", "milp", "lp", "bound")
#: ``auto`` enumerates while ``C(N, s) 2^(s-1)`` is at most this many LPs (~5 ms each).
MAX_ENUMERATE_LPS = 500
#: ``auto`` gives the MILP the whole time limit up to this N; beyond, it gets
#: ``AUTO_EXACT_SECONDS`` (plus its N big-M LPs) before the bounds take over.
MAX_MILP_N = 40
#: ``auto`` runs an exact method when its estimated cost is at most this many seconds.
AUTO_EXACT_SECONDS = 20.0
#: The Juditsky-Nemirovski LP has N^2 + mN + N + 1 variables; used while N <= this.
MAX_JN_N = 60


@dataclass(frozen=True)
class NSPConstant(Result):
    """``alpha_s`` of ``A`` (exact) or an interval ``[lower, upper]`` containing it.

    ``objective`` (the exact value, else the upper bound), ``order`` (s), ``method``,
    ``exact``, ``lower`` (attained by ``witness``), ``upper``, ``witness`` (``z`` in ker A
    with ``||z||_1 = 1``), ``witness_set`` (its ``s`` largest entries), ``iterations`` (LPs
    and MILPs solved), ``seconds``, ``status`` (``"converged"``: exact; ``"unverified"``: a
    finished bound interval; ``"max_iter"``: stopped by the time limit; ``"imprecise"``: the
    LP optimum and its witness disagree), ``message``. ``nsp`` is True if the NSP of order s
    holds (``upper < 1/2``), False if it fails (``lower >= 1/2``), else None.
    """

    objective: float
    order: int
    method: str
    exact: bool
    lower: float
    upper: float
    witness: np.ndarray
    witness_set: np.ndarray
    iterations: int
    seconds: float
    status: str = "converged"
    message: str = ""

    @property
    def nsp(self) -> bool | None:
        if self.upper < 0.5:
            return True
        if self.lower >= 0.5:
            return False
        return None


def _top_ratio(z: np.ndarray, s: int) -> tuple[float, np.ndarray]:
    """``||z||_{(s)} / ||z||_1`` and the indices of the ``s`` largest ``|z_i|``."""
    a = np.abs(z)
    total = float(a.sum())
    K = np.sort(np.argsort(-a, kind="stable")[:s])
    return (float(a[K].sum()) / total if total > 0 else 0.0), K


class _Kernel:
    """LPs over ``ker A ∩ B_1`` with witnesses projected onto ker A."""

    def __init__(self, A: np.ndarray):
        self.A = A
        self.N = A.shape[1]
        self.Z = _null_space(A)
        self.A_eq = np.hstack([A, -A])
        self.lps = 0
        self.first = None  # the first coordinate LP's answer, kept from the timing
        self.seconds = None
        self.maxima = None  # the coordinate maxima once all N are known

    @property
    def seconds_per_lp(self) -> float:
        """Wall time of one LP, measured once (on the first coordinate LP, whose answer is kept)."""
        if self.seconds is None:
            t0 = time.perf_counter()
            self.first = self.maximize(np.eye(self.N)[0])
            self.seconds = time.perf_counter() - t0
        return self.seconds

    def maximize(self, c: np.ndarray) -> tuple[float, np.ndarray]:
        """``max <c, z> s.t. A z = 0, ||z||_1 <= 1``: (LP value, witness z)."""
        N = self.N
        res = _linprog(np.concatenate([-c, c]), what="null-space", A_eq=self.A_eq, b_eq=np.zeros(self.A.shape[0]),
                       A_ub=np.ones((1, 2 * N)), b_ub=[1.0])
        self.lps += 1
        z = res.x[:N] - res.x[N:]
        return -float(res.fun), self.Z @ (self.Z.T @ z)

    def record(self, best, z, s):
        ratio, K = _top_ratio(z, s)
        if best is None or ratio > best[0]:
            return ratio, z / max(float(np.sum(np.abs(z))), 1e-300), K
        return best


def _validate(A, s):
    if isinstance(A, Problem):
        A = A.A
    A = real_array(A, "A")  # a sparse A is densified: the kernel basis is dense
    if A.ndim != 2 or A.size == 0:
        raise ProblemError(f"A must be a non-empty 2-D matrix; got shape {A.shape}.")
    if not np.all(np.isfinite(A)):
        raise ProblemError("A has non-finite entries (NaN or inf); clean the data first.")
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not (1 <= s <= A.shape[1]):
        raise ProblemError(f"The order s must be an integer with 1 <= s <= N = {A.shape[1]}; got {s!r}.")
    return A, int(s)


def nsp_constant(A, s: int, method: str = "auto", *, max_lps: int = MAX_ENUMERATE_LPS,
                 time_limit: float = 600.0) -> NSPConstant:
    """The order-s null space constant ``alpha_s`` of ``A`` (see the module docstring).

    ``A``: a matrix or a `Problem` (only its ``A`` is used: the constant does not depend on
    ``y``). ``method``: ``"auto"`` (``"lp"`` at s = 1; ``"enumerate"`` while at most
    ``max_lps`` LPs or while they fit in ``AUTO_EXACT_SECONDS``; else ``"milp"``, which for
    N > 40 gets that budget before the bounds combine with what it found: the result's
    ``method`` is then ``"milp+bound"``), ``"enumerate"``, ``"milp"``, ``"lp"`` (s = 1 only)
    or ``"bound"``. ``time_limit`` (seconds) caps the whole computation; a method stopped
    early returns the interval it has (``exact=False``, ``status="max_iter"``; an unfinished
    bound is the trivial ``upper = 1``). Costs: each LP
    has 2N variables and m + 1 rows (~0.1 s at m = 100, N = 400); the bound needs N of them
    and, while N <= 60, one Juditsky-Nemirovski LP with ~N^2 variables (~4 s at N = 60).

    >>> import numpy as np, dlnlab as dl
    >>> A = np.array([[1.0, 1.0, 1.0]])       # ker A spanned by (1,-1,0), (1,0,-1)
    >>> r = dl.nsp_constant(A, 1)
    >>> round(r.objective, 12), r.exact, r.nsp     # z = (1, -1/2, -1/2): |z_1| / ||z||_1 = 1/2
    (0.5, True, False)
    """
    A, s = _validate(A, s)
    if not (isinstance(time_limit, (int, float)) and time_limit > 0):
        raise DLNError(f"time_limit must be a positive number of seconds; got {time_limit!r}.")
    if method not in METHODS:
        raise DLNError(f"Unknown method {method!r}; choose one of {', '.join(METHODS)}.")
    N = A.shape[1]
    start = time.perf_counter()
    kernel = _Kernel(A)
    if kernel.Z.shape[1] == 0:
        return NSPConstant(objective=0.0, order=s, method="trivial", exact=True, lower=0.0, upper=0.0,
                           witness=np.zeros(N), witness_set=np.zeros(0, dtype=int), iterations=0,
                           seconds=time.perf_counter() - start, message="ker A = {0}: the NSP holds trivially.")
    if method == "lp" and s != 1:
        raise DLNError(f"method='lp' computes alpha_1 only; for s = {s} use 'enumerate', 'milp' or 'bound'.")
    deadline = start + float(time_limit)
    if method == "auto":
        method = _auto_method(kernel, s, max_lps, min(AUTO_EXACT_SECONDS, float(time_limit)))
    if method in ("lp", "enumerate"):
        result = _enumerate(kernel, s, "lp" if method == "lp" else "enumerate", deadline)
    elif method == "milp":
        result = _milp(kernel, s, deadline)
    elif method == "milp+bound":
        budget = AUTO_EXACT_SECONDS + N * kernel.seconds_per_lp
        result = _milp(kernel, s, min(deadline, time.perf_counter() + budget))
        if result[4]:
            method = "milp"
        else:
            result = _combine(result, _bound(kernel, s, deadline),
                              f"the MILP did not finish within auto's budget of {budget:.3g} s "
                              "(method='milp' runs it up to time_limit)")
    else:
        result = _bound(kernel, s, deadline)
    value, lower, upper, best, exact, status, message = result
    ratio, z, K = best
    return NSPConstant(objective=value, order=s, method=method, exact=exact, lower=lower, upper=upper, witness=z,
                       witness_set=K, iterations=kernel.lps, seconds=time.perf_counter() - start, status=status,
                       message=message)


def _auto_method(kernel: _Kernel, s: int, max_lps: int, budget: float) -> str:
    """The exact method when its estimated cost is small (see `nsp_constant`)."""
    if s == 1:
        return "lp"
    count = math.comb(kernel.N, s) * 2 ** (s - 1)
    if count <= max_lps or count * kernel.seconds_per_lp <= budget:
        return "enumerate"
    return "milp" if kernel.N <= MAX_MILP_N else "milp+bound"


def _combine(milp, bound, note: str):
    """The intersection of the MILP's interval (stopped by ``auto``'s budget) and the bounds'."""
    lower, upper = max(milp[1], bound[1]), min(milp[2], bound[2])
    best = milp[3] if milp[3][0] >= bound[3][0] else bound[3]
    exact = upper - lower <= 1e-7
    status = "converged" if exact else "max_iter" if bound[5] == "max_iter" else "unverified"
    message = "; ".join(m for m in (note, bound[6]) if m)
    return (lower if exact else upper), lower, max(upper, lower), best, exact, status, message


def _enumerate(kernel: _Kernel, s: int, method: str, deadline: float):
    """One LP per support K (|K| = s) and sign pattern on K with the first sign +1."""
    N = kernel.N
    best, top = None, -math.inf
    for K in combinations(range(N), s):
        if best is not None and time.perf_counter() > deadline:
            return (1.0, best[0], 1.0, best, False, "max_iter",
                    f"time limit reached after {kernel.lps} LPs: the enumeration is incomplete")
        for signs in product((1.0, -1.0), repeat=s - 1):
            c = np.zeros(N)
            c[list(K)] = (1.0, *signs)
            val, z = kernel.maximize(c)
            top = max(top, val)
            best = kernel.record(best, z, s)
    lower = best[0]
    # the LP optimum and the ratio its witness attains agree to HiGHS' tolerance
    exact = abs(top - lower) <= 1e-7
    return lower, lower, max(top, lower), best, exact, "converged" if exact else "imprecise", (
        "" if exact else f"LP optimum {top:.10g} and witness ratio {lower:.10g} differ")


def _coordinate_maxima(kernel: _Kernel, s: int, deadline: float):
    """``M_i = max {z_i : z in ker A, ||z||_1 <= 1}`` (= max |z_i| by ``z -> -z``), the best
    witness, and whether all N LPs ran before ``deadline`` (unsolved ``M_i`` are the trivial 1)."""
    if kernel.maxima is not None:
        return kernel.maxima[0], kernel.maxima[1], True
    N = kernel.N
    M, best = np.ones(N), None
    for i in range(N):
        if i and time.perf_counter() > deadline:
            return M, best, False
        val, z = kernel.first if i == 0 and kernel.first is not None else kernel.maximize(np.eye(N)[i])
        M[i] = max(val, 0.0)
        best = kernel.record(best, z, s)
    kernel.maxima = (M, best)
    return M, best, True


def _milp(kernel: _Kernel, s: int, deadline: float):
    """One MILP (HiGHS) with big-M constants ``M_i`` from `_coordinate_maxima`.

    Variables ``z`` (``|z_i| <= M_i``), ``e >= |z|`` (``sum e <= 1``), ``r+, r-`` and binaries
    ``b+, b-`` (``b+_i + b-_i <= 1``, ``sum (b+ + b-) <= s``): ``r+_i <= M_i b+_i``,
    ``r+_i <= z_i + 2 M_i (1 - b+_i)`` (and mirrored for ``r-`` with ``-z_i``); maximize
    ``sum (r+ + r-)``, i.e. ``sum_{i in K} sigma_i z_i`` over the chosen ``(K, sigma)``.
    """
    A, N = kernel.A, kernel.N
    m = A.shape[0]
    M, best, _ = _coordinate_maxima(kernel, s, deadline)  # unsolved M_i = 1 stay valid big-Ms
    I, O, Om = sp.identity(N, format="csr"), sp.csr_matrix((N, N)), sp.csr_matrix((m, N))
    one, zero = sp.csr_matrix(np.ones((1, N))), sp.csr_matrix((1, N))
    D = sp.diags(M)
    blocks = [  # variable blocks: z, e, r+, r-, b+, b-
        ([sp.csr_matrix(A), Om, Om, Om, Om, Om], 0.0, 0.0),          # A z = 0
        ([I, -I, O, O, O, O], -np.inf, 0.0),                         # z <= e
        ([-I, -I, O, O, O, O], -np.inf, 0.0),                        # -z <= e
        ([zero, one, zero, zero, zero, zero], -np.inf, 1.0),         # sum e <= 1
        ([-I, O, I, O, 2 * D, O], -np.inf, 2 * M),                   # r+ <= z + 2M(1 - b+)
        ([O, O, I, O, -D, O], -np.inf, 0.0),                         # r+ <= M b+
        ([I, O, O, I, O, 2 * D], -np.inf, 2 * M),                    # r- <= -z + 2M(1 - b-)
        ([O, O, O, I, O, -D], -np.inf, 0.0),                         # r- <= M b-
        ([O, O, O, O, I, I], -np.inf, 1.0),                          # b+ + b- <= 1
        ([zero, zero, zero, zero, one, one], -np.inf, float(s)),     # |K| <= s
    ]
    constraints = [LinearConstraint(sp.hstack(b, format="csr"), lb, ub) for b, lb, ub in blocks]
    c = np.concatenate([np.zeros(2 * N), -np.ones(2 * N), np.zeros(2 * N)])
    bounds = Bounds(np.concatenate([-M, np.zeros(5 * N)]), np.concatenate([M, M, M, M, np.ones(2 * N)]))
    integrality = np.concatenate([np.zeros(4 * N), np.ones(2 * N)])
    try:
        res = milp(c, constraints=constraints, integrality=integrality, bounds=bounds,
                   options={"mip_rel_gap": 1e-9, "time_limit": max(1.0, deadline - time.perf_counter())})
    except ValueError as exc:
        raise SolverError(f"HiGHS rejected the NSP MILP: {exc}") from None
    kernel.lps += 1
    if res.x is not None:
        best = kernel.record(best, kernel.Z @ (kernel.Z.T @ res.x[:N]), s)
    lower = best[0]
    upper = min(1.0, float(np.sum(np.sort(M)[::-1][:s])))  # ||z||_(s) <= sum of the s largest M_i
    bound = getattr(res, "mip_dual_bound", None)
    if bound is not None and np.isfinite(bound):
        upper = min(upper, -float(bound))
    upper = max(upper, lower)
    exact = res.status == 0 and upper - lower <= 1e-7
    status = "converged" if exact else "imprecise" if res.status == 0 else "max_iter"
    message = "" if res.status == 0 else f"HiGHS stopped: {res.message} (raise time_limit for the exact value)"
    return (lower if exact else upper), lower, upper, best, exact, status, message


def _bound(kernel: _Kernel, s: int, deadline: float):
    """Upper bounds ``sum of the s largest M_i <= s alpha_1`` and the JN LP; witnesses as lower bound."""
    N = kernel.N
    M, best, complete = _coordinate_maxima(kernel, s, deadline)
    if not complete:
        return (1.0, best[0], 1.0, best, False, "max_iter",
                f"time limit reached after {kernel.lps} of {N} coordinate LPs: only the trivial bound 1")
    upper = min(1.0, float(np.sum(np.sort(M)[::-1][:s])))
    message = f"s * alpha_1 = {s * M.max():.6g}, sum of the s largest coordinate maxima = {upper:.6g}"
    if N <= MAX_JN_N and s > 1 and time.perf_counter() < deadline:
        jn = _juditsky_nemirovski(kernel.A, s)
        kernel.lps += 1
        message += f"; Juditsky-Nemirovski LP = {jn:.6g}"
        upper = min(upper, jn)
    upper = max(upper, best[0])
    exact = upper - best[0] <= 1e-7
    return upper, best[0], upper, best, exact, "converged" if exact else "unverified", message


def _juditsky_nemirovski(A: np.ndarray, s: int) -> float:
    """``min_Y max_j ||(I - Y^T A) e_j||_{(s)}`` as one LP (sparse).

    ``||h||_{(s)} = min_lam  s lam + sum_i (|h_i| - lam)_+``; variables ``Y`` (m x N, column
    ``i`` of ``Y`` is ``y_i``), ``lam_j``, ``u_ij >= 0``, ``tau``; ``h_ij = delta_ij - y_i^T a_j``.
    """
    m, N = A.shape
    nY, nL, nU = m * N, N, N * N
    n = nY + nL + nU + 1
    # index helpers: Y[k, i] -> k*N + i ; lam_j -> nY + j ; u_ij -> nY + nL + i*N + j ; tau -> n-1
    ii, jj = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()  # row index (i, j) -> r = i*N + j
    R = np.arange(N * N)
    data, rows, cols = [], [], []
    for k in range(m):  # sum_k Y[k, i] A[k, j]
        rows.append(R)
        cols.append(k * N + ii)
        data.append(A[k, jj])
    rows.append(R); cols.append(nY + jj); data.append(-np.ones(N * N))          # - lam_j
    rows.append(R); cols.append(nY + nL + R); data.append(-np.ones(N * N))      # - u_ij
    r_, c_, d_ = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    plus = sp.csr_matrix((d_, (r_, c_)), shape=(N * N, n))           # +Y^T A - lam - u <= delta
    d_minus = d_.copy()
    d_minus[: m * N * N] *= -1.0
    minus = sp.csr_matrix((d_minus, (r_, c_)), shape=(N * N, n))     # -Y^T A - lam - u <= -delta
    delta = (ii == jj).astype(float)
    # s lam_j + sum_i u_ij - tau <= 0
    rows_t = np.concatenate([np.arange(N), jj, np.arange(N)])
    cols_t = np.concatenate([nY + np.arange(N), nY + nL + R, np.full(N, n - 1)])
    data_t = np.concatenate([np.full(N, float(s)), np.ones(N * N), -np.ones(N)])
    top = sp.csr_matrix((data_t, (rows_t, cols_t)), shape=(N, n))
    A_ub = sp.vstack([plus, minus, top], format="csr")
    b_ub = np.concatenate([delta, -delta, np.zeros(N)])
    c = np.zeros(n)
    c[-1] = 1.0
    bounds = [(None, None)] * (nY + nL) + [(0, None)] * nU + [(0, None)]
    res = _linprog(c, what="Juditsky-Nemirovski bound", A_ub=A_ub, b_ub=b_ub, bounds=bounds)
    return float(res.fun)
