"""The two-layer DLN ``x = u * v`` from any initialization (Azulay et al., docs/theory.md section 2).

Gradient flow ``u' = v g``, ``v' = u g`` (``g = A^T (y - A x)``) conserves
``delta = u^2 - v^2`` coordinatewise. In the rotated weights ``w_+- = (u +- v) / 2`` it
decouples: ``w_+' = w_+ g``, ``w_-' = -w_- g``, so with ``s = A^T lam``

    x = w_+^2 - w_-^2 = P e^{2 s} - M e^{-2 s},   P = (u0 + v0)^2 / 4,   M = (u0 - v0)^2 / 4,

(``P M = delta^2 / 16``; this is docs/theory.md's ``(delta/2) sinh(2 (s + s0))`` written without
``delta`` in a denominator, so that ``delta = 0`` -- ``u0 = +-v0`` -- is included). The start
is ``x0 = P - M = u0 v0`` and the flow limit is ``argmin_{Ax=y} D_Q(x, x0)`` for the potential
``Q`` with ``Q' = X^{-1}``: Woodworth's hyperbolic entropy with per-coordinate scale
``|delta|``, centred at ``x0`` (shape-aware implicit bias).

The map's coordinate is ``z = dual_scale * s`` with ``dual_scale = 2 / c``,
``c = max(log(1 / scale), 1)`` and ``scale = max_i (u0_i^2 + v0_i^2) / 2`` (as for the symmetric
depth-2 network, the l1 regime is at ``|z| ~ 1``).

The symmetric depth-2 network ``u^2 - v^2`` from ``u = v = alpha`` is ``TwoLayerDLN(2 alpha, 0)``
at twice its time (``x_sym(t) = x_uv(2 t)``); ``TwoLayerDLN(sqrt(2) alpha, 0)`` (Even et al.)
is ``SymmetricDLN(depth=2, alpha=alpha / sqrt(2))`` at time ``t / 2``; same limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError
from ..problems import real_array
from .base import check_size

_LOG2 = math.log(2.0)


def _weights(name: str, value) -> np.ndarray:
    arr = np.array(real_array(value, name, NetworkError))
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1 or arr.size == 0:
        raise NetworkError(f"{name} must be a non-empty 1-D array (one weight per coordinate); got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise NetworkError(f"{name} has non-finite entries; initial weights must be finite numbers.")
    return arr


@dataclass(frozen=True, eq=False)
class TwoLayerMap:
    """``x = X(z) = P e^{c z} - M e^{-c z}`` coordinatewise, evaluated in log domain.

    ``log_p``, ``log_m`` are ``log P``, ``log M`` (``-inf`` allowed: one-signed coordinates).
    Not a barrier: ``z`` is free. ``F(z) = (P e^{cz} + M e^{-cz}) / c``.

    >>> m = TwoLayerMap(log_p=np.log([0.5, 1e-3]), log_m=np.log([0.5, 1e-9]), c=3.0)
    >>> s, g = m.dual(np.array([-2.0, 7.0]))
    >>> np.allclose(m.primal(s, g), [-2.0, 7.0], rtol=1e-14)
    True
    """

    log_p: np.ndarray
    log_m: np.ndarray
    c: float
    barrier: bool = False

    def _terms(self, sign, gap):
        cz = self.c * sign * (1.0 - gap)
        with np.errstate(over="ignore"):
            return np.exp(self.log_p + cz), np.exp(self.log_m - cz)

    def primal(self, sign, gap):
        plus, minus = self._terms(sign, gap)
        return plus - minus

    def slope(self, sign, gap):
        plus, minus = self._terms(sign, gap)
        return self.c * (plus + minus)

    def conjugate(self, sign, gap):
        plus, minus = self._terms(sign, gap)
        return (plus + minus) / self.c

    def log_scale_rate(self, sign, gap):
        """``(dX/dlog scale) / (dX/dz)`` at fixed ``s`` (``P`` and ``M`` scale with the scale, so
        ``dX/dlog scale = X``): ``X / X' = tanh(c z + (log P - log M) / 2) / c``."""
        with np.errstate(invalid="ignore"):
            return np.tanh(self.c * sign * (1.0 - gap) + 0.5 * (self.log_p - self.log_m)) / self.c

    def dual(self, x):
        """``z`` with ``P e^{cz} - M e^{-cz} = x``: the root of a quadratic in ``e^{cz}``, taken
        on the side without cancellation; at ``x = 0``, ``cz = (log M - log P) / 2`` (exact, also
        where ``P M`` is below float64's range)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            root = np.hypot(x, 2.0 * np.exp(0.5 * (self.log_p + self.log_m)))  # sqrt(x^2 + 4PM)
            up = np.log(x + root) - _LOG2 - self.log_p  # for x >= 0
            down = -(np.log(root - x) - _LOG2 - self.log_m)  # for x < 0
            cz = np.where(x == 0, 0.5 * (self.log_m - self.log_p), np.where(x > 0, up, down))
        z = cz / self.c
        sign = np.where(z < 0, -1.0, 1.0)
        return sign, 1.0 - np.abs(z)

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * sign * (1.0 - gap) - self.conjugate(sign, gap)


class HyperbolicScale:
    """The scale of a network whose map is hyperbolic (``x = P e^{c z} - M e^{-c z}``), from its ``log_scale``:
    ``c = max(log(1 / scale), 1)``, ``z = (2 / c) s`` and the small parameter ``1 / c``."""

    log_scale: float

    @property
    def scale(self) -> float:
        return math.exp(self.log_scale)

    @property
    def c(self) -> float:
        return max(-self.log_scale, 1.0)

    @property
    def dual_scale(self) -> float:
        """``z = dual_scale * s`` with ``s = A^T lam`` (the units of docs/theory.md)."""
        return 2.0 / self.c

    @property
    def small_parameter(self) -> float:
        """``1 / log(1 / scale)`` (capped at 1), as for the symmetric depth-2 network."""
        return 1.0 / self.c


@dataclass(frozen=True, eq=False)
class TwoLayerDLN(HyperbolicScale):
    """Two-layer diagonal network ``x = u * v`` from ``u(0) = u0``, ``v(0) = v0`` (vectors).

    ``delta = u0^2 - v0^2`` is conserved by the flow; the limit is the Bregman projection
    of ``x0 = u0 v0`` onto ``{A x = y}`` for the hyperbolic entropy of scale ``|delta|``.

    >>> import dlnlab as dl
    >>> net = dl.TwoLayerDLN(u0=[1e-3, 2e-3, 1e-3], v0=[0.0, 1e-3, -1e-3])
    >>> res = dl.flow_limit(dl.line_problem(), net)
    >>> res.status, bool(res.kkt < 1e-9)
    ('converged', True)
    """

    u0: np.ndarray
    v0: np.ndarray
    log_scale: float = field(init=False, repr=False)
    _log_rotated: tuple | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        u0, v0 = _weights("u0", self.u0), _weights("v0", self.v0)
        if u0.shape != v0.shape:
            raise NetworkError(f"u0 and v0 must have the same length; got {u0.size} and {v0.size}.")
        frozen = np.flatnonzero((u0 == 0) & (v0 == 0))
        if frozen.size:
            raise NetworkError(f"coordinates {frozen[:5].tolist()} start at u = v = 0, a saddle the flow never "
                               "leaves; give them a nonzero weight or drop them from the problem.")
        u0.setflags(write=False)
        v0.setflags(write=False)
        object.__setattr__(self, "u0", u0)
        object.__setattr__(self, "v0", v0)
        with np.errstate(over="ignore", under="ignore"):
            scale = float(np.max(0.5 * (u0 * u0 + v0 * v0)))
        if 1e-290 < scale < math.inf:
            log_scale = math.log(scale)
        else:  # the squares under- or overflow: log max (u0^2 + v0^2) / 2 in log domain
            big, small = np.maximum(np.abs(u0), np.abs(v0)), np.minimum(np.abs(u0), np.abs(v0))
            log_scale = float(np.max(2.0 * np.log(big) + np.log1p((small / big) ** 2) - _LOG2))
        object.__setattr__(self, "log_scale", log_scale)
        object.__setattr__(self, "log_scale", math.log(scale) if 1e-290 < scale < math.inf else float(
            np.max(2.0 * np.log(big) + np.log1p((small / big) ** 2) - _LOG2)))

    @classmethod
    def from_rotated(cls, log_wp, log_wm, sign_p=1.0, sign_m=1.0) -> "TwoLayerDLN":
        """The network with rotated weights ``w_+- = (u0 +- v0) / 2 = sign_+- exp(log_w+-)``.

        Given in log domain, the start may lie below float64 range (GD's effective
        initialization after many large steps): the mirror map and the flow use the logs, so
        ``flow_limit`` stays exact where ``u0``, ``v0`` (kept as float64 values) are 0; such
        coordinates print as 0 in `spec`.

        >>> net = TwoLayerDLN.from_rotated([-2000.0, 0.0], [-2001.0, -1.0])
        >>> net.u0.tolist()[0], bool(np.isfinite(net.mirror_map().log_p).all())
        (0.0, True)
        """
        try:
            lp, lm = np.broadcast_arrays(np.array(log_wp, dtype=float), np.array(log_wm, dtype=float))
            sp, sm = np.broadcast_to(np.sign(sign_p), lp.shape), np.broadcast_to(np.sign(sign_m), lp.shape)
        except (TypeError, ValueError):
            raise NetworkError("log_wp, log_wm (and the signs) must be real vectors of one length.") from None
        if lp.ndim != 1 or lp.size == 0 or np.any(np.isnan(lp) | np.isnan(lm) | (lp == np.inf) | (lm == np.inf)):
            raise NetworkError("log_wp and log_wm must be non-empty 1-D vectors of logs below +inf "
                               "(-inf: a zero weight).")
        frozen = np.flatnonzero(np.isneginf(lp) & np.isneginf(lm))
        if frozen.size:
            raise NetworkError(f"coordinates {frozen[:5].tolist()} have both rotated weights 0 (u = v = 0), a saddle "
                               "the flow never leaves; give them a nonzero weight.")
        sp, sm = np.where(sp < 0, -1.0, 1.0), np.where(sm < 0, -1.0, 1.0)
        wp, wm = sp * np.exp(lp), sm * np.exp(lm)
        net = cls.__new__(cls)
        for name, value in (("u0", wp + wm), ("v0", wp - wm)):
            value.setflags(write=False)
            object.__setattr__(net, name, value)
        object.__setattr__(net, "_log_rotated", (lp.copy(), lm.copy(), sp, sm))
        object.__setattr__(net, "log_scale", float(np.max(np.logaddexp(2.0 * lp, 2.0 * lm))))
        return net

    @property
    def size(self) -> int:
        """Number of coordinates ``N``."""
        return self.u0.size

    @property
    def x0(self) -> np.ndarray:
        """The starting point ``u0 * v0``."""
        return self.u0 * self.v0

    @property
    def delta(self) -> np.ndarray:
        """The conserved ``u0^2 - v0^2``."""
        return self.u0 ** 2 - self.v0 ** 2

    def at_log_scale(self, log_scale: float) -> "TwoLayerDLN":
        """The same shape of initialization with both layers scaled so that ``scale = exp(log_scale)``."""
        if self._log_rotated is not None:
            lp, lm, sp, sm = self._log_rotated
            shift = 0.5 * (log_scale - self.log_scale)
            return TwoLayerDLN.from_rotated(lp + shift, lm + shift, sp, sm)
        f = math.exp(0.5 * (log_scale - self.log_scale))
        return TwoLayerDLN(self.u0 * f, self.v0 * f)

    @property
    def spec(self) -> str:
        """Text form ``FAMILY:KEY=VALUE,...``; `dlnlab.network_from_spec` rebuilds the network from it."""
        from .spec import spec_of
        return spec_of(self)

    def mirror_map(self) -> TwoLayerMap:
        if self._log_rotated is not None:
            lp, lm = self._log_rotated[:2]
            return TwoLayerMap(log_p=2.0 * lp, log_m=2.0 * lm, c=self.c)
        with np.errstate(divide="ignore"):
            log_p = 2.0 * np.log(np.abs(self.u0 + self.v0)) - 2.0 * _LOG2
            log_m = 2.0 * np.log(np.abs(self.u0 - self.v0)) - 2.0 * _LOG2
        return TwoLayerMap(log_p=log_p, log_m=log_m, c=self.c)

    def weights(self, s) -> tuple[np.ndarray, np.ndarray]:
        """The weights ``(u, v)`` on the flow at dual point ``s = A^T lam`` (the units of docs/theory.md)."""
        s = np.asarray(s, dtype=float)
        if self._log_rotated is not None:
            lp, lm, sp, sm = self._log_rotated
            wp, wm = sp * np.exp(lp + s), sm * np.exp(lm - s)
        else:
            wp = 0.5 * (self.u0 + self.v0) * np.exp(s)
            wm = 0.5 * (self.u0 - self.v0) * np.exp(-s)
        return wp + wm, wp - wm

    def init_weights(self, size: int) -> np.ndarray:
        """``W = (u0, v0)`` (`dlnlab.networks.base.Trainable`)."""
        check_size(self.size, size)
        return np.stack([self.u0, self.v0])

    def weights_to_x(self, W: np.ndarray) -> np.ndarray:
        """``x = u v``."""
        return W[0] * W[1]

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``(v g, u g)``."""
        return W[::-1] * g

    @property
    def gd_rates(self) -> tuple[float, ...]:
        """A GD step multiplies ``w_+- = (u +- v) / 2`` by ``1 -+ gamma g``."""
        return (1.0, -1.0)

    def effective_network(self, log_gains: np.ndarray) -> "TwoLayerDLN":
        """The network with rotated weights ``w_+-(0) e^{c_+-}`` (docs/theory.md section 6), in log domain.

        >>> net = TwoLayerDLN([1e-3, 2e-3], [0.0, 1e-3])
        >>> bool(np.allclose(net.effective_network(np.zeros((2, 2))).x0, net.x0, rtol=1e-12))
        True
        """
        if self._log_rotated is not None:
            lp, lm, sp, sm = self._log_rotated
        else:
            with np.errstate(divide="ignore"):
                lp, lm = np.log(0.5 * np.abs(self.u0 + self.v0)), np.log(0.5 * np.abs(self.u0 - self.v0))
            sp, sm = np.sign(self.u0 + self.v0), np.sign(self.u0 - self.v0)
        return TwoLayerDLN.from_rotated(lp + log_gains[0], lm + log_gains[1], sp, sm)
