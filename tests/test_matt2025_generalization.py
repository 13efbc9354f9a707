"""Helpers of ``matt2025-generalization``: the paired comparison and the rate bound to BP."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlnlab.errors import OptionError
from dlnlab.studies.experiments.matt2025 import (DEVIATION_FLOOR, RATE_CONSTANT, bp_deviation_bound,
                                                 paired_comparison)


def test_paired_comparison_by_hand():
    c = paired_comparison([0.5, 0.4, 0.3], [0.2, 0.3, 0.4])  # d = (0.3, 0.1, -0.1)
    assert c.mean == pytest.approx(0.1)
    assert c.stderr == pytest.approx(0.2 / math.sqrt(3))  # std(d, ddof=1) = 0.2
    assert c.z == pytest.approx(0.1 / (0.2 / math.sqrt(3)))
    assert c.win_fraction == pytest.approx(2 / 3) and c.trials == 3


def test_paired_comparison_is_paired_not_pooled():
    """Large spread between problems, a constant gain: the paired test sees it at any size."""
    base = np.random.default_rng(0).uniform(0.1, 1.0, 40)
    c = paired_comparison(base + 0.01, base)
    assert c.mean == pytest.approx(0.01) and c.stderr < 1e-12 and c.z > 1e9 and c.win_fraction == 1.0
    assert paired_comparison(base, base).z == 0.0
    assert paired_comparison(base, base + 0.01).z < -1e9


@pytest.mark.parametrize("shallow, deep", [([1.0], [1.0]), ([1.0, 2.0], [1.0]), ([[1.0, 2.0]], [[1.0, 2.0]])])
def test_paired_comparison_rejects_bad_input(shallow, deep):
    with pytest.raises(OptionError, match="paired_comparison"):
        paired_comparison(shallow, deep)


def test_bp_deviation_bound_follows_the_rates():
    rho = np.array([0.0, 0.5, 0.99])
    two = bp_deviation_bound(2, -10.0, rho)  # a^(1-rho)
    assert two == pytest.approx(DEVIATION_FLOOR + RATE_CONSTANT * np.array([1e-10, 1e-5, 10 ** -0.1]), rel=1e-12)
    for p in (3, 4):  # a, whatever rho
        assert bp_deviation_bound(p, -10.0, rho) == pytest.approx(DEVIATION_FLOOR + RATE_CONSTANT * 1e-10, rel=1e-12)


def test_bp_deviation_bound_takes_the_larger_leading_term():
    rho = np.array([0.9, 0.9, 0.9])
    b = bp_deviation_bound(2, -100.0, rho, [np.nan, -20.0, 400.0])  # unknown, below, above the rate (10 a^0.1)
    assert b[:2] == pytest.approx(DEVIATION_FLOOR + RATE_CONSTANT * 1e-10, rel=1e-12)
    assert b[2] == math.inf
    assert bp_deviation_bound(3, -100.0, rho, [5.0] * 3) == pytest.approx(DEVIATION_FLOOR + RATE_CONSTANT * 1e-100)
