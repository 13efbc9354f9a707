"""`batch_flow_limit`: the flow limits of many problems of equal size, in one vectorized solve.

For each problem ``b`` of a batch (same ``m``, ``N``, same network) the limit is
``x_b = X(Q_b mu_b*)`` where ``mu_b*`` minimizes the dual of docs/theory.md section 3 in
orthonormal-row form (see `dlnlab.limits`)

    Phi_b(mu) = sum_i F((Q_b mu)_i) - <mu, z_b>.

The batch runs the engine's batch axis (`dlnlab.engine.batch`: the steps of
`dlnlab.flow_limit` on the whole stack at once, with one schedule of scales) and finishes
each problem with `flow_limit`'s own code (`dlnlab.limits.finish`). A problem's iterates
depend on that problem only, so a result does not depend on which other problems share its
batch. A problem that does not converge here, or whose rank differs from the batch's, is
solved by `flow_limit` on its own (``fallback[b]`` says which).

>>> import dlnlab as dl
>>> from dlnlab.sweep.batch import batch_flow_limit
>>> problems = [dl.gaussian_problem(8, 20, 2, seed=s) for s in range(4)]
>>> out = batch_flow_limit(problems, dl.SymmetricDLN(depth=2, scale=1e-6))
>>> ref = dl.flow_limit(problems[2], dl.SymmetricDLN(depth=2, scale=1e-6))
>>> bool(abs(out.results[2].x - ref.x).max() < 1e-10), int(out.fallback.sum())
(True, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..engine import INTERMEDIATE_TOL, DualStack, continuation_stack, newton_stack
from ..engine.faces import face_tolerance
from ..engine.batch import matvec, stacked
from ..errors import ConvergenceError, ProblemError
from ..limits import RTOL, LimitResult, finish, flow_limit
from ..networks.base import ScaleFamily
from ..problems import Problem
from ..results import Result, check_tolerance


@dataclass(frozen=True)
class BatchLimitResult(Result):
    """Flow limits of a batch, with the evidence of each.

    ``results[b]`` is the `LimitResult` of problem ``b`` (its own residual, KKT error,
    iterations and status); ``fallback[b]`` is True where `flow_limit` solved it alone;
    ``stages`` counts the batch's continuation stages and ``iterations`` its stacked Newton
    steps. ``status`` is "converged" when every problem's own result is; else the message
    says which are not and the status is the first such problem's.
    """

    results: tuple[LimitResult, ...]
    fallback: np.ndarray
    stages: int
    iterations: int
    status: str
    message: str = ""

    @property
    def x(self) -> np.ndarray:
        return np.stack([r.x for r in self.results])

    @property
    def converged(self) -> np.ndarray:
        """Per problem: whether its own result converged."""
        return np.array([r.success for r in self.results])


def batch_flow_limit(problems: Sequence[Problem], net, *, rtol: float = RTOL, max_iter: int = 100,
                     max_stages: int = 400, throw: bool = True) -> BatchLimitResult:
    """Flow limits of ``net`` on each problem of a batch of equal-size `Problem` s.

    Every problem converged by the batch is finished by the same code as `flow_limit`
    (`dlnlab.limits.finish`: polish, residual test at ``rtol`` or the float64 floor, KKT
    error <= `KKT_TOL`), so its evidence means the same; the others are solved by
    `flow_limit` alone. ``throw=True`` raises `ConvergenceError` if any problem still fails.
    """
    rtol = check_tolerance(rtol, "rtol", "batch_flow_limit")
    problems = list(problems)
    if not problems:
        raise ProblemError("batch_flow_limit needs at least one problem.")
    if not all(isinstance(P, Problem) for P in problems):
        raise ProblemError("batch_flow_limit takes a sequence of dl.Problem; wrap (A, y) pairs with dl.Problem(A, y).")
    shapes = {P.A.shape for P in problems}
    if len(shapes) > 1:
        raise ProblemError(f"batch_flow_limit needs problems of equal size; got shapes {sorted(shapes)}. "
                           "Group the problems by (m, N) first.")
    ranks = np.array([P.rank for P in problems])
    r = int(np.bincount(ranks).argmax())
    inside = np.flatnonzero(ranks == r)
    B, N = len(problems), problems[0].N
    results: list[LimitResult | None] = [None] * B
    fallback = np.ones(B, dtype=bool)
    stages = steps = 0
    if inside.size:
        members = [problems[j] for j in inside]
        Q = np.stack([P.basis.Q for P in members])
        z = np.stack([P.basis.z for P in members])
        state = DualStack.zeros(inside.size, N, r)
        start = _batch_start(net, Q, z)
        intermediate_tol = max(rtol, INTERMEDIATE_TOL)
        tol0 = rtol if start is net else intermediate_tol
        its, ok = newton_stack(Q, z, stacked(start.mirror_map(), N), state, tol=tol0, max_iter=max_iter)
        steps += int(its.max(initial=0))
        if start is not net and np.any(ok):
            sub = np.flatnonzero(ok)
            sub_state = state.take(sub)
            tols = np.array([face_tolerance(members[j].basis.R11) for j in sub])
            k, alive, stages, s2 = continuation_stack(Q[sub], z[sub], start, net, sub_state, rtol=rtol,
                                                      intermediate_tol=intermediate_tol, max_stages=max_stages,
                                                      face_tols=tols)
            state.put(sub, sub_state)
            its[sub] += k
            ok[sub] = alive
            steps += s2
        for j in np.flatnonzero(ok):
            res = finish(members[j], net, net, 1.0, state.row(j).fresh(), status="converged", message="", iterations=int(its[j]),
                         stages=stages, rtol=rtol)
            if res.success:  # else flow_limit alone decides (it may do better from its own start)
                results[inside[j]] = res
                fallback[inside[j]] = False
    for b in np.flatnonzero(fallback):
        results[b] = flow_limit(problems[b], net, rtol=rtol, max_iter=max_iter, max_stages=max_stages, throw=False)
    failed = [b for b, res in enumerate(results) if not res.success]
    status, message = "converged", ""
    if failed:
        status = results[failed[0]].status
        message = f"{len(failed)} of {B} problems did not converge (indices {failed[:10]})"
    out = BatchLimitResult(results=tuple(results), fallback=fallback, stages=stages, iterations=steps, status=status,
                           message=message)
    if throw and failed:
        raise ConvergenceError(f"batch_flow_limit: {len(failed)} of {B} problems did not converge (indices "
                               f"{failed[:10]}), even alone; pass throw=False to inspect them.", out)
    return out


def _batch_start(net, Q, z):
    """One starting scale for the batch: the largest of the problems' own (`flow_limit`'s rule:
    ``log max|x_ls|``, ``x_ls = Q z``), so that every problem starts in its kernel regime."""
    if not isinstance(net, ScaleFamily):
        return net
    size = float(np.max(np.abs(matvec(Q, z))))
    log_start = math.log(max(size, 1e-300))
    return net if net.log_scale >= log_start else net.at_log_scale(log_start)
