"""Basis pursuit and the geometry of its solution set, verified rather than trusted.

Basis pursuit (BP, THEORY.md section 1) is ``min ||x||_1 s.t. A x = y``; its dual is
``max <w, y> s.t. ||A^T w||_inf <= 1``. A dual-feasible ``w`` with ``<w, y> = ||x||_1`` is an
*optimal certificate* of ``x``, and for any such ``w`` the solution set is

    S* = { x : A x = y,  x_i = 0 where |a_i^T w| < 1,  sign(x_i) = a_i^T w elsewhere },

a face of a polytope on which every point has the same signs (complementary slackness).

- `basis_pursuit`: HiGHS on ``x = x+ - x-``, then cleaned (support identified, ``x_S``
  recomputed by least squares) and checked: residual, a dual certificate with
  ``||A^T w||_inf <= 1`` and its duality gap, and an exact uniqueness test
  (``A_S`` injective and ``rho < 1``, THEORY.md section 5).
- `bp_face`: the whole solution face (support, signs, affine hull, vertices).
- `selected_minimizer`: the scale -> 0 limit of the depth-p flow (THEORY.md section 4).
- `certificate_constant`: ``rho`` of THEORY.md section 5, as a dual or a primal LP.

Ties are decided at the relative tolerances below (about 1e-9): BP's solution map is
discontinuous at ties (THEORY.md section 5, GHA), so no float64 computation decides a
tie closer than the rounding of its data; these tolerances say where dlnlab draws the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
import scipy.linalg as sla
from scipy.optimize import linprog

from ..errors import ConvergenceError, NetworkError, NotBPSolutionError, ProblemError, SolverError
from ..problems import Problem, as_problem

#: An entry with ``|x_i| <= SUPPORT_RTOL * ||x||_inf`` is zero. HiGHS' primal feasibility
#: tolerance is 1e-7 on the scaled problem; a genuine basic value below 1e-9 relative
#: would change ``||A x - y||`` by less than that tolerance, so it is not resolved anyway.
SUPPORT_RTOL = 1e-9
#: Residual, dual infeasibility and relative duality gap a verified answer must meet.
#: After the cleaning steps they are ~1e-15; 1e-9 leaves room for ill-conditioned ``A_S``.
VERIFY_TOL = 1e-9
#: ``x`` is unique when ``A_S`` is injective and ``rho < 1 - RHO_TOL`` (the polished ``rho``
#: is exact to ~1e-14 on well-conditioned data; exact ties give 1 to that accuracy).
RHO_TOL = 1e-9
#: ``|a_i^T w| >= 1 - TIGHT_TOL`` counts as tight when reading a face off a certificate.
TIGHT_TOL = 1e-9
#: HiGHS' default primal/dual feasibility tolerances are 1e-7: on near-ties it may return a
#: vertex 1e-8 worse than optimal. An unverified answer is retried with the tightest it takes.
TIGHT_HIGHS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
#: Relative rank tolerance (times ``max(shape)``) of the SVD rank test.
RANK_RTOL = np.finfo(float).eps


# ----------------------------------------------------------------------- results


@dataclass(frozen=True)
class BPResult:
    """A basis-pursuit solution with the evidence that it is one.

    ``x`` (cleaned), ``value = ||x||_1``, ``certificate`` (``w`` with ``||A^T w||_inf <= 1``;
    strictly below 1 off the support when ``unique``), ``unique`` (``A_S`` injective and
    ``rho < 1``), ``alternative`` (when not unique: another minimizer, checked feasible and
    of the same l1 norm), ``support`` and ``sign`` (of ``x_S``), ``residual`` (``||Ax-y||/||y||``),
    ``duality_gap`` (``(||x||_1 - <w, y>) / ||x||_1``), ``margin`` (``1 - max_{j not in S}
    |a_j^T w|``: > 0 means the certificate is strict), ``injective`` (``A_S``),
    ``status`` (``"optimal"`` when every check passed, else ``"unverified"``),
    ``certificate_source`` (``"highs"`` marginals, ``"dual-lp"``, ``"soft-max"`` search or
    ``"rho-lp"``).
    """

    x: np.ndarray
    value: float
    certificate: np.ndarray
    unique: bool
    alternative: np.ndarray | None
    support: np.ndarray
    sign: np.ndarray
    residual: float
    duality_gap: float
    status: str
    margin: float = math.nan
    injective: bool = True
    certificate_source: str = "highs"
    iterations: int = 0
    message: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "optimal"


@dataclass(frozen=True)
class BPFace:
    """The solution set of BP: ``{x : A x = y, supp x in F, sign(x_F) = sign}``.

    ``support`` (``F``: coordinates nonzero in some minimizer), ``sign`` (on ``F``),
    ``dimension`` (``|F| - rank A_F``), ``basis`` (N x dimension, orthonormal, supported on
    ``F``: the directions of the affine hull), ``point`` (a relative-interior point: every
    ``F`` entry nonzero), ``vertices`` (k x N array, or None when not enumerated),
    ``certificate`` (an optimal ``w`` with ``|a_j^T w| < 1`` for every ``j`` outside ``F``:
    strict complementarity), ``rho`` (``max_{j not in F} |a_j^T w| < 1`` for that ``w``;
    the minimal such value when it came from the ``rho`` LP), ``value``,
    ``lps`` (linear programs solved), ``status`` (``"verified"`` or the failed check).
    """

    support: np.ndarray
    sign: np.ndarray
    dimension: int
    basis: np.ndarray
    point: np.ndarray
    vertices: np.ndarray | None
    certificate: np.ndarray
    rho: float
    value: float
    lps: int
    status: str
    message: str = ""

    @property
    def unique(self) -> bool:
        return self.dimension == 0


@dataclass(frozen=True)
class Selection:
    """The scale -> 0 limit of the depth-p flow: ``argmin_{x in S*} sum g_p(x_i)``.

    ``x``, ``depth``, ``face`` (`BPFace`), ``objective`` (``sum g_p(x_i)``, THEORY.md
    section 4), ``kkt`` (``||B^T s_F g_p'(t)||_inf / max(1, ||g_p'(t)||_inf)`` at
    ``t = |x_F| / ||x||_1``, for the face's basis ``B``: the gradient is orthogonal to the
    face at the minimizer; the normalization keeps the scale of x out), ``decrement`` (Newton
    decrement of the last step, on the face normalized to ``||x||_1 = 1``),
    ``iterations``, ``status`` (``"converged"`` or ``"failed"``).
    """

    x: np.ndarray
    depth: float
    face: BPFace = field(repr=False)
    objective: float
    kkt: float
    decrement: float
    iterations: int
    status: str

    @property
    def converged(self) -> bool:
        return self.status == "converged"


@dataclass(frozen=True)
class CertificateConstant:
    """``rho = min { ||A_{S^c}^T w||_inf : A_S^T w = sigma }`` (THEORY.md section 5).

    ``rho``; ``form`` (``"dual"``: the LP above, ``w`` is attached and ``rho`` is the value
    it attains; ``"primal"``: ``sup_{v in ker A} <sigma, v_S> / ||v_{S^c}||_1``, ``v`` is
    attached and ``rho`` is the ratio it attains); ``support``, ``sign``, ``injective``
    (``A_S``), ``unique`` (``injective and rho < 1``: x* is the unique BP solution).
    ``float(result)`` is ``rho``.
    """

    rho: float
    form: str
    support: np.ndarray
    sign: np.ndarray
    injective: bool
    unique: bool
    w: np.ndarray | None = None
    v: np.ndarray | None = None
    equality_residual: float = 0.0

    def __float__(self) -> float:
        return float(self.rho)


# ----------------------------------------------------------------------- helpers


def _linprog(c, *, what: str, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None), options=None):
    """HiGHS through scipy; any failure becomes a `SolverError` that names the LP."""
    try:
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs",
                      **({"options": options} if options else {}))
    except ValueError as exc:
        raise SolverError(f"HiGHS rejected the {what} LP: {exc}") from None
    if res.status != 0 or res.x is None:
        raise SolverError(
            f"HiGHS failed on the {what} LP: status {res.status} ({res.message}). "
            "Check the data for huge or tiny entries (rescale A's columns) and retry.")
    return res


def _rank(M: np.ndarray) -> int:
    if M.size == 0:
        return 0
    sv = np.linalg.svd(M, compute_uv=False)
    return int(np.sum(sv > max(M.shape) * RANK_RTOL * sv[0])) if sv[0] > 0 else 0


def _null_space(M: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of ker M."""
    n = M.shape[1]
    if M.shape[0] == 0 or n == 0:
        return np.eye(n)
    _, sv, Vt = np.linalg.svd(M, full_matrices=True)
    r = int(np.sum(sv > max(M.shape) * RANK_RTOL * sv[0])) if sv.size and sv[0] > 0 else 0
    return Vt[r:].T.copy()


def _relative_gap(value: float, dual: float) -> float:
    return abs(value - dual) / value if value > 0 else abs(dual)


def _clean_primal(A: np.ndarray, y: np.ndarray, x_raw: np.ndarray) -> tuple[np.ndarray, bool]:
    """Zero the sub-tolerance entries of a HiGHS vertex and re-solve ``A_S x_S = y``.

    Returns the cleaned ``x`` and whether ``A_S`` is injective. The re-solve is kept only if
    it is a correction of HiGHS' point (same signs, close), never a different point.
    """
    N = A.shape[1]
    xmax = float(np.max(np.abs(x_raw))) if N else 0.0
    x = np.zeros(N)
    if xmax == 0.0:
        return x, True
    S = np.flatnonzero(np.abs(x_raw) > SUPPORT_RTOL * xmax)
    AS = A[:, S]
    injective = _rank(AS) == S.size
    xS = x_raw[S]
    if injective:
        cand = np.linalg.lstsq(AS, y, rcond=None)[0]
    else:  # min-norm correction onto A_S x_S = y (a point of the face, not a vertex)
        cand = xS + np.linalg.lstsq(AS, y - AS @ xS, rcond=None)[0]
    if np.all(np.sign(cand) == np.sign(xS)) and np.max(np.abs(cand - xS)) <= 1e-6 * xmax:
        xS = cand
    x[S] = xS
    return x, injective


def _polish_certificate(A: np.ndarray, w0: np.ndarray, idx: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The smallest change of ``w0`` with ``A_idx^T w = target`` (least squares if inconsistent)."""
    if idx.size == 0:
        return w0.copy()
    At = A[:, idx].T
    return w0 + sla.lstsq(At, target - At @ w0, lapack_driver="gelsy", check_finite=False)[0]


def _certify(A, y, x, S, sigma, candidates):
    """Best optimal certificate among polished candidates: ``(w, gap, source)``.

    Each raw candidate ``w0`` is polished twice: onto its own tight set (exact equalities
    there, as a simplex basis has) and onto ``A_S^T w = sigma`` (zero gap); then scaled
    into the dual feasible set ``||A^T w||_inf <= 1``. The smallest gap wins.
    """
    value = float(np.sum(np.abs(x)))
    best = None
    for w0, source in candidates:
        if w0 is None or not np.all(np.isfinite(w0)):
            continue
        c0 = A.T @ w0
        variants = []
        T = np.flatnonzero(np.abs(c0) >= 1 - 1e-6)
        sT = np.sign(c0[T])
        pos = np.searchsorted(T, S)
        if np.all(np.isin(S, T)) and np.all(sT[pos] == sigma):
            variants.append(_polish_certificate(A, w0, T, sT))
        variants.append(_polish_certificate(A, w0, S, sigma))
        for w in variants:
            if best is not None and best[1] <= 1e-14:
                break
            norm = float(np.max(np.abs(A.T @ w))) if A.shape[1] else 0.0
            if not math.isfinite(norm):
                continue
            w = w / max(1.0, norm)
            gap = _relative_gap(value, float(w @ y))
            if best is None or gap < best[1]:
                best = (w, gap, source)
    return best


def _dual_lp(A: np.ndarray, y: np.ndarray, options=None) -> np.ndarray:
    """``argmax <w, y> s.t. -1 <= A^T w <= 1`` by HiGHS (the BP dual, solved directly)."""
    res = _linprog(-y, what="basis-pursuit dual", A_ub=np.vstack([A.T, -A.T]),
                   b_ub=np.ones(2 * A.shape[1]), bounds=(None, None), options=options)
    return res.x


def _strict_certificate(A: np.ndarray, S: np.ndarray, sigma: np.ndarray, max_newton: int = 30) -> np.ndarray | None:
    """A cheap search for ``w`` with ``A_S^T w = sigma`` and ``||A_Sc^T w||_inf < 1`` (or None).

    Writes ``w = w0 + Z c`` (``w0`` the min-norm solution, ``Z`` a basis of ker ``A_S^T``) and
    minimizes the soft maximum ``(1/beta) log sum_j 2 cosh(beta r_j)``, ``r = A_Sc^T w``, by
    Newton for ``beta = 4, 16, ..., 4096``; it overestimates ``||r||_inf`` by at most
    ``log(2k)/beta`` and stops at the first strict ``w``. A heuristic for evidence only: when
    it returns None, the ``rho`` LP decides.
    """
    N = A.shape[1]
    Sc = np.setdiff1d(np.arange(N), S)
    AS = A[:, S]
    w0 = np.linalg.lstsq(AS.T, sigma, rcond=None)[0] if S.size else np.zeros(A.shape[0])
    if S.size and np.max(np.abs(AS.T @ w0 - sigma)) > 1e-12:
        return None
    if Sc.size == 0:
        return w0
    b0 = A[:, Sc].T @ w0
    if np.max(np.abs(b0)) < 1 - RHO_TOL:
        return w0
    Z = _null_space(AS.T) if S.size else np.eye(A.shape[0])
    if Z.shape[1] == 0:
        return None
    B = A[:, Sc].T @ Z
    c = np.zeros(Z.shape[1])

    def soft(c, beta):
        r = b0 + B @ c
        a = beta * np.abs(r)
        top = float(a.max())
        e1, e2 = np.exp(a - top), np.exp(-a - top)
        Zs = float(np.sum(e1 + e2))
        return top / beta + math.log(Zs) / beta, r, np.sign(r) * (e1 - e2) / Zs, (e1 + e2) / Zs

    for beta in (4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0):
        for _ in range(max_newton):
            f, r, u, v = soft(c, beta)
            if np.max(np.abs(r)) < 1 - 1e-6:  # a margin far above rounding
                return w0 + Z @ c
            g = B.T @ u
            H = beta * ((B.T * v) @ B - np.outer(g, g)) + 1e-12 * np.eye(c.size)
            try:
                dc = np.linalg.solve(H, -g)
            except np.linalg.LinAlgError:
                break
            dec = -float(g @ dc)
            if dec <= 1e-12:
                break
            t = 1.0
            while t > 1e-8 and soft(c + t * dc, beta)[0] > f - 1e-4 * t * dec:
                t *= 0.5
            c = c + t * dc
    r = b0 + B @ c
    return w0 + Z @ c if np.max(np.abs(r)) < 1 - RHO_TOL else None


def _second_minimizer(P: Problem, x: np.ndarray, S: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """Another BP minimizer ``x + eps v``, or None when ``x`` is the only one (Farkas).

    Every minimizer is supported in the tight set ``T`` of the optimal certificate ``w``, with
    the signs of ``A_T^T w``. So another one exists iff some ``v != 0`` has ``A v = 0``,
    ``supp v in T`` and ``s_j v_j >= 0`` on ``E = T \\ S`` (``x`` is 0 there): with ``A_S``
    injective, iff the small LP ``A_S v_S + A_E (s_E u) = 0, u >= 0, sum u = 1`` is feasible
    (``|T|`` variables, ``m + 1`` rows). ``eps`` keeps the signs on ``S``; the point is checked.
    """
    A, y = P.A, P.y
    c = A.T @ w
    T = np.union1d(np.flatnonzero(np.abs(c) >= 1 - TIGHT_TOL), S)
    E = np.setdiff1d(T, S)
    sE = np.sign(c[E])
    v = np.zeros(P.N)
    Z = _null_space(A[:, S])
    if Z.shape[1]:  # A_S not injective: a direction inside the support
        v[S] = Z[:, 0]
    elif E.size:
        A_eq = np.vstack([np.hstack([A[:, S], A[:, E] * sE]), np.r_[np.zeros(S.size), np.ones(E.size)][None, :]])
        b_eq = np.r_[np.zeros(A.shape[0]), 1.0]
        bounds = [(None, None)] * S.size + [(0, None)] * E.size
        try:
            res = linprog(np.zeros(S.size + E.size), A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
        except ValueError:
            return None
        if res.status != 0 or res.x is None:
            return None  # infeasible (status 2): x is the unique minimizer, up to tolerance
        v[S], v[E] = res.x[:S.size], sE * res.x[S.size:]
        v = np.zeros(P.N) if not np.any(v[E]) else v
    if not np.any(v):
        return None
    v[np.abs(v) <= SUPPORT_RTOL * np.max(np.abs(v))] = 0.0
    with np.errstate(divide="ignore"):
        limit = np.min(np.abs(x[S]) / np.abs(v[S]), initial=np.inf)
    eps = 0.5 * limit if np.isfinite(limit) else 1.0
    eps = min(eps, np.max(np.abs(x)) / np.max(np.abs(v))) if np.any(x) else eps
    x2 = x + eps * v
    value = float(np.sum(np.abs(x)))
    ok = (P.relative_residual(x2) <= VERIFY_TOL and np.max(np.abs(x2 - x)) > SUPPORT_RTOL * max(value, 1e-300)
          and abs(float(np.sum(np.abs(x2))) - value) <= VERIFY_TOL * max(value, 1e-300))
    return x2 if ok else None


def _rho_lp(A: np.ndarray, S: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray, float]:
    """``min ||A_Sc^T w||_inf s.t. A_S^T w = sigma``: ``(rho, w, equality residual)``.

    HiGHS' vertex is polished on its active set (``A_S^T w = sigma`` and
    ``|a_j^T w| = t`` for the active ``j``), so ``rho`` is the value an explicit ``w``
    attains, exact to rounding when the LP is nondegenerate.
    """
    m, N = A.shape
    Sc = np.setdiff1d(np.arange(N), S)
    AS, ASc = A[:, S], A[:, Sc]
    if Sc.size == 0:
        w = np.linalg.lstsq(AS.T, sigma, rcond=None)[0] if S.size else np.zeros(m)
        return 0.0, w, float(np.max(np.abs(AS.T @ w - sigma))) if S.size else 0.0
    k = Sc.size
    c = np.zeros(m + 1)
    c[-1] = 1.0
    A_ub = np.block([[ASc.T, -np.ones((k, 1))], [-ASc.T, -np.ones((k, 1))]])
    A_eq = np.hstack([AS.T, np.zeros((S.size, 1))]) if S.size else None
    b_eq = sigma if S.size else None
    bounds = [(None, None)] * m + [(0, None)]
    res = _linprog(c, what="certificate-constant (rho)", A_ub=A_ub, b_ub=np.zeros(2 * k),
                   A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    w, t = res.x[:m], float(res.x[-1])

    def evaluate(w):
        eq = float(np.max(np.abs(AS.T @ w - sigma))) if S.size else 0.0
        return float(np.max(np.abs(ASc.T @ w))), eq

    # polish: the active set of the LP vertex, solved as a linear system in (w, t)
    cw = ASc.T @ w
    act = np.flatnonzero(np.abs(cw) >= t - 1e-9 * max(t, 1.0))
    rows = [np.hstack([AS.T, np.zeros((S.size, 1))])] if S.size else []
    rhs = [sigma] if S.size else []
    if act.size:
        rows.append(np.hstack([np.sign(cw[act])[:, None] * ASc[:, act].T, -np.ones((act.size, 1))]))
        rhs.append(np.zeros(act.size))
    M, r = np.vstack(rows), np.concatenate(rhs)
    z0 = np.append(w, t)
    z1 = z0 + np.linalg.lstsq(M, r - M @ z0, rcond=None)[0]
    best = None
    for cand in (z1[:m], _polish_certificate(A, w, S, sigma), w):
        rho, eq = evaluate(cand)
        if eq <= 1e-12 and rho <= t + 1e-9 * max(t, 1.0):
            return rho, cand, eq
        if best is None or eq < best[2]:
            best = (rho, cand, eq)
    return best


# ----------------------------------------------------------------------- basis pursuit


def basis_pursuit(A, y=None, *, throw: bool = True) -> BPResult:
    """The l1 minimizer ``argmin ||x||_1 s.t. A x = y``, verified (see module docstring).

    Steps: HiGHS (``scipy.optimize.linprog(method="highs")``) on ``x = x+ - x-``; support
    ``S = {|x_i| > 1e-9 ||x||_inf}``, ``x_S = lstsq(A_S, y)`` when ``A_S`` is injective;
    certificate from HiGHS' equality marginals, polished and checked, else from the dual LP
    (and the whole solve once more with HiGHS tolerances 1e-10 if the gap is still too large);
    ``unique`` iff ``A_S`` injective and ``rho < 1``: shown by a strict certificate (HiGHS'
    own, or one found by a soft-max Newton search, `_strict_certificate`); else refuted by
    another minimizer (`_second_minimizer`, a small LP on the tight set), else the ``rho``
    LP supplies the strict certificate. Raises `SolverError` when
    HiGHS fails or (with ``throw=True``) when the answer cannot be verified.

    >>> import dlnlab as dl
    >>> bp = dl.basis_pursuit(dl.random_problem())
    >>> np.round(bp.x, 6).tolist(), bp.unique, bp.status
    ([0.0, 0.0, -0.27822, -0.949197, -0.536551], True, 'optimal')
    """
    P, ys = _normalized(as_problem(A, y))
    result = _basis_pursuit(P, throw)
    return _rescaled_bp(result, ys)


def _normalized(P: Problem) -> tuple[Problem, float]:
    """``(A, y / max|y|)`` and ``max|y|``: BP is homogeneous in y (``x(c y) = c x(y)``, same
    certificates), and HiGHS' absolute tolerances (1e-7) need data of order one."""
    ys = float(np.max(np.abs(P.y)))
    if ys == 0.0 or ys == 1.0:
        return P, 1.0
    return Problem(P.A, P.y / ys, name=P.name), ys


def _rescaled_bp(bp: BPResult, c: float) -> BPResult:
    if c == 1.0:
        return bp
    return replace(bp, x=bp.x * c, value=bp.value * c,
                   alternative=None if bp.alternative is None else bp.alternative * c)


def _basis_pursuit(P: Problem, throw: bool) -> BPResult:
    A, y = P.A, P.y
    m, N = A.shape
    for options in (None, TIGHT_HIGHS):  # a gap above tolerance: once more with tight tolerances
        res = _linprog(np.ones(2 * N), what="basis-pursuit", A_eq=np.hstack([A, -A]), b_eq=y, options=options)
        x, injective = _clean_primal(A, y, res.x[:N] - res.x[N:])
        S = np.flatnonzero(x)
        sigma = np.sign(x[S])
        value = float(np.sum(np.abs(x)))
        residual = P.relative_residual(x)
        marg = getattr(getattr(res, "eqlin", None), "marginals", None)
        candidates = [(None if marg is None else np.asarray(marg, dtype=float), "highs")]
        best = _certify(A, y, x, S, sigma, candidates)
        if best is None or best[1] > VERIFY_TOL:  # repair: solve the dual LP itself
            candidates.append((_dual_lp(A, y, options), "dual-lp"))
            best = _certify(A, y, x, S, sigma, candidates)
        if best is None:
            raise SolverError("No finite dual certificate could be formed from HiGHS' output or the dual LP.")
        if best[1] <= VERIFY_TOL and residual <= VERIFY_TOL:
            break
    w, gap, source = best
    Sc = np.setdiff1d(np.arange(N), S)
    margin = 1.0 - float(np.max(np.abs(A[:, Sc].T @ w))) if Sc.size else 1.0
    unique = injective and margin > RHO_TOL
    alternative = None
    if not injective or not unique:  # HiGHS' basic dual is tight off S: is there another minimizer?
        strict = _strict_certificate(A, S, sigma) if injective else None
        source_strict = "soft-max"
        if strict is None:
            alternative = _second_minimizer(P, x, S, w)
        if strict is None and alternative is None and injective:  # the rho LP: a strict certificate
            rho, strict, eq = _rho_lp(A, S, sigma)
            source_strict = "rho-lp"
            if not (rho < 1 - RHO_TOL and eq <= VERIFY_TOL):
                strict = None
        if strict is not None:
            strict = strict / max(1.0, float(np.max(np.abs(A.T @ strict))))
            gap_strict = _relative_gap(value, float(strict @ y))
            if gap_strict <= max(gap, VERIFY_TOL):
                w, gap, source, unique = strict, gap_strict, source_strict, True
                margin = 1.0 - float(np.max(np.abs(A[:, Sc].T @ w)))
    ok = residual <= VERIFY_TOL and gap <= VERIFY_TOL
    status = "optimal" if ok else "unverified"
    message = "" if ok else (f"checks failed: residual {residual:.2e}, duality gap {gap:.2e} "
                             f"(tolerance {VERIFY_TOL:g})")
    result = BPResult(x=x, value=value, certificate=w, unique=bool(unique), alternative=alternative,
                      support=S, sign=sigma,
                      residual=residual, duality_gap=gap, status=status, margin=margin,
                      injective=bool(injective), certificate_source=source,
                      iterations=int(getattr(res, "nit", 0)), message=message)
    if throw and not ok:
        raise SolverError(f"basis_pursuit: HiGHS' answer could not be verified ({message}). "
                          "Rescale the data or pass throw=False to inspect it.")
    return result


# ----------------------------------------------------------------------- the solution face


def bp_face(A, y=None, *, max_bases: int = 20000, bp: BPResult | None = None) -> BPFace:
    """The face ``S*`` of BP minimizers: support, signs, affine hull and (if small) vertices.

    Method. Take an optimal certificate ``w`` (from `basis_pursuit`) and its tight set
    ``T = {|a_i^T w| >= 1 - 1e-9}`` with signs ``s_T``; then ``S* = {x : A_T x_T = y,
    s_T x_T >= 0, ||x||_1 = value, x = 0 off T}`` (complementary slackness). The support
    ``F`` (coordinates nonzero in *some* minimizer) is found by LPs over ``S*``: maximize the
    sum of the still-undecided ``s_i x_i``; every coordinate the optimum makes positive joins
    ``F``; when the optimum is 0 the rest are zero on all of ``S*``. Evidence: the average of
    the points found is nonzero on all of ``F`` (``F`` is not too big), and a ``w`` with
    ``A_F^T w = s_F`` and ``|a_j^T w| < 1`` off ``F`` (strict complementarity, which
    Goldman-Tucker guarantees; found by `_strict_certificate` or the ``rho`` LP on
    ``(F, s_F)``) shows that every minimizer vanishes off ``F`` (``F`` is not too small). The affine hull is
    ``point + ker A_F``; vertices are the basic solutions ``A_B x_B = y`` (``B`` in ``F``,
    ``|B| = rank A_F``) with the face's signs, enumerated when ``C(|F|, rank) <= max_bases``.

    >>> import dlnlab as dl
    >>> face = dl.bp_face(dl.line_problem())
    >>> face.support.tolist(), face.dimension, np.round(face.vertices, 12).tolist()
    ([0, 1, 2], 1, [[0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    """
    P, ys = _normalized(as_problem(A, y))
    bp = _basis_pursuit(P, True) if bp is None else _rescaled_bp(bp, 1.0 / ys)
    face = _bp_face(P, bp, max_bases)
    if ys == 1.0:
        return face
    return replace(face, point=face.point * ys, value=face.value * ys,
                   vertices=None if face.vertices is None else face.vertices * ys)


def _bp_face(P: Problem, bp: BPResult, max_bases: int) -> BPFace:
    A, y = P.A, P.y
    m, N = A.shape
    value = bp.value
    lps = 0
    if bp.unique:
        return BPFace(support=bp.support, sign=bp.sign, dimension=0, basis=np.zeros((N, 0)), point=bp.x,
                      vertices=bp.x[None, :].copy(), certificate=bp.certificate, rho=1.0 - bp.margin,
                      value=value, lps=0, status="verified")
    w = bp.certificate
    cw = A.T @ w
    T = np.flatnonzero(np.abs(cw) >= 1 - TIGHT_TOL)
    T = np.union1d(T, bp.support)
    sT = np.sign(cw[T])
    sT[np.isin(T, bp.support)] = bp.sign
    AT = A[:, T] * sT  # columns s_i a_i: the face is {t >= 0 : AT t = y, sum t = value}
    A_eq = np.vstack([AT, np.ones((1, T.size))])
    b_eq = np.append(y, value)
    points = [np.abs(bp.x[T])]
    found = np.isin(T, bp.support)
    while not np.all(found):
        c = np.where(found, 0.0, -1.0)
        res = _linprog(c, what="face support", A_eq=A_eq, b_eq=b_eq)
        lps += 1
        t = _polish_vertex(AT, y, res.x)
        new = (~found) & (t > SUPPORT_RTOL * max(float(t.max()), 1e-300))
        if not np.any(new):
            break
        points.append(t)
        found |= new
    F, sF = T[found], sT[found]
    tF = np.mean(points, axis=0)[found]
    AF = A[:, F] * sF
    tF = tF + np.linalg.lstsq(AF, y - AF @ tF, rcond=None)[0]
    point = np.zeros(N)
    point[F] = sF * tF
    Z = _null_space(A[:, F])
    basis = np.zeros((N, Z.shape[1]))
    basis[F] = Z
    wF = _strict_certificate(A, F, sF)  # cheap search first; the rho LP if it finds none
    if wF is None:
        _, wF, _ = _rho_lp(A, F, sF)
    wF = wF / max(1.0, float(np.max(np.abs(A.T @ wF))))
    Fc = np.setdiff1d(np.arange(N), F)
    rho = float(np.max(np.abs(A[:, Fc].T @ wF))) if Fc.size else 0.0
    eq = float(np.max(np.abs(A[:, F].T @ wF - sF))) if F.size else 0.0
    problems = []
    if not np.all(tF > 0):
        problems.append("the interior point has a zero or sign-flipped entry")
    if not rho < 1 - RHO_TOL:
        problems.append(f"no strictly complementary certificate on F (rho_F = {rho:.3g})")
    if eq > VERIFY_TOL:
        problems.append(f"certificate equality residual {eq:.2e}")
    if P.relative_residual(point) > VERIFY_TOL:
        problems.append(f"interior point residual {P.relative_residual(point):.2e}")
    vertices = _face_vertices(A, y, F, sF, max_bases)
    return BPFace(support=F, sign=sF, dimension=int(Z.shape[1]), basis=basis, point=point, vertices=vertices,
                  certificate=wF, rho=rho, value=value, lps=lps + 1,
                  status="verified" if not problems else "unverified", message="; ".join(problems))


def _polish_vertex(AT: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Re-solve an LP vertex on its support (entries HiGHS left at tolerance level vanish)."""
    t = np.maximum(t, 0.0)
    B = np.flatnonzero(t > SUPPORT_RTOL * max(float(t.max()), 1e-300))
    if B.size and _rank(AT[:, B]) == B.size:
        tB = np.linalg.lstsq(AT[:, B], y, rcond=None)[0]
        if np.all(tB > -SUPPORT_RTOL * tB.max()):
            out = np.zeros_like(t)
            out[B] = np.maximum(tB, 0.0)
            return out
    return t


def _face_vertices(A, y, F, sF, max_bases: int) -> np.ndarray | None:
    """Vertices of ``{x_F : A_F x_F = y, s_F x_F >= 0}`` by enumerating bases (None if too many)."""
    N = A.shape[1]
    AF = A[:, F] * sF
    U, sv, _ = np.linalg.svd(AF, full_matrices=False)
    r = int(np.sum(sv > max(AF.shape) * RANK_RTOL * sv[0])) if sv.size and sv[0] > 0 else 0
    if math.comb(F.size, r) > max_bases:
        return None
    Ar, yr = U[:, :r].T @ AF, U[:, :r].T @ y
    found = []
    for B in combinations(range(F.size), r):
        B = list(B)
        M = Ar[:, B]
        sv_B = np.linalg.svd(M, compute_uv=False)
        if sv_B[-1] <= r * RANK_RTOL * sv[0] * 1e3:
            continue
        tB = np.linalg.solve(M, yr)
        scale = float(np.max(np.abs(tB)))
        if np.any(tB < -1e-9 * scale):
            continue
        keep = [b for b, tb in zip(B, tB) if tb > SUPPORT_RTOL * scale]  # drop degenerate zeros, re-solve
        tK = np.linalg.lstsq(AF[:, keep], y, rcond=None)[0] if keep else np.zeros(0)
        x = np.zeros(N)
        x[F[keep]] = sF[keep] * tK
        if not any(np.max(np.abs(x - v)) <= 1e-9 * max(1.0, scale) for v in found):
            found.append(x)
    found.sort(key=lambda v: tuple(v))
    return np.array(found).reshape(len(found), N)


# ----------------------------------------------------------------------- selected minimizer


def _g_and_derivatives(t: np.ndarray, p: float):
    """``g_p`` of THEORY.md section 4 on ``t = |x| > 0``, with its first two derivatives."""
    if p == 2:
        return t * np.log(t) - t, np.log(t), 1.0 / t
    q = 2.0 / p
    tq = t ** q
    return t - (p / 2.0) * tq, 1.0 - tq / t, (1.0 - q) * tq / t ** 2


def selected_minimizer(A, y=None, depth=None, *, tol: float = 1e-26, max_iter: int = 200,
                       face: BPFace | None = None) -> Selection:
    """The scale -> 0 limit of the depth-p flow: ``argmin_{x in S*} sum g_p(x_i)`` (THEORY.md section 4).

    ``g_2(x) = |x| log(|x|/e)`` (maximum entropy) and ``g_p(x) = |x| - (p/2)|x|^(2/p)`` for
    p > 2 (on ``S*``, ``||x||_1`` is constant, so this maximizes ``sum |x|^(2/p)``). On the
    face ``S*`` the signs are fixed, so with ``t = s_F x_F > 0`` the objective is separable
    and strictly convex (``g_p'' > 0``) on the polytope ``{t >= 0 : A_F s_F t = y}``. Its
    minimizer lies in the relative interior: ``g_p'(t) -> -inf`` as ``t -> 0+`` (``log t``;
    ``1 - t^(2/p - 1)``), so at a boundary point the derivative towards an interior point
    is ``-inf`` and the point is not optimal. Hence damped Newton in the affine
    parameterization ``t = t0 + B c`` (``B`` a basis of ``ker A_F``), kept interior by a
    fraction-to-boundary rule, converges quadratically from the face's interior point.
    Equals `basis_pursuit`'s ``x`` when BP is unique (the face is a point).

    >>> import dlnlab as dl
    >>> from dlnlab.theory import line_selection_t
    >>> sel = dl.selected_minimizer(dl.line_problem(), depth=3)
    >>> round(float(sel.x[2]) / 3, 6), round(line_selection_t(3), 6)
    (0.341923, 0.341923)
    """
    if isinstance(A, Problem) and depth is None and y is not None and np.ndim(y) == 0:
        y, depth = None, y
    if depth is None:
        raise NetworkError("selected_minimizer needs depth= (p >= 2, e.g. depth=3).")
    try:
        p = float(depth)
    except (TypeError, ValueError):
        raise NetworkError(f"depth must be a real number >= 2; got {depth!r}.") from None
    if not math.isfinite(p) or p < 2:
        raise NetworkError(f"depth must be a real number >= 2 (p = 2, 2.5, 3, ...); got {depth!r}.")
    P = as_problem(A, y)
    face = face if face is not None else bp_face(P)
    if face.status != "verified":
        raise SolverError(f"The BP face could not be verified ({face.message}); the selection is undefined.")
    F, sF, N = face.support, face.sign, P.N
    value = face.value
    if face.dimension == 0 or value == 0:
        x = face.point.copy()
        obj = float(np.sum(_g_and_derivatives(np.abs(x[F]), p)[0])) if F.size else 0.0
        return Selection(x=x, depth=p, face=face, objective=obj, kkt=0.0, decrement=0.0, iterations=0,
                         status="converged")
    B = sF[:, None] * face.basis[F] / value  # t-space directions of the normalized face
    t = np.abs(face.point[F]) / value        # sum t = 1 on the face
    it, dec2, status = 0, math.inf, "failed"
    for it in range(max_iter + 1):
        f, g, h = _g_and_derivatives(t, p)
        gc = B.T @ g
        H = (B.T * h) @ B
        dc = np.linalg.solve(H, -gc)
        dt = B @ dc
        dec2 = float(-gc @ dc)
        if dec2 <= tol:
            status = "converged"
            break
        if it == max_iter:
            break
        neg = dt < 0
        step = min(1.0, 0.99 * float(np.min(-t[neg] / dt[neg]))) if np.any(neg) else 1.0
        fsum = float(np.sum(f))
        for _ in range(60):
            t_new = t + step * dt
            if np.all(t_new > 0):
                f_new = float(np.sum(_g_and_derivatives(t_new, p)[0]))
                if f_new <= fsum - 1e-4 * step * dec2 or (dec2 < 1e-12 and step == 1.0):
                    break
            step *= 0.5
        else:
            break
        t = t_new
    x = np.zeros(N)
    x[F] = sF * t * value
    _, g, _ = _g_and_derivatives(t, p)  # on the normalized face: g' is O(1) unless t is tiny
    kkt = float(np.max(np.abs(face.basis[F].T @ (sF * g)))) / max(1.0, float(np.max(np.abs(g))))
    obj = float(np.sum(_g_and_derivatives(np.abs(x[F]), p)[0]))
    result = Selection(x=x, depth=p, face=face, objective=obj, kkt=kkt, decrement=math.sqrt(max(dec2, 0.0)),
                       iterations=it, status=status)
    if status != "converged":
        raise ConvergenceError(f"selected_minimizer: Newton on the face did not converge in {max_iter} "
                               f"iterations (decrement^2 {dec2:.2e}).", result)
    return result


# ----------------------------------------------------------------------- certificate constant


def certificate_constant(A, x_star, *, form: str = "dual") -> CertificateConstant:
    """``rho = min { ||A_{S^c}^T w||_inf : A_S^T w = sigma }`` for a BP solution ``x_star``.

    ``S = supp x_star`` (entries below 1e-9 ``||x_star||_inf`` are zero), ``sigma`` its signs.
    ``A`` is a matrix (then ``y = A x_star``) or a `Problem` (then ``A x_star = y`` is
    checked). ``x_star`` must be a BP solution (``||x_star||_1`` equal to `basis_pursuit`'s
    value to 1e-9), else `NotBPSolutionError`. By LP duality ``rho`` also equals
    ``sup_{v in ker A} <sigma, v_S> / ||v_{S^c}||_1``; ``form="primal"`` solves that LP
    (normalized ``||v_{S^c}||_1 = 1``) instead, an independent computation.
    x_star is the unique BP solution iff ``A_S`` is injective and ``rho < 1``.

    >>> import dlnlab as dl
    >>> P = dl.random_problem()
    >>> round(dl.certificate_constant(P, dl.basis_pursuit(P).x).rho, 4)
    0.2551
    """
    if form not in ("dual", "primal"):
        raise ProblemError(f"form must be 'dual' or 'primal'; got {form!r}.")
    if isinstance(A, Problem):
        P = A
        x_star = _as_solution(x_star, P.N)
        if P.relative_residual(x_star) > VERIFY_TOL:
            raise NotBPSolutionError(
                f"x_star does not satisfy A x = y: relative residual {P.relative_residual(x_star):.2e} "
                f"> {VERIFY_TOL:g}. Pass a basis-pursuit solution, e.g. dl.basis_pursuit(P).x.")
    else:
        A = Problem(A, np.zeros(np.shape(A)[0] if np.ndim(A) == 2 else 1)).A  # validates A
        x_star = _as_solution(x_star, A.shape[1])
        P = Problem(A, A @ x_star)
    A = P.A
    xmax = float(np.max(np.abs(x_star)))
    S = np.flatnonzero(np.abs(x_star) > SUPPORT_RTOL * xmax) if xmax > 0 else np.array([], dtype=int)
    sigma = np.sign(x_star[S])
    bp = basis_pursuit(P)
    l1 = float(np.sum(np.abs(x_star[S])))
    if l1 > bp.value * (1 + VERIFY_TOL) + 1e-300:
        raise NotBPSolutionError(
            f"x_star is not a basis-pursuit solution: ||x_star||_1 = {l1:.12g} > min ||x||_1 = {bp.value:.12g} "
            f"(relative excess {(l1 - bp.value) / bp.value:.2e}). Use dl.basis_pursuit(A, A @ x_star).x.")
    injective = _rank(A[:, S]) == S.size
    if form == "dual":
        rho, w, eq = _rho_lp(A, S, sigma)
        return CertificateConstant(rho=rho, form="dual", support=S, sign=sigma, injective=bool(injective),
                                   unique=bool(injective and rho < 1 - RHO_TOL), w=w, equality_residual=eq)
    rho, v = _rho_primal(A, S, sigma)
    return CertificateConstant(rho=rho, form="primal", support=S, sign=sigma, injective=bool(injective),
                               unique=bool(injective and rho < 1 - RHO_TOL), v=v)


def _as_solution(x, N: int) -> np.ndarray:
    try:
        x = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"x_star must be a real vector ({exc}).") from None
    if x.shape != (N,):
        raise ProblemError(f"x_star must have shape ({N},) to match A's {N} columns; got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ProblemError("x_star has non-finite entries (NaN or inf).")
    return x


def _rho_primal(A: np.ndarray, S: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray]:
    """``max <sigma, v_S> s.t. A v = 0, ||v_{S^c}||_1 = 1`` (v_S free): ``(rho, v)``.

    The LP's ``v`` is projected onto ker A and the ratio recomputed from it, so ``rho`` is
    the value an explicit kernel vector attains (a lower bound, tight to rounding).
    """
    m, N = A.shape
    Sc = np.setdiff1d(np.arange(N), S)
    if Sc.size == 0:
        return 0.0, np.zeros(N)
    k, s = Sc.size, S.size
    c = np.concatenate([-sigma, np.zeros(2 * k)])
    A_eq = np.vstack([np.hstack([A[:, S], A[:, Sc], -A[:, Sc]]),
                      np.concatenate([np.zeros(s), np.ones(2 * k)])[None, :]])
    b_eq = np.append(np.zeros(m), 1.0)
    bounds = [(None, None)] * s + [(0, None)] * (2 * k)
    res = _linprog(c, what="certificate-constant (primal)", A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    v = np.zeros(N)
    v[S] = res.x[:s]
    v[Sc] = res.x[s:s + k] - res.x[s + k:]
    Z = _null_space(A)
    v = Z @ (Z.T @ v)
    denom = float(np.sum(np.abs(v[Sc])))
    return float(sigma @ v[S]) / denom, v / denom
