"""The deviation of a flow limit from the BP solution, below float64 resolution (docs/theory.md section 5).

As the scale ``a`` goes to 0, the flow limit ``x_inf`` approaches the basis-pursuit solution
``x*``, far below the float64 resolution of ``x*`` (``||x_inf - x*|| ~ a^(1 - rho)`` at
depth 2: 1e-100 at ``a = 1e-300`` for ``rho = 2/3``), so the error is never formed as
``x_inf - x*``. Instead (`deviation_from_bp`):

- off the support, ``x_j`` for ``j`` not in ``S`` is read off the flow's boundary-relative
  dual coordinates ``(sign, gap)`` (`dlnlab.networks.base`) in log domain, to full relative
  precision (no underflow even at ``a = 1e-300``);
- on the support, ``A x = y = A_S x*_S`` gives ``A_S (x_S - x*_S) = -A_{S^c} x_{S^c}``
  exactly, so ``x_S - x*_S = -pinv(A_S) A_{S^c} x_{S^c}`` (``A_S`` injective).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine import Local, damped_newton, solve_psd
from ..errors import NetworkError, NotBPSolutionError, ProblemError
from ..limits import LimitResult
from ..networks.nonnegative import EntropicMap
from ..networks.symmetric import HyperbolicMap, PowerBarrierMap
from ..networks.twolayer import TwoLayerMap
from ..problems import as_problem
from ..results import Result

_LN10 = math.log(10.0)


def _log_sub(big, small):
    """``log(e^big - e^small)`` for ``big >= small`` (``-inf`` when they are equal)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return big + np.log(-np.expm1(small - big))


def log_parts(mapping, sign: np.ndarray, gap: np.ndarray, index=None):
    """``(sign x, log |x|, log X', log F~)`` of ``x = X(z)``, ``z = sign (1 - gap)``, in log domain.

    ``sign``, ``gap``: the dual point on all of the map's coordinates; ``index`` (optional)
    selects the coordinates returned.

    ``F~`` is the dual potential ``F`` up to a constant that makes it positive (it enters
    only through differences). Exact in log domain, so ``x = 1e-5000`` comes out as
    ``log |x| = -11513``, for the maps of the symmetric network (depth 2:
    ``x = a e^{c|z|}(1 - e^{-2c|z|})``; p > 2: ``x = a (gap^-k - (2 - gap)^-k)``), the two-layer
    network (``x = P e^{cz} - M e^{-cz}``) and the non-negative network (``x = e^{(z-c)/reg}``).
    Other maps are evaluated in float64 (``log|primal|``, ``log slope``; ``F~ = None``): exact
    only while ``|x|`` is above the float64 underflow.

    >>> import dlnlab as dl
    >>> net = dl.SymmetricDLN.from_log_scale(3, -2000 * math.log(10))
    >>> _, lx, _, _ = log_parts(net.mirror_map(), np.array([1.0]), np.array([0.5]))
    >>> round(float(lx[0] / math.log(10)), 4)
    -1999.1133
    """
    full_sign = np.asarray(sign, dtype=float)
    full_gap = np.asarray(gap, dtype=float)
    pick = slice(None) if index is None else index
    sign, gap = full_sign[pick], full_gap[pick]

    def param(v):  # a per-coordinate (or broadcast scalar) parameter of the map, on the selection
        return np.broadcast_to(v, full_sign.shape)[pick]

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if isinstance(mapping, HyperbolicMap):
            c, la = mapping.c, mapping.log_a
            absz = 1.0 - gap
            big = la + c * absz
            lr = np.log1p(np.exp(-2.0 * c * absz))
            return (sign, big + np.log(-np.expm1(-2.0 * c * absz)), math.log(c) + big + lr,
                    big + lr - math.log(c))
        if isinstance(mapping, PowerBarrierMap):
            k, la = mapping.k, mapping.log_a
            lg, r = np.log(gap), gap / (2.0 - gap)
            return (sign, la - k * lg + np.log1p(-(r ** k)), math.log(k) + la - (k + 1) * lg + np.log1p(r ** (k + 1)),
                    la - (k - 1) * lg + np.log1p(r ** (k - 1)) - math.log(k - 1))
        if isinstance(mapping, TwoLayerMap):
            cz = mapping.c * sign * (1.0 - gap)
            lp, lm = param(mapping.log_p) + cz, param(mapping.log_m) - cz
            both = np.logaddexp(lp, lm)
            return (np.where(lp >= lm, 1.0, -1.0), _log_sub(np.maximum(lp, lm), np.minimum(lp, lm)),
                    math.log(mapping.c) + both, both - math.log(mapping.c))
        if isinstance(mapping, EntropicMap):
            e = ((sign - param(mapping.cost)) - sign * gap) / mapping.reg
            lreg = math.log(mapping.reg)
            return np.ones_like(e), e, e - lreg, e + lreg
        x = mapping.primal(full_sign, full_gap)[pick]
        return np.sign(x), np.log(np.abs(x)), np.log(mapping.slope(full_sign, full_gap)[pick]), None


def log_abs_primal(net, sign: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """``log |x_j|`` (natural log) of ``x = X(z)``, ``z = sign (1 - gap)``, without underflow
    (see `log_parts`); ``-inf`` where ``x = 0``.

    >>> import dlnlab as dl
    >>> net = dl.SymmetricDLN.from_log_scale(3, -2000 * math.log(10))
    >>> round(float(log_abs_primal(net, np.array([1.0]), np.array([0.5]))[0] / math.log(10)), 4)
    -1999.1133
    """
    out = log_parts(net.mirror_map(), sign, gap)[1]
    return np.where(np.isnan(out), -np.inf, out)


#: The free-direction refinement stops at ``||W^T Q_off^T x_off|| <= FREE_RTOL ||x_off||``.
FREE_RTOL = 1e-13


def _refine_free(mapping, G: np.ndarray, sign: np.ndarray, gap: np.ndarray, off: np.ndarray, max_iter: int = 100):
    """Damped Newton on ``b -> sum_{j off S} F(z_j)``, ``z_off = z0 + G b`` (``G = Q_off W``).

    Everything is scaled by the current largest ``|x_j|`` (log domain), so off-support entries
    of 1e-200 are handled like entries of 1. ``sign``, ``gap``: the dual point on all
    coordinates; only those in ``off`` move. Returns ``(sign, gap, iterations, residual)`` on ``off``.
    """
    here = {}  # the current point's scale M = max log|x_j| and residual

    barrier = mapping.barrier

    def parts(point):
        full_sign, full_gap = sign.copy(), gap.copy()
        full_sign[off], full_gap[off] = point
        return log_parts(mapping, full_sign, full_gap, off)

    def local(point):
        xs, lx, ld, lF = parts(point)
        M = float(np.max(lx))
        if not math.isfinite(M):  # every off-support entry is 0: nothing to refine
            here.update(M=M, res=0.0)
            return Local(np.zeros(G.shape[1]), None, True)
        x = xs * np.exp(lx - M)
        grad = G.T @ x
        res = float(np.linalg.norm(grad)) / float(np.linalg.norm(x))
        here.update(M=M, res=res, F0=float(np.sum(np.exp(lF - M))))
        if res <= FREE_RTOL:
            return Local(grad, None, True)
        return Local(grad, solve_psd((G.T * np.exp(ld - M)) @ G, -grad), False)

    def trial(point, t, db):
        sign, gap = point
        g = gap - sign * (G @ (t * db))
        if barrier and not np.all((g > 0) & (g < 2)):
            return None
        flip = g > 1.0
        return np.where(flip, -sign, sign), np.where(flip, 2.0 - g, g)

    def decrease(point, new, t, db):  # both sums scaled by the current point's exp(-M)
        return float(np.sum(np.exp(parts(new)[3] - here["M"]))) - here["F0"]

    def tie(point, new, t, dphi):  # below the resolution of the scaled sum
        return abs(dphi) <= 1e-14 * here["F0"]

    (s_off, g_off), its, _ = damped_newton((sign[off], gap[off]), local, trial, decrease, max_iter=max_iter,
                                           tie=tie)
    return s_off, g_off, its, here["res"]


@dataclass(frozen=True)
class Deviation(Result):
    """``x_inf - x*`` for a unique BP solution ``x*``, stored as ``10^log10_norm * direction``.

    ``log10_norm`` (``log10 ||x_inf - x*||_2``, ``-inf`` if zero), ``direction`` (unit
    N-vector), ``support``/``off`` (index sets), ``log10_off`` (``log10 |x_j|`` off the
    support), ``x_star``; evidence: ``identity_residual`` (``||x_S - x*_S - dev_S|| / ||x*||``
    from float64 ``x``: ~1e-16 when ``A x = y`` holds and ``S``, ``x*`` are right),
    ``primal_consistency`` (largest relative difference between ``x_j`` as returned by the
    solver and as evaluated here in log domain, over entries above 1e-290), and for
    ``|S| < rank A`` the free-direction refinement's ``iterations`` (Newton steps) and
    ``free_residual`` (``||W^T Q_off^T x_off|| / ||x_off||``, see `deviation_from_bp`);
    ``status`` (``"converged"`` when the refinement met ``FREE_RTOL`` or was not needed;
    ``"max_iter"`` or ``"imprecise"``, a stalled line search, otherwise), ``message``.
    """

    log10_norm: float
    direction: np.ndarray
    support: np.ndarray
    off: np.ndarray
    log10_off: np.ndarray
    x_star: np.ndarray
    identity_residual: float
    primal_consistency: float
    iterations: int = 0
    free_residual: float = 0.0
    status: str = "converged"
    message: str = ""

    @property
    def norm(self) -> float:
        """``||x_inf - x*||`` as a float (0.0 once it underflows)."""
        return 10.0 ** self.log10_norm if self.log10_norm > -330 else 0.0

    def vector(self) -> np.ndarray:
        """``x_inf - x*`` as a float64 vector (entries underflow below 1e-308)."""
        return self.direction * self.norm

    def log10_ratio(self, log10_scale: float, exponent: float = 1.0) -> float:
        """``log10(||x_inf - x*|| / scale^exponent)``."""
        return self.log10_norm - exponent * log10_scale


def _index_set(support, N: int) -> np.ndarray:
    S = np.unique(np.asarray(support, dtype=int).ravel())
    if S.size and (S[0] < 0 or S[-1] >= N):
        raise ProblemError(f"support indices must lie in [0, {N}); got {S.tolist()}.")
    return S


def deviation_from_bp(problem, result: LimitResult, support, x_star=None) -> Deviation:
    """``x_inf - x*`` to full relative precision, from the off-support entries alone.

    With ``A x_inf = y`` and ``A_S x*_S = y`` (``A_S`` injective),
    ``x_inf - x* = (-pinv(A_S) A_{S^c} x_{S^c}, x_{S^c})``; the off-support entries come
    from ``result.sign``/``result.gap`` in log domain (`log_parts`), for every network;
    maps without a log-domain form are exact while the entries stay above the float64 underflow. ``x*`` defaults to
    the exact solution of ``A_S x_S = y``. Raises `NotBPSolutionError` if ``A_S`` is not
    injective or ``y`` is not in range(``A_S``) (then ``support`` is not a unique BP support).

    The result is the deviation for the exact data ``y = A_S x*_S``. When ``|S| < rank A``
    the dual has free directions ``W`` (``Q_S W = 0``, ``Q`` the problem's orthonormal row
    basis) that move only the off-support entries; the limit fixes them by
    ``W^T Q_off^T x_off = 0``, which a float64 residual cannot see once ``x_off`` is below
    1e-16 (and float64 ``y`` is off range(A_S) by ~1e-16 anyway). They are therefore
    re-solved here: damped Newton on the convex ``b -> sum_{j off S} F(z_j)``, scaled in
    log domain (its gradient is ``W^T Q_off^T x_off``; ``<W b, Q^T y> = 0`` for exact data).

    >>> import dlnlab as dl
    >>> P = dl.kink_problem(0.1)
    >>> res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-200))
    >>> round(deviation_from_bp(P, res, [0]).log10_norm, 5)    # sqrt(1 + 0.9^2) * 1e-20
    -19.87116
    """
    P = as_problem(problem)
    A, y, N = P.A, P.y, P.N
    S = _index_set(support, N)
    off = np.setdiff1d(np.arange(N), S)
    AS, Aoff = A[:, S], A[:, off]
    if np.linalg.matrix_rank(AS) < S.size:
        raise NotBPSolutionError(f"A_S is not injective on the support {S.tolist()}: BP's solution is not unique there; "
                                 "compare with a selected minimizer (dl.selected_minimizer) instead.")
    if x_star is None:
        x_star = np.zeros(N)
        if S.size:
            x_star[S] = np.linalg.lstsq(AS, y, rcond=None)[0]
    x_star = np.asarray(x_star, dtype=float)
    if np.any(x_star[off] != 0):
        raise NotBPSolutionError("x_star has nonzero entries off the given support; pass the support of x_star.")
    res_S = float(np.linalg.norm(AS @ x_star[S] - y))
    if res_S > 1e-9 * max(P.y_norm, 1e-300):
        raise NotBPSolutionError(f"A_S x*_S = y fails (residual {res_S:.2e}): {S.tolist()} is not the support of a "
                                 "solution of A x = y. Take the support from dl.basis_pursuit(P).support.")
    net = result.network
    mapping = net.mirror_map()
    full_sign = np.asarray(result.sign, dtype=float)
    full_gap = np.asarray(result.gap, dtype=float)
    sign, gap = full_sign[off], full_gap[off]
    xs0, logx0, _, lF = log_parts(mapping, full_sign, full_gap, off)
    x = np.asarray(result.x, dtype=float)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        big = (np.abs(x[off]) > 1e-290) & np.isfinite(logx0)
        cons = float(np.max(np.abs(x[off][big] / (xs0[big] * np.exp(logx0[big])) - 1.0))) if np.any(big) else 0.0
    Q = P.basis.Q
    if S.size:
        _, sv_Q, Vt = np.linalg.svd(Q[S], full_matrices=True)
        r = int(np.sum(sv_Q > max(Q.shape) * np.finfo(float).eps * sv_Q[0]))
    else:
        Vt, r = np.eye(Q.shape[1]), 0
    W = Vt[r:].T
    if lF is None:  # a map evaluated in float64 only: say where that stops being exact
        name = type(net).__name__
        if W.shape[1] > 0:
            raise NetworkError(
                f"deviation_from_bp: {name}'s mirror map ({type(mapping).__name__}) has no log-domain dual potential, "
                f"which the free dual directions of this support need (|S| = {S.size} < rank A = {r + W.shape[1]}). "
                "Use a network evaluated in log domain (symmetric, two-layer, non-negative) or a support of size "
                "rank A.")
        tiny = (~big) & (gap < 1.0)
        if np.any(tiny):
            raise NetworkError(
                f"deviation_from_bp: {name}'s mirror map ({type(mapping).__name__}) is evaluated in float64 only, and "
                f"{int(tiny.sum())} off-support entries are below 1e-290 there (they underflow). Use larger scales "
                "for this network, or a network evaluated in log domain (symmetric, two-layer, non-negative).")
    free_its, free_res, max_free = 0, 0.0, 100
    if W.shape[1] > 0:
        sign, gap, free_its, free_res = _refine_free(mapping, Q[off] @ W, full_sign, full_gap, off, max_free)
        full_sign, full_gap = full_sign.copy(), full_gap.copy()
        full_sign[off], full_gap[off] = sign, gap
    status, message = "converged", ""
    if free_res > FREE_RTOL:
        status = "max_iter" if free_its >= max_free else "imprecise"
        message = (f"the free dual directions were refined to {free_res:.1e} relative (FREE_RTOL {FREE_RTOL:g}) "
                   f"in {free_its} Newton steps")
    xsign, logx, _, _ = log_parts(mapping, full_sign, full_gap, off)
    logx = np.where(np.isnan(logx), -np.inf, logx)
    finite = np.isfinite(logx)
    xs_norm = float(np.linalg.norm(x_star))
    if not np.any(finite):
        direction = np.zeros(N)
        return Deviation(-math.inf, direction, S, off, logx / _LN10, x_star, 0.0, cons, free_its, free_res, status,
                         message)
    M = float(np.max(logx[finite]))
    v = np.where(finite, xsign * np.exp(np.where(finite, logx - M, -np.inf)), 0.0)
    dS = -np.linalg.lstsq(AS, Aoff @ v, rcond=None)[0] if S.size else np.zeros(0)
    full = np.zeros(N)
    full[S] = dS
    full[off] = v
    n = float(np.linalg.norm(full))
    log10_norm = (M + math.log(n)) / _LN10
    # evidence: the float64 x of the solver against the identity
    with np.errstate(over="ignore", under="ignore"):
        scale = math.exp(M) if M < 700 else math.inf
        identity = float(np.linalg.norm(x[S] - x_star[S] - dS * scale)) / max(xs_norm, 1e-300) if S.size else 0.0
    return Deviation(log10_norm, full / n, S, off, logx / _LN10, x_star, identity, cons, free_its, free_res, status,
                     message)

