"""Claims recomputed from the returned point: scales far above the data, data far from size 1."""

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.reference.extended import mp_flow_limit


def _true_residual(A, y, x):
    """``||A x - y|| / ||y||`` with norms scaled by their largest entry (no under/overflow)."""
    def norm(v):
        m = float(np.max(np.abs(v)))
        return m * float(np.linalg.norm(v / m)) if m > 0 else 0.0
    return norm(A @ x - y) / norm(y)


@pytest.mark.parametrize("depth", [2, 3])
@pytest.mark.parametrize("log10_scale", [4.0, 8.0, 16.0, 100.0])
def test_kernel_regime_limit_is_true(depth, log10_scale):
    # scale / ||x_ls|| from 1e4 to 1e100: the limit is the mpmath flow limit of docs/theory.md
    # section 3 (the minimum-norm interpolator up to (||x||/a)^2); it was "converged" with residual 1.
    P = dl.line_problem()
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=10.0 ** log10_scale))
    if log10_scale <= 8:
        ref = np.array([float(v) for v in mp_flow_limit(P.A, P.y, depth, log10_scale, dps=60).x])
    else:  # the limit is x_ls to (||x|| / a)^2 <= 1e-32 relative (mp_flow_limit's continuation stops short)
        ref = np.linalg.pinv(P.A) @ P.y
    assert res.status == "converged"
    assert _true_residual(P.A, P.y, res.x) <= 1e-12
    # rounding of a 2x3 solve: a few ulps of ||x||
    assert np.max(np.abs(res.x - ref)) <= 1e-14 * np.max(np.abs(ref))


def test_kernel_regime_large_A_small_y():
    rng = np.random.default_rng(0)
    A, y = rng.standard_normal((3, 6)) * 1e12, rng.standard_normal(3) * 1e-5
    res = dl.flow_limit(A, y, dl.SymmetricDLN(depth=2, scale=1.0))
    assert res.success and _true_residual(A, y, res.x) <= 1e-12
    x_ls = np.linalg.pinv(A) @ y  # scale / ||x_ls|| ~ 1e17: the minimum-norm interpolator to rounding
    assert np.max(np.abs(res.x - x_ls)) <= 1e-13 * np.max(np.abs(x_ls))


def test_a_limit_path_through_the_kernel_regime_claims_what_flow_limit_claims():
    """Scales far above the data go to flow_limit's kernel-regime solve inside a path too."""
    P = dl.line_problem()
    scales = [1e300, 1e200, 1.0, 1e-6]
    path = dl.flow_limit_path(P, dl.SymmetricDLN(depth=2, scale=1.0), scales)
    for a, res in zip(scales, path.results):
        one = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=a))
        assert res.success and res.residual <= 1e-12 and P.relative_residual(res.x) <= 1e-12
        assert np.allclose(res.x, one.x, rtol=1e-10, atol=0)
    only_kernel = dl.flow_limit_path(P, dl.SymmetricDLN(depth=3, scale=1.0), [1e300, 1e250])
    assert only_kernel.success and all(P.relative_residual(r.x) <= 1e-12 for r in only_kernel.results)
