import numpy as np
import pytest

import dlnlab as dl


def test_valid_problem_and_rank():
    P = dl.Problem([[1, 1, 1], [3, 0, 1]], [3, 3])
    assert (P.m, P.N, P.rank) == (2, 3, 2)
    # orthonormal-row form is equivalent: Q^T x = z iff A x = y
    x = np.array([1.0, 2.0, 0.0])
    assert np.allclose(P.basis.Q.T @ x, P.basis.z)


@pytest.mark.parametrize(
    "A, y, match",
    [
        ([1, 2, 3], [1], "2-D"),
        ([[1, np.nan, 3]], [1], "non-finite"),
        ([[1, 2, 3]], [np.inf], "non-finite"),
        ([[1, 2], [3, 4]], [1, 2], "m = 2 equations >= N = 2"),
        ([[1, 2, 3]], [1, 2], "shape"),
        ([[0.0, 0.0, 0.0]], [1.0], "zero matrix"),
    ],
)
def test_bad_inputs_raise_problem_error(A, y, match):
    with pytest.raises(dl.ProblemError, match=match):
        dl.Problem(A, y)


def test_y_outside_range_is_rejected():
    A = [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]  # rank 1: y must be proportional to (1, 2)
    dl.Problem(A, [1.0, 2.0])
    with pytest.raises(dl.NotInRangeError, match="not in the range"):
        dl.Problem(A, [1.0, 0.0])


def test_npz_roundtrip(tmp_path):
    P = dl.gaussian_problem(5, 12, 2, seed=3)
    path = P.save(tmp_path / "p.npz")
    Q = dl.Problem.load(path)
    assert np.array_equal(Q.A, P.A) and np.array_equal(Q.y, P.y) and np.array_equal(Q.x_true, P.x_true)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temporary file


def test_npz_missing_key(tmp_path):
    np.savez(tmp_path / "bad.npz", A=np.eye(2, 3))
    with pytest.raises(dl.ProblemError, match="missing key"):
        dl.Problem.load(tmp_path / "bad.npz")
    with pytest.raises(dl.ProblemError, match="no such file"):
        dl.Problem.load(tmp_path / "absent.npz")


def test_fixtures():
    assert dl.line_problem().N == 3
    assert dl.plane_problem().N == 4
    assert dl.random_problem().m == 3
    P = dl.kink_problem(0.1)
    assert np.allclose(P.A, [[1.0, 0.9]])
    with pytest.raises(dl.ProblemError):
        dl.kink_problem(0.0)


def test_large_basis_without_pivoting_is_orthonormal_and_keeps_rank_tests():
    # m^2 N = 1.08e8 >= FAST_BASIS_WORK: the unpivoted QR, checked against its definition
    from dlnlab.problems import FAST_BASIS_WORK
    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 1200))
    assert 300 * 300 * 1200 >= FAST_BASIS_WORK
    y = A @ rng.standard_normal(1200)
    B = dl.Problem(A, y).basis
    assert B.rank == 300 and np.array_equal(B.perm, np.arange(300))
    assert np.max(np.abs(B.Q.T @ B.Q - np.eye(300))) < 1e-13
    assert np.max(np.abs(B.Q @ B.R11 - A.T)) < 1e-12 * np.max(np.abs(A))  # A^T = Q R
    assert np.max(np.abs(B.R11.T @ B.z - y)) < 1e-12 * np.max(np.abs(y))   # A x = y  <=>  Q^T x = z
    # a repeated row: rank 299, found by the pivoted QR (the unpivoted R is singular)
    A2 = np.vstack([A[:299], A[:1]])
    y2 = A2 @ rng.standard_normal(1200)
    B2 = dl.Problem(A2, y2).basis
    assert B2.rank == 299
    assert np.max(np.abs(B2.Q.T @ B2.Q - np.eye(299))) < 1e-13


def test_large_basis_by_cholesky_qr_only_where_certified(monkeypatch):
    # CholeskyQR (R^T R = A A^T, Q = A^T R^{-1}) serves a well-conditioned A; an ill-conditioned one,
    # or one whose Q^T Q misses I by more than the certificate allows, gets the Householder QR
    from dlnlab import problems
    rng = np.random.default_rng(4)
    A = rng.standard_normal((300, 1200))
    y = A @ rng.standard_normal(1200)
    B = problems._cholesky_basis(A, y)
    assert B is not None and np.all(np.diag(B.R11) > 0)  # the Cholesky factor (Householder's has either sign)
    assert np.linalg.norm(B.Q.T @ B.Q - np.eye(300)) <= problems.CHOLESKY_BASIS_ORTHOGONALITY
    bad = A.copy()
    bad[0] *= 1e4  # cond(A) ~ 1e4: eps cond^2 ~ 1e-8, rejected by the condition estimate
    assert problems._cholesky_basis(bad, bad @ np.ones(1200)) is None
    monkeypatch.setattr(problems, "CHOLESKY_BASIS_ORTHOGONALITY", 0.0)  # no Q^T Q equals I exactly
    assert problems._cholesky_basis(A, y) is None
    for A_, y_ in [(A, y), (bad, bad @ np.ones(1200))]:
        Bh = dl.Problem(A_, y_).basis
        assert np.max(np.abs(Bh.Q.T @ Bh.Q - np.eye(300))) < 1e-13
        assert np.max(np.abs(Bh.Q @ Bh.R11 - A_.T)) < 1e-12 * np.max(np.abs(A_))
