"""Rates of convergence of the flow limit to the l1 limit, measured below float64 resolution.

As the scale ``a = alpha^p`` goes to 0, the flow limit ``x_inf`` approaches the basis-pursuit
solution ``x*`` (THEORY.md section 5): for a unique BP solution with support ``S``, signs
``sigma`` and certificate constant ``rho < 1``,

    ||x_inf - x*|| = Theta(a^(1 - rho))   (p = 2),        Theta(a)   (p > 2).

The slope ``1 - rho`` shows only once the error is far below the float64 resolution of
``x*`` (``rho = 0.9``: scales down to 1e-100 for ten decades of error), so the error is
never formed as ``x_inf - x*``. Instead (`deviation_from_bp`):

- off the support, ``x_j`` for ``j`` not in ``S`` is read off the flow's boundary-relative
  dual coordinates ``(sign, gap)`` (`dlnlab.networks.base`) in log domain, to full relative
  precision (no underflow even at ``a = 1e-300``);
- on the support, ``A x = y = A_S x*_S`` gives ``A_S (x_S - x*_S) = -A_{S^c} x_{S^c}``
  exactly, so ``x_S - x*_S = -pinv(A_S) A_{S^c} x_{S^c}`` (``A_S`` injective).

The module also predicts slopes and constants (`predicted_slope`, `predicted_constant`),
fits slopes (`fit_slope`), runs whole studies (`rate_study`) and, as an independent check
of all of the above, computes flow limits in extended precision (`mp_flow_limit`).

>>> import dlnlab as dl
>>> study = rate_study(dl.random_problem(), depths=(2,), log10_scales=np.arange(-20.0, -101.0, -20.0))
>>> round(study.curves[0].fit.slope, 4), round(study.curves[0].predicted_slope, 4)
(0.7449, 0.7449)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NotBPSolutionError, ProblemError
from ..l1 import basis_pursuit, bp_face, certificate_constant, selected_minimizer
from ..limits import LimitResult, flow_limit
from ..networks.symmetric import HyperbolicMap, PowerBarrierMap
from ..networks.symmetric import SymmetricDLN
from ..problems import Problem, as_problem

_LN10 = math.log(10.0)


# ------------------------------------------------------------------ off-support entries


def log_abs_primal(net, sign: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """``log |x_j|`` (natural log) of ``x = X(z)``, ``z = sign (1 - gap)``, without underflow.

    Depth 2 (`HyperbolicMap`): ``|x| = exp(log a + c |z|) (1 - exp(-2 c |z|))``;
    depth p > 2 (`PowerBarrierMap`): ``|x| = a (gap^-k - (2 - gap)^-k)``. Both are
    evaluated as sums of logs, so ``x = 1e-5000`` comes out as ``-11513``. Other maps fall
    back to ``log |primal|``. ``-inf`` where ``x = 0`` (``z = 0``).

    >>> net = SymmetricDLN.from_log_scale(3, -2000 * math.log(10))
    >>> round(float(log_abs_primal(net, np.array([1.0]), np.array([0.5]))[0] / math.log(10)), 4)
    -1999.1133
    """
    mapping = net.mirror_map()
    sign = np.asarray(sign, dtype=float)
    gap = np.asarray(gap, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(mapping, HyperbolicMap):
            c = mapping.c
            absz = 1.0 - gap
            out = mapping.log_a + c * absz + np.log(-np.expm1(-2.0 * c * absz))
        elif isinstance(mapping, PowerBarrierMap):
            k = mapping.k
            out = mapping.log_a - k * np.log(gap) + np.log1p(-((gap / (2.0 - gap)) ** k))
        else:
            out = np.log(np.abs(mapping.primal(sign, gap)))
    return np.where(np.isnan(out), -np.inf, out)


def _log_parts(net, gap: np.ndarray):
    """``log |X|``, ``log X'`` and ``log F`` (natural logs) at ``z = +-(1 - gap)`` for the
    symmetric DLN's maps (`HyperbolicMap`, `PowerBarrierMap`), without underflow."""
    mapping = net.mirror_map()
    with np.errstate(divide="ignore", invalid="ignore"):
        if isinstance(mapping, HyperbolicMap):
            c, la = mapping.c, mapping.log_a
            absz = 1.0 - gap
            big = la + c * absz
            lr = np.log1p(np.exp(-2.0 * c * absz))
            return big + np.log(-np.expm1(-2.0 * c * absz)), math.log(c) + big + lr, big + lr - math.log(c)
        if isinstance(mapping, PowerBarrierMap):
            k, la = mapping.k, mapping.log_a
            lg, r = np.log(gap), gap / (2.0 - gap)
            return (la - k * lg + np.log1p(-(r ** k)), math.log(k) + la - (k + 1) * lg + np.log1p(r ** (k + 1)),
                    la - (k - 1) * lg + np.log1p(r ** (k - 1)) - math.log(k - 1))
    raise ProblemError(f"deviation_from_bp supports SymmetricDLN networks; got {type(net).__name__}.")


#: The free-direction refinement stops at ``||W^T Q_off^T x_off|| <= FREE_RTOL ||x_off||``.
FREE_RTOL = 1e-13


def _refine_free(net, G: np.ndarray, sign: np.ndarray, gap: np.ndarray, barrier: bool, max_iter: int = 100):
    """Damped Newton on ``b -> sum_{j off S} F(z_j)``, ``z_off = z0 + G b`` (``G = Q_off W``).

    Everything is scaled by the current largest ``|x_j|`` (log domain), so off-support entries
    of 1e-200 are handled like entries of 1. Returns ``(sign, gap, iterations, residual)``.
    """
    def move(sign, gap, dz):
        g = gap - sign * dz
        if barrier and not np.all((g > 0) & (g < 2)):
            return None
        flip = g > 1.0
        return np.where(flip, -sign, sign), np.where(flip, 2.0 - g, g)

    res = math.inf
    for it in range(max_iter + 1):
        lx, ld, lF = _log_parts(net, gap)
        M = float(np.max(lx))
        if not math.isfinite(M):
            return sign, gap, it, 0.0
        x = sign * np.exp(lx - M)
        grad = G.T @ x
        res = float(np.linalg.norm(grad)) / float(np.linalg.norm(x))
        if res <= FREE_RTOL or it == max_iter:
            return sign, gap, it, res
        H = (G.T * np.exp(ld - M)) @ G
        H += 1e-15 * float(np.max(np.diag(H))) * np.eye(H.shape[0])
        db = -np.linalg.solve(H, grad)
        dz = G @ db
        dec = -float(grad @ db)
        F0 = float(np.sum(np.exp(lF - M)))
        t = 1.0
        for _ in range(60):
            trial = move(sign, gap, t * dz)
            if trial is not None:
                F1 = float(np.sum(np.exp(_log_parts(net, trial[1])[2] - M)))
                if F1 <= F0 - 1e-4 * t * dec or abs(F1 - F0) <= 1e-14 * F0:
                    break
            t *= 0.5
        else:
            return sign, gap, it, res
        sign, gap = trial
    return sign, gap, max_iter, res


# ------------------------------------------------------------------ the deviation from x*


@dataclass(frozen=True)
class Deviation:
    """``x_inf - x*`` for a unique BP solution ``x*``, stored as ``10^log10_norm * direction``.

    ``log10_norm`` (``log10 ||x_inf - x*||_2``, ``-inf`` if zero), ``direction`` (unit
    N-vector), ``support``/``off`` (index sets), ``log10_off`` (``log10 |x_j|`` off the
    support), ``x_star``; evidence: ``identity_residual`` (``||x_S - x*_S - dev_S|| / ||x*||``
    from float64 ``x``: ~1e-16 when ``A x = y`` holds and ``S``, ``x*`` are right),
    ``primal_consistency`` (largest relative difference between ``x_j`` as returned by the
    solver and as evaluated here in log domain, over entries above 1e-290), and for
    ``|S| < rank A`` the free-direction refinement's ``free_iterations`` and
    ``free_residual`` (``||W^T Q_off^T x_off|| / ||x_off||``, see `deviation_from_bp`).
    """

    log10_norm: float
    direction: np.ndarray
    support: np.ndarray
    off: np.ndarray
    log10_off: np.ndarray
    x_star: np.ndarray
    identity_residual: float
    primal_consistency: float
    free_iterations: int = 0
    free_residual: float = 0.0

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
    from ``result.sign``/``result.gap`` in log domain (`log_abs_primal`). ``x*`` defaults to
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
    sign = np.asarray(result.sign, dtype=float)[off]
    gap = np.asarray(result.gap, dtype=float)[off]
    logx0 = log_abs_primal(net, sign, gap)
    x = np.asarray(result.x, dtype=float)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        big = (np.abs(x[off]) > 1e-290) & np.isfinite(logx0)
        cons = float(np.max(np.abs(x[off][big] / (sign[big] * np.exp(logx0[big])) - 1.0))) if np.any(big) else 0.0
    Q = P.basis.Q
    if S.size:
        _, sv_Q, Vt = np.linalg.svd(Q[S], full_matrices=True)
        r = int(np.sum(sv_Q > max(Q.shape) * np.finfo(float).eps * sv_Q[0]))
    else:
        Vt, r = np.eye(Q.shape[1]), 0
    W = Vt[r:].T
    free_its, free_res = 0, 0.0
    if W.shape[1] > 0:
        sign, gap, free_its, free_res = _refine_free(net, Q[off] @ W, sign, gap, net.mirror_map().barrier)
    logx = log_abs_primal(net, sign, gap)
    finite = np.isfinite(logx)
    xs_norm = float(np.linalg.norm(x_star))
    if not np.any(finite):
        direction = np.zeros(N)
        return Deviation(-math.inf, direction, S, off, logx / _LN10, x_star, 0.0, cons, free_its, free_res)
    M = float(np.max(logx[finite]))
    v = np.where(finite, sign * np.exp(np.where(finite, logx - M, -np.inf)), 0.0)
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
    return Deviation(log10_norm, full / n, S, off, logx / _LN10, x_star, identity, cons, free_its, free_res)


# ------------------------------------------------------------------ targets and predictions


@dataclass(frozen=True)
class Target:
    """What a rate study measures the error to, and the certificate that predicts the rate.

    ``kind``: ``"bp"`` (unique BP solution ``x``; error by `deviation_from_bp`) or
    ``"selected"`` (non-unique BP: the depth's selected minimizer, THEORY.md section 4; error
    by subtraction, resolved only down to ~1e-13). ``support``/``sign`` of ``x``; ``rho``:
    the certificate constant (unique BP) or ``max_{j not in T} |a_j^T w|`` for the face's
    certificate (selected); ``certificate``: ``A^T w``; ``depth`` (selected only).
    """

    kind: str
    x: np.ndarray
    support: np.ndarray
    sign: np.ndarray
    rho: float
    certificate: np.ndarray
    w: np.ndarray
    depth: float | None = None


def bp_target(problem) -> Target:
    """The unique BP solution with its best certificate (``rho``), via `dlnlab.l1`.

    Raises `NotBPSolutionError` if BP's solution is not unique (then use `selected_target`).
    """
    P = as_problem(problem)
    bp = basis_pursuit(P)
    if not bp.unique:
        raise NotBPSolutionError("BP's solution is not unique on this problem; the rate to x* is undefined. "
                                 "Measure the error to the depth's selected minimizer (selected_target).")
    cc = certificate_constant(P, bp.x)
    return Target("bp", bp.x.copy(), bp.support, bp.sign, float(cc.rho), P.A.T @ cc.w, cc.w)


def selected_target(problem, depth: float) -> Target:
    """The selected minimizer (scale -> 0 limit) of a depth on a problem with a BP face.

    ``rho`` here is ``max |a_j^T w|`` off the selected point's support ``T`` for the face
    certificate ``A_T^T w = sign`` (unique when ``A_T`` has rank m, else NaN).
    """
    P = as_problem(problem)
    face = bp_face(P)
    sel = selected_minimizer(P, depth=depth, face=face)
    x = sel.x
    T = np.flatnonzero(x)
    sign = np.sign(x[T])
    AT = P.A[:, T]
    if np.linalg.matrix_rank(AT) == P.m:
        w = np.linalg.lstsq(AT.T, sign, rcond=None)[0]
        cert = P.A.T @ w
        off = np.setdiff1d(np.arange(P.N), T)
        rho = float(np.max(np.abs(cert[off]))) if off.size else 0.0
    else:
        w, cert, rho = face.certificate, P.A.T @ face.certificate, math.nan
    return Target("selected", x.copy(), T, sign, rho, cert, w, depth=float(depth))


def predicted_slope(depth: float, target: Target) -> float:
    """Slope of ``log ||x_inf - target||`` against ``log a`` as ``a -> 0``.

    Unique BP (THEORY.md section 5): ``1 - rho`` (p = 2), ``1`` (p > 2).
    Selected minimizer of a face (derived here, checked numerically by the experiments):
    off the support ``T`` the entries are ``a^(1 - |z_j|)`` (p = 2) or ``a h_p(z_j)``
    (p > 2); on ``T`` the potential is ``|x| + eps g_p(x)`` up to a relative ``O(a^2)``
    (p = 2: ``asinh(w) = log 2w + O(w^-2)``) or ``O(a)`` (p > 2), which moves the
    minimizer by as much. Hence ``min(2, 1 - rho_T)`` (p = 2) and ``1`` (p > 2).
    """
    if float(depth) > 2:
        return 1.0
    if target.kind == "bp":
        return 1.0 - target.rho
    if math.isnan(target.rho):
        return math.nan
    return min(2.0, 1.0 - target.rho) if target.support.size < target.x.size else 2.0


def _psi(t, k):
    """Dual barrier of depth p > 2 in tau units: ``psi' = h_p``, ``psi'' > 0`` on (-1, 1)."""
    return ((1 - t) ** (1 - k) + (1 + t) ** (1 - k)) / (k - 1), (1 - t) ** -k - (1 + t) ** -k, \
        k * ((1 - t) ** (-k - 1) + (1 + t) ** (-k - 1))


def limiting_certificate(problem, target: Target, depth: float) -> np.ndarray:
    """The dual ``tau* = lim A^T mu(a)`` (map units) of a unique BP solution, depth p > 2.

    On ``ker A_S^T`` the dual objective changes only through ``sum_{j not in S} Psi(tau_j)``
    (``<w, y> = <A_S^T w, x*_S> = 0`` there) and ``Psi = a psi(tau)``; so ``tau*`` minimizes
    ``sum_{j not in S} psi(tau_j)`` over the certificates ``{A^T w : A_S^T w = sigma}`` (a
    strictly convex barrier problem, solved by damped Newton from the ``rho`` certificate).
    """
    P = as_problem(problem)
    A, S = P.A, target.support
    off = np.setdiff1d(np.arange(P.N), S)
    k = depth / (depth - 2.0)
    w = np.array(target.w, dtype=float)
    AS = A[:, S]
    _, sv, Vt = np.linalg.svd(AS.T, full_matrices=True)
    r = int(np.sum(sv > max(AS.shape) * np.finfo(float).eps * (sv[0] if sv.size else 1.0)))
    B = Vt[r:].T  # ker A_S^T
    if B.shape[1] == 0:
        return A.T @ w
    Aoff = A[:, off]
    G = Aoff.T @ B
    for _ in range(200):
        t = Aoff.T @ w
        f, g, h = _psi(t, k)
        grad = G.T @ g
        H = (G.T * h) @ G
        dc = np.linalg.solve(H, -grad)
        dec = float(-grad @ dc)
        if dec <= 1e-28 * max(1.0, float(np.sum(f))):
            break
        dt = G @ dc
        step = 1.0
        with np.errstate(divide="ignore"):
            lim = np.where(dt > 0, (1 - t) / dt, np.where(dt < 0, (-1 - t) / dt, np.inf))
        step = min(1.0, 0.99 * float(lim.min()))
        f0 = float(np.sum(f))
        while step > 1e-16:
            f1 = float(np.sum(_psi(t + step * dt, k)[0]))
            if f1 <= f0 - 1e-4 * step * dec or dec < 1e-24:
                break
            step *= 0.5
        w = w + step * (B @ dc)
    return A.T @ w


def predicted_error(problem, target: Target, depth: float, log10_scale: float) -> float | None:
    """``log10`` of the leading-order error ``||x_inf - x*||`` at scale ``a`` (unique BP).

    The off-support entries at leading order, mapped to the support by
    ``dev_S = -pinv(A_S) A_{S^c} x_{S^c}``:

    - p > 2: ``x_j = a h_p(tau*_j)`` with the limiting certificate (`limiting_certificate`);
      the constant is ``lim error / a``. Kink ``[1, 1-eps]``: ``sqrt(1+(1-eps)^2) h_p(1-eps)``.
    - p = 2, when ``A_S`` is square (the certificate is unique): ``z_S = sigma (1 + log|x*_S|/c)``,
      ``c = log(1/a)``, so ``x_j = sign(z*_j) a^(1 - |z*_j|) exp(sign(z*_j) v_j)`` with
      ``v = A_{S^c}^T A_S^{-T} (sigma log|x*_S|)``. ``None`` when ``|S| < m`` (the certificate
      is then selected by a soft-max among the ``rho``-optimal ones: no closed form here).
    """
    P = as_problem(problem)
    A, S = P.A, target.support
    off = np.setdiff1d(np.arange(P.N), S)
    AS = A[:, S]
    if depth > 2:
        tau = limiting_certificate(P, target, depth)[off]
        k = depth / (depth - 2.0)
        u = _psi(tau, k)[1]
        log10_u = 0.0
    else:
        if S.size != P.m:
            return None
        zs = A.T @ np.linalg.solve(AS.T, target.sign)
        v = A[:, off].T @ np.linalg.solve(AS.T, target.sign * np.log(np.abs(target.x[S])))
        zo = zs[off]
        logs = (1.0 - np.abs(zo)) * log10_scale * _LN10 + np.sign(zo) * v  # natural log of |x_j|
        M = float(np.max(logs))
        u = np.sign(zo) * np.exp(logs - M)
        log10_u = M / _LN10 - log10_scale  # so that the final + log10_scale restores it
    dS = -np.linalg.lstsq(AS, A[:, off] @ u, rcond=None)[0]
    return float(math.log10(math.sqrt(float(dS @ dS + u @ u))) + log10_u + log10_scale)


# ------------------------------------------------------------------ slope fits


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line ``log10 err = slope * log10 a + intercept`` over a range of scales.

    ``stderr`` (standard error of the slope), ``n`` (points), ``range`` (log10 scales used),
    ``local`` (slopes between consecutive points of the range), ``curvature``
    (``max |local - slope|``: small when the range is asymptotic).
    """

    slope: float
    intercept: float
    stderr: float
    n: int
    range: tuple[float, float]
    local: np.ndarray = field(repr=False)
    curvature: float = 0.0


def fit_slope(log10_scale, log10_error, *, lo: float = -math.inf, hi: float = math.inf) -> SlopeFit:
    """Fit the slope of ``log10_error`` against ``log10_scale`` over ``lo <= log10 a <= hi``.

    Non-finite errors are skipped; at least two points are needed.

    >>> round(fit_slope([-1, -2, -3], [-0.5, -1.0, -1.5]).slope, 12)
    0.5
    """
    xs = np.asarray(log10_scale, dtype=float)
    ys = np.asarray(log10_error, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs >= lo) & (xs <= hi)
    xs, ys = xs[keep], ys[keep]
    if xs.size < 2:
        raise ProblemError(f"a slope fit needs at least two finite points in [{lo}, {hi}]; got {xs.size}. "
                           "Extend the scale grid into the asymptotic range.")
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    slope, intercept = np.polyfit(xs, ys, 1)
    if xs.size > 2:
        resid = ys - (slope * xs + intercept)
        stderr = math.sqrt(float(resid @ resid) / (xs.size - 2) / float(np.sum((xs - xs.mean()) ** 2)))
    else:
        stderr = 0.0
    dx = np.diff(xs)
    local = np.diff(ys)[dx > 0] / dx[dx > 0]  # repeated scales (e.g. two methods) give no local slope
    return SlopeFit(float(slope), float(intercept), stderr, int(xs.size), (float(xs[0]), float(xs[-1])), local,
                    float(np.max(np.abs(local - slope))) if local.size else 0.0)


def asymptotic_upper(depth: float, target: Target) -> float:
    """``log10`` of the largest scale counted as asymptotic for the slope fit.

    p > 2: the support gaps ``~ a^(1/k)`` (``k = p/(p-2)``) must be far below the margin
    ``1 - rho`` of the certificate: ``a <= (0.01 (1 - rho))^k`` (the "kink" of THEORY.md
    section 5 sits at ``a ~ (1-rho)^k``). p = 2: ``a <= 1e-20`` (the corrections are
    ``O(1/log(1/a))`` in the exponent's constant only). Selected minimizers: ``1e-3``
    (p = 2) and ``1e-5`` (p > 2, where the relative corrections are ``O(alpha^(p-2))``).
    """
    if target.kind == "selected":
        return -3.0 if depth == 2 else -5.0
    if depth == 2:
        return -20.0
    k = depth / (depth - 2.0)
    margin = max(1.0 - target.rho, 1e-12)
    return k * math.log10(0.01 * margin)


def default_scales(depth: float, target: Target, points_per_decade: float = 0.25) -> np.ndarray:
    """A grid of ``log10 a`` from 0 deep into the asymptotic range (down to 1e-300 at most).

    Selected minimizers are resolved in float64 over a few decades only (`RESOLUTION`), so
    their grids have at least 2 points per decade.
    """
    if target.kind == "selected":
        lo = -12.0 if depth == 2 else -16.0
        points_per_decade = max(points_per_decade, 2.0)
    elif depth == 2:
        lo = -max(60.0, min(300.0, 12.0 / max(1.0 - target.rho, 1e-3)))
    else:
        lo = max(-300.0, min(-40.0, asymptotic_upper(depth, target) - 30.0))
    n = int(round(-lo * points_per_decade)) + 1
    return np.linspace(0.0, lo, max(n, 8))


# ------------------------------------------------------------------ rate curves and studies


@dataclass(frozen=True)
class RateCurve:
    """``log10 ||x_inf - target||`` over a grid of ``log10 a`` for one depth, with its fit.

    ``method``: ``"deviation"`` (unique BP, `deviation_from_bp`) or ``"subtraction"``
    (selected minimizer; points below ``RESOLUTION * ||target|| / eps`` are unresolved, NaN).
    ``log10_constant``: ``log10(error / a^slope_pred)`` at the smallest resolved scale;
    ``predicted_log10_constant``: the same from `predicted_error` (None if not available).
    Evidence: ``residual``/``kkt``/``iterations`` of each flow limit, ``identity`` (largest
    `Deviation.identity_residual`).
    """

    depth: float
    log10_scale: np.ndarray
    log10_error: np.ndarray
    fit: SlopeFit
    predicted_slope: float
    log10_constant: float
    predicted_log10_constant: float | None
    method: str
    residual: np.ndarray = field(repr=False)
    kkt: np.ndarray = field(repr=False)
    iterations: np.ndarray = field(repr=False)
    identity: float = 0.0


#: A difference of float64 vectors resolves errors down to ~1e-16 ||x||; below 1e-13 ||x||
#: (a thousand times that, for ill-conditioning) a subtracted error is not trusted. On a
#: BP face the point is chosen by the ``eps g_p`` term of the potential (THEORY.md
#: section 4), a relative ``eps`` of the l1 part, so float64 places it only to ~1e-16 / eps:
#: the threshold is ``RESOLUTION ||x|| / eps`` (eps = `SymmetricDLN.small_parameter`).
RESOLUTION = 1e-13


def rate_curve(problem, depth: float, target: Target, log10_scales=None, *, fit_range=None,
               progress=None) -> RateCurve:
    """Flow limits at each ``log10 a`` and the error to ``target``, fitted (see `RateCurve`)."""
    P = as_problem(problem)
    depth = float(depth)
    grid = np.asarray(default_scales(depth, target) if log10_scales is None else log10_scales, dtype=float)
    errs, resid, kkts, its = [], [], [], []
    identity = 0.0
    xnorm = float(np.linalg.norm(target.x))
    for L in grid:
        net = SymmetricDLN.from_log_scale(depth, L * _LN10)
        res = flow_limit(P, net)
        resid.append(res.residual)
        kkts.append(res.kkt)
        its.append(res.iterations)
        if target.kind == "bp":
            dev = deviation_from_bp(P, res, target.support, target.x)
            errs.append(dev.log10_norm)
            identity = max(identity, dev.identity_residual)
        else:
            e = float(np.linalg.norm(res.x - target.x))
            errs.append(math.log10(e) if e > RESOLUTION * xnorm / min(1.0, net.small_parameter) else math.nan)
        if progress is not None:
            progress()
    errs = np.array(errs)
    lo, hi = fit_range if fit_range is not None else (-math.inf, asymptotic_upper(depth, target))
    fit = fit_slope(grid, errs, lo=lo, hi=hi)
    slope = predicted_slope(depth, target)
    ok = np.flatnonzero(np.isfinite(errs))
    last = ok[np.argmin(grid[ok])]
    const = float(errs[last] - slope * grid[last]) if math.isfinite(slope) else math.nan
    pred = None
    if target.kind == "bp":
        pe = predicted_error(P, target, depth, float(grid[last]))
        pred = None if pe is None else pe - slope * float(grid[last])
    return RateCurve(depth, grid, errs, fit, slope, const, pred, "deviation" if target.kind == "bp" else "subtraction",
                     np.array(resid), np.array(kkts), np.array(its, dtype=int), identity)


@dataclass(frozen=True)
class RateStudy:
    """Rate curves of several depths on one problem (see `rate_study`)."""

    problem: Problem
    targets: dict
    curves: list

    def records(self, tol: float = 0.02, constant_rtol: float = 0.02) -> list[dict]:
        """One summary record per depth (keys as in the experiments' ``summary.json``)."""
        out = []
        for c in self.curves:
            t = self.targets[c.depth]
            rec = {"curve": f"p={c.depth:g}", "problem": self.problem.name or "problem", "depth": c.depth,
                   "target": t.kind, "rho": t.rho, "slope": c.fit.slope, "slope_theory": c.predicted_slope,
                   "slope_tol": tol, "slope_stderr": c.fit.stderr, "fit_range": list(c.fit.range),
                   "log10_constant": c.log10_constant, "log10_constant_theory": c.predicted_log10_constant,
                   "method": c.method, "max_residual": float(np.max(c.residual)),
                   "identity_residual": c.identity}
            ok = abs(c.fit.slope - c.predicted_slope) <= tol if math.isfinite(c.predicted_slope) else False
            if c.predicted_log10_constant is not None:
                ok = ok and abs(c.log10_constant - c.predicted_log10_constant) <= math.log10(1 + constant_rtol)
            rec["pass"] = bool(ok)
            out.append(rec)
        return out


def rate_study(problem, depths=(2, 3, 4), *, log10_scales=None, progress=None) -> RateStudy:
    """Error to the BP solution (or, if it is not unique, to each depth's selected minimizer)
    over a scale grid reaching the asymptotic regime, with fitted and predicted slopes.

    ``log10_scales``: one grid for all depths, or a dict ``{depth: grid}``; default
    `default_scales`. ``progress``: called once per flow limit.
    """
    P = as_problem(problem)
    bp = basis_pursuit(P)
    targets, curves = {}, []
    for p in depths:
        p = float(p)
        targets[p] = bp_target(P) if bp.unique else selected_target(P, p)
        grid = log10_scales.get(p) if isinstance(log10_scales, dict) else log10_scales
        curves.append(rate_curve(P, p, targets[p], grid, progress=progress))
    return RateStudy(P, targets, curves)


# ------------------------------------------------------------------ extended precision reference


@dataclass(frozen=True)
class MPLimit:
    """A flow limit computed with mpmath: ``x`` (list of mpf), ``residual`` (mpf, ``||Ax-y||_inf``),
    ``dps`` (decimal digits), ``stages`` (continuation steps), ``iterations`` (Newton steps)."""

    x: list
    residual: object
    dps: int
    stages: int
    iterations: int

    def log10_error(self, x_star) -> float:
        """``log10 ||x - x_star||_2`` evaluated in the same precision (``x_star``: floats or mpf)."""
        import mpmath
        with mpmath.workdps(self.dps):
            s = mpmath.fsum((xi - mpmath.mpf(xs)) ** 2 for xi, xs in zip(self.x, x_star))
            return float(mpmath.log10(mpmath.sqrt(s))) if s > 0 else -math.inf


def mp_bp_solution(A, y, support, dps: int) -> list:
    """``x*`` with ``A_S x*_S = y`` solved in ``dps`` digits (normal equations, exact for
    consistent systems with ``A_S`` injective); zero off ``support``. Entries are mpf."""
    import mpmath
    A = np.asarray(A, dtype=float)
    S = [int(i) for i in support]
    with mpmath.workdps(dps):
        AS = mpmath.matrix([[mpmath.mpf(float(A[i, j])) for j in S] for i in range(A.shape[0])])
        ym = mpmath.matrix([mpmath.mpf(float(v)) for v in np.asarray(y, dtype=float).ravel()])
        xs = mpmath.lu_solve(AS.T * AS, AS.T * ym)
        x = [mpmath.mpf(0)] * A.shape[1]
        for idx, j in enumerate(S):
            x[j] = xs[idx]
        return x


def mp_flow_limit(A, y, depth: float, log10_scale: float, *, dps: int | None = None,
                  max_iter: int = 200) -> MPLimit:
    """The flow limit of a depth-p DLN in extended precision, independent of `dlnlab.networks.base`.

    Straight from THEORY.md section 3, in scaled dual units: p = 2: ``x = 2a sinh(z)``,
    ``z = A^T mu``, dual ``Phi(mu) = sum 2a cosh(z_i) - <mu, y>``; p > 2: ``x = a h_p(tau)``,
    ``tau = A^T mu``, ``Phi = sum a/(k-1) [(1-tau)^(1-k) + (1+tau)^(1-k)] - <mu, y>``.
    Damped Newton (Armijo on Phi, staying inside ``|tau| < 1``) with continuation in
    ``log10 a`` from 1 (predictor: linear extrapolation in ``log10 a``), in ``dps`` decimal
    digits. The error to x* can be ~a and a support entry near the barrier loses
    ``log10(1/gap) ~ |log10 a| / k`` digits, so the default is ``40 + 1.1 (1 + 1/k) |log10 a|``
    (``1/k = 0`` for p = 2). Newton stops at ``||Ax - y||_inf <= 1e-(dps-12)`` or at the
    rounding floor of ``Ax - y`` in the working precision. For small problems (tests).

    >>> r = mp_flow_limit([[1.0, 0.9]], [1.0], 2, -100.0)
    >>> round(r.log10_error([1.0, 0.0]), 5)
    -9.87116
    """
    import mpmath
    A = np.asarray(A, dtype=float)
    m, N = A.shape
    p = float(depth)
    if dps is None:
        dps = int(40 + 1.1 * (1 + (0 if p == 2 else (p - 2) / p)) * abs(log10_scale))
    with mpmath.workdps(dps):
        mpf = mpmath.mpf
        Am = [[mpf(float(v)) for v in row] for row in A]
        ym = [v if isinstance(v, mpmath.mpf) else mpf(float(v)) for v in np.ravel(np.asarray(y, dtype=object))]
        k = None if p == 2 else mpf(p) / (mpf(p) - 2)
        tol = mpf(10) ** (-(dps - 12)) * max(1, max(abs(v) for v in ym))
        eps_mp = mpf(10) ** (-dps)

        def tau_of(mu):
            return [mpmath.fsum(Am[i][j] * mu[i] for i in range(m)) for j in range(N)]

        def parts(t, a):
            if k is None:
                return 2 * a * mpmath.cosh(t), 2 * a * mpmath.sinh(t), 2 * a * mpmath.cosh(t)
            if abs(t) >= 1:
                return None
            return (a / (k - 1) * ((1 - t) ** (1 - k) + (1 + t) ** (1 - k)), a * ((1 - t) ** -k - (1 + t) ** -k),
                    a * k * ((1 - t) ** (-k - 1) + (1 + t) ** (-k - 1)))

        def evaluate(mu, a):
            ps = [parts(t, a) for t in tau_of(mu)]
            if any(q is None for q in ps):
                return None
            phi = mpmath.fsum(q[0] for q in ps) - mpmath.fsum(mu[i] * ym[i] for i in range(m))
            return phi, [q[1] for q in ps], [q[2] for q in ps]

        def newton(mu, a):
            its = 0
            for its in range(max_iter):
                phi, x, d = evaluate(mu, a)
                g = [mpmath.fsum(Am[i][j] * x[j] for j in range(N)) - ym[i] for i in range(m)]
                # rounding floor of g: x_j = X(tau_j) has relative error ~ 10^-dps times
                # |tau_j| (p = 2) or k / (1 - |tau_j|) (p > 2, near the barrier)
                tau = tau_of(mu)
                cond = [max(1, abs(t)) if k is None else (k + 1) / (1 - abs(t)) for t in tau]
                floor = 100 * eps_mp * mpmath.fsum(abs(x[j]) * cond[j] * max(abs(Am[i][j]) for i in range(m))
                                                   for j in range(N))
                if max(abs(v) for v in g) <= max(tol, floor):
                    return mu, x, its, True
                H = mpmath.matrix(m, m)
                for i in range(m):
                    for l in range(m):
                        H[i, l] = mpmath.fsum(Am[i][j] * d[j] * Am[l][j] for j in range(N))
                step = mpmath.lu_solve(H, mpmath.matrix([-v for v in g]))
                dmu = [step[i] for i in range(m)]
                dec = -mpmath.fsum(g[i] * dmu[i] for i in range(m))
                t = mpf(1)
                for _ in range(200):
                    new = [mu[i] + t * dmu[i] for i in range(m)]
                    ev = evaluate(new, a)
                    if ev is not None and ev[0] <= phi - mpf("1e-4") * t * dec:
                        break
                    if ev is not None and dec <= 1000 * eps_mp * (abs(phi) + 1):
                        break  # Phi cannot resolve the decrease: accept the Newton step
                    t /= 2
                else:
                    return mu, x, its, False
                mu = new
            phi, x, d = evaluate(mu, a)
            return mu, x, its, False

        mu = [mpf(0)] * m
        L, L_prev, target = mpf(0), None, mpf(log10_scale)
        step = mpf(1)
        stages = total = 0
        history = []
        while True:
            guess = mu
            if len(history) == 2 and L_prev is not None:
                (L0, mu0), (L1, mu1) = history
                r = (L - L1) / (L1 - L0)
                cand = [mu1[i] + r * (mu1[i] - mu0[i]) for i in range(m)]
                if evaluate(cand, mpf(10) ** L) is not None:
                    guess = cand
            new_mu, x, its, ok = newton(guess, mpf(10) ** L)
            if not ok and guess is not mu:
                new_mu, x, its2, ok = newton(mu, mpf(10) ** L)
                its += its2
            total += its
            if not ok:
                if L_prev is None:
                    raise ProblemError("mp_flow_limit: Newton failed at scale 1; is y in range(A)?")
                step /= 4  # retry from the last solved scale with a smaller step
                if step < mpf("1e-6"):
                    raise ProblemError("mp_flow_limit: continuation stalled; raise dps.")
                L = max(L_prev - step, target)
                continue
            mu, L_prev = new_mu, L
            history = (history + [(L, mu)])[-2:]
            stages += 1
            if L == target:
                break
            if its <= 12:
                step = min(2 * step, 20)
            L = max(L - step, target)
        g = [mpmath.fsum(Am[i][j] * x[j] for j in range(N)) - ym[i] for i in range(m)]
        return MPLimit(list(x), max(abs(v) for v in g), dps, stages, total)
