"""Mirror maps: the coordinatewise link ``x = X(z)`` between a network's output and its dual.

Every network of THEORY.md section 2 trains as a mirror flow ``x(t) = X(A^T lam(t))``.
A `MirrorMap` describes ``X`` in a *scaled* dual coordinate ``z = dual_scale * s``, chosen
so that the l1 regime sits at ``|z| ~ 1``. Dual points are stored *boundary-relative*,

    z = sign * (1 - gap),        gap in (0, 1] after normalization,

because near the boundary the information is in the gap (1e-100 for a depth-3 network at
scale 1e-300) and ``1 - |z|`` would be lost to rounding. Every method below takes
``(sign, gap)`` and evaluates in log domain, so nothing overflows or cancels.

A map provides:

- ``primal(sign, gap)``: ``x = X(z)``;
- ``slope(sign, gap)``: ``dX/dz > 0`` (the Hessian weights of the dual problem);
- ``conjugate(sign, gap)``: ``F(z)`` with ``F' = X`` (the dual potential);
- ``dual(x)``: the inverse, ``(sign, gap)`` of ``z = grad Q(x)``;
- ``potential(x)``: ``Q(x) = x z - F(z)``, the primal potential (in z units);
- ``barrier``: whether ``|z| < 1`` is a hard domain (``0 < gap < 2`` before normalization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

_LOG2 = float(np.log(2.0))


@runtime_checkable
class MirrorMap(Protocol):
    barrier: bool

    def primal(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def slope(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def conjugate(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def dual(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def potential(self, x: np.ndarray) -> np.ndarray: ...


def normalize(sign: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express ``z = sign (1 - gap)`` with ``gap <= 1`` (flip to the nearer boundary)."""
    flip = gap > 1.0
    if np.any(flip):
        sign = np.where(flip, -sign, sign)
        gap = np.where(flip, 2.0 - gap, gap)
    return sign, gap


def to_z(sign: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """The plain dual coordinate ``z = sign (1 - gap)`` (loses the gap's relative precision)."""
    return sign * (1.0 - gap)


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

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * to_z(sign, gap) - self.conjugate(sign, gap)


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

    def __post_init__(self):
        object.__setattr__(self, "_a", math.exp(self.log_a))

    def _pow(self, base, expo):
        """``a * base^{-expo}``: a product of two floats where both are representable (to
        ~1 ulp), in log domain where one would overflow or underflow (to ~|log a| ulp)."""
        with np.errstate(all="ignore"):
            direct = self._a * np.power(base, -expo)
            if self._a > 1e-290 and np.isfinite(direct).all() and (direct > 1e-290).all():
                return direct
            safe = np.isfinite(direct) & (direct > 1e-290) & (self._a > 1e-290)
            return np.where(safe, direct, np.exp(self.log_a - expo * np.log(base)))

    def primal(self, sign, gap):
        return sign * (self._pow(gap, self.k) - self._pow(2.0 - gap, self.k))

    def slope(self, sign, gap):
        return self.k * (self._pow(gap, self.k + 1.0) + self._pow(2.0 - gap, self.k + 1.0))

    def conjugate(self, sign, gap):
        km1 = self.k - 1.0
        return (self._pow(gap, km1) + self._pow(2.0 - gap, km1)) / km1

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
        for _ in range(200):
            g = np.exp(G)
            r = g / (2.0 - g)
            rk = r**k
            phi = -k * G + np.log1p(-rk) - logw
            lo = np.where(phi > 0, G, lo)
            hi = np.where(phi <= 0, G, hi)
            dphi = -k - (2.0 * k * rk / (2.0 - g)) / (1.0 - rk)
            step = phi / dphi
            if np.all(np.abs(step) <= 4e-16 * np.maximum(1.0, np.abs(G))):
                break  # Newton has converged: the bracket test below would reject its fixed point
            G_new = G - step
            bad = ~((G_new > lo) & (G_new < hi))
            G = np.where(bad, 0.5 * (lo + hi), G_new)
        gap = np.where(zero, 1.0, np.exp(G))
        return sign, gap

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * to_z(sign, gap) - self.conjugate(sign, gap)
