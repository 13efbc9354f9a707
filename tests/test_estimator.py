"""`dl.DLNRegressor`: scikit-learn's own checks, and its coef_ against dlnlab computed directly."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import dlnlab as dl

sklearn = pytest.importorskip("sklearn")  # an optional dependency; the test extra installs it
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

#: Checks skipped by scikit-learn itself when this environment lacks what they exercise (they
#: raise SkipTest): array-API input needs SCIPY_ARRAY_API=1 and array-api-strict, data frames
#: need pandas. The tags declare the rest: sparse input accepted, no multi-output targets
#: (y must be 1-D, so the multi-output checks do not run).
ENVIRONMENT_SKIPS = {"check_array_api_input", "check_regressor_data_not_an_array"}


@pytest.mark.filterwarnings("ignore:Skipping check")  # the ENVIRONMENT_SKIPS, asserted below
def test_check_estimator_passes():
    results = check_estimator(dl.DLNRegressor(), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= ENVIRONMENT_SKIPS
    assert {"check_estimator_sparse_array", "check_regressors_train", "check_fit_idempotent"} <= {
        r["check_name"] for r in results if r["status"] == "passed"}
    tags = dl.DLNRegressor().__sklearn_tags__()
    assert tags.input_tags.sparse and not tags.target_tags.multi_output


def test_coef_is_the_flow_limit_for_dense_and_sparse_A():
    P = dl.gaussian_problem(8, 20, 2, seed=1)
    net = dl.SymmetricDLN(depth=3, scale=1e-4)
    x = dl.flow_limit(P, net).x
    for A in (P.A, sp.csr_array(P.A)):
        reg = dl.DLNRegressor(depth=3, scale=1e-4).fit(A, P.y)
        assert np.array_equal(reg.coef_, x) and reg.intercept_ == 0.0 and reg.result_.success
        assert np.allclose(reg.predict(A), P.y, rtol=0, atol=1e-12 * np.linalg.norm(P.y))
    spec = dl.DLNRegressor(network="twolayer:u0=1e-3,v0=0").fit(P.A, P.y)
    assert np.array_equal(spec.coef_, dl.flow_limit(P, dl.network_from_spec("twolayer:u0=1e-3,v0=0", size=20)).x)
    with pytest.raises(dl.NetworkError, match="not both"):
        dl.DLNRegressor(network="symmetric:depth=2,scale=1e-6", depth=3).fit(P.A, P.y)


def test_least_squares_data():
    rng = np.random.default_rng(0)
    # m >= N, full column rank: the unique least-squares solution, whatever the network
    A, y = rng.standard_normal((12, 4)), rng.standard_normal(12)
    x_ls = np.linalg.lstsq(A, y, rcond=None)[0]
    reg = dl.DLNRegressor(depth=3, scale=1e-6).fit(A, y)
    assert reg.result_ is None and np.allclose(reg.coef_, x_ls, rtol=0, atol=1e-12)
    with pytest.raises(dl.ProblemError, match="cannot represent"):
        dl.DLNRegressor(network="nonnegative:u0=1e-3").fit(A, A @ np.array([1.0, -1.0, 1.0, 1.0]))
    # rank 2 < m = 3 < N = 6 and y off range(A): the flow on the loss only sees y's projection A x0
    A = rng.standard_normal((3, 2)) @ rng.standard_normal((2, 6))
    x0 = rng.standard_normal(6)
    U = np.linalg.svd(A)[0]
    y = A @ x0 + 0.3 * U[:, 2]  # U[:, 2] is orthogonal to range(A)
    net = dl.SymmetricDLN(depth=2, scale=1e-3)
    reg = dl.DLNRegressor(depth=2, scale=1e-3).fit(A, y)
    assert np.allclose(reg.coef_, dl.flow_limit(A, A @ x0, net).x, rtol=0, atol=1e-10)


def test_intercept_is_free_and_pipeline_composes():
    P = dl.gaussian_problem(10, 25, 2, seed=2)
    A, y = P.A + 3.0, P.y + 2.0
    reg = dl.DLNRegressor(scale=1e-8, fit_intercept=True).fit(A, y)
    centered = dl.flow_limit(A - A.mean(axis=0), y - y.mean(), dl.SymmetricDLN(depth=2, scale=1e-8)).x
    assert np.array_equal(reg.coef_, centered)
    assert reg.intercept_ == pytest.approx(y.mean() - A.mean(axis=0) @ centered, abs=1e-14)
    pipe = make_pipeline(StandardScaler(), dl.DLNRegressor(depth=3, scale=1e-6, fit_intercept=True)).fit(A, y)
    scaler = StandardScaler().fit(A)
    direct = dl.DLNRegressor(depth=3, scale=1e-6, fit_intercept=True).fit(scaler.transform(A), y)
    assert np.array_equal(pipe[-1].coef_, direct.coef_)
    assert np.allclose(pipe.predict(A), direct.predict(scaler.transform(A)), rtol=0, atol=1e-12)


def test_grid_search_over_depth_and_scale_prefers_the_sparse_limit():
    # 40 samples, 3-sparse truth in N = 60: each training fold (32 rows) recovers it at small
    # scale (the l1 regime), while scale 1e-2 is still far from sparse and mispredicts held-out rows.
    P = dl.gaussian_problem(40, 60, 3, seed=0)
    search = GridSearchCV(dl.DLNRegressor(), {"depth": [2, 3], "scale": [1e-2, 1e-6]},
                          cv=KFold(5, shuffle=True, random_state=0)).fit(P.A, P.y)
    assert search.best_params_["scale"] == 1e-6 and search.best_score_ > 0.999
    scores = dict(zip(map(lambda p: (p["depth"], p["scale"]), search.cv_results_["params"]),
                      search.cv_results_["mean_test_score"]))
    assert max(scores[(2, 1e-2)], scores[(3, 1e-2)]) < search.best_score_ - 1e-3
    assert np.allclose(search.best_estimator_.coef_, P.x_true, rtol=0, atol=1e-4)


def test_importing_dlnlab_does_not_need_sklearn():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import dlnlab as dl\n"
            "try:\n    dl.DLNRegressor\nexcept dl.OptionalDependencyError as e:\n    print('refused:', e)\n")
    env = dict(os.environ, PYTHONPATH=str(Path(dl.__file__).parents[1]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "pip install 'dlnlab[sklearn]'" in out.stdout
