"""`blas_threads`: one BLAS thread for small problems inside the solver, the process's own threading
restored on exit and kept for the Gram products of large problems."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import dlnlab as dl
from dlnlab.engine import lean, linalg


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    with threadpool_limits(2, user_api="blas"):
        yield


def test_small_problems_run_on_one_thread_and_restore(two_threads, monkeypatch):
    seen = []
    real = linalg._potrf
    monkeypatch.setattr(lean, "LEAN_WORK", 0)  # the array path: its factorizations are LAPACK's (the lean one's are not)

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(linalg, "_potrf", spy)
    before = _blas_threads()
    assert before and all(n == 2 for n in before)
    res = dl.flow_limit(dl.random_problem(), dl.SymmetricDLN(depth=3, scale=1e-6))
    assert res.success and seen and all(threads == [1] * len(before) for threads in seen)
    assert _blas_threads() == before
    with pytest.raises(dl.ConvergenceError):  # restored on the way out of a failure too
        dl.flow_limit(dl.random_problem(), dl.SymmetricDLN(depth=3, scale=1e-6), max_iter=1)
    assert _blas_threads() == before


def test_large_problems_keep_the_process_threading(two_threads, monkeypatch):
    monkeypatch.setattr(linalg, "SINGLE_THREAD_WORK", 0.0)
    before = _blas_threads()
    with linalg.blas_threads(3000, 300):
        assert _blas_threads() == before
    monkeypatch.setattr(linalg, "SINGLE_THREAD_WORK", np.inf)
    with linalg.blas_threads(3000, 300):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_large_problems_run_only_their_gram_products_threaded(two_threads, monkeypatch):
    seen = []

    def spy(real):
        def run(*args, **kwargs):
            seen.append(_blas_threads())
            return real(*args, **kwargs)
        return run

    for name in ("_potrf", "_potrs", "_trtrs"):  # the Cholesky factor and its solves
        monkeypatch.setattr(linalg, name, spy(getattr(linalg, name)))
    before = _blas_threads()
    with linalg.blas_threads(10000, 1000):  # N r^2 = 1e10 = SINGLE_THREAD_WORK
        assert _blas_threads() == [1] * len(before)
        with linalg.gram_threads():
            assert _blas_threads() == before
        assert _blas_threads() == [1] * len(before)
        with linalg.blas_threads(30, 5):  # a small problem inside: its Gram products on one thread too
            with linalg.gram_threads():
                assert _blas_threads() == [1] * len(before)
        with linalg.gram_threads():
            assert _blas_threads() == before
    assert _blas_threads() == before
    with linalg.gram_threads():  # outside the solver: nothing changes
        assert _blas_threads() == before
    # a large limit: the factorizations and their solves ran on one thread, the process's threading restored after
    P = dl.gaussian_problem(250, 1600, 20, seed=1)
    monkeypatch.setattr(linalg, "SINGLE_THREAD_WORK", 1e8)
    assert P.N * P.m ** 2 >= linalg.SINGLE_THREAD_WORK
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-6))
    assert res.converged and seen and all(threads == [1] * len(before) for threads in seen)
    assert _blas_threads() == before
