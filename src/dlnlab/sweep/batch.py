"""`batch_flow_limit`: the flow limits of many problems of equal size, in one vectorized solve.

For each problem ``b`` of a batch (same ``m``, ``N``, same network) the limit is
``x_b = X(Q_b mu_b*)`` where ``mu_b*`` minimizes the dual of docs/theory.md section 3 in
orthonormal-row form (see `dlnlab.limits`)

    Phi_b(mu) = sum_i F((Q_b mu)_i) - <mu, z_b>.

The batch runs the same damped Newton method with continuation in ``log(scale)`` as
`dlnlab.flow_limit`, but every step acts on the whole stack at once: the mirror map is
elementwise, so ``X``, ``X'`` and ``F`` evaluate on ``(B, N)`` arrays; the Hessians
``Q_b^T diag(X') Q_b`` are one batched matmul, factored by ``np.linalg.cholesky`` on the
stack; the step length is searched per problem. Continuation uses one schedule of scales
for the batch (a stage is retried with a smaller step if any problem's corrector fails).

Each problem's iterates depend on that problem only (per-problem step, line search and
stopping test; converged problems are frozen), so a result does not depend on which other
problems share its batch. A problem that does not converge here, or whose rank differs from
the batch's, is solved by `flow_limit` on its own (``fallback[b]`` says which).

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
import scipy.linalg as sla

from ..errors import ConvergenceError, ProblemError
from ..engine import DualState, solve_psd
from ..limits import RTOL, LimitResult, finish, flow_limit
from ..networks.base import ScaleFamily, normalize
from ..problems import Problem
from ..results import check_tolerance

#: Newton iterations allowed per continuation stage (as in `flow_limit`).
STAGE_ITERATIONS = 12
#: A continuation step (in log-scale units) below this drops the problems whose corrector
#: still fails to the per-instance fallback instead of shrinking the step for everyone.
MIN_STEP = 1e-2


@dataclass(frozen=True)
class BatchLimitResult:
    """Flow limits of a batch, with the evidence of each.

    ``results[b]`` is the `LimitResult` of problem ``b`` (its own residual, KKT error,
    iterations and status); ``fallback[b]`` is True where `flow_limit` solved it alone;
    ``stages`` counts the batch's continuation stages and ``newton_steps`` its stacked
    Newton iterations.
    """

    results: tuple[LimitResult, ...]
    fallback: np.ndarray
    stages: int
    newton_steps: int

    @property
    def x(self) -> np.ndarray:
        return np.stack([r.x for r in self.results])

    @property
    def converged(self) -> np.ndarray:
        return np.array([r.converged for r in self.results])


@dataclass
class _Batch:
    """Stacked dual points: ``mu`` (B, r), boundary-relative ``sign``, ``gap`` (B, N), and
    ``travel`` (the sum of moves since the stage began, kept apart for precision)."""

    mu: np.ndarray
    sign: np.ndarray
    gap: np.ndarray
    travel: np.ndarray

    def take(self, idx):
        return _Batch(self.mu[idx], self.sign[idx], self.gap[idx], self.travel[idx])

    def put(self, idx, other: "_Batch"):
        self.mu[idx], self.sign[idx], self.gap[idx], self.travel[idx] = (other.mu, other.sign, other.gap,
                                                                          other.travel)

    def copy(self, fresh=False):
        travel = np.zeros_like(self.travel) if fresh else self.travel.copy()
        return _Batch(self.mu.copy(), self.sign.copy(), self.gap.copy(), travel)


def _rows(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx]``, without a copy when ``idx`` is every row in order (the common case)."""
    return a if idx.size == a.shape[0] and (idx.size == 0 or idx[-1] == idx.size - 1) else a[idx]


def _matvec(Q, v):
    """``Q_b @ v_b`` for stacks ``Q`` (B, N, r) and ``v`` (B, r)."""
    return np.matmul(Q, v[:, :, None])[:, :, 0]


def _rmatvec(Q, x):
    """``Q_b^T @ x_b`` for stacks ``Q`` (B, N, r) and ``x`` (B, N)."""
    return np.matmul(x[:, None, :], Q)[:, 0, :]


def _residual_ok(grad, x, z, tol):
    """The stopping test of `flow_limit`: ``||Q^T x - z|| <= tol max(||z||, ||x||)``, per problem."""
    scale = np.maximum(np.linalg.norm(z, axis=1), np.linalg.norm(x, axis=1))
    return np.linalg.norm(grad, axis=1) <= tol * scale


def _solve_stack(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H_b v_b = b_b`` for a stack of symmetric positive semidefinite ``H``.

    Jitter ``1e-14 max(diag H_b)`` as in `flow_limit` (negligible curvature directions get a
    capped step). Cholesky on the whole stack; if any matrix is not numerically positive
    definite, each one is retried alone with a growing jitter.
    """
    diag = np.diagonal(H, axis1=1, axis2=2)
    scale = np.max(diag, axis=1)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    eye = np.eye(H.shape[1])
    try:
        L = np.linalg.cholesky(H + (1e-14 * scale)[:, None, None] * eye)
        v = sla.cho_solve((L, True), b[:, :, None], check_finite=False)[:, :, 0]
        if np.all(np.isfinite(v)):
            return v
    except np.linalg.LinAlgError:
        pass
    out = np.empty_like(b)
    for j in range(H.shape[0]):
        out[j] = solve_psd(H[j], b[j])
    return out


def newton(Q, z, mapping, state: _Batch, *, tol: float, max_iter: int):
    """Damped Newton on every ``Phi_b`` from ``state`` (modified in place).

    Returns the per-problem iteration counts and success flags. Problems that meet the
    stopping test are frozen; the others step until they meet it, fail the line search or
    reach ``max_iter``.
    """
    B = Q.shape[0]
    its = np.zeros(B, dtype=int)
    ok = np.zeros(B, dtype=bool)
    active = np.arange(B)
    for it in range(max_iter + 1):
        if active.size == 0:
            break
        Qa, za, sa = _rows(Q, active), _rows(z, active), state.take(active)
        x = mapping.primal(sa.sign, sa.gap)
        finite = np.all(np.isfinite(x), axis=1)
        grad = _rmatvec(Qa, np.where(finite[:, None], x, 0.0)) - za
        done = finite & _residual_ok(grad, x, za, tol)
        ok[active[done]] = True
        its[active] = it
        keep = finite & ~done
        if it == max_iter or not np.any(keep):
            break
        if not keep.all():
            active, Qa, za, sa, grad = active[keep], Qa[keep], za[keep], sa.take(keep), grad[keep]
        d = mapping.slope(sa.sign, sa.gap)
        X = Qa * np.sqrt(d)[:, :, None]  # H = X^T X: one product, symmetric by construction
        H = np.matmul(np.swapaxes(X, 1, 2), X)
        dmu = _solve_stack(H, -grad)
        dz = _matvec(Qa, dmu)
        decrement = -np.einsum("br,br->b", grad, dmu)
        F0 = mapping.conjugate(sa.sign, sa.gap)
        t = np.ones(active.size)
        if mapping.barrier:  # largest step keeping 0 < gap < 2, fraction to the boundary 0.99
            rate = sa.sign * dz
            with np.errstate(divide="ignore", invalid="ignore"):
                lim = np.where(rate > 0, sa.gap / rate, np.where(rate < 0, (sa.gap - 2.0) / rate, np.inf))
            tmax = lim.min(axis=1)
            t = np.where(tmax <= 1.0, 0.99 * tmax, 1.0)
        accepted = _line_search(Qa, za, mapping, sa, dmu, dz, F0, decrement, grad, t)
        state.put(active[accepted], _step(sa.take(accepted), (t * 1.0)[accepted], dmu[accepted], dz[accepted]))
        # a problem whose line search failed stops here (not converged)
        active = active[accepted]
    return its, ok


def _step(s: _Batch, t, dmu, dz) -> _Batch:
    """The points ``mu + t dmu`` (t per problem), boundary-relative."""
    gap = s.gap - s.sign * (t[:, None] * dz)
    sign, gap = normalize(s.sign, gap)
    return _Batch(s.mu + t[:, None] * dmu, sign, gap, s.travel + t[:, None] * dmu)


def _line_search(Q, z, mapping, s: _Batch, dmu, dz, F0, decrement, grad, t):
    """Backtracking per problem (Armijo on ``Phi``, as in `flow_limit`); ``t`` is updated in
    place to the accepted step. Returns the mask of problems with an accepted step."""
    n = t.size
    accepted = np.zeros(n, dtype=bool)
    pending = np.arange(n)
    F0_size = np.sum(np.abs(F0), axis=1)
    gnorm = np.linalg.norm(grad, axis=1)
    mz = np.einsum("br,br->b", dmu, z)
    for _ in range(60):
        if pending.size == 0:
            break
        tp = t[pending]
        sp = s.take(pending)
        gap = sp.gap - sp.sign * (tp[:, None] * dz[pending])
        valid = np.all((gap > 0.0) & (gap < 2.0), axis=1) if mapping.barrier else np.ones(pending.size, bool)
        sign, gap = normalize(sp.sign, np.where(valid[:, None], gap, 1.0))
        with np.errstate(over="ignore", invalid="ignore"):
            F1 = mapping.conjugate(sign, gap)
        valid &= np.all(np.isfinite(F1), axis=1)
        # Phi(new) - Phi(old), term by term to keep relative precision at tiny scales
        dphi = np.sum(F1 - F0[pending], axis=1) - tp * mz[pending]
        good = valid & (dphi <= -1e-4 * tp * decrement[pending])
        flat = valid & ~good & (np.abs(dphi) <= 1e-13 * (F0_size[pending] + np.abs(tp * mz[pending])))
        if np.any(flat):  # Phi cannot tell the points apart: accept if the residual improves
            f = np.flatnonzero(flat)
            with np.errstate(over="ignore", invalid="ignore"):
                x1 = mapping.primal(sign[f], gap[f])
            r1 = np.linalg.norm(_rmatvec(Q[pending[f]], np.nan_to_num(x1)) - z[pending[f]], axis=1)
            good[f] = np.all(np.isfinite(x1), axis=1) & (r1 < gnorm[pending[f]])
        accepted[pending[good]] = True
        pending = pending[~good]
        t[pending] *= 0.5
    return accepted


def predict(Q, base: _Batch, move, e1, e2, eps_new, barrier) -> _Batch:
    """Extrapolate each problem's last stage move linearly in eps (``base`` where unsure)."""
    guess = base.copy(fresh=True)
    if move is None or not abs(e2 - e1) > 1e-14 * max(abs(e1), abs(e2)):
        return guess
    dmu = move * ((eps_new - e2) / (e2 - e1))
    dz = _matvec(Q, dmu)
    gap = base.gap - base.sign * dz
    inside = np.all((gap > 0.0) & (gap < 2.0), axis=1) if barrier else np.ones(gap.shape[0], bool)
    sign, gap = normalize(base.sign, np.where(inside[:, None], gap, base.gap))
    guess.sign, guess.gap = np.where(inside[:, None], sign, base.sign), gap
    guess.mu = np.where(inside[:, None], base.mu + dmu, base.mu)
    guess.travel = np.where(inside[:, None], dmu, 0.0)
    return guess


def continuation(Q, z, start, target, state: _Batch, *, rtol, max_stages):
    """Continuation in ``log(scale)`` from ``start`` to ``target`` with one schedule for the batch.

    Returns (state, per-problem iterations, per-problem success, stages, stacked steps).
    A stage whose correctors do not all converge is retried with a quarter of the step; once
    the step is below `MIN_STEP`, the problems still failing are dropped (success False)."""
    B = Q.shape[0]
    its = np.zeros(B, dtype=int)
    alive = np.ones(B, dtype=bool)
    stages = steps = 0
    theta, theta_end = start.log_scale, target.log_scale
    step = max(min(2.0, theta - theta_end), 1e-3)
    eps = start.small_parameter
    last = None  # (eps before, eps after, move (B, r)) of the last stage
    intermediate_tol = max(rtol, 1e-10)
    while theta > theta_end and np.any(alive):
        if stages >= max_stages:
            alive[:] = False
            break
        new_theta = max(theta - step, theta_end)
        net = target if new_theta == theta_end else start.at_log_scale(new_theta)
        mapping = net.mirror_map()
        tol = rtol if net is target else intermediate_tol
        idx = np.flatnonzero(alive)
        base = state.take(idx).copy(fresh=True)
        Qa, za = Q[idx], z[idx]
        if last is None:
            guess = base.copy(fresh=True)
        else:
            guess = predict(Qa, base, last[2][idx], last[0], last[1], net.small_parameter, mapping.barrier)
        k, ok = newton(Qa, za, mapping, guess, tol=tol, max_iter=STAGE_ITERATIONS)
        used = k.copy()
        steps += int(k.max(initial=0))
        retry = np.flatnonzero(~ok)
        if retry.size and last is not None:  # corrector from the unpredicted point
            again = base.take(retry)
            k2, ok2 = newton(Qa[retry], za[retry], mapping, again, tol=tol, max_iter=STAGE_ITERATIONS)
            steps += int(k2.max(initial=0))
            guess.put(retry[ok2], again.take(ok2))
            used[retry] += k2
            ok[retry] = ok2
        its[idx] += used
        if not np.all(ok):
            if step * 0.25 >= MIN_STEP:
                step *= 0.25
                continue
            alive[idx[~ok]] = False
        good = idx[ok]
        state.put(good, guess.take(ok))
        move = np.zeros_like(state.mu)
        move[good] = guess.travel[ok]
        last = (eps, net.small_parameter, move)
        theta, eps = new_theta, net.small_parameter
        stages += 1
        if used[ok].max(initial=0) <= 4:
            step *= 2.0
    return its, alive, stages, steps


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
        state = _Batch(np.zeros((inside.size, r)), np.ones((inside.size, N)), np.ones((inside.size, N)),
                       np.zeros((inside.size, r)))
        start = _batch_start(net, Q, z)
        tol0 = rtol if start is net else max(rtol, 1e-10)
        its, ok = newton(Q, z, start.mirror_map(), state, tol=tol0, max_iter=max_iter)
        steps += int(its.max(initial=0))
        if start is not net and np.any(ok):
            sub = np.flatnonzero(ok)
            sub_state = state.take(sub)
            k, alive, stages, s2 = continuation(Q[sub], z[sub], start, net, sub_state, rtol=rtol, max_stages=max_stages)
            state.put(sub, sub_state)
            its[sub] += k
            ok[sub] = alive
            steps += s2
        for j in np.flatnonzero(ok):
            one = DualState(state.mu[j].copy(), state.sign[j].copy(), state.gap[j].copy(), np.zeros(r))
            res = finish(members[j], net, net, 1.0, one, status="converged", message="", iterations=int(its[j]),
                         stages=stages, rtol=rtol)
            if res.success:  # else flow_limit alone decides (it may do better from its own start)
                results[inside[j]] = res
                fallback[inside[j]] = False
    for b in np.flatnonzero(fallback):
        results[b] = flow_limit(problems[b], net, rtol=rtol, max_iter=max_iter, max_stages=max_stages, throw=False)
    out = BatchLimitResult(results=tuple(results), fallback=fallback, stages=stages, newton_steps=steps)
    failed = [b for b, res in enumerate(results) if not res.converged]
    if throw and failed:
        raise ConvergenceError(f"batch_flow_limit: {len(failed)} of {B} problems did not converge (indices "
                               f"{failed[:10]}), even alone; pass throw=False to inspect them.", out)
    return out


def _batch_start(net, Q, z):
    """One starting scale for the batch: the largest of the problems' own (`flow_limit`'s rule:
    ``log max|x_ls|``, ``x_ls = Q z``), so that every problem starts in its kernel regime."""
    if not isinstance(net, ScaleFamily):
        return net
    size = float(np.max(np.abs(_matvec(Q, z))))
    log_start = math.log(max(size, 1e-300))
    return net if net.log_scale >= log_start else net.at_log_scale(log_start)
