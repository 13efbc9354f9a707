"""Basis pursuit, its solution face, the selected minimizer and rho (src/dlnlab/l1.py).

Independent references: closed forms of docs/theory.md section 4, brute-force enumeration of
basic solutions, the primal LP form of rho, scipy's SLSQP on the face, and dl.flow_limit.
"""

import json
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult, minimize
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.l1 import linalg as l1mod
from dlnlab.cli import app
from dlnlab.theory import line_selection_t

DEPTHS = [2.0, 2.5, 3.0, 4.0]


def line_point(depth):
    t = line_selection_t(depth)
    return np.array([1 - t, 2 * (1 - t), 3 * t])


def integer_problem(seed, m=3, N=6):
    """Small integer problems: ties between l1 minimizers are common (about a third of seeds)."""
    rng = np.random.default_rng(seed)
    A = rng.integers(-2, 3, size=(m, N)).astype(float)
    x0 = np.zeros(N)
    idx = rng.choice(N, 2, replace=False)
    x0[idx] = rng.integers(1, 3, 2) * rng.choice([-1, 1], 2)
    return dl.Problem(A, A @ x0)


def brute_force_bp(P):
    """All basic solutions x (A_B x_B = y, A_B injective): min l1 value and the optimal vertices."""
    A, y = P.A, P.y
    N = P.N
    pts = [np.zeros(N)] if np.linalg.norm(y) == 0 else []
    for k in range(1, P.rank + 1):
        for B in combinations(range(N), k):
            AB = A[:, B]
            if np.linalg.matrix_rank(AB) < k:
                continue
            xB = np.linalg.lstsq(AB, y, rcond=None)[0]
            if np.linalg.norm(AB @ xB - y) <= 1e-10 * max(1.0, np.linalg.norm(y)):
                x = np.zeros(N)
                x[list(B)] = xB
                pts.append(x)
    vals = np.array([np.abs(x).sum() for x in pts])
    best = vals.min()
    optimal = []
    for x, v in zip(pts, vals):  # ties: integer data, values equal to rounding (1e-12 relative)
        if v <= best * (1 + 1e-9) and not any(np.allclose(x, o, atol=1e-9) for o in optimal):
            optimal.append(x)
    return best, optimal


# ------------------------------------------------------------------ basis pursuit


def test_seed_paper_random_problem():
    """docs/theory.md section 5: x* = (0, 0, -.278220, -.949197, -.536551), rho = 0.2551."""
    P = dl.random_problem()
    bp = dl.basis_pursuit(P)
    assert bp.status == "converged" and bp.unique
    np.testing.assert_allclose(bp.x, [0, 0, -0.278220, -0.949197, -0.536551], atol=5e-7)  # 6 digits
    assert bp.residual < 1e-14 and bp.duality_gap < 1e-14  # cleaned: exact to rounding
    assert np.max(np.abs(P.A.T @ bp.certificate)) <= 1 + 1e-15
    rho = dl.certificate_constant(P, bp.x)
    assert round(rho.rho, 4) == 0.2551
    assert abs(float(rho) - dl.certificate_constant(P, bp.x, form="primal").rho) < 1e-12


def test_bp_on_gaussian_recovers_sparse_truth():
    P = dl.gaussian_problem(40, 100, 5, seed=3)
    bp = dl.basis_pursuit(P)
    assert bp.unique and bp.success
    np.testing.assert_allclose(bp.x, P.x_true, atol=1e-12)  # exact recovery at k=5, m=40 (well inside DT)
    assert bp.residual < 1e-14 and bp.margin > 0
    # HiGHS' basic dual is tight on m columns; a strict certificate had to be found
    c = P.A.T @ bp.certificate
    off = np.setdiff1d(np.arange(P.N), bp.support)
    np.testing.assert_allclose(c[bp.support], bp.sign, atol=1e-13)
    assert np.max(np.abs(c[off])) == pytest.approx(1 - bp.margin, abs=1e-15) and bp.margin > 1e-6
    assert bp.certificate_source in ("soft-max", "rho-lp", "highs")
    assert dl.certificate_constant(P, bp.x).rho <= 1 - bp.margin + 1e-9  # rho is the best margin


@pytest.mark.parametrize("seed", range(40))
def test_unique_and_face_agree_with_brute_force(seed):
    P = integer_problem(seed)
    bp = dl.basis_pursuit(P)
    best, optimal = brute_force_bp(P)
    assert bp.success
    assert abs(bp.objective - best) <= 1e-12 * max(1.0, best)
    assert bp.unique == (len(optimal) == 1)
    if bp.unique:
        assert bp.alternative is None and bp.margin > 0  # a strict certificate is the evidence
    else:  # another minimizer is the evidence
        alt = bp.alternative
        assert P.relative_residual(alt) < 1e-13 and abs(np.abs(alt).sum() - best) <= 1e-12 * best
        assert np.max(np.abs(alt - bp.x)) > 1e-6
    face = dl.bp_face(P)
    assert face.status == "converged"
    assert face.unique == bp.unique
    # the face's vertices are exactly the optimal basic solutions
    assert len(face.vertices) == len(optimal)
    for v in optimal:
        assert any(np.allclose(v, w, atol=1e-12) for w in face.vertices)
    # relative interior point: feasible, optimal, all of F nonzero with the face's signs
    assert P.relative_residual(face.point) < 1e-13
    assert abs(np.abs(face.point).sum() - best) <= 1e-12 * best
    assert np.all(np.sign(face.point[face.support]) == face.sign)
    # strictly complementary certificate: tight on F, < 1 off F
    c = P.A.T @ face.certificate
    np.testing.assert_allclose(c[face.support], face.sign, atol=1e-12)
    off = np.setdiff1d(np.arange(P.N), face.support)
    assert np.all(np.abs(c[off]) <= face.rho + 1e-12) and face.rho < 1
    # uniqueness by rho agrees (docs/theory.md section 5)
    cert = dl.certificate_constant(P, bp.x)
    assert cert.unique == bp.unique
    assert face.dimension == face.basis.shape[1] and np.allclose(P.A @ face.basis, 0, atol=1e-12)


def test_ties_decided_exactly():
    tie = dl.Problem([[1.0, 1.0]], [1.0])  # every (t, 1-t), t in [0,1], is a minimizer
    assert not dl.basis_pursuit(tie).unique
    face = dl.bp_face(tie)
    assert face.dimension == 1 and len(face.vertices) == 2
    near = dl.kink_problem(1e-6)  # rho = 1 - 1e-6 < 1: unique, although nearly tied
    bp = dl.basis_pursuit(near)
    assert bp.unique and np.allclose(bp.x, [1, 0], atol=1e-15)
    assert abs(dl.certificate_constant(near, bp.x).rho - (1 - 1e-6)) < 1e-14
    # A = [1, 1 + 1e-8]: HiGHS at its default tolerance 1e-7 returns the vertex (1, 0), worse by
    # 1e-8; the duality-gap check catches it and the tight-tolerance retry finds the optimum
    bp = dl.basis_pursuit([[1.0, 1.0 + 1e-8]], [1.0])
    assert bp.success and bp.unique and np.allclose(bp.x, [0, 1 / (1 + 1e-8)], atol=1e-15)


@pytest.mark.parametrize("k_A, k_y", [(-13, 0), (-200, 0), (200, 0), (150, -150), (-100, 50), (0, -250)])
def test_well_conditioned_data_of_any_size(k_A, k_y):
    """BP is homogeneous: (10^a A, 10^b y) has the solution 10^(b-a) x* and the certificate
    10^-a w*, with the same support, signs, margin and rho (A entries ~1e-13 once read as
    infeasible by HiGHS, ~1e200 as a model error). The data are normalized by a power of two
    for A and by max|y|, so everything agrees to rounding (1e-12 relative asserted)."""
    P = dl.random_problem()
    ref, ref_rho = dl.basis_pursuit(P), dl.certificate_constant(P, dl.basis_pursuit(P).x).rho
    A, y = P.A * 10.0 ** k_A, P.y * 10.0 ** k_y
    bp = dl.basis_pursuit(A, y)
    assert bp.success and bp.unique and np.array_equal(bp.support, ref.support)
    assert np.allclose(bp.x * 10.0 ** (k_A - k_y), ref.x, rtol=1e-12, atol=0)
    assert np.allclose(bp.certificate * 10.0 ** k_A, ref.certificate, rtol=1e-12, atol=1e-15)
    assert bp.margin == pytest.approx(ref.margin, abs=1e-12)
    assert dl.certificate_constant(A, bp.x).rho == pytest.approx(ref_rho, abs=1e-12)
    # a face that is not a point, and the selection on it, scale the same way
    L = dl.line_problem()
    face = dl.bp_face(L.A * 10.0 ** k_A, L.y * 10.0 ** k_y)
    assert face.success and face.dimension == 1
    assert np.allclose(face.vertices * 10.0 ** (k_A - k_y), [[0, 0, 3], [1, 2, 0]], rtol=0, atol=1e-12)
    sel = dl.selected_minimizer(L.A * 10.0 ** k_A, L.y * 10.0 ** k_y, depth=3)
    assert sel.x[2] * 10.0 ** (k_A - k_y) / 3 == pytest.approx(line_selection_t(3), rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k_A=st.integers(-250, 250), k_y=st.integers(-250, 250))
def test_bp_scales_exactly_over_500_decades(seed, k_A, k_y):
    """Property: x(10^a A, 10^b y) = 10^(b-a) x(A, y) with the same support and signs, for
    well-conditioned Gaussian data (the answers stay inside float64 range: |b - a| <= 300)."""
    if abs(k_y - k_A) > 300:
        k_y = k_A + int(np.sign(k_y - k_A)) * 300
    P = dl.gaussian_problem(4, 9, 2, seed=seed)
    ref = dl.basis_pursuit(P)
    bp = dl.basis_pursuit(P.A * 10.0 ** k_A, P.y * 10.0 ** k_y)
    assert bp.success and bp.unique == ref.unique and np.array_equal(bp.support, ref.support)
    # two float64 solves of the same normalized LP, rescaled by 10^(b-a): rounding of the scale factors
    assert np.allclose(bp.x * 10.0 ** (k_A - k_y), ref.x, rtol=1e-10, atol=1e-12 * np.max(np.abs(ref.x)))


@pytest.mark.parametrize("damage", ["shift", "nan"])
def test_certificate_is_repaired_when_highs_marginals_are_wrong(monkeypatch, damage):
    """Wrong marginals must not reach the user: polished onto A_S^T w = sigma, or the dual LP."""
    real = l1mod.linprog

    def corrupt(*args, **kwargs):
        res = real(*args, **kwargs)
        if res.get("eqlin") is not None and len(res.eqlin.marginals) == 3:
            res.eqlin.marginals = res.eqlin.marginals + (0.3 if damage == "shift" else np.nan)
        return res

    monkeypatch.setattr(l1mod, "linprog", corrupt)
    P = dl.random_problem()
    bp = dl.basis_pursuit(P)
    # shift: A_S is square and invertible, so polishing alone restores the certificate
    assert bp.certificate_source == ("highs" if damage == "shift" else "dual-lp") and bp.success
    assert bp.duality_gap < 1e-14 and np.max(np.abs(P.A.T @ bp.certificate)) <= 1 + 1e-15
    assert bp.unique and bp.margin > 0.7  # 1 - rho = 0.7449


def test_highs_failure_raises_solver_error(monkeypatch):
    def failing(*args, **kwargs):
        return OptimizeResult(status=4, message="numerical difficulties (simulated)", x=None)

    monkeypatch.setattr(l1mod, "linprog", failing)
    with pytest.raises(dl.SolverError, match="simulated"):
        dl.basis_pursuit(dl.random_problem())


def test_unverifiable_answer_raises_or_reports(monkeypatch):
    """A wrong HiGHS point (feasible but not optimal) is caught by the duality gap."""
    real = l1mod.linprog
    P = dl.line_problem()

    def wrong(c, **kwargs):
        res = real(c, **kwargs)
        if len(c) == 6 and kwargs.get("A_eq") is not None and kwargs["A_eq"].shape == (2, 6):
            # (1,2,0) + (1,2,-3) in ker A: A x = y, ||x||_1 = 9 > 3 (scaled with the LP's A and y)
            v = np.array([2.0, 4.0, -3.0])
            x = v * kwargs["b_eq"][0] / (kwargs["A_eq"][0, :3] @ v)
            res.x = np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)])
        return res

    monkeypatch.setattr(l1mod, "linprog", wrong)
    with pytest.raises(dl.SolverError, match="verified"):
        dl.basis_pursuit(P)
    res = dl.basis_pursuit(P, throw=False)
    assert res.status == "unverified" and res.duality_gap > 0.1 and res.residual < 1e-14


# ------------------------------------------------------------------ selected minimizer


def disguises(P, x_sel, rng):
    """(problem, map from the disguised solution back to the original coordinates) pairs."""
    A, y = P.A, P.y
    N = P.N
    M = rng.standard_normal((P.m, P.m)) + 3 * np.eye(P.m)  # invertible, cond ~ 10
    yield "left-multiplied", dl.Problem(M @ A, M @ y), lambda x: x
    perm = rng.permutation(N)
    yield "permuted", dl.Problem(A[:, perm], y), lambda x: x[np.argsort(perm)]
    flip = np.where(np.arange(N) % 2 == 0, -1.0, 1.0)
    yield "sign-flipped", dl.Problem(A * flip, y), lambda x: x * flip
    # dominated columns: 0.5 a_0 costs 2 per unit of a_0; -0.4 (a_1 + a_2) costs 1 per 0.8
    extra = np.column_stack([0.5 * A[:, 0], -0.4 * (A[:, 1] + A[:, 2])])
    yield "dominated columns", dl.Problem(np.hstack([A, extra]), y), lambda x: x[:N]
    for c in (1e-8, 1e8):  # BP and the selection are homogeneous in y; HiGHS' tolerances are not
        yield f"y scaled by {c:g}", dl.Problem(A, c * y), lambda x, c=c: x / c


@pytest.mark.parametrize("fixture", ["line", "plane"])
@pytest.mark.parametrize("depth", DEPTHS)
def test_selected_minimizer_closed_form(fixture, depth):
    """docs/theory.md section 4: (1-t*, 2(1-t*), 3t*) (plus a trailing 0), also in disguise."""
    P = dl.FIXTURES[fixture]()
    expected = np.concatenate([line_point(depth), np.zeros(P.N - 3)])
    sel = dl.selected_minimizer(P, depth=depth)
    assert sel.success and sel.face.dimension == 1
    np.testing.assert_allclose(sel.x, expected, atol=1e-9)  # Newton to machine precision
    assert sel.kkt < 1e-12
    rng = np.random.default_rng(int(depth * 10))
    for name, Q, back in disguises(P, sel.x, rng):
        s2 = dl.selected_minimizer(Q, depth=depth)
        assert s2.success, name
        np.testing.assert_allclose(back(s2.x), expected, atol=1e-9, err_msg=name)
        assert abs(np.abs(back(s2.x)).sum() - 3.0) < 1e-12
        if name == "dominated columns":
            assert np.all(s2.x[P.N:] == 0) and np.all(s2.face.support < P.N)  # never used


def test_selected_equals_bp_when_unique():
    P = dl.random_problem()
    bp = dl.basis_pursuit(P)
    for depth in (2, 3):
        sel = dl.selected_minimizer(P, depth)  # depth may follow a Problem positionally
        assert sel.face.dimension == 0 and np.array_equal(sel.x, bp.x)


def test_selected_minimizer_against_slsqp_on_a_two_dimensional_face():
    """Independent solver on the face {t >= 0 : A_F s_F t = y}: SLSQP on sum g_p."""
    P = integer_problem(44)  # a 2-dimensional face (found by inspection)
    face = dl.bp_face(P)
    assert face.dimension == 2
    F, sF = face.support, face.sign
    AF = P.A[:, F] * sF
    for depth in (2.0, 3.0):
        sel = dl.selected_minimizer(P, depth=depth, face=face)
        if depth == 2:
            f = lambda t: np.sum(t * np.log(np.maximum(t, 1e-300)))
        else:
            f = lambda t: -np.sum(np.maximum(t, 0) ** (2 / depth))
        res = minimize(f, np.abs(face.point[F]), method="SLSQP", bounds=[(0, None)] * F.size,
                       constraints=[{"type": "eq", "fun": lambda t: AF @ t - P.y}],
                       options={"ftol": 1e-14, "maxiter": 500})
        assert res.success
        # SLSQP's ftol 1e-14 on a smooth strictly convex problem: x to ~1e-6
        np.testing.assert_allclose(np.abs(sel.x[F]), res.x, atol=1e-6)
        assert f(np.abs(sel.x[F])) <= f(res.x) + 1e-12  # and Newton's point is no worse


@pytest.mark.parametrize("seed", [0, 6, 44])
def test_flow_limit_approaches_selected_minimizer(seed):
    """p = 3: ||x_inf(a) - xhat|| decreases with the scale a (Theta(a) or faster, docs/theory.md section 5)."""
    P = integer_problem(seed)
    sel = dl.selected_minimizer(P, depth=3)
    errs = []
    for a in (1e-3, 1e-6, 1e-9):  # >= 1e-12: flow_limit's tie-break precision
        res = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=a))
        errs.append(np.max(np.abs(res.x - sel.x)))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 100 * 1e-9  # Theta(a) with constants <= 4 measured on these problems


def test_flow_limit_p2_reaches_selected_minimizer():
    """p = 2 on a 2-dimensional face: the tie-break is exact up to O(a^2) corrections on the face."""
    P = integer_problem(44)
    sel = dl.selected_minimizer(P, depth=2)
    errs = [np.max(np.abs(dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=a)).x - sel.x))
            for a in (1e-3, 1e-5, 1e-20)]
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-12  # measured 1.3e-15 at a = 1e-20


# ------------------------------------------------------------------ rho


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(2, 6), extra=st.integers(1, 6))
def test_rho_primal_and_dual_agree(seed, m, extra):
    N = m + extra
    P = dl.gaussian_problem(m, N, min(2, m - 1), seed=seed)
    bp = dl.basis_pursuit(P)
    dual = dl.certificate_constant(P, bp.x)
    primal = dl.certificate_constant(P, bp.x, form="primal")
    # both are values attained by explicit vectors (w resp. v in ker A); LP duality makes them equal
    assert abs(dual.rho - primal.rho) <= 1e-8 * max(1.0, dual.rho)
    assert dual.rho <= 1 + 1e-9  # any BP solution has a certificate
    assert dual.unique == bp.unique
    assert np.allclose(P.A[:, dual.support].T @ dual.w, dual.sign, atol=1e-12)
    assert np.allclose(P.A @ primal.v, 0, atol=1e-12)


def test_rho_of_kink_problem_is_one_minus_eps():
    for eps in (0.3, 0.01):
        P = dl.kink_problem(eps)
        assert abs(dl.certificate_constant(P, P.x_true).rho - (1 - eps)) < 1e-14


# ------------------------------------------------------------------ bad inputs


def test_bad_inputs_raise_dln_errors():
    P = dl.random_problem()
    with pytest.raises(dl.ProblemError):
        dl.basis_pursuit([[1.0, np.nan, 0.0]], [1.0])
    with pytest.raises(dl.NotInRangeError):
        dl.basis_pursuit([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], [1.0, 2.0])
    with pytest.raises(dl.ProblemError):
        dl.basis_pursuit(P.A)  # y missing
    x = dl.basis_pursuit(P).x
    with pytest.raises(dl.NotBPSolutionError, match="not a basis-pursuit solution"):
        dl.certificate_constant(P.A, x + np.array([1.0, 0, 0, 0, 0]))
    with pytest.raises(dl.NotBPSolutionError, match="A x = y"):
        dl.certificate_constant(P, 2 * x)
    with pytest.raises(dl.ProblemError):
        dl.certificate_constant(P, x[:3])
    with pytest.raises(dl.ProblemError):
        dl.certificate_constant(P, x, form="sideways")
    with pytest.raises(dl.NetworkError):
        dl.selected_minimizer(P, depth=1.5)
    with pytest.raises(dl.NetworkError):
        dl.selected_minimizer(P)
    with pytest.raises(dl.DLNError):
        dl.bp_face([[1.0, 2.0, 3.0]], [np.inf])


# ------------------------------------------------------------------ command line


def test_cli_bp_select_rho(tmp_path):
    runner = CliRunner()
    path = tmp_path / "line.npz"
    dl.line_problem().save(path)
    out = runner.invoke(app, ["bp", str(path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)["result"]
    assert data["unique"] is False and data["face"]["dimension"] == 1 and abs(data["objective"] - 3) < 1e-12
    out = runner.invoke(app, ["select", str(path), "--depth", "3", "--json"])
    assert out.exit_code == 0, out.output
    np.testing.assert_allclose(json.loads(out.output)["result"]["x"], line_point(3.0), atol=1e-9)
    rpath = tmp_path / "random.npz"
    dl.random_problem().save(rpath)
    out = runner.invoke(app, ["rho", str(rpath), "--json"])
    assert out.exit_code == 0 and round(json.loads(out.output)["result"]["rho"], 4) == 0.2551
    out = runner.invoke(app, ["bp", str(rpath)])
    assert out.exit_code == 0 and "converged" in out.output
    out = runner.invoke(app, ["select", str(path), "--depth", "1"])
    assert out.exit_code == 2 and "depth" in out.output
    out = runner.invoke(app, ["bp", str(tmp_path / "missing.npz")])
    assert out.exit_code == 2
