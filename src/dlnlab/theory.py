"""The theory's closed forms and predictions, in one place (docs/theory.md sections 4, 5, 9).

- the line problem's selected minimizers (`line_selection_t`) and the kink constants
  (`kink_constant`, section 5);
- what a rate study measures to (`Target`: the unique BP solution, `bp_target`, or a
  depth's selected minimizer on a BP face, `selected_target`) and what it should find:
  slopes (`predicted_slope`), leading-order errors (`predicted_error`, with the limiting
  certificate of depth p > 2, `limiting_certificate`) and where the asymptotic range starts
  (`asymptotic_upper`, `default_scales`);
- the Donoho-Tanner weak threshold ``rho_W(delta)`` of l1 recovery (`weak_threshold`,
  section 9), computed two independent ways.

Donoho-Tanner setting: ``A`` iid N(0, 1/m) of size m x N, ``x`` k-sparse, ``delta = m / N``,
``rho = k / m``. The weak threshold is computed

1. ``method="polytope"``: Donoho's face-counting exponents for the randomly projected
   cross-polytope (Donoho 2006, DCG 35; Donoho-Tanner 2009, JAMS 22). A fraction of the
   k-faces is lost through faces ``G`` of dimension ``l = nu N``, with exponent
   ``Psi_net(nu) = psi_com - psi_int - psi_ext`` (``kappa = k / N``):

   - ``psi_com = (nu - kappa) log 2 + (1 - kappa) H((nu - kappa) / (1 - kappa))``;
   - ``psi_ext = min_x nu x^2 - (1 - nu) log erf(x)`` (external angle of the cross-polytope);
   - ``psi_int = max_lam -nu lam^2 / 2 - (nu - kappa) log Phi(lam)`` (internal angle of the
     simplex; from ``beta(T^k, T^l) = 2^{-(l-k)} sqrt((l+1)/(k+1))
     E exp(-(sum of l-k half-normals)^2 / (2(k+1)))`` and Cramer's theorem).

   Because the angle sums add up to one, ``max_nu Psi_net = 0``, attained at ``nu*(kappa)``;
   faces survive with high probability iff ``nu*(kappa) < delta``. So ``rho_W`` solves
   ``d Psi_net / d nu (nu = delta; kappa = rho delta) = 0`` (derivatives by the envelope
   theorem, in closed form).

2. ``method="statdim"``: the statistical dimension of the l1 descent cone (Amelunxen,
   Lotz, McCoy, Tropp 2014): ``delta = inf_tau kappa (1 + tau^2) + (1 - kappa) 2
   E[(g - tau)_+^2]``, ``g ~ N(0, 1)``, solved for ``kappa = rho delta``.

Both give 0.1894, 0.2674, 0.3857, 0.5337, 0.6782 at delta = 0.1, 0.25, 0.5, 0.75, 0.9,
agreeing to ~1e-12.

>>> round(weak_threshold(0.5), 4), round(weak_threshold(0.5, method="statdim"), 4)
(0.3857, 0.3857)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy import optimize, special

from .engine import Local, damped_newton, solve_psd
from .errors import DLNError, NotBPSolutionError
from .l1 import basis_pursuit, bp_face, certificate_constant, selected_minimizer
from .problems import as_problem

_LN10 = math.log(10.0)
LOG2 = math.log(2.0)


# ------------------------------------------------------------------ the line and kink problems


def line_selection_t(depth: float) -> float:
    """``t*`` of docs/theory.md section 4: the small-scale limit on the line problem is ``(1-t*, 2(1-t*), 3t*)``.

    >>> round(line_selection_t(2), 6), round(line_selection_t(3), 6)
    (0.346035, 0.341923)
    """
    p = float(depth)
    if p == 2:
        return (4 - 6 * 2 ** (1 / 3) + 9 * 2 ** (2 / 3)) / 31
    ratio = 3 ** (2 / p) / (2 ** (2 / p) + 1)
    return 1.0 / (1.0 + ratio ** (-p / (p - 2)))


def h_p(t: float, depth: float) -> float:
    """``h_p(t) = (1 - t)^{-p/(p-2)} - (1 + t)^{-p/(p-2)}`` for ``|t| < 1``, p > 2."""
    k = depth / (depth - 2.0)
    return (1 - t) ** (-k) - (1 + t) ** (-k)


def kink_constant(eps: float, depth: float) -> float:
    """Limit of ``||x_inf - x*|| / scale`` on ``A = [1, 1-eps]`` for p > 2 (docs/theory.md section 5)."""
    return math.sqrt(1 + (1 - eps) ** 2) * h_p(1 - eps, depth)


# ------------------------------------------------------------------ rate targets and predictions


@dataclass(frozen=True)
class Target:
    """What a rate study measures the error to, and the certificate that predicts the rate.

    ``kind``: ``"bp"`` (unique BP solution ``x``; error by `deviation_from_bp`) or
    ``"selected"`` (non-unique BP: the depth's selected minimizer, docs/theory.md section 4; error
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

    Unique BP (docs/theory.md section 5): ``1 - rho`` (p = 2), ``1`` (p > 2).
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
    here = {}

    def local(w):
        f, g, h = _psi(Aoff.T @ w, k)
        grad = G.T @ g
        dc = solve_psd((G.T * h) @ G, -grad)
        here["dec"] = dec = float(-grad @ dc)
        return Local(grad, dc, dec <= 1e-28 * max(1.0, float(np.sum(f))))

    def max_step(w, dc):  # keep |tau| < 1
        t, dt = Aoff.T @ w, G @ dc
        with np.errstate(divide="ignore"):
            lim = np.where(dt > 0, (1 - t) / dt, np.where(dt < 0, (-1 - t) / dt, np.inf))
        return float(lim.min())

    def trial(w, step, dc):
        new = w + step * (B @ dc)
        return new if np.all(np.abs(Aoff.T @ new) < 1) else None

    def decrease(w, new, step, dc):
        return float(np.sum(_psi(Aoff.T @ new, k)[0])) - float(np.sum(_psi(Aoff.T @ w, k)[0]))

    def tie(w, new, step, dphi):  # the decrement is at rounding level: take the Newton step
        return here["dec"] < 1e-24

    w, _, _ = damped_newton(w, local, trial, decrease, max_iter=200, max_step=max_step, tie=tie)
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



def asymptotic_upper(depth: float, target: Target) -> float:
    """``log10`` of the largest scale counted as asymptotic for the slope fit.

    p > 2: the support gaps ``~ a^(1/k)`` (``k = p/(p-2)``) must be far below the margin
    ``1 - rho`` of the certificate: ``a <= (0.01 (1 - rho))^k`` (the "kink" of docs/theory.md
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



# ------------------------------------------------------------------ the Donoho-Tanner weak threshold


def _erf_point(nu: float) -> float:
    """The minimizer of ``nu x^2 - (1 - nu) log erf(x)`` (external-angle saddle point)."""
    def g(x):
        return 2.0 * nu * x - (1.0 - nu) * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x) / math.erf(x)
    return optimize.brentq(g, 1e-14, 60.0, xtol=1e-15, rtol=1e-15)


def _internal_point(nu: float, kappa: float) -> float:
    """The maximizer ``lam < 0`` of ``-nu lam^2 / 2 - (nu - kappa) log Phi(lam)``.

    Stationarity: ``c lam + phi(lam) / Phi(lam) = 0`` with ``c = nu / (nu - kappa) > 1``."""
    c = nu / (nu - kappa)

    def g(lam):  # phi / Phi = sqrt(2/pi) / erfcx(-lam / sqrt 2), free of cancellation
        return c * lam + math.sqrt(2.0 / math.pi) / float(special.erfcx(-lam / math.sqrt(2.0)))
    lo = -1.0
    while g(lo) > 0:
        lo *= 2.0
    return optimize.brentq(g, lo, 0.0, xtol=1e-15, rtol=1e-15)


def _log_half_erfcx(lam: float) -> float:
    """``log Phi(lam) + lam^2 / 2`` (= ``log(erfcx(-lam / sqrt 2) / 2)``), accurate for lam << 0."""
    return math.log(0.5 * float(special.erfcx(-lam / math.sqrt(2.0))))


def net_exponent(nu: float, kappa: float) -> float:
    """``Psi_net(nu) = psi_com - psi_int - psi_ext`` at face dimension ``nu`` and ``kappa = k/N``."""
    p = (nu - kappa) / (1.0 - kappa)
    x, lam = _erf_point(nu), _internal_point(nu, kappa)
    com = (nu - kappa) * LOG2 + (1.0 - kappa) * float(-special.xlogy(p, p) - special.xlogy(1 - p, 1 - p))
    internal = -kappa * lam * lam / 2.0 - (nu - kappa) * _log_half_erfcx(lam)
    external = nu * x * x - (1.0 - nu) * math.log(math.erf(x))
    return com - internal - external


def _net_slope(nu: float, kappa: float) -> float:
    """``d Psi_net / d nu``; by the envelope theorem the saddle points may be held fixed."""
    p = (nu - kappa) / (1.0 - kappa)
    x, lam = _erf_point(nu), _internal_point(nu, kappa)
    return LOG2 + math.log((1.0 - p) / p) + _log_half_erfcx(lam) - x * x - math.log(math.erf(x))


def _statistical_dimension(kappa: float) -> float:
    """``delta(D)/N`` of the l1 descent cone at a ``kappa N``-sparse vector (ALMT 2014, Prop 4.5)."""
    def f(tau):
        pdf = math.exp(-tau * tau / 2.0) / math.sqrt(2.0 * math.pi)
        tail = (1.0 + tau * tau) * float(special.ndtr(-tau)) - tau * pdf  # E (g - tau)_+^2
        return kappa * (1.0 + tau * tau) + (1.0 - kappa) * 2.0 * tail
    return float(optimize.minimize_scalar(f, bounds=(0.0, 40.0), method="bounded", options={"xatol": 1e-13}).fun)


def weak_threshold(delta: float, method: str = "polytope") -> float:
    """Donoho-Tanner weak threshold ``rho_W(delta)`` for l1 recovery (see the module docstring)."""
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise DLNError(f"delta = m/N must lie in (0, 1); got {delta}.")
    if method == "polytope":
        kappa = optimize.brentq(lambda k: _net_slope(delta, k), 1e-6 * delta, delta * (1 - 1e-10),
                                xtol=1e-15, rtol=1e-14)
    elif method == "statdim":
        kappa = optimize.brentq(lambda k: _statistical_dimension(k) - delta, 1e-12, delta * (1 - 1e-12),
                                xtol=1e-15, rtol=1e-14)
    else:
        raise DLNError(f"unknown method {method!r}; use 'polytope' or 'statdim'.")
    return kappa / delta


def weak_threshold_curve(deltas: Iterable[float], method: str = "polytope") -> np.ndarray:
    """`weak_threshold` at each delta."""
    return np.array([weak_threshold(d, method) for d in deltas])

