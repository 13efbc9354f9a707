"""The engine's batch axis: `newton` and `continuation` on a stack of problems of equal size.

For problems ``b = 1..B`` (same ``N``, same rank ``r``, same network) the stacks are
``Q`` (B, N, r), ``z`` (B, r) and a `DualStack` of boundary-relative dual points. Every
step is the single-problem step of `dlnlab.engine.steps`, taken by all problems at once:
the mirror map is elementwise, so ``X``, ``X'`` and ``F`` evaluate on (B, N) arrays; the
Hessians are one stacked product (`weighted_gram_stack`) factored together
(`solve_psd_stack`); the step length, the stopping test (with each problem's rounding
floor) and the acceptance rules (`barrier_step_limit`, `below_resolution`) are per problem.
Continuation uses one schedule of scales for the batch, with each problem's prediction
snapped onto its own exact l1 face (`snap_to_face`).

A problem's iterates depend on that problem only (converged problems are frozen), so a
result does not depend on which other problems share its batch.

>>> import numpy as np, dlnlab as dl
>>> Ps = [dl.gaussian_problem(5, 12, 2, seed=s) for s in range(3)]
>>> Q, z = np.stack([P.basis.Q for P in Ps]), np.stack([P.basis.z for P in Ps])
>>> state = DualStack.zeros(3, 12, Q.shape[2])
>>> its, ok = newton_stack(Q, z, dl.SymmetricDLN(depth=2, scale=10.0).mirror_map(), state, tol=1e-12, max_iter=50)
>>> ok.tolist()
[True, True, True]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..networks.base import normalize
from .scales import (EASY_STAGE, FIRST_STEP, MIN_EPS_RATIO, STAGE_ITERATIONS, extrapolation_factor,
                           rescale_dual, stage_rescaling)
from .faces import SNAP_CONSISTENCY, snap_to_face
from .linalg import solve_psd_stack, weighted_gram_stack
from .steps import (SLOPE_CUTOFF, DualState, barrier_step_limit, below_resolution, residual_test,
                     rounding_floor)

#: A continuation step (in log-scale units) below this drops the problems whose corrector
#: still fails (they are left to the single-problem solver) instead of shrinking the step for all.
MIN_STEP = 1e-2


@dataclass
class DualStack(DualState):
    """Stacked dual points: ``mu``, ``travel`` (B, r) and ``sign``, ``gap`` (B, N)."""

    @classmethod
    def zeros(cls, B: int, N: int, r: int) -> "DualStack":
        """The point ``mu = 0`` (``z = 0``: sign +1, gap 1) for every problem."""
        return cls(np.zeros((B, r)), np.ones((B, N)), np.ones((B, N)), np.zeros((B, r)))

    def take(self, idx) -> "DualStack":
        return DualStack(self.mu[idx], self.sign[idx], self.gap[idx], self.travel[idx])

    def put(self, idx, other: "DualStack"):
        self.mu[idx], self.sign[idx], self.gap[idx], self.travel[idx] = (other.mu, other.sign, other.gap,
                                                                          other.travel)

    def row(self, b: int) -> DualState:
        """Problem ``b``'s point, as the single-problem engine holds it."""
        return DualState(self.mu[b].copy(), self.sign[b].copy(), self.gap[b].copy(), self.travel[b].copy())


def evaluates_stacks(mapping, N: int) -> bool:
    """Whether ``mapping`` evaluates (B, N) stacks row by row, as the batch axis needs: checked on
    two rows against one-row evaluations. Maps that index their parameters coordinates-first
    (the layered network of depth >= 3) do not; `stacked` wraps those."""
    sign = np.ones((2, N))
    sign[1, ::2] = -1.0
    gap = np.vstack([np.linspace(0.2, 0.9, N), np.linspace(0.95, 0.4, N)])
    try:
        with np.errstate(all="ignore"):
            for f in (mapping.primal, mapping.slope, mapping.conjugate):
                together = np.asarray(f(sign, gap))
                alone = np.stack([np.asarray(f(sign[b], gap[b])) for b in range(2)])
                if together.shape != (2, N) or not np.allclose(together, alone, rtol=1e-12, atol=0.0,
                                                               equal_nan=True):
                    return False
    except (ValueError, IndexError):  # shapes that do not broadcast
        return False
    return True


class RowwiseMap:
    """A mirror map that takes one problem at a time, evaluated on a stack row by row."""

    def __init__(self, mapping):
        self.mapping = mapping

    def __getattr__(self, name):  # barrier, c, ... of the wrapped map
        return getattr(self.mapping, name)

    def primal(self, sign, gap):
        return np.stack([self.mapping.primal(s, g) for s, g in zip(sign, gap)])

    def slope(self, sign, gap):
        return np.stack([self.mapping.slope(s, g) for s, g in zip(sign, gap)])

    def conjugate(self, sign, gap):
        return np.stack([self.mapping.conjugate(s, g) for s, g in zip(sign, gap)])


def stacked(mapping, N: int):
    """``mapping`` itself if it `evaluates_stacks`, else the same map evaluated row by row.

    >>> import dlnlab as dl
    >>> type(stacked(dl.LayeredDLN([[0.1] * 4, [0.2] * 4, [0.3] * 4]).mirror_map(), 4)).__name__
    'RowwiseMap'
    """
    return mapping if evaluates_stacks(mapping, N) else RowwiseMap(mapping)


def _rows(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx]``, without a copy when ``idx`` is every row in order (the common case)."""
    return a if idx.size == a.shape[0] and (idx.size == 0 or idx[-1] == idx.size - 1) else a[idx]


def matvec(Q, v):
    """``Q_b @ v_b`` for stacks ``Q`` (B, N, r) and ``v`` (B, r)."""
    return np.matmul(Q, v[:, :, None])[:, :, 0]


def rmatvec(Q, x):
    """``Q_b^T @ x_b`` for stacks ``Q`` (B, N, r) and ``x`` (B, N)."""
    return np.matmul(x[:, None, :], Q)[:, 0, :]


def newton_stack(Q, z, mapping, state: DualStack, *, tol: float, max_iter: int):
    """`dlnlab.engine.steps` on every problem of the stack from ``state`` (updated in place).

    Returns the per-problem iteration counts and success flags (the test of
    `dlnlab.engine.steps.residual_check`, with each problem's rounding floor). A problem
    stops when it meets the test, when its point cannot be evaluated or has no curvature,
    when its line search fails, or at ``max_iter``.
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
        d = mapping.slope(sa.sign, sa.gap)
        finite = np.all(np.isfinite(x), axis=1) & np.all(np.isfinite(d), axis=1)
        grad = rmatvec(Qa, np.where(finite[:, None], x, 0.0)) - za
        done = finite & residual_test(grad, x, za, tol, rounding_floor(np.where(finite[:, None], d, 0.0), sa.gap))
        ok[active[done]] = True
        its[active] = it
        dmax = np.where(finite, d.max(axis=1, initial=0.0), 0.0)
        keep = finite & ~done & (dmax > 0)
        if it == max_iter or not np.any(keep):
            break
        if not keep.all():
            active, Qa, za, sa, grad, d, dmax = (active[keep], Qa[keep], za[keep], sa.take(keep), grad[keep], d[keep],
                                                 dmax[keep])
        d = np.where(d > SLOPE_CUTOFF * dmax[:, None], d, 0.0)
        dmu = solve_psd_stack(weighted_gram_stack(Qa, d), -grad)
        dz = matvec(Qa, dmu)
        t = np.ones(active.size)
        if mapping.barrier:  # fraction 0.99 to the boundary
            tmax = barrier_step_limit(sa.sign, sa.gap, dz)
            t = np.where(tmax <= 1.0, 0.99 * tmax, 1.0)
        accepted = _line_search(Qa, za, mapping, sa, dmu, dz, grad, t)
        state.put(active[accepted], _step(sa.take(accepted), t[accepted], dmu[accepted], dz[accepted]))
        active = active[accepted]
    return its, ok


def _step(s: DualStack, t, dmu, dz) -> DualStack:
    """The points ``mu + t dmu`` (t per problem), boundary-relative."""
    sign, gap = normalize(s.sign, s.gap - s.sign * (t[:, None] * dz))
    return DualStack(s.mu + t[:, None] * dmu, sign, gap, s.travel + t[:, None] * dmu)


def _line_search(Q, z, mapping, s: DualStack, dmu, dz, grad, t, armijo: float = 1e-4, max_halvings: int = 60):
    """Backtracking per problem with the rules of `dlnlab.engine.steps.damped_newton`;
    ``t`` is updated in place to the accepted steps. Returns the mask of accepted problems."""
    n = t.size
    accepted = np.zeros(n, dtype=bool)
    pending = np.arange(n)
    F0 = mapping.conjugate(s.sign, s.gap)
    F0_size = np.sum(np.abs(F0), axis=1)
    gnorm = np.linalg.norm(grad, axis=1)
    decrement = -np.einsum("br,br->b", grad, dmu)
    mz = np.einsum("br,br->b", dmu, z)
    for _ in range(max_halvings):
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
        good = valid & (dphi <= -armijo * tp * decrement[pending])
        flat = valid & ~good & below_resolution(dphi, F0_size[pending], tp * mz[pending])
        if np.any(flat):  # Phi cannot tell the points apart: accept if the residual improves
            f = np.flatnonzero(flat)
            with np.errstate(over="ignore", invalid="ignore"):  # an overflowed trial point: r1 = inf, rejected
                x1 = mapping.primal(sign[f], gap[f])
                r1 = np.linalg.norm(rmatvec(Q[pending[f]], np.nan_to_num(x1)) - z[pending[f]], axis=1)
            good[f] = np.all(np.isfinite(x1), axis=1) & (r1 < gnorm[pending[f]])
        accepted[pending[good]] = True
        pending = pending[~good]
        t[pending] *= 0.5
    return accepted


def predict_stack(Q, base: DualStack, last, eps_new, barrier) -> DualStack:
    """`dlnlab.engine.scales.predict` per problem: the last stage's move extrapolated
    linearly in eps (``base`` for problems whose prediction leaves the domain)."""
    guess = base.fresh()
    factor = None if last is None else extrapolation_factor(last[0], last[1], eps_new)
    if factor is None:
        return guess
    dmu = last[2] * factor
    gap = base.gap - base.sign * matvec(Q, dmu)
    inside = np.all((gap > 0.0) & (gap < 2.0), axis=1) if barrier else np.ones(gap.shape[0], bool)
    sign, gap = normalize(base.sign, np.where(inside[:, None], gap, base.gap))
    guess.sign, guess.gap = np.where(inside[:, None], sign, base.sign), gap
    guess.mu = np.where(inside[:, None], base.mu + dmu, base.mu)
    guess.travel = np.where(inside[:, None], dmu, 0.0)
    return guess


def snap_stack(Q, state: DualStack, faces: list[dict], idx: np.ndarray, face_tols: np.ndarray) -> np.ndarray:
    """`snap_to_face` on each problem of the stack (in place); ``faces[idx[j]]`` caches problem
    ``idx[j]``'s projectors, ``face_tols[idx[j]]`` is its consistency. Returns the mask of
    problems whose point moved."""
    moved = np.zeros(len(idx), dtype=bool)
    for j, b in enumerate(idx):
        one = state.row(j)
        snapped = snap_to_face(Q[j], one, faces[b], face_tols[b])
        if snapped is not one:
            state.gap[j] = snapped.gap
            moved[j] = True
    return moved


def continuation_stack(Q, z, start, target, state: DualStack, *, rtol, intermediate_tol, max_stages, face_tols=None):
    """`dlnlab.engine.scales.continuation` with one schedule of scales for the stack
    (``face_tols``: each problem's face consistency, default `SNAP_CONSISTENCY`).

    Returns (per-problem iterations, per-problem success, stages, stacked Newton steps);
    ``state`` is updated in place. A stage whose correctors do not all converge is retried
    with a quarter of the step; once the step is below `MIN_STEP`, the problems still
    failing are dropped (success False).
    """
    B = Q.shape[0]
    its = np.zeros(B, dtype=int)
    alive = np.ones(B, dtype=bool)
    stages = steps = 0
    theta, theta_end = start.log_scale, target.log_scale
    step = max(min(FIRST_STEP, theta - theta_end), 1e-3)
    eps = start.small_parameter
    last = None  # (eps before, eps after, move (B, r)) of the last stage
    faces = [{} for _ in range(B)]
    face_tols = np.full(B, SNAP_CONSISTENCY) if face_tols is None else np.asarray(face_tols, dtype=float)
    while theta > theta_end and np.any(alive):
        if stages >= max_stages:
            alive[:] = False
            break
        new_theta = max(theta - step, theta_end)
        net = target if new_theta == theta_end else start.at_log_scale(new_theta)
        if net.small_parameter < MIN_EPS_RATIO * eps:
            step = 0.5 * (theta - new_theta)
            continue
        mapping = stacked(net.mirror_map(), Q.shape[1])
        tol = rtol if net is target else intermediate_tol
        idx = np.flatnonzero(alive)
        Qa, za = Q[idx], z[idx]
        base = state.take(idx).fresh()
        guess = predict_stack(Qa, base, None if last is None else (last[0], last[1], last[2][idx]),
                              net.small_parameter, mapping.barrier)
        r = stage_rescaling(net, mapping)
        if r != 1.0:
            base, guess = rescale_dual(base, r), rescale_dual(guess, r)
        if mapping.barrier and last is not None:
            snap_stack(Qa, guess, faces, idx, face_tols)
        k, ok = newton_stack(Qa, za, mapping, guess, tol=tol, max_iter=STAGE_ITERATIONS)
        used = k.copy()
        steps += int(k.max(initial=0))
        retry = np.flatnonzero(~ok)
        if retry.size and last is not None:  # corrector from the unpredicted point
            again = base.take(retry)
            k2, ok2 = newton_stack(Qa[retry], za[retry], mapping, again, tol=tol, max_iter=STAGE_ITERATIONS)
            steps += int(k2.max(initial=0))
            guess.put(retry[ok2], again.take(ok2))
            used[retry] += k2
            ok[retry] = ok2
        if mapping.barrier and np.any(ok):  # Newton's own moves shrink the gaps: snap and correct
            good = np.flatnonzero(ok)
            sub = guess.take(good)
            moved = snap_stack(Qa[good], sub, faces, idx[good], face_tols)
            if np.any(moved):
                m = good[moved]
                again = sub.take(moved)
                k3, ok3 = newton_stack(Qa[m], za[m], mapping, again, tol=tol, max_iter=STAGE_ITERATIONS)
                steps += int(k3.max(initial=0))
                sub.put(np.flatnonzero(moved), again)
                used[m] += k3
                ok[m] = ok3
            guess.put(good, sub)
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
        if used[ok].max(initial=0) <= EASY_STAGE:
            step *= 2.0
    return its, alive, stages, steps
