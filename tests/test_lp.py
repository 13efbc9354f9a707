"""Linear programs with the non-negative DLN against HiGHS, independent entropic solves and GD."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog, minimize

import dlnlab as dl


def _random_lp(seed, kind):
    """Feasible LPs with c > 0 of several structures (nondegenerate, primal/dual degenerate, rank deficient)."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 12))
    n = int(rng.integers(m + 1, 4 * m + 3))
    A = rng.standard_normal((m, n))
    c = rng.random(n) + 0.05
    if kind == "interior":
        b = A @ rng.random(n)
    elif kind == "sparse":  # primal degenerate: the optimum has fewer than m positive entries
        x = np.zeros(n)
        k = max(1, m // 2)
        x[rng.choice(n, k, replace=False)] = rng.random(k)
        b = A @ x
    elif kind == "dual-degenerate":  # many zero reduced costs: an optimal face, not a vertex
        s = rng.random(n) * (rng.random(n) < 0.5)
        c = A.T @ (0.1 * rng.standard_normal(m)) + s
        c = c - min(0.0, c.min()) + 0.05
        b = A @ rng.random(n)
    elif kind == "integer":  # ties everywhere
        A = np.round(2 * A)
        c = rng.integers(1, 4, n).astype(float)
        b = A @ rng.integers(1, 3, n).astype(float)
    elif kind == "badly-scaled":  # rows, columns and costs over six decades
        A = 10.0 ** rng.uniform(-3, 3, (m, 1)) * A * 10.0 ** rng.uniform(-2, 2, n)
        c = c * 10.0 ** rng.uniform(-2, 2, n)
        b = A @ rng.random(n)
    else:  # "rank-deficient": a repeated row
        A = np.vstack([np.abs(A), 2 * np.abs(A[:1])])
        b = A @ rng.random(n)
    return c, A, b


def _assert_matches_highs(c, A, b, res):
    h = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    assert h.status == 0
    assert res.status == "converged", res.message
    # HiGHS itself is accurate to ~1e-9; the brief's tolerance 1e-6 is far above both
    assert abs(res.objective - h.fun) <= 1e-6 * max(abs(h.fun), 1e-12)
    assert np.max(np.abs(A @ res.x - b)) <= 1e-8 * (1 + np.max(np.abs(b)))
    assert res.x.min() >= 0
    # the certificates are honest: recompute them from x and y
    r = c - A.T @ res.dual
    assert np.allclose(r, res.reduced_costs)
    assert r.min() >= -1e-8 * (1 + np.abs(c).max())
    assert abs(res.x @ r) <= 1e-8 * (1 + abs(res.objective))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 100_000),
       kind=st.sampled_from(["interior", "sparse", "dual-degenerate", "integer", "badly-scaled", "rank-deficient"]))
def test_flow_matches_highs_on_random_lps(seed, kind):
    c, A, b = _random_lp(seed, kind)
    if _max_min_entry(A, b) < 1e-7:  # a sparse b can leave no interior: the DLN has no limit then
        with pytest.raises(dl.NotStrictlyFeasibleError):
            dl.solve_lp(c, A, b)
        return
    _assert_matches_highs(c, A, b, dl.solve_lp(c, A, b))


def _max_min_entry(A, b):
    """max t over x >= t, A x = b, t <= 1 (an interior point exists iff t > 0), by HiGHS."""
    m, n = A.shape
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.hstack([-np.eye(n), np.ones((n, 1))]), b_ub=np.zeros(n),
                  A_eq=np.hstack([A, np.zeros((m, 1))]), b_eq=b, bounds=[(0, None)] * n + [(None, 1.0)])
    return -res.fun / max(1.0, np.abs(b).max())


@pytest.mark.parametrize("m, n, seed", [(60, 400, 0), (100, 600, 1)])
def test_flow_matches_highs_on_paper_type_lps(m, n, seed):
    """docs/theory.md section 7's experiment in small: Gaussian A, c = 1, b = A xbar with xbar >= 0 sparse."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    xbar = np.zeros(n)
    xbar[rng.choice(n, m // 10, replace=False)] = rng.random(m // 10)
    c, b = np.ones(n), A @ xbar
    _assert_matches_highs(c, A, b, dl.solve_lp(c, A, b))
    # and a dense random LP of the same size, which needs the simplex repair of the crossover
    c2, b2 = rng.random(n) + 0.1, A @ rng.random(n)
    _assert_matches_highs(c2, A, b2, dl.solve_lp(c2, A, b2))


def test_costs_that_are_not_positive():
    # 1 in the row space (a simplex constraint): exact constant shift
    res = dl.solve_lp([-1.0, 2.0, 3.0], [[1.0, 1.0, 1.0]], [1.0])
    assert res.shift == "row-space"
    _assert_matches_highs(np.array([-1.0, 2.0, 3.0]), np.array([[1.0, 1.0, 1.0]]), np.array([1.0]), res)
    # otherwise the big-M construction, verified against the original LP
    c, A, b = np.array([-1.0, 2.0, 3.0, 0.0]), np.array([[1.0, 1, 0, 0], [0, 1, 1, -1]]), np.array([1.0, 0.5])
    res = dl.solve_lp(c, A, b)
    assert res.shift.startswith("big-M")
    _assert_matches_highs(c, A, b, res)
    # an unbounded optimal face (c^T x constant along a ray) is still solved
    c, A, b = np.array([-1.0, 1, 1]), np.array([[1.0, -1, 0], [0, 0, 1]]), np.array([0.0, 1])
    _assert_matches_highs(c, A, b, dl.solve_lp(c, A, b))


@pytest.mark.parametrize("c, A, b, error", [
    ([1, 1, 1], [[1, 1, 1]], [-1], dl.InfeasibleLPError),
    ([1, 1, 1, 1], [[1, 1, 0, 0], [2, 2, 0, 0]], [1, 3], dl.InfeasibleLPError),  # A x = b inconsistent
    ([1, 1, 1], [[1, 1, 0], [0, 0, 1]], [0, 1], dl.NotStrictlyFeasibleError),  # x1 = x2 = 0 forced
    ([-1, 0.5, 1], [[1, -1, 0], [0, 0, 1]], [0, 1], dl.UnboundedLPError),  # x1 = x2 -> inf lowers the cost
    ([1, np.nan, 1], [[1, 1, 1]], [1], dl.ProblemError),
    ([1, 1], [[1, 1, 1]], [1], dl.ProblemError),
    ([1, 1, 1], [1, 1, 1], [1], dl.ProblemError),
])
def test_bad_lps_raise_their_error(c, A, b, error):
    with pytest.raises(error):
        dl.solve_lp(c, A, b)


def test_bad_method_and_parameters():
    with pytest.raises(dl.ProblemError, match="method"):
        dl.solve_lp([1, 1], [[1, 1]], [1], method="simplex")
    with pytest.raises(dl.ProblemError, match="reg"):
        dl.entropic_lp([1, 1], [[1, 1]], [1], reg=-1.0)
    with pytest.raises(dl.ProblemError, match="step"):
        dl.descend([1, 1], [[1, 1]], [1], step=0.0)
    with pytest.raises(dl.NotStrictlyFeasibleError):
        dl.entropic_lp([1, 1, 1], [[1, 1, 0], [0, 0, 1]], [0, 1], reg=0.1)


def _entropic_by_scipy(c, A, b, reg):
    """Independent solve: minimize the dual reg * sum exp((A^T y - c)/reg) - b^T y with BFGS-type Newton."""
    def f(y):
        e = np.exp((A.T @ y - c) / reg)
        return reg * e.sum() - b @ y, A @ e - b, (A * (e / reg)) @ A.T

    res = minimize(lambda y: f(y)[0], np.zeros(A.shape[0]), jac=lambda y: f(y)[1], hess=lambda y: f(y)[2],
                   method="trust-exact", options={"gtol": 1e-13})
    return np.exp((A.T @ res.x - c) / reg)


@pytest.mark.parametrize("reg", [1.0, 0.1, 0.02])
def test_entropic_limit_against_independent_solves(reg):
    rng = np.random.default_rng(7)
    A = rng.standard_normal((4, 12))
    c = rng.random(12) + 0.2
    b = A @ (0.3 + rng.random(12))
    res = dl.entropic_lp(c, A, b, reg)
    assert res.status == "unverified"
    ref = _entropic_by_scipy(c, A, b, reg)
    # trust-exact stops at gtol 1e-13 on the dual gradient A x - b; x is then accurate to ~1e-10
    assert np.allclose(res.x, ref, rtol=1e-8, atol=1e-12)
    # the generic dual engine with the same network agrees
    lim = dl.flow_limit(A, b, dl.NonNegativeDLN.for_lp(c, reg))
    assert np.allclose(res.x, lim.x, rtol=1e-8, atol=1e-12)
    # and so does the limit of exponentiated gradient, which stays on the manifold x0 exp(A^T .)
    eg = dl.descend(c, A, b, "eg", reg=reg, max_iter=200_000, rtol=1e-13)
    assert eg.status == "unverified"
    assert np.allclose(eg.x, ref, rtol=1e-8, atol=1e-12)


def test_entropic_solution_approaches_the_lp():
    """The entropic LP objective converges to the LP optimum as reg -> 0 (docs/theory.md section 7)."""
    c, A, b = _random_lp(3, "interior")
    opt = linprog(c, A_eq=A, b_eq=b, method="highs").fun
    gaps = [dl.entropic_lp(c, A, b, reg).objective - opt for reg in (0.3, 0.03, 0.003)]
    assert gaps[0] > gaps[1] > gaps[2] >= -1e-9
    assert gaps[2] < 0.05 * gaps[0]


def test_gd_discrete_limit_is_first_order_in_the_step():
    """GD's limit differs from the flow limit by O(eta): halving the step halves the difference."""
    rng = np.random.default_rng(11)
    A = rng.standard_normal((2, 6))
    c = 0.5 + rng.random(6)
    b = A @ (0.5 + rng.random(6))
    reg = 0.5
    flow = dl.entropic_lp(c, A, b, reg).x
    L = np.linalg.eigvalsh((A * flow) @ A.T).max()
    diffs = []
    for eta in (0.05 / L, 0.025 / L, 0.0125 / L):
        gd = dl.descend(c, A, b, "gd", reg=reg, step=eta, max_iter=400_000, rtol=1e-14)
        assert gd.status == "unverified"
        diffs.append(np.linalg.norm(gd.x - flow))
    ratios = np.array(diffs[:-1]) / np.array(diffs[1:])
    # first order: ratio 2 up to the O(eta^2) term (a few percent at these steps)
    assert np.all(np.abs(ratios - 2.0) < 0.15), ratios
    assert diffs[-1] > 1e-9  # the effect is real, far above the 1e-14 convergence of each run


def test_descend_certificates_and_budget():
    c, A, b = _random_lp(5, "interior")
    eg = dl.descend(c, A, b, "eg", reg=0.05, max_iter=50)
    assert eg.status == "max_iter" and eg.iterations == 50
    # EG's dual is exact on the entropic manifold: reduced costs = -reg log x
    assert np.allclose(eg.reduced_costs, -0.05 * np.log(eg.x), rtol=1e-9, atol=1e-10)
    assert eg.trace["iteration"][0] == 0 and eg.trace["loss"][-1] < eg.trace["loss"][0]
    opt = linprog(c, A_eq=A, b_eq=b, method="highs").fun
    gd = dl.solve_lp(c, A, b, method="gd", reg=0.05, max_iter=20, reference=opt)
    assert np.isclose(gd.reference_gap, abs(gd.objective - opt) / abs(opt))


def test_basis_pursuit_as_lp(highs_oracle):
    P = dl.random_problem()
    x, res = dl.basis_pursuit_lp(P.A, P.y)
    assert res.status == "converged"
    h = np.abs(highs_oracle.basis_pursuit(P.A, P.y)).sum()
    assert abs(np.abs(x).sum() - h) <= 1e-9 * h
    # docs/theory.md section 5: x* = (0, 0, -.278220, -.949197, -.536551)
    assert np.allclose(x, [0, 0, -0.278220, -0.949197, -0.536551], atol=2e-6)


def test_cli_lp(tmp_path):
    import json

    from typer.testing import CliRunner

    from dlnlab.cli import app
    from dlnlab.problems import save_npz

    c, A, b = _random_lp(21, "interior")
    path = save_npz(tmp_path / "lp.npz", c=c, A=A, b=b)
    runner = CliRunner()
    out = runner.invoke(app, ["lp", str(path), "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    ref = linprog(c, A_eq=A, b_eq=b, method="highs").fun
    assert payload["status"] == "converged" and abs(payload["objective"] - ref) <= 1e-9 * abs(ref)
    # the JSON is the result's own to_dict(): its field names, its success, its dual
    assert payload["success"] is True and len(payload["dual"]) == A.shape[0] and payload["duality_gap"] <= 1e-9
    out = runner.invoke(app, ["lp", str(path), "--method", "eg", "--reg", "0.05", "--max-iter", "30"])
    assert out.exit_code == 1 and "status max_iter" in out.output  # an unsuccessful result exits 1
    out = runner.invoke(app, ["lp", str(path), "--method", "simplex"])
    assert out.exit_code == 2 and "--method" in out.output
    bad = save_npz(tmp_path / "bad.npz", c=c, A=A)
    out = runner.invoke(app, ["lp", str(bad)])
    assert out.exit_code == 2 and "missing key" in out.output
