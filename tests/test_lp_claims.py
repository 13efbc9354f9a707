"""An LP or OT result claims only what its returned point bears out (statuses of dlnlab.results)."""

import warnings

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.lp.certificate import _result
from dlnlab.results import STATUSES, Result

# x1 = x2 = t, x3 = 1 is feasible for every t >= 0 and costs 1 - t/2: unbounded below
UNBOUNDED = (np.array([-1.0, 0.5, 1.0]), np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("method", ["gd", "eg"])
@pytest.mark.parametrize("call", ["descend", "solve_lp"])
def test_descend_on_an_unbounded_lp_raises_as_flow_does(method, call):
    # training reaches A x = b (the entropic problem is bounded at reg > 0), but no dual-feasible
    # point exists; it was status "entropic"/"failed" with c^T x = -70 and an empty message.
    # HiGHS confirms the ray, as for method="flow".
    c, A, b = UNBOUNDED
    with pytest.raises(dl.UnboundedLPError):
        getattr(dl, call)(c, A, b, method=method)
    with pytest.raises(dl.UnboundedLPError):
        dl.solve_lp(c, A, b)


@pytest.mark.parametrize("method", ["gd", "eg"])
@pytest.mark.parametrize("c, A, b", [([1.0, 1.0, 1.0], [[1.0, 1.0, 1.0]], [-1.0]),  # sum x = -1 with x >= 0
                                     ([1.0, 1.0], [[1.0, 1.0], [1.0, 1.0]], [1.0, 2.0])])  # b not in range(A)
def test_descend_on_an_infeasible_lp_raises_as_flow_does(method, c, A, b):
    # the loss stays >= 1/6: this was "max_iter" with an empty message
    with pytest.raises(dl.InfeasibleLPError):
        dl.descend(c, A, b, method, max_iter=500)
    with pytest.raises(dl.InfeasibleLPError):
        dl.solve_lp(c, A, b, method=method, max_iter=500)
    with pytest.raises(dl.InfeasibleLPError):
        dl.solve_lp(c, A, b)


@pytest.mark.parametrize("method", ["gd", "eg"])
def test_descend_says_which_certificates_it_misses(method):
    # a feasible, bounded LP: the budget ends before feasibility (max_iter), or an entropic point
    # (unverified) that is no LP optimum; either way the message names the violations
    c, A, b = [1.0, 2.0, 3.0], [[1.0, 1.0, 1.0], [1.0, -1.0, 0.0]], [2.0, 0.5]
    short = dl.solve_lp(c, A, b, method=method, max_iter=3)
    assert short.status == "max_iter" and f"{short.primal_residual:.1e}" in short.message
    assert short.primal_residual > 1e-10
    done = dl.solve_lp(c, A, b, method=method, max_iter=20000)
    assert done.status == "unverified" and not done.success
    assert done.max_violation > 1e-9 and f"gap {done.duality_gap:.1e}" in done.message


def test_an_entropic_point_of_a_bounded_lp_stays_unverified():
    # negative cost, but 1 spans the row space: the entropic dual y is dual feasible (every x_i < 1)
    res = dl.entropic_lp([-1.0, 2.0, 3.0], [[1.0, 1.0, 1.0]], [1.0], 0.1)
    assert res.status == "unverified" and not res.success and res.message == ""
    assert res.dual_infeasibility == 0.0


def test_claims_are_rechecked_from_the_point():
    c, A, b = np.array([1.0, 2.0]), np.array([[1.0, 1.0]]), np.array([1.0])
    good = _result(c, A, b, np.array([1.0, 0.0]), np.array([1.0]), status="converged", method="flow", iterations=0)
    assert good.status == "converged" and good.success and good.max_violation == 0.0
    # a feasible but suboptimal vertex with a made-up dual: the duality gap 1/3 exceeds tol
    bad = _result(c, A, b, np.array([0.0, 1.0]), np.array([1.0]), status="converged", method="flow",
                  iterations=0)
    assert bad.status == "failed" and "converged claim dropped" in bad.message
    # an "entropic" point off the constraint: infeasible by 0.25 / (1 + 1)
    off = _result(c, A, b, np.array([0.5, 0.25]), np.array([0.0]), status="unverified", method="eg",
                  iterations=0)
    assert off.status == "failed" and "not feasible" in off.message
    # y = 2 is dual infeasible, but c >= 0 makes y = 0 feasible: the LP is bounded and the claim stands
    ok = _result(c, A, b, np.array([0.5, 0.5]), np.array([2.0]), status="unverified", method="eg", iterations=0)
    assert ok.status == "unverified"
    for res in (good, bad, off, ok):
        assert res.status in STATUSES and res.to_dict()["success"] is res.success


@pytest.mark.parametrize("call", [
    lambda c, A, b: dl.solve_lp(c, A, b),
    lambda c, A, b: dl.solve_lp(c, A, b, method="eg"),
    lambda c, A, b: dl.descend(c, A, b, "gd"),
    lambda c, A, b: dl.entropic_lp(c, A, b, 0.1),
])
@pytest.mark.parametrize("which", [0, 1, 2])
def test_complex_data_is_refused(call, which):
    data = [np.array([1.0, 2.0]), np.array([[1.0, 1.0]]), np.array([1.0])]
    data[which] = data[which] + 0j  # even a zero imaginary part: the dtype says the data are complex
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: refused before any cast
        with pytest.raises(dl.ProblemError, match="complex"):
            call(*data)


def test_complex_basis_pursuit_and_transport_are_refused():
    A = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]])
    with pytest.raises(dl.ProblemError, match="complex"):
        dl.basis_pursuit_lp(A + 1j, [3.0, 3.0])
    with pytest.raises(dl.ProblemError, match="complex"):
        dl.basis_pursuit_lp(A, np.array([3.0, 3.0 + 1e-3j]))
    with pytest.raises(dl.ProblemError, match="complex"):
        dl.solve_ot(np.full(2, 0.5), np.full(2, 0.5), np.eye(2) * (1 + 1j), 0.1)


@pytest.mark.parametrize("bad", [1.0, 2.0, 0.0, -1e-9, float("nan"), "tight"])
def test_tolerances_outside_the_unit_interval_are_refused(bad):
    c, A, b = [1.0, 2.0], [[1.0, 1.0]], [1.0]
    with pytest.raises(dl.OptionError, match="rtol"):
        dl.descend(c, A, b, rtol=bad)
    with pytest.raises(dl.OptionError, match="tol"):
        dl.solve_lp(c, A, b, tol=bad)
    with pytest.raises(dl.OptionError, match="tol"):
        dl.entropic_lp(c, A, b, 0.1, tol=bad)
    with pytest.raises(dl.OptionError, match="tol"):
        dl.solve_ot(np.full(2, 0.5), np.full(2, 0.5), np.eye(2), 0.1, tol=bad)


def test_results_speak_the_shared_vocabulary():
    c, A, b = [1.0, 2.0, 3.0, 1.0], [[1.0, 1.0, 1.0, 0.0], [1.0, -1.0, 0.0, 1.0]], [2.0, 0.5]
    res = dl.solve_lp(c, A, b)
    d = res.to_dict()
    assert res.success and d["status"] == "converged" and d["success"] is True
    assert {"dual", "duality_gap", "iterations", "objective"} <= set(d) and "trace" not in d
    assert not {"y", "gap", "value", "optimal"} & set(d)
    ot = dl.solve_ot(np.full(3, 1 / 3), np.full(3, 1 / 3), 1.0 - np.eye(3), 0.05)
    assert isinstance(ot, Result) and ot.success and ot.to_dict()["status"] == "converged"
    C = np.random.default_rng(0).random((20, 20))
    sk = dl.sinkhorn(np.full(20, 0.05), np.full(20, 0.05), C, 1e-3, tol=1e-14, max_iter=3)
    assert sk.status == "max_iter" and not sk.success
