"""`early_stopping_path` (GD on u^2 - v^2 with per-coordinate increasing steps) against plain loops
and the library's GD, and the Lasso errors against scikit-learn's `Lasso`."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.errors import OptionError
from dlnlab.studies.experiments.vaskevicius2019 import _lasso_errors, early_stopping_path, noisy_problem


def test_constant_step_is_the_library_gd():
    A, y, x, _ = noisy_problem(30, 80, 3, 0.2, 0.25, seed=3)
    errors, _ = early_stopping_path(A, y, x, alpha=1e-2, step=0.1, steps=150)
    run = dl.gradient_descent(A, y, dl.SymmetricDLN(depth=2, alpha=1e-2), step=0.1, steps=150, tol=0.0)
    assert run.iterations == 150
    assert errors[-1] == pytest.approx(np.linalg.norm(run.x - x), rel=1e-10)


def test_increasing_steps_against_a_plain_loop():
    A, y, x, _ = noisy_problem(30, 80, 3, 0.2, 0.25, seed=4)
    alpha, step, tau, zeta, floor, steps = 1e-3, 0.1, 20, 1.0, 0.1, 200
    errors, best = early_stopping_path(A, y, x, alpha=alpha, step=step, steps=steps, zeta=zeta, every=tau,
                                       floor=floor)
    u, v, eta = np.full(80, alpha), np.full(80, alpha), np.full(80, step)
    ref = [np.linalg.norm(x)]
    for t in range(1, steps + 1):
        g = A.T @ (A @ (u ** 2 - v ** 2) - y)
        u, v = u - eta * 2 * u * g, v + eta * 2 * v * g
        ref.append(np.linalg.norm(u ** 2 - v ** 2 - x))
        m = t // tau
        if t % tau == 0 and zeta / 2 ** m > floor:
            eta = np.where(np.abs(u ** 2 - v ** 2) <= zeta / 2 ** m, 2 * eta, eta)
    np.testing.assert_allclose(errors, ref, rtol=1e-9, atol=1e-14)
    assert np.linalg.norm(best - x) == pytest.approx(min(ref), rel=1e-9)
    with pytest.raises(OptionError, match="increasing steps"):
        early_stopping_path(A, y, x, alpha=alpha, step=step, steps=10, every=5)


def test_lasso_errors_match_sklearn_lasso():
    linear_model = pytest.importorskip("sklearn.linear_model")
    A, y, x, _ = noisy_problem(40, 100, 4, 0.3, 0.5, seed=5)
    lambdas, errs = _lasso_errors(A, y, x, 20)
    i = 10
    fit = linear_model.Lasso(alpha=lambdas[i], fit_intercept=False, tol=1e-10, max_iter=100_000).fit(A, y)
    assert errs[i] == pytest.approx(np.linalg.norm(fit.coef_ - x), rel=1e-4)


def test_lasso_errors_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    A, y, x, _ = noisy_problem(10, 20, 2, 0.1, 0.5, seed=0)
    assert _lasso_errors(A, y, x, 5) is None
