"""Closed forms of THEORY.md: the selected minimizers of the line problem, predicted rates."""

from __future__ import annotations

import math


def line_selection_t(depth: float) -> float:
    """``t*`` of THEORY.md section 4: the small-scale limit on the line problem is ``(1-t*, 2(1-t*), 3t*)``.

    >>> round(line_selection_t(2), 6), round(line_selection_t(3), 6)
    (0.346035, 0.341923)
    """
    p = float(depth)
    if p == 2:
        return (4 - 6 * 2 ** (1 / 3) + 9 * 2 ** (2 / 3)) / 31
    ratio = 3 ** (2 / p) / (2 ** (2 / p) + 1)
    return 1.0 / (1.0 + ratio ** (-p / (p - 2)))


def h_p(t: float, depth: float) -> float:
    """``h_p(t) = (1 - t)^{-p/(p-2)} - (1 + t)^{-p/(p-2)}`` for ``|t| < 1``, p > 2."""
    k = depth / (depth - 2.0)
    return (1 - t) ** (-k) - (1 + t) ** (-k)


def kink_constant(eps: float, depth: float) -> float:
    """Limit of ``||x_inf - x*|| / scale`` on ``A = [1, 1-eps]`` for p > 2 (THEORY.md section 5)."""
    return math.sqrt(1 + (1 - eps) ** 2) * h_p(1 - eps, depth)
