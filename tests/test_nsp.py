"""Null space constants alpha_s (src/dlnlab/nsp.py) against an independent brute force.

Brute force: max ||z||_(s) / ||z||_1 over ker A is a convex maximization over the polytope
ker A ∩ B_1, attained at a vertex; the vertices are the normalized circuits of A (kernel
vectors of minimal support: a set C with dim ker A_C = 1 whose kernel vector is nonzero on
all of C). Enumerating column subsets finds them all on small matrices.
"""

import json
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app
from dlnlab.l1 import nsp


def brute_force_alpha(A, s):
    m, N = A.shape
    r = np.linalg.matrix_rank(A)
    best = 0.0
    for k in range(1, r + 2):
        for C in combinations(range(N), k):
            _, sv, Vt = np.linalg.svd(A[:, C])
            rank = int(np.sum(sv > 1e-10 * max(1.0, sv[0] if sv.size else 1.0)))
            if k - rank != 1:
                continue
            z = Vt[-1]
            if np.min(np.abs(z)) <= 1e-9 * np.max(np.abs(z)):
                continue  # support smaller than C: found with a smaller subset
            a = np.sort(np.abs(z))[::-1]
            best = max(best, a[:s].sum() / a.sum())
    return best


def gaussian(m, N, seed):
    return np.random.default_rng(seed).standard_normal((m, N))


@pytest.mark.parametrize("m,N,seed", [(3, 7, 0), (4, 8, 1), (5, 9, 2)])
@pytest.mark.parametrize("s", [1, 2, 3])
def test_exact_methods_agree_with_brute_force(m, N, seed, s):
    A = gaussian(m, N, seed)
    ref = brute_force_alpha(A, s)
    for method in ("enumerate", "milp"):
        res = dl.nsp_constant(A, s, method=method)
        assert res.exact and res.method == method
        # LP/MILP tolerances are ~1e-9 on these O(1) data; the value is attained by a witness
        assert abs(res.objective - ref) <= 1e-8, method
        assert abs(np.abs(res.witness).sum() - 1) < 1e-12 and np.allclose(A @ res.witness, 0, atol=1e-12)
        top = np.sort(np.abs(res.witness))[::-1][:s].sum()
        assert abs(top - res.lower) < 1e-12
    bound = dl.nsp_constant(A, s, method="bound")
    assert bound.upper >= ref - 1e-9 and bound.lower <= ref + 1e-9
    if s == 1:  # alpha_1 is exact by LP duality
        assert bound.exact and abs(bound.objective - ref) <= 1e-8
        assert dl.nsp_constant(A, 1).method == "lp"


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(2, 5), extra=st.integers(2, 4), s=st.integers(1, 3))
def test_bound_brackets_the_exact_value(seed, m, extra, s):
    A = gaussian(m, m + extra, seed)
    exact = dl.nsp_constant(A, s, method="enumerate")
    bound = dl.nsp_constant(A, s, method="bound")
    assert exact.exact
    assert bound.upper >= exact.objective - 1e-9  # an upper bound is never below the exact value
    assert bound.lower <= exact.objective + 1e-9  # and its witness never above it
    assert exact.objective <= 1 + 1e-12 and exact.lower == exact.objective


def test_nsp_verdict_matches_basis_pursuit():
    """alpha_s >= 1/2: the witness z gives an s-sparse z_K that BP does not uniquely recover;
    alpha_s < 1/2: BP recovers random s-sparse vectors (the NSP theorem)."""
    rng = np.random.default_rng(5)
    A = gaussian(4, 8, 3)
    res = dl.nsp_constant(A, 2)
    assert res.nsp is False
    z = res.witness
    xK = np.zeros(8)
    xK[res.witness_set] = z[res.witness_set]
    bp = dl.basis_pursuit(A, A @ xK)
    assert bp.objective < np.abs(xK).sum() - 1e-12 or not bp.unique
    A = gaussian(12, 16, 0)
    res = dl.nsp_constant(A, 1)
    assert res.nsp is True  # alpha_1 < 1/2 for this matrix
    for _ in range(5):
        x = np.zeros(16)
        x[rng.integers(16)] = rng.standard_normal()
        bp = dl.basis_pursuit(A, A @ x)
        assert bp.unique and np.allclose(bp.x, x, atol=1e-12)


@pytest.mark.parametrize("method", ["milp", "bound", "enumerate"])
def test_stopped_early_reports_an_honest_interval(method):
    A = gaussian(12, 24, 7)
    res = dl.nsp_constant(A, 4, method=method, time_limit=0.05)
    assert res.lower <= res.upper <= 1.0
    # either exact, or an honest upper bound: stopped by the limit, or (method="bound", which
    # may finish within 0.05 s on a fast machine) a bound by construction
    assert res.exact or (res.status in ("max_iter", "unverified") and res.objective == res.upper)
    assert res.exact or res.status == "max_iter" or method == "bound"
    top = np.sort(np.abs(res.witness))[::-1][:4].sum()  # the lower bound is attained by the witness
    assert abs(top - res.lower) < 1e-12 and np.allclose(A @ res.witness, 0, atol=1e-12)


def test_auto_prefers_an_exact_method_when_it_is_cheap(monkeypatch):
    """auto enumerates beyond max_lps when the LPs (timed on the first) fit its budget; with a
    budget too small for the MILP (N above MAX_MILP_N), it returns the MILP's interval
    intersected with the bounds, honestly labelled."""
    A = gaussian(4, 8, 3)
    ref = brute_force_alpha(A, 2)
    res = dl.nsp_constant(A, 2, max_lps=10)  # 56 LPs > 10, but a fraction of a second
    assert res.method == "enumerate" and res.exact and res.success and abs(res.objective - ref) <= 1e-8
    monkeypatch.setattr(nsp, "MAX_MILP_N", 5)
    monkeypatch.setattr(nsp, "AUTO_EXACT_SECONDS", 0.0)
    res = dl.nsp_constant(A, 2, max_lps=10)
    assert res.method in ("milp", "milp+bound")
    assert res.lower - 1e-9 <= ref <= res.upper + 1e-9
    assert res.success if res.exact else (res.status == "unverified" and res.objective == res.upper)


def test_nsp_needs_only_A():
    """The constant depends on A alone: a Problem's y is ignored."""
    A = gaussian(3, 6, 0)
    P = dl.Problem(A, A @ np.ones(6))
    assert dl.nsp_constant(P, 2).objective == dl.nsp_constant(A, 2).objective


def test_trivial_kernel_and_bad_inputs():
    res = dl.nsp_constant(np.eye(3), 1)
    assert res.exact and res.objective == 0.0 and res.nsp is True
    A = gaussian(3, 6, 0)
    for s in (0, 7, 1.5, True):
        with pytest.raises(dl.ProblemError):
            dl.nsp_constant(A, s)
    with pytest.raises(dl.DLNError, match="choose one of"):
        dl.nsp_constant(A, 2, method="magic")
    with pytest.raises(dl.DLNError, match="time_limit"):
        dl.nsp_constant(A, 2, time_limit=0)
    with pytest.raises(dl.DLNError, match="alpha_1 only"):
        dl.nsp_constant(A, 2, method="lp")
    with pytest.raises(dl.ProblemError):
        dl.nsp_constant([[1.0, np.nan]], 1)


def test_cli_nsp(tmp_path):
    path = tmp_path / "random.npz"
    dl.random_problem().save(path)
    runner = CliRunner()
    out = runner.invoke(app, ["nsp", str(path), "--order", "2", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)["result"]
    assert data["exact"] and abs(data["objective"] - brute_force_alpha(dl.random_problem().A, 2)) < 1e-8
    out = runner.invoke(app, ["nsp", str(path), "--order", "2", "--method", "bound"])
    assert out.exit_code == 1 and "alpha_2" in out.output  # a bound interval is unverified: exit 1
    out = runner.invoke(app, ["nsp", str(path), "--order", "9"])
    assert out.exit_code == 2
