"""Networks: each one is a mirror map (see `dlnlab.mirror`) plus its parameters.

`SymmetricDLN` is the depth-p network ``x = u^p - v^p`` with ``u(0) = v(0) = alpha``
(THEORY.md section 2). Two conventions name its initialization scale and both are kept:
the weight scale ``alpha`` and the effective scale ``scale = alpha**depth`` (the x-axis of
the papers' plots). Give exactly one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import NetworkError
from .mirror import HyperbolicMap, MirrorMap, PowerBarrierMap


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

    Gradient flow gives ``x = X(A^T lam)`` with (THEORY.md section 3)
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

    def mirror_map(self) -> MirrorMap:
        if self.depth == 2:
            return HyperbolicMap(log_a=self.log_scale, c=self.c)
        return PowerBarrierMap(log_a=self.log_scale, k=self.k)

    @property
    def dual_scale(self) -> float:
        """Factor from THEORY's dual ``s = A^T lam`` to the map's coordinate ``z``."""
        if self.depth == 2:
            return 4.0 / self.c
        p = self.depth
        return p * (p - 2.0) * math.exp((p - 2.0) * self.log_scale / p)

    @property
    def small_parameter(self) -> float:
        """``eps(a)`` of THEORY.md section 4: ``Q ~ ||x||_1 + eps * sum g_p(x_i)``.

        ``1 / log(1/a)`` for p = 2 (capped at 1), ``alpha^{p-2}`` for p > 2. The flow limit
        is smooth in eps, which is what scale continuation extrapolates in.
        """
        if self.depth == 2:
            return 1.0 / max(-self.log_scale, 1.0)
        return math.exp((self.depth - 2.0) * self.log_scale / self.depth)

    def at_log_scale(self, log_scale: float) -> "SymmetricDLN":
        """The network at ``scale = exp(log_scale)``, with its natural dual scaling."""
        return SymmetricDLN.from_log_scale(self.depth, log_scale)
