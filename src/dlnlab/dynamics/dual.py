"""The primal point of a flow's dual state, shared by the square-loss and classification flows."""

from __future__ import annotations

import numpy as np


def dual_primal(mapping, M, w):
    """``(x, sign, gap)`` at the dual point ``z = M^T w`` (``z = sign (1 - gap)``): ``x = X(z)``,
    or None where ``z`` leaves a barrier map's domain ``|z| < 1``."""
    z = M.T @ w
    sign = np.where(z < 0, -1.0, 1.0)
    gap = 1.0 - np.abs(z)
    if mapping.barrier and np.any(gap <= 0.0):
        return None, sign, gap
    with np.errstate(over="ignore", invalid="ignore"):
        return mapping.primal(sign, gap), sign, gap
