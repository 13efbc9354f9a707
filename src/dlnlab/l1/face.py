"""The face of basis-pursuit minimizers: support, signs, affine hull, vertices (docs/theory.md section 5)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations

import numpy as np

from ..problems import Problem, as_problem
from ..results import Result
from .bp import BPResult, _basis_pursuit, _normalized, _rescaled_bp
from .dual import rho_lp, strict_certificate
from .linalg import RANK_RTOL, RHO_TOL, SUPPORT_RTOL, TIGHT_TOL, VERIFY_TOL, _linprog, _null_space, _rank


@dataclass(frozen=True)
class BPFace(Result):
    """The solution set of BP: ``{x : A x = y, supp x in F, sign(x_F) = sign}``.

    ``support`` (``F``: coordinates nonzero in some minimizer), ``sign`` (on ``F``),
    ``dimension`` (``|F| - rank A_F``), ``basis`` (N x dimension, orthonormal, supported on
    ``F``: the directions of the affine hull), ``point`` (a relative-interior point: every
    ``F`` entry nonzero), ``vertices`` (k x N array, or None when not enumerated),
    ``certificate`` (an optimal ``w`` with ``|a_j^T w| < 1`` for every ``j`` outside ``F``:
    strict complementarity), ``rho`` (``max_{j not in F} |a_j^T w| < 1`` for that ``w``;
    the minimal such value when it came from the ``rho`` LP), ``objective`` (``||x||_1`` on the
    face), ``iterations`` (linear programs solved), ``status`` (``"converged"`` when every check
    passed, else ``"unverified"``), ``message`` (the failed checks).
    """

    support: np.ndarray
    sign: np.ndarray
    dimension: int
    basis: np.ndarray
    point: np.ndarray
    vertices: np.ndarray | None
    certificate: np.ndarray
    rho: float
    objective: float
    iterations: int
    status: str
    message: str = ""

    @property
    def unique(self) -> bool:
        return self.dimension == 0



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
    Goldman-Tucker guarantees; found by `strict_certificate` or the ``rho`` LP on
    ``(F, s_F)``) shows that every minimizer vanishes off ``F`` (``F`` is not too small). The affine hull is
    ``point + ker A_F``; vertices are the basic solutions ``A_B x_B = y`` (``B`` in ``F``,
    ``|B| = rank A_F``) with the face's signs, enumerated when ``C(|F|, rank) <= max_bases``.

    >>> import dlnlab as dl
    >>> face = dl.bp_face(dl.line_problem())
    >>> face.support.tolist(), face.dimension, np.round(face.vertices, 12).tolist()
    ([0, 1, 2], 1, [[0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    """
    P, xs, ws = _normalized(as_problem(A, y))
    bp = _basis_pursuit(P, True) if bp is None else _rescaled_bp(bp, 1.0 / xs, 1.0 / ws)
    face = _bp_face(P, bp, max_bases)
    if xs == 1.0 and ws == 1.0:
        return face
    return replace(face, point=face.point * xs, objective=face.objective * xs, certificate=face.certificate * ws,
                   vertices=None if face.vertices is None else face.vertices * xs)


def _bp_face(P: Problem, bp: BPResult, max_bases: int) -> BPFace:
    A, y = P.A, P.y
    m, N = A.shape
    value = bp.objective
    lps = 0
    if bp.unique:
        return BPFace(support=bp.support, sign=bp.sign, dimension=0, basis=np.zeros((N, 0)), point=bp.x,
                      vertices=bp.x[None, :].copy(), certificate=bp.certificate, rho=1.0 - bp.margin,
                      objective=value, iterations=0, status="converged")
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
    wF = strict_certificate(A, F, sF)  # cheap search first; the rho LP if it finds none
    if wF is None:
        _, wF, _ = rho_lp(A, F, sF)
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
                  certificate=wF, rho=rho, objective=value, iterations=lps + 1,
                  status="converged" if not problems else "unverified", message="; ".join(problems))


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

