"""Azulay et al.'s two-layer model ``x = u+ * v+ - u- * v-`` from any initialization (docs/theory.md section 2).

Gradient flow on ``1/2 ||A x - y||^2`` (``g = A^T (y - A x)``) is

    u+' = v+ g,   v+' = u+ g,   u-' = -v- g,   v-' = -u- g,

so each pair conserves ``u^2 - v^2`` and each product is a two-layer (`dlnlab.networks.twolayer`)
flow: ``w+ = u+ v+`` driven by ``+g`` and ``w- = u- v-`` by ``-g``. In ``s = A^T lam``, with
``P_+- = (u_+-(0) + v_+-(0))^2 / 4`` and ``M_+- = (u_+-(0) - v_+-(0))^2 / 4``,

    w+ = P+ e^{2 s} - M+ e^{-2 s},   w- = P- e^{-2 s} - M- e^{2 s},
    x  = X+(s) - X-(-s) = P e^{2 s} - M e^{-2 s},   P = P+ + M-,   M = M+ + P-.

The dual potential is the sum of the two pieces' conjugates,
``F(s) = F+(s) + F-(-s) = (P e^{2s} + M e^{-2s}) / 2``, and the primal potential is ``Q = F^*``. The
mirror map is the two-layer one with merged coefficients (`TwoLayerMap`): the network follows the
same ``x(t)`` as ``TwoLayerDLN(sqrt(P) + sqrt(M), sqrt(P) - sqrt(M))`` (`AzulayDLN.two_layer`), and
``Q`` is that network's hyperbolic entropy, centred at ``x0 = P - M = u+ v+ - u- v-``.

Units as for `TwoLayerDLN`: ``z = dual_scale * s``, ``dual_scale = 2 / c``, ``c = max(log(1 / scale), 1)``
with ``scale = max_i (P_i + M_i) = max_i (u+^2 + v+^2 + u-^2 + v-^2)_i / 2``; a common factor ``f`` on
all four initializations multiplies ``scale`` by ``f^2`` (`AzulayDLN.at_log_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError
from .base import check_size
from .twolayer import HyperbolicScale, TwoLayerDLN, TwoLayerMap, _weights

_LOG2 = math.log(2.0)
_NAMES = ("up", "vp", "um", "vm")


def _log_square_quarter(a: np.ndarray) -> np.ndarray:
    """``log(a^2 / 4)`` (``-inf`` at 0)."""
    with np.errstate(divide="ignore"):
        return 2.0 * np.log(np.abs(a)) - 2.0 * _LOG2


@dataclass(frozen=True, eq=False)
class AzulayDLN(HyperbolicScale):
    """Two-layer model ``x = u+ * v+ - u- * v-`` from ``u+(0) = up``, ``v+(0) = vp``, ``u-(0) = um``, ``v-(0) = vm``.

    Each initialization is a per-coordinate vector or a scalar (broadcast to the others' length);
    any real values, ``up != um`` allowed. Its flow limit is ``argmin_{Ax=y} D_Q(x, x0)``,
    ``x0 = up vp - um vm``, for the potential of the module docstring. ``um = vm = 0`` is
    ``TwoLayerDLN(up, vp)`` exactly; four equal ``alpha`` give ``SymmetricDLN(depth=2, alpha=alpha)``'s
    limit (this flow at time ``2 t`` is that network's at ``t``).

    >>> import dlnlab as dl
    >>> net = dl.AzulayDLN(up=[1e-3, 2e-3, 1e-3], vp=1e-3, um=[1e-3, 0.0, 3e-3], vm=5e-4)
    >>> res = dl.flow_limit(dl.line_problem(), net)
    >>> res.status, bool(res.kkt < 1e-9), net.spec.split(",")[1]
    ('converged', True, 'vp=0.001;0.001;0.001')
    """

    up: np.ndarray
    vp: np.ndarray
    um: np.ndarray
    vm: np.ndarray
    log_scale: float = field(init=False, repr=False)

    def __post_init__(self):
        arrays = [_weights(name, getattr(self, name)) for name in _NAMES]
        sizes = {a.size for a in arrays if a.size != 1}
        if len(sizes) > 1:
            given = ", ".join(f"{n} {a.size}" for n, a in zip(_NAMES, arrays))
            raise NetworkError(f"up, vp, um and vm must have one entry per coordinate (or be scalars, which are "
                               f"broadcast); got lengths {given}.")
        arrays = [np.array(a) for a in np.broadcast_arrays(*arrays)]
        frozen = np.flatnonzero(np.all(np.array(arrays) == 0, axis=0))
        if frozen.size:
            raise NetworkError(f"coordinates {frozen[:5].tolist()} start with all four weights at 0, a saddle the "
                               "flow never leaves; give one of them a nonzero weight or drop them from the problem.")
        for name, a in zip(_NAMES, arrays):
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        with np.errstate(over="ignore"):
            scale = float(np.max(0.5 * sum(a * a for a in arrays)))
        if 0.0 < scale < math.inf:
            log_scale = math.log(scale)
        else:  # the squares under- or overflow: log max(P + M) in log domain
            log_scale = float(np.max(np.logaddexp(*self._log_pm())))
        object.__setattr__(self, "log_scale", log_scale)

    @property
    def size(self) -> int:
        """Number of coordinates ``N``."""
        return self.up.size

    @property
    def depth(self) -> int:
        """2: every output is a difference of products of two weights (rates as in docs/theory.md section 5)."""
        return 2

    @property
    def x0(self) -> np.ndarray:
        """The starting point ``up vp - um vm``."""
        return self.up * self.vp - self.um * self.vm

    def at_log_scale(self, log_scale: float) -> "AzulayDLN":
        """The same shape of initialization, all four weights scaled so that ``scale = exp(log_scale)``."""
        f = math.exp(0.5 * (log_scale - self.log_scale))
        return AzulayDLN(self.up * f, self.vp * f, self.um * f, self.vm * f)

    @property
    def spec(self) -> str:
        """Text form ``FAMILY:KEY=VALUE,...``; `dlnlab.network_from_spec` rebuilds the network from it."""
        from .spec import spec_of
        return spec_of(self)

    def _log_pm(self) -> tuple[np.ndarray, np.ndarray]:
        """``log P = log(P+ + M-)`` and ``log M = log(M+ + P-)`` (module docstring)."""
        log_p = np.logaddexp(_log_square_quarter(self.up + self.vp), _log_square_quarter(self.um - self.vm))
        log_m = np.logaddexp(_log_square_quarter(self.up - self.vp), _log_square_quarter(self.um + self.vm))
        return log_p, log_m

    def mirror_map(self) -> TwoLayerMap:
        """``x = P e^{c z} - M e^{-c z}``: the two-layer map with the merged coefficients."""
        log_p, log_m = self._log_pm()
        return TwoLayerMap(log_p=log_p, log_m=log_m, c=self.c)

    @property
    def two_layer(self) -> TwoLayerDLN:
        """The `TwoLayerDLN` with the same ``x(t)``: ``u0 = sqrt(P) + sqrt(M)``, ``v0 = sqrt(P) - sqrt(M)``."""
        root_p, root_m = (np.exp(0.5 * lg) for lg in self._log_pm())
        return TwoLayerDLN(root_p + root_m, root_p - root_m)

    def init_weights(self, size: int) -> np.ndarray:
        """``W = (u+, v+, u-, v-)`` (`dlnlab.networks.base.Trainable`; scalars broadcast to ``size``)."""
        if self.size != 1:
            check_size(self.size, size)
        return np.stack([np.broadcast_to(getattr(self, name), (size,)) for name in _NAMES])

    def weights_to_x(self, W: np.ndarray) -> np.ndarray:
        """``x = u+ v+ - u- v-``."""
        return W[0] * W[1] - W[2] * W[3]

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``(v+ g, u+ g, -v- g, -u- g)``."""
        return np.stack([W[1] * g, W[0] * g, -W[3] * g, -W[2] * g])

    @property
    def gd_rates(self) -> tuple[float, ...]:
        """A GD step multiplies ``(u+ + v+, u+ - v+, u- + v-, u- - v-)`` by ``1 - kappa gamma g``."""
        return (1.0, -1.0, -1.0, 1.0)

    def effective_network(self, log_gains: np.ndarray) -> TwoLayerDLN:
        """The two-layer network whose flow limit is the GD limit (docs/theory.md section 6).

        ``P = P+ + M-`` gains ``e^{2 c_0}`` (``c_0 = c_3``: equal rates) and ``M = M+ + P-`` gains
        ``e^{2 c_1}``, so the merged network `two_layer` takes the gains of its two rotated weights.

        >>> net = AzulayDLN(up=[1e-3, 2e-3], vp=1e-3, um=[1e-3, 0.0], vm=5e-4)
        >>> bool(np.allclose(net.effective_network(np.zeros((4, 2))).x0, net.x0, rtol=1e-12))
        True
        """
        return self.two_layer.effective_network(np.asarray(log_gains)[:2])

    def weights(self, s) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The weights ``(u+, v+, u-, v-)`` on the flow at dual point ``s = A^T lam`` (docs/theory.md units)."""
        s = np.asarray(s, dtype=float)
        grow, shrink = np.exp(s), np.exp(-s)
        pp, mp = 0.5 * (self.up + self.vp) * grow, 0.5 * (self.up - self.vp) * shrink
        pm, mm = 0.5 * (self.um + self.vm) * shrink, 0.5 * (self.um - self.vm) * grow
        return pp + mp, pp - mp, pm + mm, pm - mm
