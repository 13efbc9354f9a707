"""Property tests of `flow_limit` on random problems (hypothesis), extreme scales, bad inputs.

Certificates are recomputed here, not trusted: the residual from ``A x - y``; the KKT
condition ``grad Q(x) in range(A^T)`` from the network's inverse map (``dual(x)``) and, as
a cross-check that shares no code with dlnlab, from docs/theory.md section 3's formulas inverted
directly (``asinh`` for p = 2, bisection on ``h_p`` for p > 2).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.networks.base import to_z

DEPTHS = [2.0, 2.5, 3.0, 4.0, 7.0]


@st.composite
def problems(draw):
    """Gaussian A (m in 2..8, N in m+1..20), y = A x0 with x0 dense or sparse."""
    m = draw(st.integers(2, 8))
    N = draw(st.integers(m + 1, 20))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((m, N)) / math.sqrt(m)
    k = draw(st.integers(1, N))
    x0 = np.zeros(N)
    x0[rng.choice(N, size=k, replace=False)] = rng.standard_normal(k)
    return dl.Problem(A, A @ x0), rng


networks = st.builds(lambda p, e: dl.SymmetricDLN(depth=p, scale=10.0**e),
                     st.sampled_from(DEPTHS), st.floats(-12.0, 0.0))

# Per-test budget: each example is one to four solves of at most 8 x 20 (milliseconds each).
SETTINGS = settings(max_examples=30, deadline=None)

# Solutions agree across equivalent inputs to this relative accuracy. Each solve stops at
# a relative residual <= 1e-12; the limit is a smooth function of the data at fixed scale
# whose condition on these well-conditioned random problems is modest (observed deviations
# <= 2e-12 over 300 random cases at scales down to 1e-300); 1e-9 leaves three orders.
SAME = 1e-9


def _gradient_q_direct(x, net):
    """``s`` with ``X(s) = x`` (docs/theory.md section 3), inverted without dlnlab's maps."""
    p, a, alpha = net.depth, net.scale, net.alpha
    if p == 2:
        return np.arcsinh(x / (2 * a)) / 4  # x = 2 a sinh(4 s)
    k = p / (p - 2)
    w = x / a
    lo, hi = np.full_like(x, -1.0), np.full_like(x, 1.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for _ in range(80):  # bisection on the increasing h_p: 2^-80 < one ulp of tau
            mid = 0.5 * (lo + hi)
            h = (1 - mid) ** (-k) - (1 + mid) ** (-k)
            lo, hi = np.where(h < w, mid, lo), np.where(h < w, hi, mid)
    tau = 0.5 * (lo + hi)
    return tau / (p * (p - 2) * alpha ** (p - 2))


def _range_defect(A, s):
    """Relative distance of ``s`` from range(A^T), by least squares."""
    lam = np.linalg.lstsq(A.T, s, rcond=None)[0]
    return float(np.linalg.norm(A.T @ lam - s) / np.linalg.norm(s))


@SETTINGS
@given(problems(), networks)
def test_certificates_hold_and_recompute(problem, net):
    P, _ = problem
    res = dl.flow_limit(P, net)
    assert res.converged
    # flow_limit targets 1e-12; 1e-10 is the acceptance level
    assert res.residual <= 1e-10 and res.kkt <= 1e-10
    assert np.linalg.norm(P.A @ res.x - P.y) / np.linalg.norm(P.y) <= 1e-10
    z = to_z(*net.mirror_map().dual(res.x))
    assert _range_defect(P.A, z) <= 1e-10
    s = _gradient_q_direct(res.x, net)
    # the direct inversion agrees with the map's, in the units of docs/theory.md (s = z / dual_scale);
    # bisection to one ulp of tau, asinh to rounding: 1e-12 relative to max |s|.
    assert np.max(np.abs(s - z / net.dual_scale)) <= 1e-12 * np.max(np.abs(s))
    assert _range_defect(P.A, s) <= 1e-10


@SETTINGS
@given(problems(), networks)
def test_sign_symmetry(problem, net):
    """y -> -y gives x -> -x (the flow is odd: u and v swap roles)."""
    P, _ = problem
    x = dl.flow_limit(P, net).x
    x_neg = dl.flow_limit(P.A, -P.y, net).x
    assert np.max(np.abs(x_neg + x)) <= SAME * max(1.0, np.max(np.abs(x)))


@SETTINGS
@given(problems(), networks)
def test_invariant_under_row_transformations(problem, net):
    """(A, y) -> (M A, M y) with invertible M leaves A x = y, hence the flow's limit, unchanged."""
    P, rng = problem
    m = P.m
    U = np.linalg.qr(rng.standard_normal((m, m)))[0]
    V = np.linalg.qr(rng.standard_normal((m, m)))[0]
    M = U @ np.diag(rng.uniform(0.5, 2.0, m)) @ V  # condition number <= 4
    x = dl.flow_limit(P, net).x
    x_M = dl.flow_limit(P.transformed(M), net).x
    assert np.max(np.abs(x_M - x)) <= SAME * max(1.0, np.max(np.abs(x)))


@SETTINGS
@given(problems(), networks)
def test_column_permutation_permutes_solution(problem, net):
    P, rng = problem
    perm = rng.permutation(P.N)
    x = dl.flow_limit(P, net).x
    x_perm = dl.flow_limit(P.A[:, perm], P.y, net).x
    assert np.max(np.abs(x_perm - x[perm])) <= SAME * max(1.0, np.max(np.abs(x)))


# ------------------------------------------------------------ extreme scales

EXTREME_PROBLEMS = {
    "line": dl.line_problem,
    "plane": dl.plane_problem,
    "random": dl.random_problem,
    "gaussian-20x60": lambda: dl.gaussian_problem(20, 60, 5, seed=0),
}


@pytest.mark.parametrize("scale", [1e-300, 10.0])
@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0, 10.0])
@pytest.mark.parametrize("name", list(EXTREME_PROBLEMS))
def test_extreme_scales_converge(name, depth, scale):
    P = EXTREME_PROBLEMS[name]()
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=scale))
    assert res.converged and res.kkt <= 1e-10
    assert np.linalg.norm(P.A @ res.x - P.y) / np.linalg.norm(P.y) < 1e-10


# ------------------------------------------------------------ bad inputs, through flow_limit

NET = dl.SymmetricDLN(depth=3, scale=1e-6)
LINE_A = [[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]]


@pytest.mark.parametrize(
    "A, y, error, match",
    [
        ([[1.0, np.nan, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0], dl.ProblemError, "non-finite"),
        ([[1.0, np.inf, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0], dl.ProblemError, "non-finite"),
        (LINE_A, [3.0, np.nan], dl.ProblemError, "non-finite"),
        (LINE_A, [np.inf, 3.0], dl.ProblemError, "non-finite"),
        ([1.0, 1.0, 1.0], [3.0], dl.ProblemError, "2-D"),
        (LINE_A, [3.0, 3.0, 3.0], dl.ProblemError, r"shape \(2,\)"),
        (LINE_A, [[3.0, 3.0], [3.0, 3.0]], dl.ProblemError, r"shape \(2,\)"),
        (np.eye(3), [1.0, 2.0, 3.0], dl.ProblemError, "m = 3 equations >= N = 3"),
        (np.ones((4, 3)), np.ones(4), dl.ProblemError, "m = 4 equations >= N = 3"),
        ([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], [1.0, 0.0], dl.NotInRangeError, "not in the range"),
    ],
)
def test_bad_data_through_flow_limit(A, y, error, match):
    with pytest.raises(error, match=match):
        dl.flow_limit(A, y, NET)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: dl.SymmetricDLN(depth=1.5, scale=1e-3), "depth"),
        (lambda: dl.SymmetricDLN.from_log_scale(1.0, -3.0), "depth"),
        (lambda: dl.SymmetricDLN(depth=3, scale=0.0), "positive"),
        (lambda: dl.SymmetricDLN(depth=3, alpha=-1e-3), "positive"),
    ],
)
def test_bad_network_reaching_flow_limit(make, match):
    """depth < 2 and scale <= 0 are refused on the way into flow_limit, as DLNErrors."""
    with pytest.raises(dl.NetworkError, match=match):
        dl.flow_limit(dl.line_problem(), make())


def test_problem_and_extra_y_is_rejected():
    P = dl.line_problem()
    with pytest.raises(dl.ProblemError, match="not both"):
        dl.flow_limit(P, P.y, NET)


@pytest.mark.parametrize("args", [(LINE_A, [3.0, 3.0]), (dl.line_problem(), 3.0), (LINE_A, [3.0, 3.0], "deep")])
def test_missing_or_invalid_network_is_a_dln_error(args):
    with pytest.raises(dl.NetworkError, match="needs a network"):
        dl.flow_limit(*args)


@pytest.mark.parametrize("log_scale", [-math.inf, math.nan])
def test_degenerate_log_scale_is_a_dln_error(log_scale):
    with pytest.raises(dl.NetworkError, match="finite"):
        dl.SymmetricDLN.from_log_scale(2.0, log_scale)


@pytest.mark.parametrize("depth, scale", [(2.0, 1e6), (3.0, 1e4), (3.0, 1e6)])
def test_kernel_regime_converges_to_the_float64_floor(depth, scale):
    """Far above the data the dual coordinates sit near z = 0, known to ~1e-16 absolute: the
    residual floor is ~scale * 1e-16 / ||y||. The solver stops there, says so, and x is the
    minimum-norm interpolator (the kernel regime) to that accuracy."""
    P = dl.line_problem()
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=scale))
    # the floor 4.4e-16 ||slope * gap|| / ||y|| is ~ 4.4e-16 * 2k * sqrt(N) * scale / ||y||
    # ~ 1.1e-15 * scale here (k = 3); 1e-14 * scale leaves a factor 10
    assert res.converged and res.residual < 1e-14 * scale
    assert np.allclose(res.x, np.linalg.pinv(P.A) @ P.y, rtol=0, atol=1e-3 * np.linalg.norm(P.y) / scale + 1e-12)


@pytest.mark.parametrize("depth", [2.0 + 1e-9, 2.0005])
def test_depth_just_above_two_is_refused(depth):
    with pytest.raises(dl.NetworkError, match="within"):
        dl.SymmetricDLN(depth=depth, scale=1e-3)


@pytest.mark.parametrize("y_factor", [1e-150, 1e150])
def test_tiny_and_huge_data_by_homogeneity(y_factor):
    """x_inf(beta y, beta a) = beta x_inf(y, a) (docs/theory.md section 3): the solver is scale-free."""
    P = dl.random_problem()
    for depth in (2.0, 3.0):
        ref = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=1e-6))
        res = dl.flow_limit(P.A, P.y * y_factor, dl.SymmetricDLN(depth=depth, scale=1e-6 * y_factor))
        assert res.converged and np.allclose(res.x / y_factor, ref.x, rtol=1e-12, atol=1e-14)
