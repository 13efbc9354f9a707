"""Basis pursuit by HiGHS, verified rather than trusted (docs/theory.md section 1).

Basis pursuit (BP) is ``min ||x||_1 s.t. A x = y``; its dual is ``max <w, y> s.t.
||A^T w||_inf <= 1``. A dual-feasible ``w`` with ``<w, y> = ||x||_1`` is an *optimal
certificate* of ``x``, and for any such ``w`` the solution set is

    S* = { x : A x = y,  x_i = 0 where |a_i^T w| < 1,  sign(x_i) = a_i^T w elsewhere },

a face of a polytope on which every point has the same signs (complementary slackness).
`basis_pursuit` runs HiGHS on ``x = x+ - x-``, then cleans the answer (support identified,
``x_S`` recomputed by least squares) and checks it: residual, a dual certificate with
``||A^T w||_inf <= 1`` and its duality gap, and an exact uniqueness test (``A_S`` injective
and ``rho < 1``, docs/theory.md section 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError
from ..problems import Problem, as_problem
from ..results import Result
from .dual import polish_certificate, rho_lp, strict_certificate
from .linalg import (RHO_TOL, SUPPORT_RTOL, TIGHT_HIGHS, TIGHT_TOL, VERIFY_TOL, _linprog, _null_space, _rank,
                     _relative_gap)


@dataclass(frozen=True)
class BPResult(Result):
    """A basis-pursuit solution with the evidence that it is one.

    ``x`` (cleaned), ``objective = ||x||_1``, ``certificate`` (``w`` with ``||A^T w||_inf <= 1``;
    strictly below 1 off the support when ``unique``), ``unique`` (``A_S`` injective and
    ``rho < 1``), ``alternative`` (when not unique: another minimizer, checked feasible and
    of the same l1 norm), ``support`` and ``sign`` (of ``x_S``), ``residual`` (``||Ax-y||/||y||``),
    ``duality_gap`` (``(||x||_1 - <w, y>) / ||x||_1``), ``margin`` (``1 - max_{j not in S}
    |a_j^T w|``: > 0 means the certificate is strict), ``injective`` (``A_S``),
    ``status`` (``"converged"`` when every check passed, else ``"unverified"``),
    ``certificate_source`` (``"highs"`` marginals, ``"dual-lp"``, ``"soft-max"`` search or
    ``"rho-lp"``), ``iterations`` (HiGHS' simplex iterations), ``message``.
    """

    x: np.ndarray
    objective: float
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
            variants.append(polish_certificate(A, w0, T, sT))
        variants.append(polish_certificate(A, w0, S, sigma))
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


def _dual_lp(P: Problem, options=None) -> np.ndarray:
    """``argmax <w, y> s.t. -1 <= A^T w <= 1`` by HiGHS (the BP dual, solved directly)."""
    AT = P.A.T if P.A_sparse is None else P.A_sparse.T
    res = _linprog(-P.y, what="basis-pursuit dual", A_ub=_stack(AT, -AT, sp.vstack, np.vstack),
                   b_ub=np.ones(2 * P.N), bounds=(None, None), options=options)
    return res.x


def _stack(a, b, sparse, dense):
    """``[a, b]`` joined by ``sparse`` (CSC, as HiGHS stores it) when ``a`` is sparse, else by ``dense``."""
    return sparse([a, b], format="csc") if sp.issparse(a) else dense([a, b])



def _second_minimizer(P: Problem, x: np.ndarray, S: np.ndarray, w: np.ndarray) -> np.ndarray | None:
    """Another BP minimizer ``x + eps v``, or None when ``x`` is the only one (Farkas).

    Every minimizer is supported in the tight set ``T`` of the optimal certificate ``w``, with
    the signs of ``A_T^T w``. So another one exists iff some ``v != 0`` has ``A v = 0``,
    ``supp v in T`` and ``s_j v_j >= 0`` on ``E = T \\ S`` (``x`` is 0 there): with ``A_S``
    injective, iff the small LP ``A_S v_S + A_E (s_E u) = 0, u >= 0, sum u = 1`` is feasible
    (``|T|`` variables, ``m + 1`` rows). ``eps`` keeps the signs on ``S``; the point is checked.
    """
    A = P.A
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
            res = _linprog(np.zeros(S.size + E.size), what="second-minimizer", A_eq=A_eq, b_eq=b_eq, bounds=bounds)
        except SolverError:
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



def basis_pursuit(A, y=None, *, throw: bool = True) -> BPResult:
    """The l1 minimizer ``argmin ||x||_1`` subject to ``A x = y``, verified (see module docstring).

    A `scipy.sparse` ``A`` reaches HiGHS sparse (the LPs on ``[A, -A]``); the cleaning and
    certificate checks use its dense copy (`Problem`).

    Steps: HiGHS (``scipy.optimize.linprog(method="highs")``) on ``x = x+ - x-``; support
    ``S = {|x_i| > 1e-9 ||x||_inf}``, ``x_S = lstsq(A_S, y)`` when ``A_S`` is injective;
    certificate from HiGHS' equality marginals, polished and checked, else from the dual LP
    (and the whole solve once more with HiGHS tolerances 1e-10 if the gap is still too large);
    ``unique`` iff ``A_S`` injective and ``rho < 1``: shown by a strict certificate (HiGHS'
    own, or one found by a soft-max Newton search, `strict_certificate`); else refuted by
    another minimizer (`_second_minimizer`, a small LP on the tight set), else the ``rho``
    LP supplies the strict certificate. Raises `SolverError` when
    HiGHS fails or (with ``throw=True``) when the answer cannot be verified.

    >>> import dlnlab as dl
    >>> bp = dl.basis_pursuit(dl.random_problem())
    >>> np.round(bp.x, 6).tolist(), bp.unique, bp.status
    ([0.0, 0.0, -0.27822, -0.949197, -0.536551], True, 'converged')
    """
    P, xs, ws = _normalized(as_problem(A, y))
    result = _basis_pursuit(P, throw)
    return _rescaled_bp(result, xs, ws)


def _normalized(P: Problem) -> tuple[Problem, float, float]:
    """``(A / a, y / b)`` with ``a`` the power of two nearest ``max|A|`` (so that ``A / a`` is
    exact) and ``b = max|y|``, and the factors ``(b / a, 1 / a)`` that take its solution ``x'``
    and certificate ``w'`` back: ``x = (b / a) x'``, ``w = w' / a``.

    BP is homogeneous in both: ``A x = y`` iff ``(A / a)(a x / b) = y / b``, and ``w`` with
    ``||A^T w||_inf <= 1`` iff ``a w`` has ``||(A / a)^T (a w)||_inf <= 1``; signs, supports,
    margins and relative gaps are unchanged. HiGHS' absolute tolerances (1e-7) need data of
    order one: A with entries ~1e-13 otherwise reads as infeasible, ~1e200 as a model error.
    """
    amax = float(np.max(np.abs(P.A)))
    a = 2.0 ** round(math.log2(amax)) if amax > 0 else 1.0
    b = float(np.max(np.abs(P.y)))
    b = 1.0 if b == 0.0 else b
    if a == 1.0 and b == 1.0:
        return P, 1.0, 1.0
    A = P.A if P.A_sparse is None else P.A_sparse  # a power of two: the sparse and dense quotients agree exactly
    return Problem(A / a, P.y / b, name=P.name), b / a, 1.0 / a


def _rescaled_bp(bp: BPResult, xs: float, ws: float) -> BPResult:
    """``bp`` with ``x`` (and its alternative, objective) times ``xs``, the certificate times ``ws``."""
    if xs == 1.0 and ws == 1.0:
        return bp
    return replace(bp, x=bp.x * xs, objective=bp.objective * xs, certificate=bp.certificate * ws,
                   alternative=None if bp.alternative is None else bp.alternative * xs)


def _basis_pursuit(P: Problem, throw: bool) -> BPResult:
    A, y = P.A, P.y
    m, N = A.shape
    for options in (None, TIGHT_HIGHS):  # a gap above tolerance: once more with tight tolerances
        As = A if P.A_sparse is None else P.A_sparse
        res = _linprog(np.ones(2 * N), what="basis-pursuit", A_eq=_stack(As, -As, sp.hstack, np.hstack), b_eq=y,
                       options=options)
        x, injective = _clean_primal(A, y, res.x[:N] - res.x[N:])
        S = np.flatnonzero(x)
        sigma = np.sign(x[S])
        value = float(np.sum(np.abs(x)))
        residual = P.relative_residual(x)
        marg = getattr(getattr(res, "eqlin", None), "marginals", None)
        candidates = [(None if marg is None else np.asarray(marg, dtype=float), "highs")]
        best = _certify(A, y, x, S, sigma, candidates)
        if best is None or best[1] > VERIFY_TOL:  # repair: solve the dual LP itself
            candidates.append((_dual_lp(P, options), "dual-lp"))
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
        strict = strict_certificate(A, S, sigma) if injective else None
        source_strict = "soft-max"
        if strict is None:
            alternative = _second_minimizer(P, x, S, w)
        if strict is None and alternative is None and injective:  # the rho LP: a strict certificate
            rho, strict, eq = rho_lp(A, S, sigma)
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
    status = "converged" if ok else "unverified"
    message = "" if ok else (f"checks failed: residual {residual:.2e}, duality gap {gap:.2e} "
                             f"(tolerance {VERIFY_TOL:g})")
    result = BPResult(x=x, objective=value, certificate=w, unique=bool(unique), alternative=alternative,
                      support=S, sign=sigma,
                      residual=residual, duality_gap=gap, status=status, margin=margin,
                      injective=bool(injective), certificate_source=source,
                      iterations=int(getattr(res, "nit", 0)), message=message)
    if throw and not ok:
        raise SolverError(f"basis_pursuit: HiGHS' answer could not be verified ({message}). "
                          "Rescale the data or pass throw=False to inspect it.")
    return result

