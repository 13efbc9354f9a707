"""`GramBasis`: large well-conditioned problems solve the dual in the rows of A (one Gram product and an
m x m Cholesky instead of an orthonormal basis). Its projections match the orthonormal basis's, its
limits equal those solved on the orthonormal basis, and problems it cannot certify keep the old path."""

import numpy as np
import pytest

import dlnlab as dl
from dlnlab import problems
from dlnlab.problems import GramBasis, RowBasis


def _gaussian(m=300, N=1200, seed=3):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N))
    assert m * m * N >= problems.FAST_BASIS_WORK
    return A, A @ rng.standard_normal(N), rng


def test_gram_basis_projections_match_the_orthonormal_basis():
    A, y, rng = _gaussian()
    P = dl.Problem(A, y)
    G = P.solver_basis
    assert isinstance(G, GramBasis) and P._basis is None  # the orthonormal basis is not computed ...
    s = G.scale
    # a power of two above ||A||_2 (measured ||Q||_2 = 0.80)
    assert 0.5 < np.linalg.norm(G.Q, 2) <= 1.0 and np.log2(s) == round(np.log2(s))
    assert np.array_equal(G.Q, A.T / s) and np.array_equal(G.z, y / s)  # exact: s is a power of two
    # R11^T R11 = Q^T Q to the rounding of a Gram product and its Cholesky (measured 3e-16)
    assert np.max(np.abs(G.R11.T @ G.R11 - G.Q.T @ G.Q)) <= 1e-13 * np.max(np.abs(G.Q.T @ G.Q))
    B = P.basis  # ... until asked for
    assert isinstance(B, RowBasis) and P.solver_basis is G and P.rank == 300
    x_ls = np.linalg.lstsq(A, y, rcond=None)[0]
    # min_norm / off_range against the orthonormal basis (measured 3e-15 and 5e-16 relative)
    assert np.max(np.abs(G.min_norm() - x_ls)) <= 1e-13 * np.max(np.abs(x_ls))
    v = rng.standard_normal(1200)
    assert np.max(np.abs(G.off_range(v) - B.off_range(v))) <= 1e-13 * np.max(np.abs(v))
    mu = rng.standard_normal(300)
    assert np.max(np.abs(A.T @ G.to_dual(mu) - G.Q @ mu)) <= 1e-15 * np.max(np.abs(G.Q @ mu))  # measured 0


def test_problems_the_gram_basis_cannot_certify_keep_the_orthonormal_basis():
    A, y, _ = _gaussian()
    bad = A.copy()
    bad[0] *= 1e4  # cond(A) ~ 1e4: rejected by the condition estimate of A A^T's Cholesky factor
    P = dl.Problem(bad, bad @ np.ones(1200))
    assert isinstance(P.solver_basis, RowBasis) and P.solver_basis is P.basis
    y_off = np.ones(300)
    y_off[-1] = 2.0  # the last row repeats the first, y does not: off the range, refused at once
    with pytest.raises(dl.NotInRangeError):
        dl.Problem(np.vstack([A[:299], A[:1]]), y_off)
    small = dl.random_problem()
    assert isinstance(small.solver_basis, RowBasis)


@pytest.mark.parametrize("depth", [2.0, 3.0])
def test_limits_in_the_rows_of_a_equal_the_orthonormal_ones(depth, monkeypatch):
    P = dl.gaussian_problem(250, 1600, 20, seed=1)
    assert isinstance(P.solver_basis, GramBasis)
    net = dl.SymmetricDLN(depth=depth, scale=1e-6)
    rows = dl.flow_limit(P, net)
    monkeypatch.setattr(problems, "_gram_basis", lambda A, y: None)
    Q = dl.Problem(P.A, P.y)
    assert isinstance(Q.solver_basis, RowBasis)
    orth = dl.flow_limit(Q, net)
    assert rows.converged and orth.converged
    # both polish to the rounding floor: x agrees to ~cond * 1e-15 (measured 4e-16 relative)
    assert np.max(np.abs(rows.x - orth.x)) <= 1e-12 * np.max(np.abs(orth.x))
    assert rows.residual <= 1e-12 and rows.kkt <= dl.limits.KKT_TOL
    # the dual in the caller's units: A^T lam is the same vector (measured 1e-13 at p = 2, 1e-11 at p = 3:
    # the off-support dual coordinates are set by slopes ~1e-6 of the support's)
    assert np.max(np.abs(P.A.T @ (rows.dual - orth.dual))) <= 1e-10 * np.max(np.abs(P.A.T @ orth.dual))
