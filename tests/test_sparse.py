"""Inputs as users have them: `scipy.sparse` matrices, refused dtypes, an inconsistent ``x_true``.

A sparse ``A`` is stored densely by `Problem` (the engine's basis is dense) and reaches HiGHS
sparse, so every answer must equal the dense input's: to 1e-12 relative, which is the
rounding of one least-squares clean-up, while any real difference in the model (a dropped
entry, a transposed block) moves answers by far more.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlnlab as dl

TOL = 1e-12


@st.composite
def sparse_problems(draw):
    """A random m x N problem with about half its entries zero, a nonzero diagonal (rank m) and
    ``y = A x0`` for a random x0, in a random sparse format."""
    m = draw(st.integers(1, 3))
    N = draw(st.integers(m + 1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N)) * (rng.random((m, N)) < 0.5)
    A[np.arange(m), np.arange(m)] = rng.choice([-1.0, 1.0], m) * (1.0 + rng.random(m))
    y = A @ rng.standard_normal(N)
    fmt = draw(st.sampled_from(["csr", "csc", "coo"]))
    return A, sp.csr_array(A).asformat(fmt), y


def close(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b), initial=0.0)) <= TOL * max(1.0, float(np.max(np.abs(b), initial=0.0)))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sparse_problems(), st.sampled_from([2.0, 3.0]))
def test_sparse_and_dense_give_the_same_answers(data, depth):
    A, S, y = data
    net = dl.SymmetricDLN(depth=depth, scale=1e-6)
    dense, sparse = dl.flow_limit(A, y, net, throw=False), dl.flow_limit(S, y, net, throw=False)
    assert dense.status == sparse.status and close(sparse.x, dense.x) and close(sparse.dual, dense.dual)

    bd, bs = dl.basis_pursuit(A, y, throw=False), dl.basis_pursuit(S, y, throw=False)
    assert bd.status == bs.status and close(bs.x, bd.x) and close(bs.certificate, bd.certificate)
    assert bs.unique == bd.unique

    batch_d = dl.batch_flow_limit([dl.Problem(A, y), dl.Problem(2 * A, y)], net, throw=False)
    batch_s = dl.batch_flow_limit([dl.Problem(S, y), dl.Problem(2 * S, y)], net, throw=False)
    assert close(batch_s.x, batch_d.x) and batch_s.status == batch_d.status

    gd_net = dl.SymmetricDLN(depth=2, scale=1e-2)
    step = 0.1 / np.linalg.norm(A, 2) ** 2
    gd_d = dl.gradient_descent(A, y, gd_net, step=step, steps=50, tol=0.0)
    gd_s = dl.gradient_descent(S, y, gd_net, step=step, steps=50, tol=0.0)
    assert close(gd_s.x, gd_d.x) and gd_s.status == gd_d.status


def test_sparse_problem_keeps_both_forms_and_the_callers_data():
    P = dl.random_problem()
    S = sp.coo_array(P.A)
    Q = dl.Problem(S, P.y)
    assert isinstance(Q.A, np.ndarray) and np.array_equal(Q.A, P.A)  # the dense copy the engine uses
    assert Q.A_sparse.format == "csr" and np.array_equal(Q.A_sparse.toarray(), P.A)
    assert P.A_sparse is None
    S.data[:] = 0.0  # the problem owns its copies
    assert np.array_equal(Q.A_sparse.toarray(), P.A)
    A = np.array(P.A)  # a dense array passed in stays the caller's, writable
    dl.Problem(A, P.y)
    A[0, 0] = 5.0
    # y as a sparse column is a vector
    assert np.array_equal(dl.Problem(P.A, sp.csc_array(P.y[:, None])).y, P.y)


def test_sparse_reaches_every_function_that_takes_A(highs_oracle):
    R = dl.random_problem()
    S = sp.csr_matrix(R.A)  # the older spmatrix interface too
    bp = dl.basis_pursuit(R)
    assert np.allclose(highs_oracle.basis_pursuit(S, R.y), bp.x, rtol=0, atol=1e-7)  # HiGHS' tolerance
    assert dl.certificate_constant(S, bp.x).rho == pytest.approx(dl.certificate_constant(R.A, bp.x).rho, abs=1e-12)
    assert dl.nsp_constant(S, 1).objective == pytest.approx(dl.nsp_constant(R.A, 1).objective, abs=1e-12)
    assert close(dl.selected_minimizer(S, R.y, depth=3).x, dl.selected_minimizer(R, depth=3).x)
    L = dl.line_problem()
    assert close(dl.bp_face(sp.csc_array(L.A), L.y).vertices, dl.bp_face(L).vertices)  # a segment: two vertices
    x_s, res = dl.basis_pursuit_lp(sp.csr_array(L.A), L.y)
    assert res.status == "converged" and close(x_s, dl.basis_pursuit_lp(L.A, L.y)[0])
    c, A, b = [1.0, 2.0, 3.0, 1.0], np.array([[1.0, 1.0, 1.0, 0.0], [1.0, -1.0, 0.0, 1.0]]), [2.0, 0.5]
    assert close(dl.solve_lp(c, sp.csr_array(A), b).x, dl.solve_lp(c, A, b).x)
    tr = dl.flow_trajectory(sp.csr_array(L.A), L.y, dl.SymmetricDLN(depth=2, scale=1e-3), [0.0, 1.0, 10.0])
    assert close(tr.x, dl.flow_trajectory(L, dl.SymmetricDLN(depth=2, scale=1e-3), [0.0, 1.0, 10.0]).x)


@pytest.mark.parametrize("bad, match", [
    (np.array([[1, 1j, 1], [3, 0, 1]]), "complex"),
    (np.array([[1, 0, 1], [3, 0, 1]], dtype=complex), "complex"),  # a zero imaginary part is still complex data
    (sp.csr_array(np.array([[1, 0, 1], [3, 0, 1]], dtype=complex)), "complex"),
    (np.array([[1, 1, 1], [3, 0, 1]], dtype=object), "dtype object"),
    ([[1, "2", 1], [3, 0, 1]], "not a real number type"),
    ([[1, None, 1], [3, 0, 1]], "dtype object"),
])
def test_complex_object_and_text_input_refused(bad, match):
    with pytest.raises(dl.ProblemError, match=match):
        dl.Problem(bad, [3.0, 3.0])
    with pytest.raises(dl.ProblemError, match=match):
        dl.nsp_constant(bad, 1)
    with pytest.raises(dl.ProblemError, match="complex"):
        dl.Problem([[1.0, 1.0, 1.0]], np.array([3.0 + 0j]))


def test_inconsistent_x_true_warns_and_is_measured():
    A, y = [[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]], [3.0, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P = dl.Problem(A, y, [1.0, 2.0, 0.0])  # consistent: no warning
        assert P.truth_residual == 0.0
        dl.gaussian_problem(6, 12, 2, seed=0, noise=0.1)  # noisy by construction: no warning
    with pytest.warns(dl.InconsistentTruthWarning, match="does not satisfy A x_true = y") as record:
        Q = dl.Problem(A, y, [1.0, 1.0, 1.0])
    assert record[0].filename == __file__  # points at the caller's line
    # ||A x_true - y|| = ||(0, 1)|| = 1, against max(||y||, ||A||_F ||x_true||) = sqrt(13) sqrt(3)
    assert Q.truth_residual == pytest.approx(1.0 / np.sqrt(39.0), rel=1e-15)
    assert dl.flow_limit(Q, dl.SymmetricDLN(depth=2, scale=1e-6)).success  # (A, y) is still a valid problem


def test_a_sparse_matrix_too_large_to_densify_is_a_problem_error():
    class Huge(sp.csr_array):  # stands for a matrix whose dense form exceeds memory
        def toarray(self, *args, **kwargs):
            raise MemoryError

    with pytest.raises(dl.ProblemError, match=r"dense form \(0\.0 GiB\) does not fit in memory"):
        dl.Problem(Huge(np.eye(2, 3)), [1.0, 1.0])
