"""The gain statistics of ``even2023-gains`` against plain numpy computations."""

import math

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.errors import ExperimentError
from dlnlab.studies.experiments.even2023 import gain_vector, normalized_entropy, q_gain


def test_gain_vector_is_sum_of_q_over_the_run():
    """GD on x = u v by hand: Gain = sum_k q(gamma g_k), q(x) = -log|1 - x^2| (Even et al. 2023)."""
    P = dl.random_problem()
    u0 = np.full(P.N, math.sqrt(2) * 0.1)
    gamma, K = 0.3, 200
    run = dl.gradient_descent(P, dl.TwoLayerDLN(u0, np.zeros(P.N)), step=gamma, steps=K, tol=0.0)
    u, v, total = u0.copy(), np.zeros(P.N), np.zeros(P.N)
    for _ in range(K):
        g = P.A.T @ (P.A @ (u * v) - P.y)
        total += -np.log(np.abs(1.0 - (gamma * g) ** 2))
        u, v = u - gamma * g * v, v - gamma * g * u
    np.testing.assert_allclose(run.x, u * v, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gain_vector(run.log_gains), total, rtol=1e-10, atol=1e-14)


def test_q_gain_small_steps_and_sign():
    x = np.array([1e-3, 0.5, 1.2, 1.5])
    q = q_gain(x)
    assert q[0] == pytest.approx(1e-6, rel=1e-6)  # q(x) = x^2 + x^4/2 + ...
    assert q[1] == pytest.approx(-math.log(0.75)) and q[2] > 0 and q[3] < 0  # negative beyond sqrt(2)


def test_normalized_entropy_against_numpy():
    rng = np.random.default_rng(0)
    v = rng.exponential(size=50)
    p = v / v.sum()
    assert normalized_entropy(v) == pytest.approx(float(-(p * np.log(p)).sum() / np.log(50)), rel=1e-14)
    assert normalized_entropy(np.ones(7)) == pytest.approx(1.0, rel=1e-14)
    assert normalized_entropy(np.r_[1.0, np.zeros(9)]) == 0.0  # one spike
    assert normalized_entropy(-v) == normalized_entropy(v)  # of |v|


def test_bad_inputs_raise():
    with pytest.raises(ExperimentError, match="finite nonzero"):
        normalized_entropy(np.zeros(4))
    with pytest.raises(ExperimentError, match="length >= 2"):
        normalized_entropy([1.0])
    with pytest.raises(ExperimentError, match="2 x N"):
        gain_vector(np.zeros((3, 4)))
