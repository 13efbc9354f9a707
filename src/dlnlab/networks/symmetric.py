"""Symmetric depth-p networks and their mirror maps (see `dlnlab.networks.base`).

`SymmetricDLN` is the depth-p network ``x = u^p - v^p`` with ``u(0) = v(0) = alpha``
(docs/theory.md section 2). Two conventions name its initialization scale and both are kept:
the weight scale ``alpha`` and the effective scale ``scale = alpha**depth`` (the x-axis of
the papers' plots). Give exactly one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError
from .base import MirrorMap, to_z
from .twolayer import TwoLayerDLN

_LOG2 = float(np.log(2.0))


def _all_finite(values) -> bool:
    """Whether every float of a list is finite (`dlnlab.engine.lean`'s test of a map's values)."""
    return all(map(math.isfinite, values))


@dataclass(frozen=True)
class HyperbolicMap:
    """Depth 2: ``X(z) = 2 a sinh(c z)``, ``z = 4 s / c``, by default ``c = max(log(1/a), 1)``.

    With ``a = e^{-c}`` this is ``x = sign * exp(-c gap) * (1 - exp(-2c(1-gap)))``:
    a soft l1 boundary at ``|z| = 1`` (Woodworth's hyperbolic entropy).

    >>> m = HyperbolicMap(log_a=np.log(1e-6))
    >>> s, g = m.dual(np.array([0.5]))
    >>> round(float(m.primal(s, g)[0]), 12)
    0.5
    """

    log_a: float
    c: float | None = None
    barrier: bool = False

    def __post_init__(self):
        if self.c is None:
            object.__setattr__(self, "c", max(-self.log_a, 1.0))

    def _parts(self, gap):
        """``a e^{c|z|}`` in log domain and the ratio ``e^{-2c|z|}``.

        The exponent is formed as ``(log a + c) - c gap``: for ``a < 1/e`` the first term is
        exactly 0, so a support entry (small gap) keeps full relative precision.
        """
        c = self.c
        absz = 1.0 - gap
        with np.errstate(over="ignore"):  # inf far outside the solution: line searches reject it
            return np.exp((self.log_a + c) - c * gap), np.exp(-2.0 * c * absz), absz

    def primal(self, sign, gap):
        big, _, absz = self._parts(gap)
        return sign * big * -np.expm1(-2.0 * self.c * absz)

    def slope(self, sign, gap):
        big, ratio, _ = self._parts(gap)
        return self.c * big * (1.0 + ratio)

    def conjugate(self, sign, gap):
        big, ratio, _ = self._parts(gap)
        return big * (1.0 + ratio) / self.c

    def terms(self, sign, gap, conjugate=True):
        """``(primal, slope, conjugate)`` from one evaluation of ``_parts`` (conjugate None if not asked)."""
        big, ratio, absz = self._parts(gap)
        one_plus = 1.0 + ratio
        return (sign * big * -np.expm1(-2.0 * self.c * absz), self.c * big * one_plus,
                (big * one_plus / self.c if conjugate else None))

    def scalar_terms(self, sign, gap, conjugate=True):
        """`terms` on lists of floats, coordinate by coordinate (`dlnlab.engine.lean`): the same
        formulas; None if a value is not finite (where the array form has an inf)."""
        c = self.c
        base, m2c = self.log_a + c, -2.0 * c
        exp, expm1 = math.exp, math.expm1
        xs, ds, fs = [], [], []
        try:
            for s, g in zip(sign, gap):
                big = exp(base - c * g)
                e = m2c * (1.0 - g)
                one_plus = 1.0 + exp(e)
                xs.append(s * big * -expm1(e))
                ds.append(c * big * one_plus)
                fs.append(big * one_plus / c)
        except OverflowError:
            return None
        # for c >= 1, x and F are finite where d is (|x| <= d / c, F = d / c^2)
        if not _all_finite(ds) or (c < 1.0 and not (_all_finite(xs) and _all_finite(fs))):
            return None
        return xs, ds, (fs if conjugate else None)

    def scalar_conjugate(self, sign, gap):
        """`conjugate` on lists of floats; None if a value is not finite."""
        c = self.c
        base, m2c = self.log_a + c, -2.0 * c
        exp = math.exp
        try:
            fs = [exp(base - c * g) * (1.0 + exp(m2c * (1.0 - g))) / c for g in gap]
        except OverflowError:
            return None
        return fs if _all_finite(fs) else None

    def scalar_primal(self, sign, gap):
        """`primal` on lists of floats; None if a value is not finite."""
        c = self.c
        base, m2c = self.log_a + c, -2.0 * c
        exp, expm1 = math.exp, math.expm1
        try:
            xs = [s * exp(base - c * g) * -expm1(m2c * (1.0 - g)) for s, g in zip(sign, gap)]
        except OverflowError:
            return None
        return xs if _all_finite(xs) else None

    def log_scale_rate(self, sign, gap):
        """``(dX/dlog a) / (dX/dz)`` at fixed ``s``: ``X / X' = tanh(c z) / c`` (``X = 2 a sinh(4 s)``)."""
        ratio = np.exp(-2.0 * self.c * (1.0 - gap))
        return sign * -np.expm1(-2.0 * self.c * (1.0 - gap)) / (self.c * (1.0 + ratio))

    def dual(self, x):
        x = np.asarray(x, dtype=float)
        sign = np.where(x < 0, -1.0, 1.0)
        ax = np.abs(x)
        c = self.c
        with np.errstate(divide="ignore"):
            logw = np.log(ax) - _LOG2 - self.log_a  # w = |x| / (2a)
        # asinh(w) = log w + log(1 + sqrt(1 + w^-2)) for w > 1, plain asinh below.
        large = logw > 0
        w_small = np.exp(np.minimum(logw, 0.0))
        inv_w2 = np.exp(-2.0 * np.maximum(logw, 0.0))
        asinh_w = np.where(large, logw + np.log1p(np.sqrt(1.0 + inv_w2)), np.arcsinh(w_small))
        # gap = 1 - asinh(w)/c, written to avoid cancelling c against -log a when a = e^{-c}.
        gap = np.where(
            large,
            ((c + self.log_a) - (np.log(np.where(ax > 0, ax, 1.0)) - _LOG2) - np.log1p(np.sqrt(1.0 + inv_w2))) / c,
            1.0 - asinh_w / c,
        )
        return sign, gap

    def scalar_dual(self, x):
        """`dual` on a list of floats, coordinate by coordinate (the same formulas): ``(sign, gap)`` lists
        (None is never returned; `PowerBarrierMap.scalar_dual` may)."""
        c, log_a = self.c, self.log_a
        log, log1p, exp, sqrt = math.log, math.log1p, math.exp, math.sqrt
        signs, gaps = [], []
        for v in x:
            signs.append(-1.0 if v < 0 else 1.0)
            ax = abs(v)
            logw = (log(ax) if ax > 0 else -math.inf) - _LOG2 - log_a  # w = |x| / (2a)
            if logw > 0:
                # asinh(w) = log w + log(1 + sqrt(1 + w^-2)); gap = 1 - asinh(w) / c without cancellation
                tail = log1p(sqrt(1.0 + exp(-2.0 * logw)))
                gaps.append(((c + log_a) - (log(ax) - _LOG2) - tail) / c)
            else:
                gaps.append(1.0 - math.asinh(exp(logw) if logw == logw else logw) / c)
        return signs, gaps

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * to_z(sign, gap) - self.conjugate(sign, gap)


def _with_reflection(gap):
    """``[gap, 2 - gap]`` stacked on a new first axis."""
    gap = np.asarray(gap, dtype=float)
    out = np.empty((2,) + gap.shape)
    out[0] = gap
    np.subtract(2.0, gap, out=out[1])
    return out


@dataclass(frozen=True)
class PowerBarrierMap:
    """Depth p > 2: ``X(tau) = a [(1 - tau)^{-k} - (1 + tau)^{-k}]``, ``k = p / (p - 2)``.

    Here ``z = tau = p (p-2) alpha^{p-2} s`` and ``|tau| < 1`` is a hard domain (a barrier);
    ``gap = 1 - |tau|`` carries the precision: ``x = sign a [gap^{-k} - (2 - gap)^{-k}]``.

    >>> m = PowerBarrierMap(log_a=np.log(1e-30), k=3.0)
    >>> s, g = m.dual(np.array([-2.0]))
    >>> round(float(m.primal(s, g)[0]), 12), bool(g[0] < 1e-9)
    (-2.0, True)
    """

    log_a: float
    k: float
    barrier: bool = True
    _a: float = field(init=False, repr=False, compare=False)
    _expo: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_a", math.exp(self.log_a))
        object.__setattr__(self, "_expo", np.array([self.k, self.k + 1.0, self.k - 1.0])[:, None, None])

    def _pow(self, base, expo):
        """``a * base^{-expo}``: a product of two floats where both are representable (to
        ~1 ulp), in log domain where one would overflow or underflow (to ~|log a| ulp)."""
        with np.errstate(all="ignore"):
            direct = self._a * np.power(base, -expo)
            # all finite and above 1e-290 (a NaN fails the first test)
            if self._a > 1e-290 and direct.min(initial=np.inf) > 1e-290 and direct.max(initial=0.0) < np.inf:
                return direct
            safe = np.isfinite(direct) & (direct > 1e-290) & (self._a > 1e-290)
            return np.where(safe, direct, np.exp(self.log_a - expo * np.log(base)))

    def _pair(self, gap, expo):
        """``a gap^{-expo}`` and ``a (2 - gap)^{-expo}``: one ``np.power`` call when every value is
        representable (the same values as `_pow`), else `_pow` on each."""
        with np.errstate(all="ignore"):
            direct = self._a * np.power(_with_reflection(gap), -expo)
        if self._a > 1e-290 and direct.min(initial=np.inf) > 1e-290 and direct.max(initial=0.0) < np.inf:
            return direct[0], direct[1]
        return self._pow(gap, expo), self._pow(2.0 - gap, expo)

    def primal(self, sign, gap):
        near, far = self._pair(gap, self.k)
        return sign * (near - far)

    def slope(self, sign, gap):
        near, far = self._pair(gap, self.k + 1.0)
        return self.k * (near + far)

    def conjugate(self, sign, gap):
        km1 = self.k - 1.0
        near, far = self._pair(gap, km1)
        return (near + far) / km1

    def terms(self, sign, gap, conjugate=True):
        """``(primal, slope, conjugate)`` with every power from one ``np.power`` call (the same
        values as the three methods; conjugate None if not asked)."""
        k = self.k
        expo = self._expo if conjugate else self._expo[:2]
        base = _with_reflection(gap)
        with np.errstate(all="ignore"):
            direct = self._a * np.power(base, -expo)
        if not (self._a > 1e-290 and direct.min(initial=np.inf) > 1e-290 and direct.max(initial=0.0) < np.inf):
            return (self.primal(sign, gap), self.slope(sign, gap),
                    self.conjugate(sign, gap) if conjugate else None)
        x = sign * (direct[0, 0] - direct[0, 1])
        d = k * (direct[1, 0] + direct[1, 1])
        return x, d, ((direct[2, 0] + direct[2, 1]) / (k - 1.0) if conjugate else None)

    def _scalar_pow(self, base, expo):
        """`_pow` of one float: ``a * base^{-expo}`` where representable, else in log domain."""
        a = self._a
        if a > 1e-290:
            try:
                v = a * base ** -expo
            except (OverflowError, ZeroDivisionError):
                v = math.inf
            if 1e-290 < v < math.inf:
                return v
        try:
            return math.exp(self.log_a - expo * math.log(base))
        except (OverflowError, ValueError):
            return math.inf

    def scalar_terms(self, sign, gap, conjugate=True):
        """`terms` on lists of floats, coordinate by coordinate (`dlnlab.engine.lean`): the same
        powers (`_pow`'s rule per value); None if a value is not finite."""
        a, k = self._a, self.k
        nk, nk1, nkm1 = -k, -(k + 1.0), -(k - 1.0)
        xs, ds, fs = [], [], []
        if a > 1e-290:
            try:
                for s, g in zip(sign, gap):
                    h = 2.0 - g
                    xs.append(s * (a * g ** nk - a * h ** nk))
                    ds.append(k * (a * g ** nk1 + a * h ** nk1))
                    if conjugate:
                        fs.append((a * g ** nkm1 + a * h ** nkm1) / (k - 1.0))
                # every power representable: the direct values are the ones `_pow` keeps (the
                # smallest power is a (2 - g)^-(k+1) >= a 2^-(k+1), the largest a g^-(k+1))
                if a * 2.0 ** nk1 > 1e-290 and _all_finite(ds):
                    return xs, ds, (fs if conjugate else None)
            except (OverflowError, ZeroDivisionError):
                pass
        pw = self._scalar_pow
        xs, ds, fs = [], [], []
        for s, g in zip(sign, gap):
            h = 2.0 - g
            xs.append(s * (pw(g, k) - pw(h, k)))
            ds.append(k * (pw(g, k + 1.0) + pw(h, k + 1.0)))
            if conjugate:
                fs.append((pw(g, k - 1.0) + pw(h, k - 1.0)) / (k - 1.0))
        if not (_all_finite(ds) and _all_finite(xs) and (not conjugate or _all_finite(fs))):
            return None
        return xs, ds, (fs if conjugate else None)

    def scalar_conjugate(self, sign, gap):
        """`conjugate` on lists of floats; None if a value is not finite."""
        a, k = self._a, self.k
        km1 = k - 1.0
        if a * 2.0 ** -km1 > 1e-290:
            try:
                fs = [(a * g ** -km1 + a * (2.0 - g) ** -km1) / km1 for g in gap]
                if _all_finite(fs):
                    return fs
            except (OverflowError, ZeroDivisionError):
                pass
        pw = self._scalar_pow
        fs = [(pw(g, km1) + pw(2.0 - g, km1)) / km1 for g in gap]
        return fs if _all_finite(fs) else None

    def scalar_primal(self, sign, gap):
        """`primal` on lists of floats; None if a value is not finite."""
        a, k = self._a, self.k
        if a * 2.0 ** -k > 1e-290:
            try:
                xs = [s * (a * g ** -k - a * (2.0 - g) ** -k) for s, g in zip(sign, gap)]
                if _all_finite(xs):
                    return xs
            except (OverflowError, ZeroDivisionError):
                pass
        pw = self._scalar_pow
        xs = [s * (pw(g, k) - pw(2.0 - g, k)) for s, g in zip(sign, gap)]
        return xs if _all_finite(xs) else None

    def log_scale_rate(self, sign, gap):
        """``(dX/dlog a) / (dX/dz)`` at fixed ``s``, up to a multiple of ``z``: ``X / X'``.

        Along the family, ``X(s) = a h_p(c a^{1/k} s)``, so ``dX/dlog a = X + z X' / k``; the
        ``z`` term is invisible to the limit (``z`` lies in range(A^T)). In closed form, free of
        ``a``: ``X / X' = sign gap (1 - r^k) / (k (1 + r^{k+1}))``, ``r = gap / (2 - gap)``.
        """
        r = gap / (2.0 - gap)
        return sign * gap * -np.expm1(self.k * np.log(r)) / (self.k * (1.0 + r ** (self.k + 1.0)))

    def dual(self, x):
        x = np.asarray(x, dtype=float)
        sign = np.where(x < 0, -1.0, 1.0)
        ax = np.abs(x)
        k = self.k
        with np.errstate(divide="ignore"):
            logw = np.log(ax) - self.log_a  # w = |x| / a = gap^{-k} - (2 - gap)^{-k}
        zero = ~np.isfinite(logw)
        logw = np.where(zero, 0.0, logw)
        # Safeguarded Newton in G = log(gap) on (-inf, 0]:
        # phi(G) = -k G + log(1 - r^k) - log w,  r = gap / (2 - gap), phi decreasing.
        lo = -np.maximum(logw, 0.0) / k - 1.0  # phi(lo) >= k + log(1 - 0.225^k) > 0
        hi = np.zeros_like(logw)  # phi(0) = -inf
        tau0 = np.minimum(np.exp(np.minimum(logw, 0.0)) / (2.0 * k), 0.5)
        G = np.where(logw > 0, -logw / k, np.log1p(-tau0))
        G = np.clip(G, lo, -1e-300)
        # entries with w below ~k eps have gap = exp(G) = 1 in float64: phi = -inf, dphi = -inf and a
        # nan step there, which the bracket test turns into bisection
        with np.errstate(divide="ignore", invalid="ignore"):
            for _ in range(200):
                g = np.exp(G)
                r = g / (2.0 - g)
                rk = r**k
                phi = -k * G + np.log1p(-rk) - logw
                lo = np.where(phi > 0, G, lo)
                hi = np.where(phi <= 0, G, hi)
                dphi = -k - (2.0 * k * rk / (2.0 - g)) / (1.0 - rk)
                step = phi / dphi
                converged = np.abs(step) <= 4e-16 * np.maximum(1.0, np.abs(G))
                if np.all(converged):
                    break
                G_new = G - step
                # the bracket test would reject a converged entry's own fixed point (on the bracket) and
                # bisect it away: converged entries keep their Newton step
                bad = ~((G_new > lo) & (G_new < hi) | converged)
                G = np.where(bad, 0.5 * (lo + hi), G_new)
        gap = np.where(zero, 1.0, np.exp(G))
        return sign, gap

    def scalar_dual(self, x):
        """`dual` on a list of floats, coordinate by coordinate: the same safeguarded Newton in
        ``G = log(gap)``, each coordinate stopped at its own convergence. ``(sign, gap)`` lists, or
        None where a step leaves float range (``|x| << a``, ``gap`` rounds to 1: `dual` decides there)."""
        try:
            return self._scalar_dual(x)
        except (ValueError, ZeroDivisionError, OverflowError):
            return None

    def _scalar_dual(self, x):
        k, log_a = self.k, self.log_a
        log, log1p, exp = math.log, math.log1p, math.exp
        signs, gaps = [], []
        for v in x:
            signs.append(-1.0 if v < 0 else 1.0)
            ax = abs(v)
            logw = log(ax) - log_a if 0 < ax < math.inf else math.nan
            if not math.isfinite(logw):  # x = 0 (or not finite): z = 0
                gaps.append(1.0)
                continue
            lo, hi = -max(logw, 0.0) / k - 1.0, 0.0
            G = -logw / k if logw > 0 else log1p(-min(exp(min(logw, 0.0)) / (2.0 * k), 0.5))
            G = min(max(G, lo), -1e-300)
            for _ in range(200):
                g = exp(G)
                rk = (g / (2.0 - g)) ** k
                phi = -k * G + log1p(-rk) - logw
                if phi > 0:
                    lo = G
                else:
                    hi = G
                step = phi / (-k - (2.0 * k * rk / (2.0 - g)) / (1.0 - rk))
                if abs(step) <= 4e-16 * max(1.0, abs(G)):
                    break
                G_new = G - step
                G = G_new if lo < G_new < hi else 0.5 * (lo + hi)
            gaps.append(exp(G))
        return signs, gaps

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * to_z(sign, gap) - self.conjugate(sign, gap)


#: Depths in (2, 2 + MIN_DEPTH_GAP) are rejected: h_p's exponent p/(p-2) exceeds 2e3 there
#: and the float64 floor of the dual coordinates (~k * 1e-16) approaches the tolerances.
MIN_DEPTH_GAP = 1e-3


def _positive_finite(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NetworkError(f"{name} must be a positive real number; got {value!r}.") from None
    if not math.isfinite(v) or v <= 0:
        raise NetworkError(f"{name} must be positive and finite; got {value!r}. Initialization scales are > 0 (e.g. 1e-6).")
    return v


@dataclass(frozen=True)
class SymmetricDLN:
    """Depth-p diagonal linear network ``x = u^p - v^p`` from ``u(0) = v(0) = alpha``.

    Gradient flow gives ``x = X(A^T lam)`` with (docs/theory.md section 3)
    ``X(s) = 2 a sinh(4 s)`` for p = 2 and ``X(s) = a h_p(p (p-2) alpha^{p-2} s)`` for p > 2,
    where ``a = alpha^p`` is `scale`.

    >>> net = SymmetricDLN(depth=3, scale=1e-9)
    >>> round(net.alpha, 12)
    0.001
    >>> float(f"{SymmetricDLN(depth=2, alpha=1e-3).scale:.12g}")
    1e-06
    """

    depth: float = 2.0
    scale: float | None = None
    alpha: float | None = None
    log_scale: float = field(init=False, repr=False)
    _c: float | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        try:
            p = float(self.depth)
        except (TypeError, ValueError):
            raise NetworkError(f"depth must be a real number >= 2; got {self.depth!r}.") from None
        if not math.isfinite(p) or p < 2:
            raise NetworkError(f"depth must be a real number >= 2 (p = 2, 2.5, 3, ...); got {self.depth!r}.")
        if 2 < p < 2 + MIN_DEPTH_GAP:
            raise NetworkError(
                f"depth {p!r} is within {MIN_DEPTH_GAP:g} of 2, where the exponent p/(p-2) = {p / (p - 2):.3g} of "
                "h_p is numerically degenerate; use depth=2 (the limit of these maps) or depth >= "
                f"{2 + MIN_DEPTH_GAP:g}.")
        if (self.scale is None) == (self.alpha is None):
            raise NetworkError("Give exactly one of scale= (effective scale alpha**depth) or alpha= (weight scale).")
        if self.scale is not None:
            log_scale = math.log(_positive_finite("scale", self.scale))
        else:
            log_scale = p * math.log(_positive_finite("alpha", self.alpha))
        object.__setattr__(self, "depth", p)
        object.__setattr__(self, "log_scale", log_scale)
        object.__setattr__(self, "scale", math.exp(log_scale))
        object.__setattr__(self, "alpha", math.exp(log_scale / p))

    @classmethod
    def from_log_scale(cls, depth: float, log_scale: float) -> "SymmetricDLN":
        """The same network at ``scale = exp(log_scale)`` (for scales below float range too)."""
        net = cls(depth=depth, scale=1.0)
        try:
            log_scale = float(log_scale)
        except (TypeError, ValueError):
            raise NetworkError(f"log_scale must be a real number; got {log_scale!r}.") from None
        if not math.isfinite(log_scale):
            raise NetworkError(f"log_scale must be finite (scale > 0); got {log_scale!r}.")
        object.__setattr__(net, "log_scale", log_scale)
        object.__setattr__(net, "scale", math.exp(log_scale))
        object.__setattr__(net, "alpha", math.exp(log_scale / net.depth))
        return net

    def normalized(self, beta: float) -> "SymmetricDLN":
        """The network for the data divided by ``beta`` in the same dual units.

        Exact homogeneity: ``x_inf(y, scale) = beta * x_inf(y / beta, scale / beta)`` with the
        same dual ``s``. The depth-2 map keeps this network's ``c``, so that its
        boundary-relative coordinates mean the same thing for both.
        """
        net = self.at_log_scale(self.log_scale - math.log(beta))
        if self.depth == 2:
            object.__setattr__(net, "_c", self.c)
        return net

    @property
    def c(self) -> float:
        """Depth 2: the dual scaling ``c`` of `HyperbolicMap` (``max(log(1/a), 1)`` by default)."""
        return self._c if self._c is not None else max(-self.log_scale, 1.0)

    @property
    def k(self) -> float:
        """Exponent ``p / (p - 2)`` of ``h_p`` (infinite at p = 2)."""
        return math.inf if self.depth == 2 else self.depth / (self.depth - 2.0)

    @property
    def spec(self) -> str:
        """Text form ``FAMILY:KEY=VALUE,...``; `dlnlab.network_from_spec` rebuilds the network from it."""
        from .spec import spec_of
        return spec_of(self)

    def mirror_map(self) -> MirrorMap:
        if self.depth == 2:
            return HyperbolicMap(log_a=self.log_scale, c=self.c)
        return PowerBarrierMap(log_a=self.log_scale, k=self.k)

    @property
    def dual_scale(self) -> float:
        """Factor from docs/theory.md's dual ``s = A^T lam`` to the map's coordinate ``z``."""
        if self.depth == 2:
            return 4.0 / self.c
        p = self.depth
        return p * (p - 2.0) * math.exp((p - 2.0) * self.log_scale / p)

    @property
    def small_parameter(self) -> float:
        """``eps(a)`` of docs/theory.md section 4: ``Q ~ ||x||_1 + eps * sum g_p(x_i)``.

        ``1 / log(1/a)`` for p = 2 (capped at 1), ``alpha^{p-2}`` for p > 2. The flow limit
        is smooth in eps, which is what scale continuation extrapolates in.
        """
        if self.depth == 2:
            return 1.0 / max(-self.log_scale, 1.0)
        return math.exp((self.depth - 2.0) * self.log_scale / self.depth)

    def at_log_scale(self, log_scale: float) -> "SymmetricDLN":
        """The network at ``scale = exp(log_scale)``, with its natural dual scaling."""
        return SymmetricDLN.from_log_scale(self.depth, log_scale)

    def init_weights(self, size: int) -> np.ndarray:
        """``W = (u, v)`` at ``u = v = alpha`` (`dlnlab.networks.base.Trainable`)."""
        return np.full((2, int(size)), self.alpha)

    def weights_to_x(self, W: np.ndarray) -> np.ndarray:
        """``x = u^p - v^p``."""
        return W[0] ** self.depth - W[1] ** self.depth

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``(p u^{p-1} g, -p v^{p-1} g)``."""
        p = self.depth
        return np.stack([p * W[0] ** (p - 1) * g, -p * W[1] ** (p - 1) * g])

    @property
    def gd_rates(self) -> tuple[float, ...]:
        """Depth 2: a GD step multiplies ``u``, ``v`` by ``1 -+ 2 gamma g``; deeper: no exact identity."""
        return (2.0, -2.0) if self.depth == 2 else ()

    def effective_network(self, log_gains: np.ndarray) -> TwoLayerDLN:
        """Depth 2: the two-layer network with rotated weights ``alpha e^{c_+-}`` (docs/theory.md section 6).

        >>> net = SymmetricDLN(depth=2, alpha=1e-3)
        >>> bool(np.allclose(net.effective_network(np.zeros((2, 3))).u0, 2e-3))
        True
        """
        if self.depth != 2:
            raise NetworkError(f"a depth-{self.depth:g} network has no exact effective initialization (depth 2 has).")
        log_alpha = self.log_scale / 2.0
        return TwoLayerDLN.from_rotated(log_alpha + log_gains[0], log_alpha + log_gains[1])
