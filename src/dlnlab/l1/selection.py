"""The depth-selected minimizer: the scale -> 0 limit of the depth-p flow on a BP face (docs/theory.md section 4)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..engine import Local, damped_newton, solve_psd
from ..errors import ConvergenceError, NetworkError, SolverError
from ..problems import Problem, as_problem
from ..results import Result
from .face import BPFace, bp_face


@dataclass(frozen=True)
class Selection(Result):
    """The scale -> 0 limit of the depth-p flow: ``argmin_{x in S*} sum g_p(x_i)``.

    ``x``, ``depth``, ``face`` (`BPFace`), ``objective`` (``sum g_p(x_i)``, docs/theory.md
    section 4), ``kkt`` (``||B^T s_F g_p'(t)||_inf / max(1, ||g_p'(t)||_inf)`` at
    ``t = |x_F| / ||x||_1``, for the face's basis ``B``: the gradient is orthogonal to the
    face at the minimizer; the normalization keeps the scale of x out), ``decrement`` (Newton
    decrement of the last step, on the face normalized to ``||x||_1 = 1``),
    ``iterations`` (Newton steps), ``status`` (``"converged"``; ``"max_iter"`` or ``"failed"``,
    a stalled line search, come with a `ConvergenceError`), ``message``.
    """

    x: np.ndarray
    depth: float
    face: BPFace = field(repr=False, metadata={"dict": False})
    objective: float
    kkt: float
    decrement: float
    iterations: int
    status: str
    message: str = ""



def _g_and_derivatives(t: np.ndarray, p: float):
    """``g_p`` of docs/theory.md section 4 on ``t = |x| > 0``, with its first two derivatives."""
    if p == 2:
        return t * np.log(t) - t, np.log(t), 1.0 / t
    q = 2.0 / p
    tq = t ** q
    return t - (p / 2.0) * tq, 1.0 - tq / t, (1.0 - q) * tq / t ** 2


def _g(t: np.ndarray, p: float) -> float:
    """``sum g_p(t_i)`` alone (no derivatives, which would overflow for ``t`` near 1e200)."""
    return float(np.sum(t * np.log(t) - t if p == 2 else t - (p / 2.0) * t ** (2.0 / p)))


def selected_minimizer(A, y=None, depth=None, *, tol: float = 1e-26, max_iter: int = 200,
                       face: BPFace | None = None) -> Selection:
    """The scale -> 0 limit of the depth-p flow: ``argmin_{x in S*} sum g_p(x_i)`` (docs/theory.md section 4).

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
    if not face.success:
        raise SolverError(f"The BP face could not be verified ({face.message}); the selection is undefined.")
    F, sF, N = face.support, face.sign, P.N
    value = face.objective
    if face.dimension == 0 or value == 0:
        x = face.point.copy()
        obj = _g(np.abs(x[F]), p) if F.size else 0.0
        return Selection(x=x, depth=p, face=face, objective=obj, kkt=0.0, decrement=0.0, iterations=0,
                         status="converged")
    B = sF[:, None] * face.basis[F]          # t-space directions of the face (Newton is affine invariant:
    #                                          no 1 / value here, which would underflow for large data)
    t = np.abs(face.point[F]) / value        # sum t = 1 on the face
    here = {"dec2": math.inf}

    def local(t):
        _, g, h = _g_and_derivatives(t, p)
        gc = B.T @ g
        dc = solve_psd((B.T * h) @ B, -gc)
        here["dec2"] = dec2 = float(-gc @ dc)  # the Newton decrement squared
        return Local(g, B @ dc, dec2 <= tol)

    def max_step(t, dt):  # fraction to the boundary t > 0
        neg = dt < 0
        return float(np.min(-t[neg] / dt[neg])) if np.any(neg) else np.inf

    def trial(t, step, dt):
        new = t + step * dt
        return new if np.all(new > 0) else None

    def decrease(t, new, step, dt):
        return _g(new, p) - _g(t, p)

    def tie(t, new, step, dphi):  # a full step below the objective's resolution: Newton is quadratic here
        return here["dec2"] < 1e-12 and step == 1.0

    t, it, converged = damped_newton(t, local, trial, decrease, max_iter=max_iter, max_step=max_step, tie=tie)
    status = "converged" if converged else "max_iter" if it == max_iter else "failed"
    dec2 = here["dec2"]
    x = np.zeros(N)
    x[F] = sF * t * value
    _, g, _ = _g_and_derivatives(t, p)  # on the normalized face: g' is O(1) unless t is tiny
    kkt = float(np.max(np.abs(face.basis[F].T @ (sF * g)))) / max(1.0, float(np.max(np.abs(g))))
    obj = _g(np.abs(x[F]), p)
    result = Selection(x=x, depth=p, face=face, objective=obj, kkt=kkt, decrement=math.sqrt(max(dec2, 0.0)),
                       iterations=it, status=status,
                       message="" if converged else f"Newton on the face stopped after {it} iterations "
                                                    f"(decrement^2 {dec2:.2e} > tol {tol:.1e})")
    if not converged:
        raise ConvergenceError(f"selected_minimizer: {result.message}.", result)
    return result

