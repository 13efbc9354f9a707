"""Fuzzing every public solver: a result that says converged must be true when recomputed from its point.

Each test draws problems (random Gaussian A, optionally with duplicated and sign-flipped columns,
sparse x, data scaled by powers of ten) and a solver's options; the solver either raises a
`DLNError` or returns a result, and a successful result is checked independently of dlnlab's
solvers: the residual from A, y, x (math.hypot), the KKT condition through the network's own dual
map (grad Q(x) in range(A^T), by least squares), basis pursuit optimality against a plain HiGHS LP
(`dlnlab.reference.highs`), LPs and l1 margins against scipy's HiGHS on data scaled to size 1, l2
margins against a brute force over active sets, batched and path solves against single ones.
The solvers: flow_limit (symmetric and two-layer networks), batch_flow_limit, flow_limit_path,
flow_trajectory, gradient_descent, basis_pursuit, selected_minimizer, saddle_to_saddle,
solve_lp and max_margin. ``make test`` runs `EXAMPLES` = 30 cases per test; ``make fuzz`` sets
``DLNLAB_FUZZ_EXAMPLES`` for a long run.
"""

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import dlnlab as dl
from dlnlab.reference.highs import basis_pursuit as highs_bp

EXAMPLES = int(os.environ.get("DLNLAB_FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 30,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
#: The residual a converged limit may carry: rtol, or the float64 floor up to `dl.limits.FLOOR_CAP`.
RESIDUAL = 1e-8


@st.composite
def problems(draw, max_size=50):
    """``(A, y)``: m x N Gaussian A (m < N <= 8), columns possibly duplicated or sign-flipped,
    y = A x for a sparse x, A and y scaled by 10^k, |k| <= max_size."""
    m = draw(st.integers(1, 4))
    N = draw(st.integers(m + 1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((m, N))
    if draw(st.booleans()) and N >= 2:
        j, k = rng.choice(N, 2, replace=False)
        A[:, k] = A[:, j] * rng.choice([-1.0, 1.0])
    x = np.zeros(N)
    support = rng.choice(N, draw(st.integers(1, m)), replace=False)
    x[support] = rng.standard_normal(support.size)
    y = A @ x
    if not np.any(y):
        y[0] = 1.0
    kA, ky = draw(st.integers(-max_size, max_size)), draw(st.integers(-max_size, max_size))
    return A * 10.0 ** kA, y * 10.0 ** ky


def reference_bp(A, y):
    """HiGHS' BP on the data scaled to size 1 (its tolerances are absolute, 1e-7), scaled back."""
    sA, sy = float(np.max(np.abs(A))), float(np.max(np.abs(y)))
    return highs_bp(A / sA, y / sy) * (sy / sA)


def residual(A, y, x):
    return math.hypot(*(A @ x - y)) / math.hypot(*y)


def range_distance(A, v):
    """``||v - A^T lam||_inf / ||v||_inf`` for the least-squares ``lam``."""
    vinf = float(np.max(np.abs(v)))
    if vinf == 0:
        return 0.0
    u = v / vinf
    lam = np.linalg.lstsq(A.T / np.max(np.abs(A)), u, rcond=None)[0]
    return float(np.max(np.abs(u - (A.T / np.max(np.abs(A))) @ lam)))


def check_limit(A, y, net, x):
    """x interpolates and grad Q(x) lies in range(A^T) (the dual map of ``net``, from x alone)."""
    assert residual(A, y, x) <= RESIDUAL
    sign, gap = net.mirror_map().dual(x)
    z = sign * (1.0 - gap)
    zinf = float(np.max(np.abs(z)))
    if zinf >= 1e-6:
        # z = sign (1 - gap) keeps ~1e-16 of |z| ~ 1; the solver's KKT threshold is 1e-9
        assert range_distance(A, z) <= 1e-8 + 1e-14 / zinf
    else:
        # the kernel regime: x is the minimum-norm interpolator up to ~(k + 2)^2 |z|^2 relative,
        # and up to the representation: z = sign (1 - gap) holds z to ~1e-16 absolute, so x to
        # ~1e-16 / |z| relative (5e-10 was met at |z| = 1e-6, KKT 7e-16); 1e-14 / |z| as above
        x_ls = np.linalg.pinv(A) @ y
        k = getattr(net, "k", 1.0)
        k = 1.0 if math.isinf(k) else k
        bound = 1e-10 + min(1e-14 / max(zinf, 1e-300), 1e-8) + 10 * (k + 2) ** 2 * zinf ** 2
        assert np.max(np.abs(x - x_ls)) <= bound * np.max(np.abs(x_ls))


@FUZZ
@given(data=problems(), depth=st.sampled_from([2.0, 2.5, 3.0, 4.0]), log10_scale=st.floats(-100, 30))
@example(data=(np.array([[0.34558419, 0.82161814]]), np.array([-4.50350539e-34])), depth=2.0,
         log10_scale=3.875)  # the kernel regime at |z| ~ 1e-6: x accurate to 5e-10, found by a long run
def test_flow_limit_claims(data, depth, log10_scale):
    A, y = data
    size = float(np.max(np.abs(np.linalg.pinv(A) @ y)))
    net = dl.SymmetricDLN(depth=depth, scale=size * 10.0 ** log10_scale)
    try:
        res = dl.flow_limit(A, y, net, throw=False)
    except dl.DLNError:
        return
    assert res.status in dl.STATUSES
    assert res.residual == pytest.approx(residual(A, y, res.x), rel=1e-12)
    if res.success:
        check_limit(A, y, net, res.x)
        # duplicated columns have identical weight trajectories: equal (opposite) entries, up to
        # the rounding of their rows of Q (measured up to 5.6e-16 apart; 2e-15 allowed) magnified
        # by the map's condition d log x / d gap ~ (p / (p - 2)) / gap at depth p > 2 (measured
        # 8.3e-10 split at depth 3 with gap 1.35e-6, where this allows 4.4e-9)
        for j in range(A.shape[1]):
            for k in range(j + 1, A.shape[1]):
                for s in (1.0, -1.0):
                    if np.array_equal(A[:, k], s * A[:, j]):
                        condition = depth / (depth - 2) / min(res.gap[j], res.gap[k]) if depth > 2 else 1.0
                        split = abs(res.x[k] - s * res.x[j]) / np.max(np.abs(res.x))
                        assert split <= 1e-9 + 2e-15 * condition


@FUZZ
@given(data=problems(), log10_u=st.lists(st.floats(-40, 1), min_size=8, max_size=8),
       signs=st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=8, max_size=8))
def test_two_layer_limit_claims(data, log10_u, signs):
    A, y = data
    N = A.shape[1]
    u0 = 10.0 ** np.array(log10_u[:N]) * np.max(np.abs(np.linalg.pinv(A) @ y)) ** 0.5
    net = dl.TwoLayerDLN(u0, np.array(signs[:N]) * u0 * 0.5)
    try:
        res = dl.flow_limit(A, y, net, throw=False)
    except dl.DLNError:
        return
    assert res.residual == pytest.approx(residual(A, y, res.x), rel=1e-12)
    if res.success:
        assert residual(A, y, res.x) <= RESIDUAL
        # TwoLayerMap.dual from x: grad Q(x) (up to the map's units) in range(A^T)
        sign, gap = net.mirror_map().dual(res.x)
        z = sign * (1.0 - gap)
        zinf = float(np.max(np.abs(z)))
        assert zinf == 0 or range_distance(A, z) <= 1e-8 + 1e-14 / zinf


@FUZZ
@given(data=problems(max_size=6))
def test_basis_pursuit_claims(data):
    A, y = data
    try:
        bp = dl.basis_pursuit(A, y, throw=False)
    except dl.DLNError:
        return
    if bp.success:
        assert residual(A, y, bp.x) <= 1e-9
        ref = reference_bp(A, y)  # HiGHS' feasibility tolerance 1e-7 on the LP
        assert np.sum(np.abs(bp.x)) <= np.sum(np.abs(ref)) * (1 + 1e-7)
        assert bp.objective == pytest.approx(np.sum(np.abs(bp.x)), rel=1e-12)


@FUZZ
@given(data=problems(max_size=6), depth=st.sampled_from([2.0, 3.0]))
def test_selected_minimizer_claims(data, depth):
    A, y = data
    try:
        sel = dl.selected_minimizer(A, y, depth=depth)
    except dl.DLNError:
        return
    if sel.success:
        assert residual(A, y, sel.x) <= 1e-9
        assert np.sum(np.abs(sel.x)) <= np.sum(np.abs(reference_bp(A, y))) * (1 + 1e-7)


@FUZZ
@given(data=problems(), log10_init=st.floats(-4, -1), step=st.floats(0.05, 0.5))
def test_gradient_descent_claims(data, log10_init, step):
    A, y = data
    # size-1 units: x -> c x with weights * sqrt(c) and the step / c (per unit curvature of A)
    c = float(np.max(np.abs(np.linalg.pinv(A) @ y)))
    curvature = float(np.linalg.norm(A, 2)) ** 2
    net = dl.TwoLayerDLN(np.full(A.shape[1], 10.0 ** log10_init * math.sqrt(c)), np.zeros(A.shape[1]))
    try:
        run = dl.gradient_descent(A, y, net, step=step / (c * curvature), steps=1500, tol=1e-8)
    except dl.DLNError:
        return
    assert run.residual == pytest.approx(residual(A, y, run.x), rel=1e-12)
    if run.success:
        assert residual(A, y, run.x) <= 1e-8


@FUZZ
@given(data=problems(), depth=st.sampled_from([2.0, 3.0]), log10_scale=st.floats(-6, 2))
def test_flow_trajectory_claims(data, depth, log10_scale):
    A, y = data
    c = float(np.max(np.abs(np.linalg.pinv(A) @ y)))
    net = dl.SymmetricDLN(depth=depth, scale=c * 10.0 ** log10_scale)
    times = np.array([0.0, 1.0, 100.0]) / (net.dual_scale * float(np.linalg.norm(A, 2)) ** 2)
    try:
        tr = dl.flow_trajectory(A, y, net, times, throw=False, max_steps=3000)
    except dl.DLNError:
        return
    assert tr.status in dl.STATUSES
    for k in range(times.size):
        if np.all(np.isfinite(tr.x[k])):
            assert tr.residual[k] == pytest.approx(residual(A, y, tr.x[k]), rel=1e-12)
    if tr.success:
        assert np.all(np.isfinite(tr.x)) and tr.residual[0] == pytest.approx(1.0)


@FUZZ
@given(data=problems(), depth=st.sampled_from([2.0, 3.0]), log10_scale=st.floats(-60, 2),
       seed=st.integers(0, 2**32 - 1))
def test_batch_flow_limit_claims(data, depth, log10_scale, seed):
    A, y = data
    rng = np.random.default_rng(seed)
    size = float(np.max(np.abs(np.linalg.pinv(A) @ y)))
    net = dl.SymmetricDLN(depth=depth, scale=size * 10.0 ** log10_scale)
    batch = [(A, y), (A, y * rng.uniform(0.5, 2.0)), (A * rng.uniform(0.5, 2.0), y)]
    try:
        out = dl.batch_flow_limit([dl.Problem(Ai, yi) for Ai, yi in batch], net, throw=False)
    except dl.DLNError:
        return
    assert out.status in dl.STATUSES and len(out.results) == len(batch)
    for (Ai, yi), res in zip(batch, out.results):
        assert res.residual == pytest.approx(residual(Ai, yi, res.x), rel=1e-12)
        if res.success:
            check_limit(Ai, yi, net, res.x)
            single = dl.flow_limit(Ai, yi, net, throw=False)
            if single.success:  # one limit, two solvers; both within rtol 1e-12 of it
                assert np.max(np.abs(res.x - single.x)) <= 1e-8 * np.max(np.abs(single.x))


@FUZZ
@given(data=problems(), depth=st.sampled_from([2.0, 2.5, 3.0]),
       log10_scales=st.lists(st.floats(-80, 2), min_size=1, max_size=5))
@example(data=(np.array([[0.12573022, -0.13210486]]), np.array([0.01318911])), depth=2.0,
         log10_scales=[0.0, -1.0])  # a first scale the run starts at (a crash, found by this test)
def test_flow_limit_path_claims(data, depth, log10_scales):
    A, y = data
    size = float(np.max(np.abs(np.linalg.pinv(A) @ y)))
    scales = size * 10.0 ** np.array(log10_scales)
    try:
        path = dl.flow_limit_path(A, y, dl.SymmetricDLN(depth=depth, scale=1.0), scales, throw=False)
    except dl.DLNError:
        return
    assert path.status in dl.STATUSES and len(path.results) == len(scales)
    for s, res in zip(path.scales, path.results):
        assert res.residual == pytest.approx(residual(A, y, res.x), rel=1e-12)
        if res.success:
            check_limit(A, y, dl.SymmetricDLN(depth=depth, scale=float(s)), res.x)


@FUZZ
@given(data=problems(max_size=6))
def test_saddle_to_saddle_claims(data):
    A, y = data
    try:
        path = dl.saddle_to_saddle(A, y, throw=False)
    except dl.DLNError:
        return
    assert path.status in dl.STATUSES
    if path.success:  # the vanishing-scale flow ends at a basis pursuit solution
        assert residual(A, y, path.x) <= 1e-9
        assert np.sum(np.abs(path.x)) <= np.sum(np.abs(reference_bp(A, y))) * (1 + 1e-7)
        assert np.all(np.diff(path.jump_times) >= 0)


@st.composite
def bounded_lps(draw):
    """``(c, A, b)`` of a feasible, bounded standard-form LP: b = A x0 with x0 >= 0 and
    c = A^T w + s with s > 0 (w is dual feasible), entries scaled by 10^k, |k| <= 3."""
    m = draw(st.integers(1, 4))
    N = draw(st.integers(m + 1, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((m, N))
    x0 = rng.uniform(0, 1, N) * (rng.uniform(0, 1, N) < 0.6)
    b = A @ x0
    c = A.T @ rng.standard_normal(m) + rng.uniform(0.01, 1.0, N)
    kc, kA, kb = (draw(st.integers(-3, 3)) for _ in range(3))
    return c * 10.0 ** kc, A * 10.0 ** kA, b * 10.0 ** (kA + kb)


@FUZZ
@given(lp=bounded_lps())
@example(lp=(np.array([2.30039202, -0.61688763, 0.19723948]),
             np.array([[0.00018905, -0.00052275, -0.00041306], [-0.00244147, 0.00179971, 0.00114417]]),
             np.array([-1.42407635e-07, 4.13858359e-07])))  # b within HiGHS' absolute tolerance
def test_solve_lp_claims(lp):
    from scipy.optimize import linprog

    c, A, b = lp
    try:
        res = dl.solve_lp(c, A, b, throw=False)
    except dl.DLNError:
        return
    assert res.status in dl.STATUSES
    if res.success:  # recompute the four certificates from x and dual (LPResult's definitions)
        r = c - A.T @ res.dual
        assert np.max(np.abs(A @ res.x - b)) / (1 + np.max(np.abs(b))) <= 1e-9
        assert max(0.0, -float(np.min(r))) / (1 + np.max(np.abs(c))) <= 1e-9
        assert np.min(res.x) >= 0
        # HiGHS on the LP scaled to size 1 (x = (sb / sA) x'): its tolerances are absolute (1e-7),
        # and on the raw data a b of 1e-7 is within them (HiGHS returned A x - b = 8e-8 there)
        sc, sA, sb = (float(np.max(np.abs(v))) for v in (c, A, b))
        ref = linprog(c / sc, A_eq=A / sA, b_eq=b / sb if sb else b, bounds=(0, None), method="highs")
        assert ref.status == 0
        optimum = ref.fun * sc * (sb / sA if sb else 1.0)
        # dlnlab's own gap is |c x - b y| / (1 + |c x|) <= 1e-9 (LPResult): with b = 0 the optimum
        # is 0 and x ~ 1e-14 is optimal to that standard, so its term is absolute near 0
        slack = 1e-6 * abs(optimum) + 1e-9 * max(sc * np.sum(res.x), 1 + abs(c @ res.x))
        assert c @ res.x <= optimum + slack


@st.composite
def separable(draw):
    """``(A, labels)``: n samples in d dimensions labelled by a random hyperplane through 0."""
    n, d = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((n, d))
    labels = np.sign(A @ rng.standard_normal(d))
    labels[labels == 0] = 1.0
    return A * 10.0 ** draw(st.integers(-20, 20)), labels


def brute_force_l2_margin(Z):
    """min ||x||_2 subject to Z x >= 1: the optimum is the minimum-norm solution of Z_S x = 1
    on its active set S, so the smallest feasible one over all subsets S is the optimum."""
    best = math.inf
    n = Z.shape[0]
    for mask in range(1, 2 ** n):
        S = [i for i in range(n) if mask >> i & 1]
        x = np.linalg.pinv(Z[S]) @ np.ones(len(S))
        if np.allclose(Z[S] @ x, 1.0, rtol=0, atol=1e-9) and np.min(Z @ x) >= 1 - 1e-9:
            best = min(best, float(np.linalg.norm(x)))
    return best


@FUZZ
@given(data=separable(), norm=st.sampled_from(["l1", "l2"]))
def test_max_margin_claims(data, norm):
    from scipy.optimize import linprog

    A, labels = data
    try:
        mm = dl.max_margin(A, labels, norm)
    except dl.DLNError:
        return
    assert mm.status in dl.STATUSES
    if not mm.success:
        return
    Z = labels[:, None] * A
    assert np.min(Z @ mm.x) >= 1 - 1e-9  # feasible, in the caller's units
    if norm == "l1":  # the LP min ||x||_1, Z x >= 1 with x = p - q, solved by plain HiGHS
        d = A.shape[1]
        ref = linprog(np.ones(2 * d), A_ub=-np.hstack([Z, -Z]), b_ub=-np.ones(A.shape[0]), bounds=(0, None),
                      method="highs")
        assert ref.status == 0
        assert np.sum(np.abs(mm.x)) <= ref.fun * (1 + 1e-7)
        assert mm.margin == pytest.approx(1 / np.sum(np.abs(mm.x)), rel=1e-12)
    else:
        assert np.linalg.norm(mm.x) <= brute_force_l2_margin(Z) * (1 + 1e-7)
        assert mm.margin == pytest.approx(1 / np.linalg.norm(mm.x), rel=1e-12)
