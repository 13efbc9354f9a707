"""Scale continuation: from the kernel regime down to the target scale (docs/theory.md section 4).

A network of a scale family (`dlnlab.networks.base.ScaleFamily`) is solved first at a scale
comparable to the data (`start_network`, where Newton from 0 is easy), then at scales
decreasing in ``log(scale)``; each stage is predicted linearly in the small parameter
``eps(scale)`` from the last one, snapped onto an exact l1 face (`dlnlab.engine.faces`)
and corrected by `newton`.
"""

from __future__ import annotations

import math

import numpy as np

from ..networks.base import ScaleFamily, conforms, normalize
from .faces import SNAP_CONSISTENCY, snap_to_face
from . import linalg
from .steps import DualState, newton, step_to

#: Residual tolerance of the intermediate continuation stages: they only need to be close
#: enough for the next prediction; the final stage is solved to ``rtol``.
INTERMEDIATE_TOL = 1e-10

#: Smallest ratio eps_new / eps_old of one continuation step: the prediction magnifies the
#: relative error of the last solution (~INTERMEDIATE_TOL) by the inverse of this ratio.
MIN_EPS_RATIO = 1e-6

#: Newton iterations allowed to one continuation stage's corrector; a stage that needs more
#: is retried with a quarter of the step, one that needs at most `EASY_STAGE` doubles the next.
STAGE_ITERATIONS = 12
EASY_STAGE = 4
#: The first continuation step, in log-scale units.
FIRST_STEP = 2.0
#: A target at most this far below the start (in log-scale units) is first tried in one stage, with
#: at most `DIRECT_ITERATIONS` Newton iterations; if that fails the run takes the usual first step
#: (large problems: `LARGE_DIRECT_STEP`).
DIRECT_STEP = 5.0
DIRECT_ITERATIONS = 8
#: Problems whose Newton systems reuse a kept factorization (``N r^2 >=``
#: `dlnlab.engine.linalg.REUSE_WORK`) pay per Newton step, not per stage, and a stage's corrector
#: there takes about as many steps as a solve from the start (1000 x 10000, scale 1e-6: 17 and 30
#: Newton steps in one stage at p = 2 and 3, against 48 and 82 in 7 and 10 stages of `FIRST_STEP`;
#: scale 1e-9, p = 2, 3, 4: 17-21, 30-32, 31-36 against 65, 89, 185): they try a target up to this far
#: below the start in one stage, with `LARGE_DIRECT_ITERATIONS`. Farther, the weak directions of the
#: Hessian (slopes below its jitter, 1e-14 of the largest) slow the direct stage down (p = 3 at
#: scale 1e-12 stalled at a residual of 4e-11).
LARGE_DIRECT_STEP = 22.0
LARGE_DIRECT_ITERATIONS = 50


def data_size(Q: np.ndarray, z: np.ndarray, x_ls: np.ndarray | None = None) -> float:
    """``||x_ls||_inf`` of the minimum-norm interpolator ``x_ls = Q z`` (1.0 if it is 0); ``x_ls``
    given: of that vector (a basis that is not orthonormal, `dlnlab.problems.GramBasis`)."""
    if x_ls is None:
        x_ls = Q @ z if z.size else z
    size = float(np.max(np.abs(x_ls))) if x_ls.size else 0.0
    return size if size > 0 and math.isfinite(size) else 1.0


def start_network(net, Q, z, size=None):
    """A scale at which Newton from ``lam = 0`` is easy: comparable to the data's own size.

    At ``scale >= ||x_ls||_inf`` (``x_ls = Q z``, the minimum-norm interpolator) the map
    is nearly linear over the solution's range (the kernel regime). ``size``: ``||x_ls||_inf``
    when known (a basis that is not orthonormal computes it otherwise).
    """
    if not conforms(net, ScaleFamily):
        return net
    log_start = math.log(data_size(Q, z) if size is None else size)
    if net.log_scale >= log_start:
        return net
    return net.at_log_scale(log_start)


def continuation(Q, z, start, target, state, rtol, intermediate_tol, max_iter, max_stages, hessian=None,
                 face_tol=SNAP_CONSISTENCY):
    """Continuation in ``log(scale)`` from ``start`` down to ``target`` (adaptive steps).

    Predictor: linear extrapolation in the small parameter eps of the last stage's move;
    corrector: Newton. A step whose corrector fails within `STAGE_ITERATIONS` is quartered and
    retried; a step solved in <= `EASY_STAGE` iterations doubles the next one. Each predicted point is
    snapped onto an exact l1 face where one is resolved (`snap_to_face`, consistency ``face_tol``:
    `dlnlab.engine.faces.face_tolerance` of the data). Returns
    ``(state, iterations, stages, status, message)``; `continuation_path` with one stop.
    """
    if start is target:
        return state, 0, 0, "converged", ""
    return next(continuation_path(Q, z, start, [target], state, rtol, intermediate_tol, max_stages, hessian, face_tol))


def continuation_path(Q, z, start, targets, state, rtol, intermediate_tol, max_stages, hessian=None,
                      face_tol=SNAP_CONSISTENCY):
    """One continuation run from ``start`` that stops exactly at each of ``targets`` on its way.

    ``targets`` are networks of ``start``'s family in decreasing ``log_scale`` (at most
    ``start``'s); each is solved to ``rtol`` (the stages between them to ``intermediate_tol``)
    and the run goes on from it. Yields, per target, ``(state, iterations, stages, status,
    message)`` with the iterations and stages counted from ``start``; ``max_stages`` bounds the
    stages from one target to the next. After a failure every remaining target gets the last
    point reached and the failure's status.
    """
    total, stages = 0, 0
    large = Q.shape[0] * Q.shape[1] ** 2 >= linalg.REUSE_WORK
    direct_step, direct_iterations = (LARGE_DIRECT_STEP, LARGE_DIRECT_ITERATIONS) if large else (DIRECT_STEP,
                                                                                             DIRECT_ITERATIONS)
    theta, eps = start.log_scale, start.small_parameter
    step = None
    last = None  # (eps before, eps after, move) of the last stage
    faces = {}  # cache of face projectors by support
    targets = list(targets)
    for k, target in enumerate(targets):
        theta_end = target.log_scale
        direct = False  # the first stage tries the whole way to a near target, on a small budget
        if step is None and theta > theta_end:
            direct = theta - theta_end <= direct_step
            step = theta - theta_end if direct else max(min(FIRST_STEP, theta - theta_end), 1e-3)
        # a target solved as the start itself is in its own units (its c, see SymmetricDLN.normalized)
        segment, r_end = 0, (stage_rescaling(target, target.mirror_map()) if target is start else 1.0)
        failure = None
        while theta > theta_end:
            if segment >= max_stages:
                failure = "max_iter", f"continuation needed more than {max_stages} stages"
                break
            new_theta = max(theta - step, theta_end)
            net = target if new_theta == theta_end else start.at_log_scale(new_theta)
            if net.small_parameter < MIN_EPS_RATIO * eps:
                # errors of the last solution grow by eps_old / eps_new in the prediction
                step = 0.5 * (theta - new_theta)
                continue
            mapping = net.mirror_map()
            base = state.fresh()
            guess = predict(Q, base, last, net.small_parameter, mapping.barrier)
            # stages keep z across scales; a target with its own c (see SymmetricDLN.normalized)
            # gets the point in its units: the same s
            r = stage_rescaling(net, mapping)
            if r != 1.0:
                predicted = guess is not base
                base = rescale_dual(base, r)
                guess = rescale_dual(guess, r) if predicted else base
            if mapping.barrier and guess is not base:
                # the prediction shrinks tiny gaps by cancellation: restore the face exactly
                guess = snap_to_face(Q, guess, faces, face_tol)
            tol = rtol if net is target else intermediate_tol
            budget = direct_iterations if direct else STAGE_ITERATIONS
            new_state, its, ok = newton(Q, z, mapping, guess, tol=tol, max_iter=budget, hessian=hessian)
            total += its
            if not ok and guess is not base:
                new_state, its, ok = newton(Q, z, mapping, base, tol=tol, max_iter=budget, hessian=hessian)
                total += its
            if ok and mapping.barrier:
                # Newton's own moves shrink the gaps by up to 1/MIN_EPS_RATIO: snap and polish
                snapped = snap_to_face(Q, new_state, faces, face_tol)
                if snapped is not new_state:
                    new_state, its, ok = newton(Q, z, mapping, snapped, tol=tol, max_iter=STAGE_ITERATIONS, hessian=hessian)
                    total += its
            if not ok and direct:  # the direct try failed: the usual first step
                direct, step = False, max(min(FIRST_STEP, theta - theta_end), 1e-3)
                continue
            if not ok:
                step *= 0.25
                if step < 1e-8:
                    failure = "failed", f"continuation stalled at scale exp({theta:.4g})"
                    break
                continue
            direct = False
            stages += 1
            segment += 1
            last = (eps, net.small_parameter, new_state.travel)
            theta, eps, state, r_end = new_theta, net.small_parameter, new_state, r
            if its <= EASY_STAGE:
                step *= 2.0
        if failure is not None:
            for _ in targets[k:]:
                yield (state, total, stages) + failure
            return
        yield state, total, stages, "converged", ""
        if r_end != 1.0:
            # back to the family's own units for the stages that follow
            state = rescale_dual(state, 1.0 / r_end)
            if last is not None:  # None when this target is the start itself
                last = (last[0], last[1], last[2] / r_end)


def rescale_dual(state: DualState, r: float) -> DualState:
    """The same dual point in units where ``z`` is ``r`` times larger (depth 2 maps whose
    ``c`` differs: the final stage of a normalized problem keeps the caller's ``c``)."""
    if r == 1.0:
        return state
    sign, gap = normalize(state.sign, (1.0 - r) + r * state.gap)
    return type(state)(r * state.mu, sign, gap, r * state.travel)


def predict(Q, base, last, eps_new, barrier):
    """Extrapolate the last stage's move linearly in eps (``base`` itself if unsure)."""
    if last is None:
        return base
    e1, e2, move = last
    factor = extrapolation_factor(e1, e2, eps_new)
    if factor is None:
        return base
    dmu = move * factor
    moved = step_to(base, dmu, Q @ dmu, barrier)
    return base if moved is None else moved


def extrapolation_factor(e1: float, e2: float, eps_new: float) -> float | None:
    """``(eps_new - e2) / (e2 - e1)``: the multiple of the last move (from eps ``e1`` to ``e2``)
    that a prediction linear in eps adds; None when ``e1`` and ``e2`` are not resolved apart."""
    if not abs(e2 - e1) > 1e-14 * max(abs(e1), abs(e2)):
        return None
    return (eps_new - e2) / (e2 - e1)


def stage_rescaling(net, mapping) -> float:
    """The factor ``r`` taking a stage's dual units to those of ``net`` (1 except for depth-2
    maps whose ``c`` differs: the final stage of a normalized problem keeps the caller's ``c``)."""
    return getattr(net.at_log_scale(net.log_scale).mirror_map(), "c", 1.0) / getattr(mapping, "c", 1.0)
