"""Mirror maps: the coordinatewise link ``x = X(z)`` between a network's output and its dual.

Every network of docs/theory.md section 2 trains as a mirror flow ``x(t) = X(A^T lam(t))``.
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

Optional: ``log_scale_rate(sign, gap)``, the rate ``(dX/dlog scale) / (dX/dz)`` at fixed
``s = A^T lam`` along the network's `ScaleFamily.at_log_scale`, up to adding a multiple of
``z`` (``z`` lies in range(A^T), so the limit cannot see it); `dlnlab.derivatives` needs it
for derivatives in the scale. Optional too: ``scalar_terms(sign, gap, conjugate)``,
``scalar_conjugate``, ``scalar_primal`` and ``scalar_dual``, the same map on lists of floats
(None where a value is not finite), with which small problems run on the lean path
(`dlnlab.engine.lean`).
"""

from __future__ import annotations

from dataclasses import is_dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import NetworkError


@runtime_checkable
class MirrorMap(Protocol):
    barrier: bool

    def primal(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def slope(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def conjugate(self, sign: np.ndarray, gap: np.ndarray) -> np.ndarray: ...

    def dual(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def potential(self, x: np.ndarray) -> np.ndarray: ...


_CONFORMING: set = set()  # (type, protocol) pairs known to conform: dataclasses, whose fields every instance has


def conforms(obj, protocol) -> bool:
    """``isinstance(obj, protocol)`` for a runtime-checkable protocol, remembered per dataclass type.

    A protocol ``isinstance`` inspects every member (tens of microseconds); solvers ask it on
    each call. An instance of a dataclass has every field its type declares, so a type that
    conformed once conforms always.

    >>> conforms(object(), Network)
    False
    """
    key = (type(obj), protocol)
    if key in _CONFORMING:
        return True
    result = isinstance(obj, protocol)
    if result and is_dataclass(type(obj)):
        _CONFORMING.add(key)
    return result


def normalize(sign: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Re-express ``z = sign (1 - gap)`` with ``gap <= 1`` (flip to the nearer boundary)."""
    flip = gap > 1.0
    if flip.any():
        sign = np.where(flip, -sign, sign)
        gap = np.where(flip, 2.0 - gap, gap)
    return sign, gap


def to_z(sign: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """The plain dual coordinate ``z = sign (1 - gap)`` (loses the gap's relative precision)."""
    return sign * (1.0 - gap)


@runtime_checkable
class Network(Protocol):
    """What every solver needs of a network: its mirror map and the dual unit.

    Gradient flow on the network's weights gives ``x(t) = X(A^T lam(t))``; the solvers
    work in the map's coordinate ``z = dual_scale * (A^T lam)``.
    """

    def mirror_map(self) -> MirrorMap: ...

    @property
    def dual_scale(self) -> float: ...


@runtime_checkable
class ScaleFamily(Network, Protocol):
    """A network that belongs to a one-parameter family of initialization scales.

    Optional capabilities, used by scale continuation (`dlnlab.engine`), rate studies and
    limit paths: ``log_scale`` (``log a``), ``small_parameter`` (``eps(a)``, in which the
    limit is smooth; see docs/theory.md section 4) and ``at_log_scale(t)`` (the same family
    at ``a = e^t``). A network without them is solved at its own scale only.
    """

    @property
    def log_scale(self) -> float: ...

    @property
    def small_parameter(self) -> float: ...

    def at_log_scale(self, log_scale: float) -> "ScaleFamily": ...


@runtime_checkable
class Trainable(Protocol):
    """A network whose real weights gradient descent can train (`dlnlab.gradient_descent`).

    The weights are a ``J x N`` array ``W`` (one row per layer or weight vector):

    - ``init_weights(size)``: ``W(0)`` for ``size = N`` coordinates (NetworkError if the
      network has another size);
    - ``weights_to_x(W)``: the network's output ``x(W)``;
    - ``pullback(W, g)``: ``(dx/dW)^T g``, row by row (for ``g = A^T (A x - y)`` it is the
      gradient of ``1/2 ||A x(W) - y||^2`` in ``W``).
    """

    def init_weights(self, size: int) -> np.ndarray: ...

    def weights_to_x(self, W: np.ndarray) -> np.ndarray: ...

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class EffectiveInit(Trainable, Protocol):
    """A trainable network whose GD iterates stay on a gradient-flow curve (docs/theory.md section 6).

    ``gd_rates`` are constants ``kappa_j`` such that a GD step with gradient ``g`` (step
    ``gamma``, weight decay ``lam``) multiplies the network's rotated weights ``w_j`` exactly
    by ``1 - gamma lam - kappa_j gamma g``. With the log gains
    ``c_j = sum_k [log|1 - gamma lam - kappa_j gamma g_k| + kappa_j gamma g_k]`` the iterate is
    the flow of ``effective_network(c)`` at the dual point ``-sum_k gamma g_k`` (in range(A^T)),
    so the GD limit is that network's flow limit. Empty ``gd_rates``: no such identity.
    """

    @property
    def gd_rates(self) -> tuple[float, ...]: ...

    def effective_network(self, log_gains: np.ndarray) -> Network: ...


def check_size(n: int, size: int) -> None:
    """NetworkError unless a network of ``n`` coordinates meets a problem of ``size`` columns."""
    if n != size:
        raise NetworkError(f"the network has {n} coordinates but A has N = {size} columns; build it for N = {size}.")
