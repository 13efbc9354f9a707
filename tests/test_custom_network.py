"""A network defined outside the package runs through every solver unchanged.

The network is a *weighted* depth-2 network: coordinate ``i`` starts at its own scale ``a_i``,
so ``x_i = 2 a_i sinh(c z_i)`` with ``z = A^T lam`` (the map of docs/theory.md section 2 with
per-coordinate weights). Nothing in dlnlab knows it; it only implements the `Network`
protocol. Its limit is checked from its own optimality conditions, its trajectory against a
direct integration of the mirror ODE ``lam' = y - A X(A^T lam)``.
"""

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

import dlnlab as dl
from dlnlab.sweep.batch import batch_flow_limit


@dataclass(frozen=True)
class WeightedSinhMap:
    """``X(z) = 2 a sinh(c z)`` per coordinate, stored as ``z = sign (1 - gap)``."""

    a: np.ndarray
    c: float
    barrier: bool = False

    def primal(self, sign, gap):
        return sign * 2.0 * self.a * np.sinh(self.c * (1.0 - gap))

    def slope(self, sign, gap):
        return 2.0 * self.a * self.c * np.cosh(self.c * (1.0 - gap))

    def conjugate(self, sign, gap):
        return 2.0 * self.a * np.cosh(self.c * (1.0 - gap)) / self.c

    def dual(self, x):
        z = np.arcsinh(np.asarray(x) / (2.0 * self.a)) / self.c
        sign = np.where(z < 0, -1.0, 1.0)
        return sign, 1.0 - np.abs(z)

    def potential(self, x):
        sign, gap = self.dual(x)
        z = sign * (1.0 - gap)
        return x * z - self.conjugate(sign, gap)


@dataclass(frozen=True)
class WeightedDLN:
    a: tuple
    c: float = 3.0

    def mirror_map(self):
        return WeightedSinhMap(np.asarray(self.a, dtype=float), self.c)

    @property
    def dual_scale(self) -> float:
        return 1.0  # z = A^T lam: the map takes the dual in the flow's own units


def _kkt(P, net, x):
    """Relative distance of ``z(x) = asinh(x / 2a) / c`` from range(A^T), from ``x`` alone."""
    z = np.arcsinh(x / (2.0 * np.asarray(net.a))) / net.c
    coef = np.linalg.lstsq(P.A.T, z, rcond=None)[0]
    return np.linalg.norm(P.A.T @ coef - z) / np.linalg.norm(z)


def _network(N, seed):
    rng = np.random.default_rng(seed)
    return WeightedDLN(a=tuple(10.0 ** rng.uniform(-3, -1, N)))


def test_the_protocol_is_all_it_implements():
    net = _network(5, 0)
    assert isinstance(net, dl.Network) and not isinstance(net, dl.ScaleFamily)
    assert isinstance(net.mirror_map(), dl.MirrorMap)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_flow_limit_meets_the_networks_own_optimality_conditions(seed):
    P = dl.gaussian_problem(4, 9, 2, seed=seed)
    net = _network(P.N, seed)
    res = dl.flow_limit(P, net)
    assert res.success and res.to_dict()["status"] == "converged"
    # Newton stops at rtol 1e-12; the map is smooth (no barrier), so x is as accurate and
    # its mirror image lies in range(A^T) to rounding (~1e-15 relative, 1e-10 leaves room
    # for the conditioning of the random A)
    assert np.linalg.norm(P.A @ res.x - P.y) <= 1e-11 * np.linalg.norm(P.y)
    assert _kkt(P, net, res.x) <= 1e-10


def test_flow_trajectory_matches_the_mirror_ode_and_reaches_the_limit():
    P = dl.gaussian_problem(3, 7, 2, seed=4)
    net = _network(P.N, 4)
    mapping = net.mirror_map()

    def rhs(_, lam):
        z = P.A.T @ lam
        return P.y - P.A @ mapping.primal(np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z))

    times = np.array([0.5, 2.0, 10.0])
    ode = solve_ivp(rhs, (0, times[-1]), np.zeros(P.m), method="Radau", t_eval=times, rtol=1e-12, atol=1e-14)
    X = np.array([mapping.primal(np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z)) for z in (P.A.T @ ode.y).T])
    tr = dl.flow_trajectory(P, net, times)
    assert tr.success
    # both integrate the same m-dimensional ODE at rtol ~1e-10..1e-12; 1e-7 relative is far
    # above either's error and far below any modelling difference (which would be O(1))
    assert np.max(np.abs(tr.x - X)) <= 1e-7 * np.max(np.abs(X))
    late = dl.flow_trajectory(P, net, [1e4])
    limit = dl.flow_limit(P, net)
    assert np.linalg.norm(late.final - limit.x) <= 1e-7 * np.linalg.norm(limit.x)


def test_batch_flow_limit_solves_it_in_the_batch():
    problems = [dl.gaussian_problem(4, 9, 2, seed=s) for s in range(5)]
    net = _network(9, 1)
    out = batch_flow_limit(problems, net)
    assert out.converged.all() and not out.fallback.any()
    for P, res in zip(problems, out.results):
        assert _kkt(P, net, res.x) <= 1e-10
        ref = dl.flow_limit(P, net)
        assert np.linalg.norm(res.x - ref.x) <= 1e-10 * np.linalg.norm(ref.x)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), depth=st.sampled_from([2.0, 3.0]), scale=st.sampled_from([1e-3, 1e-8]))
def test_batched_and_single_solves_carry_the_same_evidence(seed, depth, scale):
    problems = [dl.gaussian_problem(6, 14, 2, seed=seed + j) for j in range(3)]
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    out = batch_flow_limit(problems, net, throw=False)
    for P, res in zip(problems, out.results):
        ref = dl.flow_limit(P, net, throw=False)
        a, b = res.to_dict(), ref.to_dict()
        assert a.keys() == b.keys() and res.status == ref.status and res.success == ref.success
        if ref.success:
            # both finished and checked by the same code (dlnlab.limits.finish) at rtol 1e-12
            assert res.residual <= 1e-11 and res.kkt <= 1e-9
            assert np.linalg.norm(res.x - ref.x) <= 1e-9 * np.linalg.norm(ref.x)


@pytest.mark.parametrize("rtol", [1.0, 10.0, 0.0, -1e-3, float("nan"), "tight"])
def test_a_tolerance_that_would_accept_anything_is_refused(rtol):
    P, net = dl.line_problem(), dl.SymmetricDLN(depth=2, scale=1e-3)
    # rtol = 1 would call a point with 100% residual converged
    with pytest.raises(dl.OptionError, match="0 < rtol < 1"):
        dl.flow_limit(P, net, rtol=rtol)
    with pytest.raises(dl.OptionError, match="0 < rtol < 1"):
        batch_flow_limit([P], net, rtol=rtol)
    with pytest.raises(dl.OptionError, match="0 < rtol < 1"):
        dl.flow_trajectory(P, net, [1.0], rtol=rtol)


def test_a_missing_network_is_a_clear_error():
    with pytest.raises(dl.NetworkError, match="needs a network"):
        dl.flow_trajectory(dl.line_problem(), None, [1.0])
