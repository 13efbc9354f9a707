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
for derivatives in the scale.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


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
