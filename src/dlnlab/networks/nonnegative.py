"""The non-negative DLN ``x = u * u`` and its entropic mirror map (docs/theory.md section 2, 7).

Gradient flow on ``L(u) = 1/2 ||A (u * u) - b||^2`` is ``u' = -2 u * A^T (A x - b)``, so
``(log u)' = 2 A^T (b - A x)`` and, with ``lam(t) = int_0^t (b - A x)`` and ``s = A^T lam``,

    x(t) = u0^2 * exp(4 s(t))                     (coordinatewise, the constant is 4).

Writing ``u0_i = exp(-c_i / (2 reg))`` (any positive ``u0`` is of this form for ``reg = 1``,
``c = -2 log u0``) and the dual coordinate ``z = 4 reg s``, the map is

    x = X(z) = exp((z - c) / reg),   F(z) = reg X(z),   Q(x) = c x + reg (x log x - x),

so the limit ``argmin_{Ax=b} sum Q(x_i)`` is the *entropic linear program*
``argmin c^T x + reg sum (x log x - x)  s.t.  A x = b`` (x > 0 automatically), and ``z = A^T y``
is its dual in LP units (``c - z`` are the reduced costs). ``reg -> 0`` gives the LP.

Dual points are stored boundary-relative like every map of `dlnlab.networks.base`:
``z = sign (1 - gap)``; with costs near 1 (dlnlab normalizes LP costs to ``max c = 1``) the
active coordinates sit at ``z ~ 1`` and ``x = exp(-gap / reg)`` keeps full precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError
from ..problems import real_array
from .base import check_size

#: ``log`` of the smallest positive float64 (subnormal): the dual image of an underflowed ``x = 0``.
_LOG_TINY = math.log(np.nextafter(0.0, 1.0))


@dataclass(frozen=True, eq=False)
class EntropicMap:
    """``x = exp((z - c) / reg)`` with ``z = sign (1 - gap)``; not a barrier (``z`` is free).

    >>> m = EntropicMap(cost=np.array([1.0, 0.5]), reg=1e-3)
    >>> s, g = m.dual(np.array([2.0, 1e-40]))
    >>> np.allclose(m.primal(s, g), [2.0, 1e-40], rtol=1e-12)
    True
    """

    cost: np.ndarray
    reg: float
    barrier: bool = False

    def _exponent(self, sign, gap):
        # (z - c) / reg with z = sign (1 - gap), grouped so that z = c = 1 cancels exactly
        return ((sign - self.cost) - sign * gap) / self.reg

    def primal(self, sign, gap):
        with np.errstate(over="ignore"):
            return np.exp(self._exponent(sign, gap))

    def slope(self, sign, gap):
        # floored at the smallest normal number: Newton keeps a (negligible) Hessian even when
        # every x underflows (an infeasible b), instead of an empty one
        return np.maximum(self.primal(sign, gap) / self.reg, np.finfo(float).tiny)

    def conjugate(self, sign, gap):
        return self.reg * self.primal(sign, gap)

    def log_scale_rate(self, sign, gap):
        """``(dX/dlog reg) / (dX/dz)`` at fixed ``s``, up to a multiple of ``z``: ``cost - z``.

        At fixed ``z``, ``dX/dlog reg = -X (z - cost) / reg`` and ``X' = X / reg``.
        """
        return (self.cost - sign) + sign * gap

    def dual(self, x):
        """``z = c + reg log x`` as ``(sign, gap)``; ``x <= 0`` is read as an underflowed 0."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            logx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), _LOG_TINY)
        z = self.cost + self.reg * logx
        sign = np.where(z < 0, -1.0, 1.0)
        gap = (1.0 - sign * self.cost) - sign * self.reg * logx
        return sign, gap

    def potential(self, x):
        """``Q(x) = c x + reg (x log x - x)`` (0 at x = 0, +inf for x < 0)."""
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            xlogx = np.where(x > 0, x * np.log(np.where(x > 0, x, 1.0)), 0.0)
        q = self.cost * x + self.reg * (xlogx - x)
        return np.where(x < 0, np.inf, q)


def _vector(name, value) -> np.ndarray:
    v = np.array(real_array(value, name, NetworkError))
    if v.ndim > 1:
        raise NetworkError(f"{name} must be a scalar or a 1-D vector; got shape {v.shape}.")
    if not np.all(np.isfinite(v)):
        raise NetworkError(f"{name} has non-finite entries; pass finite values.")
    v.setflags(write=False)
    return v


@dataclass(frozen=True, eq=False)
class NonNegativeDLN:
    """Non-negative DLN ``x = u * u`` from ``u(0) = u0 > 0`` (or ``u0 = exp(-cost / (2 reg))``).

    Give exactly one of ``u0`` (positive, scalar or one entry per coordinate) or ``cost``
    (any real vector, with ``reg > 0``: the LP family of docs/theory.md section 7). The flow
    limit is ``argmin_{Ax=b} cost^T x + reg sum(x log x - x)``.

    >>> import dlnlab as dl
    >>> A, b = np.array([[1.0, 1.0, 1.0]]), np.array([1.0])
    >>> net = dl.NonNegativeDLN(cost=[1.0, 2.0, 3.0], reg=1.0)
    >>> x = dl.flow_limit(A, b, net).x           # the Gibbs distribution exp(-c) / Z
    >>> bool(np.allclose(x, np.exp(-net.cost) / np.exp(-net.cost).sum(), atol=1e-12))
    True
    """

    u0: np.ndarray | float | None = None
    cost: np.ndarray | None = None
    reg: float = 1.0
    log_scale: float = field(init=False, repr=False)

    def __post_init__(self):
        try:
            reg = float(self.reg)
        except (TypeError, ValueError):
            raise NetworkError(f"reg must be a positive real number; got {self.reg!r}.") from None
        if not (math.isfinite(reg) and reg > 0):
            raise NetworkError(f"reg (the entropic regularization lambda) must be positive and finite; got {self.reg!r}.")
        if (self.u0 is None) == (self.cost is None):
            raise NetworkError("Give exactly one of u0= (positive initialization) or cost= (with reg=, u0 = exp(-cost/(2 reg))).")
        if self.u0 is not None:
            u0 = _vector("u0", self.u0)
            if np.any(u0 <= 0):
                raise NetworkError("u0 must be positive (x = u*u stays positive only from u0 > 0); "
                                   f"got {int(np.sum(u0 <= 0))} entries <= 0.")
            cost = -2.0 * reg * np.log(u0)
            cost.setflags(write=False)
        else:
            cost = _vector("cost", self.cost)
        object.__setattr__(self, "reg", reg)
        object.__setattr__(self, "cost", cost)
        object.__setattr__(self, "u0", None)
        object.__setattr__(self, "log_scale", math.log(reg))

    @classmethod
    def for_lp(cls, c, reg: float) -> "NonNegativeDLN":
        """The network of Wang-Ghosal-Mazumder: ``u0 = exp(-c / (2 reg))``."""
        return cls(cost=c, reg=reg)

    @property
    def log_x0(self) -> np.ndarray:
        """``log(u0^2) = -cost / reg`` (finite even when ``u0`` underflows)."""
        return -self.cost / self.reg

    @property
    def initialization(self) -> np.ndarray:
        """``u0 = exp(-cost / (2 reg))`` (may underflow to 0 for tiny reg; use `log_x0`)."""
        return np.exp(0.5 * self.log_x0)

    @property
    def dual_scale(self) -> float:
        """``z = 4 reg s``: from docs/theory.md's ``s = A^T lam`` to LP dual units."""
        return 4.0 * self.reg

    @property
    def small_parameter(self) -> float:
        """``reg``: the entropic limit is smooth in it (the dual is ``y* + O(reg)``)."""
        return self.reg

    def at_log_scale(self, log_scale: float) -> "NonNegativeDLN":
        """The same costs at ``reg = exp(log_scale)`` (the entropic family in lambda)."""
        return NonNegativeDLN(cost=self.cost, reg=math.exp(log_scale))

    @property
    def spec(self) -> str:
        """Text form ``FAMILY:KEY=VALUE,...``; `dlnlab.network_from_spec` rebuilds the network from it."""
        from .spec import spec_of
        return spec_of(self)

    def mirror_map(self) -> EntropicMap:
        return EntropicMap(cost=self.cost, reg=self.reg)

    def init_weights(self, size: int) -> np.ndarray:
        """``W = (u0,)`` (`dlnlab.networks.base.Trainable`); NetworkError where ``u0`` leaves float64 range."""
        if self.cost.ndim == 1:
            check_size(self.cost.size, size)
        with np.errstate(over="ignore"):
            u0 = np.broadcast_to(self.initialization, (int(size),))
        dead = np.flatnonzero((u0 == 0) | ~np.isfinite(u0))
        if dead.size:
            raise NetworkError(f"u0 = exp(-cost / (2 reg)) is 0 or inf in float64 at coordinates {dead[:5].tolist()}, "
                               "where the weights cannot train; change reg or use flow_limit, which works in log "
                               "domain.")
        return u0[None, :].copy()

    def weights_to_x(self, W: np.ndarray) -> np.ndarray:
        """``x = u * u``."""
        return W[0] * W[0]

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``2 u g``."""
        return (2.0 * W[0] * g)[None, :]

    @property
    def gd_rates(self) -> tuple[float, ...]:
        """A GD step multiplies ``u`` by ``1 - 2 gamma g`` (the multiplicative update of docs/theory.md section 7)."""
        return (2.0,)

    def effective_network(self, log_gains: np.ndarray) -> "NonNegativeDLN":
        """``u0 e^{c}``: the costs ``cost - 2 reg c`` at the same ``reg`` (docs/theory.md section 6).

        >>> net = NonNegativeDLN(cost=[1.0, 2.0], reg=0.5)
        >>> net.effective_network(np.array([[0.0, -1.0]])).cost.tolist()
        [1.0, 3.0]
        """
        return NonNegativeDLN(cost=self.cost - 2.0 * self.reg * np.asarray(log_gains)[0], reg=self.reg)
