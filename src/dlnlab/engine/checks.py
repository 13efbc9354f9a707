"""The evidence of a limit, computed from ``x`` alone: the KKT error and its threshold."""

from __future__ import annotations

import numpy as np

from ..networks.base import MirrorMap, to_z
from .steps import DualState

#: A limit whose KKT error (see `kkt_error`) exceeds this is not reported as converged.
#: The dual method makes it ~1e-16 by construction; 1e-9 flags a genuinely wrong point.
KKT_TOL = 1e-9


def kkt_error(Q: np.ndarray, mapping: MirrorMap, x: np.ndarray, state: DualState, off_range=None) -> float:
    """``||P_perp z(x)||_inf / ||z(x)||_inf`` with ``z(x) = grad Q(x)`` in the map's units.

    ``z(x)`` is recomputed from ``x`` by the inverse map, independently of the solver's
    dual point, except for entries below 1e-290 (subnormal or underflowed, where ``x`` no
    longer determines ``z``): those take the solver's own coordinates. ``P_perp v = v - Q Q^T v``
    (``Q`` orthonormal), or ``off_range(v)`` when given (the basis's own, e.g.
    `dlnlab.problems.GramBasis.off_range`).
    """
    zx = to_z(*mapping.dual(x))
    tiny = np.abs(x) < 1e-290
    if np.any(tiny):
        zx = np.where(tiny, to_z(state.sign, state.gap), zx)
    zinf = float(np.max(np.abs(zx))) if zx.size else 0.0
    if zinf == 0.0:
        return 0.0
    perp = zx - Q @ (Q.T @ zx) if off_range is None else off_range(zx)
    return float(np.max(np.abs(perp))) / zinf
