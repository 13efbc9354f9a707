"""The lean path (`dlnlab.engine.lean`): on small problems the dual Newton runs on lists of floats.

Each of its pieces is checked against the array form it replaces: the maps' scalar kernels against
`terms` / `dual`, `lean_newton` against `newton` with the lean path off (same steps, same point),
the evidence against `finish`'s numpy computation, and `flow_limit` (which also tries Newton at the
target directly on this path) against `flow_limit` with the lean path off.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import dlnlab as dl
from dlnlab.engine import DualState, data_size, lean, newton
from dlnlab.engine.checks import kkt_error
from dlnlab.engine.steps import residual_check, rounding_floor
from dlnlab.networks.symmetric import HyperbolicMap, PowerBarrierMap

MAPS = [HyperbolicMap(log_a=math.log(1e-2)), HyperbolicMap(log_a=math.log(1e-30)), HyperbolicMap(log_a=math.log(3.0)),
        HyperbolicMap(log_a=math.log(1e-2), c=0.5),
        PowerBarrierMap(log_a=math.log(1e-2), k=3.0), PowerBarrierMap(log_a=math.log(1e-100), k=2.0),
        PowerBarrierMap(log_a=-700.0, k=5.0), PowerBarrierMap(log_a=math.log(10.0), k=1.5)]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


@pytest.mark.parametrize("mapping", MAPS, ids=lambda m: f"{type(m).__name__}({m.log_a:.3g})")
def test_scalar_kernels_are_the_array_maps(mapping):
    rng = np.random.default_rng(0)
    for lo in (-200, -15, -1):  # gaps down to 1e-200: powers in log domain, exponentials overflowing
        sign = np.where(rng.random(12) < 0.5, -1.0, 1.0)
        gap = 10.0 ** rng.uniform(lo, 0, 12)
        x, d, F = mapping.terms(sign, gap)
        got = mapping.scalar_terms(sign.tolist(), gap.tolist())
        finite = all(np.isfinite(v).all() for v in (x, d, F))
        assert (got is not None) == finite  # None exactly where the array form has an inf
        if got is None:
            continue
        # the same formulas: measured at most 3.6e-16 apart (libm against numpy's vector exp and pow)
        for scalar, array in zip(got, (x, d, F)):
            assert _rel(scalar, array) <= 2e-15
        assert _rel(mapping.scalar_conjugate(sign.tolist(), gap.tolist()), F) <= 2e-15
        assert _rel(mapping.scalar_primal(sign.tolist(), gap.tolist()), x) <= 2e-15
        assert mapping.scalar_terms(sign.tolist(), gap.tolist(), False)[2] is None


@pytest.mark.parametrize("mapping", MAPS, ids=lambda m: f"{type(m).__name__}({m.log_a:.3g})")
def test_scalar_dual_is_the_array_inverse(mapping):
    rng = np.random.default_rng(1)
    for lo, hi in [(-10, 10), (-5, 3)]:
        x = np.concatenate([rng.standard_normal(20) * 10.0 ** rng.uniform(lo, hi, 20), [0.0, -2.0]])
        sign, gap = mapping.dual(x)
        got = mapping.scalar_dual(x.tolist())
        if got is None:  # declined: |x| << 1e-16 a, where the gap rounds to 1 (the array form decides)
            assert isinstance(mapping, PowerBarrierMap) and np.min(np.abs(x[x != 0])) < 1e-16 * math.exp(mapping.log_a)
            continue
        assert got[0] == sign.tolist()
        assert _rel(got[1], gap) <= 4e-15  # the same Newton, each coordinate stopped alone: measured 8.5e-16


def _zero(Q):
    N, r = Q.shape
    return DualState(np.zeros(r), np.ones(N), np.ones(N), np.zeros(r))


@pytest.mark.parametrize("name", ["line", "plane", "random"])
@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0])
def test_lean_newton_takes_the_array_steps(name, depth, monkeypatch):
    P = dl.FIXTURES[name]()
    Q, z = P.basis.Q, P.basis.z
    z = z / data_size(Q, z)
    for scale in (1e-1, 1e-2, 1e-4):
        mapping = dl.SymmetricDLN(depth=depth, scale=scale).mirror_map()
        assert lean.lean_kernel(Q, mapping) is not None
        fast, its, ok = newton(Q, z, mapping, _zero(Q), tol=1e-12, max_iter=60)
        with monkeypatch.context() as mp:
            mp.setattr(lean, "LEAN_WORK", 0)
            assert lean.lean_kernel(Q, mapping) is None
            ref, its_ref, ok_ref = newton(Q, z, mapping, _zero(Q), tol=1e-12, max_iter=60)
        assert ok and ok_ref and its == its_ref
        # only the rounding of sums differs: measured at most 2.6e-15 relative in the gaps
        assert _rel(fast.gap, ref.gap) <= 1e-13 and np.array_equal(fast.sign, ref.sign)
        assert _rel(fast.mu, ref.mu) <= 1e-12


def test_lean_newton_stops_where_the_array_newton_does(monkeypatch):
    # a budget too small to converge: both stop after it with the same flag
    P = dl.random_problem()
    Q, z = P.basis.Q, P.basis.z
    mapping = dl.SymmetricDLN(depth=3, scale=1e-3).mirror_map()
    fast = newton(Q, z, mapping, _zero(Q), tol=1e-12, max_iter=3)
    monkeypatch.setattr(lean, "LEAN_WORK", 0)
    ref = newton(Q, z, mapping, _zero(Q), tol=1e-12, max_iter=3)
    assert fast[1:] == ref[1:] == (3, False)
    assert _rel(fast[0].gap, ref[0].gap) <= 1e-13


@pytest.mark.parametrize("depth", [2.0, 3.0])
def test_lean_evidence_is_finish_evidence(depth):
    # a point off the limit (residual ~1e-4), so that every number is far above rounding
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=depth, scale=1e-2)
    res = dl.flow_limit(P, net)
    beta = data_size(P.basis.Q, P.basis.z)
    target = net.normalized(beta)
    mapping = target.mirror_map()
    gap = res.gap * (1.0 + 1e-4 * np.linspace(-1.0, 1.0, P.N))
    state = DualState(np.zeros(P.rank), res.sign, gap, np.zeros(P.rank))
    Q, z = P.basis.Q, P.basis.z
    x, residual, kkt, floor, passes = lean.lean_evidence(P.A, P.y, P.y_norm, Q, z, net.mirror_map(), mapping, beta,
                                                         state, 1e-12)
    x_ref = beta * mapping.primal(state.sign, state.gap)
    assert _rel(x, x_ref) <= 2e-15
    assert residual == pytest.approx(P.relative_residual(x_ref), rel=1e-10) and residual > 1e-6
    assert kkt == pytest.approx(kkt_error(Q, net.mirror_map(), x_ref, state), rel=1e-8) and kkt > 1e-6
    assert floor == pytest.approx(beta * rounding_floor(mapping.slope(state.sign, state.gap), state.gap), rel=1e-14)
    assert passes == residual_check(Q, z, x_ref, 1e-12, floor)[1] == False  # noqa: E712
    assert lean.lean_evidence(P.A, P.y, P.y_norm, Q, z, net.mirror_map(), mapping, beta, state, 1e-2)[4]


@pytest.mark.parametrize("name", ["line", "plane", "random"])
@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0])
def test_flow_limit_on_the_lean_path_is_the_array_limit(name, depth, monkeypatch):
    P = dl.FIXTURES[name]()
    for scale in (1e-2, 1e-5, 1e-30, 1e-300):
        net = dl.SymmetricDLN(depth=depth, scale=scale)
        fast = dl.flow_limit(P, net)
        with monkeypatch.context() as mp:
            mp.setattr(lean, "LEAN_WORK", 0)
            ref = dl.flow_limit(P, net)
        # measured at most 3e-15 relative down to 1e-30, 1.4e-13 at 1e-300 (the line's face, where
        # the tie among l1 minimizers rests on gaps of 1e-150)
        assert np.max(np.abs(fast.x - ref.x)) <= (1e-12 if scale < 1e-100 else 1e-13) * np.max(np.abs(ref.x))
        assert fast.converged and fast.residual <= 1e-12 and fast.kkt <= dl.limits.KKT_TOL
        if scale >= 1e-2:  # Newton at the target from 0: no continuation stage
            assert fast.stages == 0


def test_a_failed_direct_try_falls_back_to_the_continuation(monkeypatch):
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=4, scale=1e-2)
    direct = dl.flow_limit(P, net)
    monkeypatch.setattr(lean, "LEAN_DIRECT_ITERATIONS", 3)  # too few: the continuation takes over
    fallback = dl.flow_limit(P, net)
    assert fallback.converged and fallback.stages > 0 and fallback.iterations > direct.iterations
    assert np.max(np.abs(fallback.x - direct.x)) <= 1e-13 * np.max(np.abs(direct.x))


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**16), m=st.integers(1, 4), extra=st.integers(1, 4),
       depth=st.sampled_from([2.0, 2.5, 3.0, 4.0]), log10_scale=st.floats(-300, 2))
def test_random_small_limits_agree_with_the_array_path(seed, m, extra, depth, log10_scale):
    rng = np.random.default_rng(seed)
    N = m + extra
    A = rng.standard_normal((m, N))
    x = np.zeros(N)
    x[rng.choice(N, max(1, m // 2), replace=False)] = rng.standard_normal(max(1, m // 2))
    net = dl.SymmetricDLN.from_log_scale(depth, log10_scale * math.log(10.0))
    fast = dl.flow_limit(A, A @ x, net, throw=False)
    saved = lean.LEAN_WORK
    lean.LEAN_WORK = 0
    try:
        ref = dl.flow_limit(A, A @ x, net, throw=False)
    finally:
        lean.LEAN_WORK = saved
    assert fast.status == ref.status
    # 300 random draws of these sizes, depths and scales measured at most 1.6e-15 relative
    assert np.max(np.abs(fast.x - ref.x)) <= 1e-13 * np.max(np.abs(ref.x))
