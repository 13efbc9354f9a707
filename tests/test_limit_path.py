"""`flow_limit_path`: the limits of a scale family at many scales from one continuation run.

Each entry is compared with `flow_limit` at that scale alone (an independent run of its own
continuation): both solve the same dual to rtol 1e-12 and polish to the rounding floor, so x
agrees to ~cond * 1e-15 relative; 1e-10 is asserted."""

import math

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.errors import ConvergenceError, NetworkError, OptionError

LAYERS = np.array([[0.3, 0.2, 0.1, 0.25, 0.15], [0.5, -0.4, 0.6, 0.45, -0.35], [0.7, 0.8, -0.9, 0.65, 0.75]])
SCALES = np.logspace(0.0, -300.0, 50)
#: The layered map's dual coordinates resolve its limit to 1e-12 only down to ~1e-10 (below, flow_limit
#: alone reports residuals at its float64 floor: 1.6e-12 at 1e-10, 5e-12 at 1e-12, 2e-6 at 1e-30): its grid
#: stops at 1e-8.
GRIDS = {"layered-3": np.logspace(0.0, -8.0, 50)}

NETWORKS = {
    "symmetric-2": dl.SymmetricDLN(depth=2, scale=1e-3),
    "symmetric-3": dl.SymmetricDLN(depth=3, scale=1e-3),
    "two-layer": dl.TwoLayerDLN(u0=[0.02, 0.01, 0.03, 0.015, 0.02], v0=[0.0, 0.01, -0.005, 0.0, 0.01]),
    "azulay": dl.AzulayDLN([0.2, 0.1, 0.3, 0.15, 0.2], [0.1, 0.0, 0.2, 0.1, 0.05],
                           [0.1, 0.2, 0.1, 0.3, 0.1], [0.0, 0.1, 0.05, 0.2, 0.1]),
    "layered-3": dl.LayeredDLN(LAYERS),
}


def _same_evidence(path_res, alone):
    assert path_res.status == alone.status == "converged" and path_res.success
    assert np.max(np.abs(path_res.x - alone.x)) <= 1e-10 * np.max(np.abs(alone.x))
    # residual and KKT error recomputed from x by the same finish: both at rtol, or (far above the
    # data, the kernel regime) both at the float64 floor of the dual coordinates, within a factor 10
    assert path_res.residual <= max(1e-12, 10 * alone.residual) and path_res.kkt <= dl.limits.KKT_TOL
    assert (path_res.residual <= 1e-12) == (alone.residual <= 1e-12)
    assert np.allclose(path_res.dual, alone.dual, rtol=1e-8, atol=1e-12 * np.max(np.abs(alone.dual)))
    assert path_res.network.log_scale == pytest.approx(alone.network.log_scale, rel=1e-15, abs=1e-13)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_path_entries_equal_flow_limit_at_each_scale(name):
    P = dl.random_problem()
    net = NETWORKS[name]
    scales = GRIDS.get(name, SCALES)
    path = dl.flow_limit_path(P, net, scales)
    assert path.success and len(path.results) == scales.size
    assert np.array_equal(path.scales, scales)
    for a, res in zip(scales, path.results):
        _same_evidence(res, dl.flow_limit(P, net.at_log_scale(math.log(a))))
    # one run: its stages reach every scale, counted from the start, and never go back up
    assert np.all(np.diff([res.stages for res in path.results]) >= 0)
    assert path.stages == path.results[-1].stages
    assert path.iterations >= max(res.iterations for res in path.results)


def test_unsorted_and_repeated_scales_follow_the_request():
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=3, scale=1.0)
    scales = [1e-5, 1e-200, 1e-5, 1.0, 1e-40]
    path = dl.flow_limit_path(P.A, P.y, net, scales)
    assert path.results[0] is path.results[2]
    for a, res in zip(scales, path.results):
        _same_evidence(res, dl.flow_limit(P, net.at_log_scale(math.log(a))))
    by_log = dl.flow_limit_path(P, net, log_scales=np.log(scales))
    assert all(np.array_equal(r.x, s.x) for r, s in zip(path.results, by_log.results))
    assert path.to_dict()["results"][1]["status"] == "converged"


def test_data_far_from_unit_size_depth_2():
    """Depth 2 solves in normalized units (its c differs), and the largest scale, above the data, is
    the start itself: entries still equal flow_limit."""
    P = dl.random_problem()
    Q = dl.Problem(P.A, 1e6 * P.y)
    net = dl.SymmetricDLN(depth=2, scale=1.0)
    scales = [1e12, 1e3, 1e-20, 1e-150]
    path = dl.flow_limit_path(Q, net, scales)
    for a, res in zip(scales, path.results):
        _same_evidence(res, dl.flow_limit(Q, net.at_log_scale(math.log(a))))


def test_refusals():
    P = dl.line_problem()
    net = dl.SymmetricDLN(depth=3, scale=1.0)
    with pytest.raises(OptionError, match="exactly one"):
        dl.flow_limit_path(P, net)
    with pytest.raises(OptionError, match="a > 0"):
        dl.flow_limit_path(P, net, [1e-3, 0.0])
    with pytest.raises(OptionError, match="non-empty"):
        dl.flow_limit_path(P, net, [])
    with pytest.raises(NetworkError, match="below what float64"):
        dl.flow_limit_path(P, net, log_scales=[-1.0, -2100.0])
    class OwnScaleOnly:  # a network without a scale family
        dual_scale = 1.0

        def mirror_map(self):
            return dl.SymmetricDLN(depth=2, scale=1e-3).mirror_map()

    with pytest.raises(NetworkError, match="scale family"):
        dl.flow_limit_path(P, OwnScaleOnly(), [1e-3])


def test_a_spent_stage_budget_is_max_iter():
    P = dl.random_problem()
    # 1e-30 is far enough below the start that one stage cannot reach it (a near stop such as 1e-2
    # is tried in one stage: scales.DIRECT_STEP)
    path = dl.flow_limit_path(P, dl.SymmetricDLN(depth=3, scale=1.0), [1e-30, 1e-200], max_stages=1, throw=False)
    assert path.status == "max_iter" and not path.success and "more than 1 stages" in path.message
    assert [res.status for res in path.results] == ["max_iter", "max_iter"]
    with pytest.raises(ConvergenceError):
        dl.flow_limit_path(P, dl.SymmetricDLN(depth=3, scale=1.0), [1e-200], max_stages=1)


def test_a_scale_the_run_does_not_reach_is_solved_alone(monkeypatch):
    """Where the run fails (here made to fail from the second stop on), flow_limit alone takes over."""
    real = dl.limits.continuation_path

    def failing(*args):
        for k, (state, its, stages, status, message) in enumerate(real(*args)):
            yield (state, its, stages, status, message) if k == 0 else (state, its, stages, "failed", "made to fail")

    monkeypatch.setattr(dl.limits, "continuation_path", failing)
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=3, scale=1.0)
    path = dl.flow_limit_path(P, net, [1e-3, 1e-30, 1e-100])
    assert path.success
    for a, res in zip([1e-3, 1e-30, 1e-100], path.results):
        _same_evidence(res, dl.flow_limit(P, net.at_log_scale(math.log(a))))
