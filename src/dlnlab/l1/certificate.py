"""The certificate constant ``rho`` of a basis-pursuit solution (docs/theory.md section 5)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NotBPSolutionError, ProblemError
from ..problems import Problem
from ..results import Result
from .bp import _normalized, basis_pursuit
from .dual import rho_lp, rho_primal
from .linalg import RHO_TOL, SUPPORT_RTOL, VERIFY_TOL, _as_solution, _rank


@dataclass(frozen=True)
class CertificateConstant(Result):
    """``rho = min { ||A_{S^c}^T w||_inf : A_S^T w = sigma }`` (docs/theory.md section 5).

    ``rho``; ``form`` (``"dual"``: the LP above, ``w`` is attached and ``rho`` is the value
    it attains; ``"primal"``: ``sup_{v in ker A} <sigma, v_S> / ||v_{S^c}||_1``, ``v`` is
    attached and ``rho`` is the ratio it attains); ``support``, ``sign``, ``injective``
    (``A_S``), ``unique`` (``injective and rho < 1``: x* is the unique BP solution);
    ``equality_residual`` (dual: ``||A_S^T w - sigma||_inf``; primal: ``||A v||_inf / max|A|``
    for the kernel vector normalized to ``||v_{S^c}||_1 = 1``), ``status`` (``"converged"``
    when it is at most 1e-9, else ``"imprecise"``), ``message``, ``iterations`` (linear
    programs solved for ``rho``; the basis-pursuit check counts in its own result).
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
    status: str = "converged"
    message: str = ""
    iterations: int = 1

    def __float__(self) -> float:
        return float(self.rho)



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
        dense = Problem(A, np.zeros(np.shape(A)[0] if np.ndim(A) == 2 else 1)).A  # validates A
        x_star = _as_solution(x_star, dense.shape[1])
        P = Problem(A, dense @ x_star)  # A as given: a sparse A reaches HiGHS sparse
    A = P.A
    xmax = float(np.max(np.abs(x_star)))
    S = np.flatnonzero(np.abs(x_star) > SUPPORT_RTOL * xmax) if xmax > 0 else np.array([], dtype=int)
    sigma = np.sign(x_star[S])
    bp = basis_pursuit(P)
    l1 = float(np.sum(np.abs(x_star[S])))
    if l1 > bp.objective * (1 + VERIFY_TOL) + 1e-300:
        raise NotBPSolutionError(
            f"x_star is not a basis-pursuit solution: ||x_star||_1 = {l1:.12g} > min ||x||_1 = {bp.objective:.12g} "
            f"(relative excess {(l1 - bp.objective) / bp.objective:.2e}). Use dl.basis_pursuit(A, A @ x_star).x.")
    injective = _rank(A[:, S]) == S.size
    # rho is invariant under A -> A / a (with w -> a w): solve the LPs on data of order one
    ws = _normalized(P)[2]
    An = A * ws
    if form == "dual":
        rho, w, eq = rho_lp(An, S, sigma)
        w, v = w * ws, None
    else:
        rho, v = rho_primal(An, S, sigma)
        w, eq = None, float(np.max(np.abs(An @ v))) if v.size else 0.0
    ok = eq <= VERIFY_TOL
    return CertificateConstant(rho=rho, form=form, support=S, sign=sigma, injective=bool(injective),
                               unique=bool(injective and rho < 1 - RHO_TOL), w=w, v=v, equality_residual=eq,
                               status="converged" if ok else "imprecise",
                               message="" if ok else f"the {form} certificate's equality residual is {eq:.2e} > "
                                                     f"{VERIFY_TOL:g} (ill-conditioned A_S)")

