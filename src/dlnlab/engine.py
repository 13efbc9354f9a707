"""The dual engine: the one solver of ``A X(A^T lam) = y`` for every network.

The limit of a mirror flow ``x(t) = X(A^T lam(t))`` is ``x_inf = X(A^T lam*)`` with ``lam*``
the minimizer of the smooth convex dual (docs/theory.md section 3)

    Phi(lam) = sum_i F((A^T lam)_i) - <lam, y>,     F' = X.

The engine minimizes it by damped Newton on the orthonormal-row form of the problem
(``A -> Q^T``, ``y -> z``), with dual points kept boundary-relative
(`dlnlab.networks.base`); it reaches small scales by continuation in ``log(scale)``, with a
predictor linear in the small parameter ``eps(scale)`` (docs/theory.md section 4), exact
face snapping, a KKT check computed from ``x`` alone, the float64 floor of the dual
coordinates, and a final polish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .networks.base import MirrorMap, ScaleFamily, normalize, to_z

@dataclass
class DualState:
    """A dual point of the orthonormal system: ``mu`` and its boundary-relative image.

    ``travel`` accumulates the moves since the last `fresh` copy, so that the change over a
    continuation stage is known to full relative precision (not as a difference of two
    nearly equal ``mu``).
    """

    mu: np.ndarray
    sign: np.ndarray
    gap: np.ndarray
    travel: np.ndarray

    def fresh(self):
        return DualState(self.mu.copy(), self.sign.copy(), self.gap.copy(), np.zeros_like(self.mu))


def step_to(state: DualState, dmu: np.ndarray, dz: np.ndarray, barrier: bool) -> DualState | None:
    """The point ``mu + dmu`` (with ``dz = Q dmu``), or None if it leaves the domain."""
    gap = state.gap - state.sign * dz
    if barrier and not np.all((gap > 0.0) & (gap < 2.0)):
        return None
    sign, gap = normalize(state.sign, gap)
    return DualState(state.mu + dmu, sign, gap, state.travel + dmu)


@dataclass(frozen=True)
class Local:
    """The objective near a point, as `damped_newton` needs it.

    ``grad``: the gradient; ``direction``: the Newton direction ``-H^{-1} grad`` (None when
    there is no curvature to step with); ``done``: the point meets the caller's criterion.
    """

    grad: np.ndarray
    direction: np.ndarray | None
    done: bool


def damped_newton(point, local, trial, decrease, *, max_iter: int, max_step=None, tie=None,
                  max_halvings: int = 60, armijo: float = 1e-4):
    """Damped Newton with Armijo backtracking: the one Newton loop of dlnlab.

    Minimizes a smooth convex ``Phi`` from ``point``; the caller describes ``Phi`` by

    - ``local(point) -> Local | None`` (None: the point cannot be evaluated; stop);
    - ``trial(point, t, direction) -> point | None``: the point ``t`` along ``direction``
      (None when it leaves the domain);
    - ``decrease(point, new, t, direction) -> float``: ``Phi(new) - Phi(point)`` (computed
      by the caller so that it keeps its relative precision; non-finite rejects the step);
    - ``max_step(point, direction) -> float`` (optional): the largest ``t`` inside the domain;
      the first trial is ``0.99`` of it when it is below 1 (fraction to the boundary);
    - ``tie(point, new, t, dphi) -> bool`` (optional): accept a step whose decrease ``dphi``
      is below the resolution of ``Phi`` (e.g. when the residual improves).

    A step is accepted when ``dphi <= -armijo * t * decrement`` with the Newton decrement
    ``-<grad, direction>``. Returns ``(point, iterations, converged)``.

    >>> import numpy as np
    >>> H, b = np.array([[2.0, 0.0], [0.0, 8.0]]), np.array([1.0, 1.0])
    >>> phi = lambda v: 0.5 * v @ H @ v - b @ v
    >>> def local(v):
    ...     g = H @ v - b
    ...     return Local(g, np.linalg.solve(H, -g), bool(np.linalg.norm(g) < 1e-14))
    >>> v, its, ok = damped_newton(np.zeros(2), local, lambda v, t, d: v + t * d,
    ...                            lambda v, w, t, d: phi(w) - phi(v), max_iter=5)
    >>> ok, its, v.tolist()
    (True, 1, [0.5, 0.125])
    """
    for it in range(max_iter + 1):
        loc = local(point)
        if loc is None:
            return point, it, False
        if loc.done:
            return point, it, True
        if it == max_iter or loc.direction is None:
            return point, it, False
        direction = loc.direction
        decrement = -float(loc.grad @ direction)  # Newton decrement squared, >= 0
        t = 1.0
        if max_step is not None:
            tmax = max_step(point, direction)
            if tmax <= 1.0:
                t = 0.99 * tmax
        accepted = None
        for _ in range(max_halvings):
            new = trial(point, t, direction)
            if new is not None:
                dphi = decrease(point, new, t, direction)
                if math.isfinite(dphi) and (dphi <= -armijo * t * decrement
                                            or (tie is not None and tie(point, new, t, dphi))):
                    accepted = new
                    break
            t *= 0.5
        if accepted is None:
            return point, it, False
        point = accepted
    return point, max_iter, False


def newton(Q: np.ndarray, z: np.ndarray, mapping: MirrorMap, state: DualState, *, tol: float,
           max_iter: int, max_halvings: int = 60) -> tuple[DualState, int, bool]:
    """`damped_newton` on the dual ``Phi(mu) = sum F(Q mu) - <mu, z>`` from ``state``.

    Returns the final state, the number of iterations and whether the criterion of
    `residual_check` was met.
    """
    here = {}  # quantities of the current point that the line search reuses

    def local(state):
        x = mapping.primal(state.sign, state.gap)
        d = mapping.slope(state.sign, state.gap)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(d))):
            return None
        grad, done = residual_check(Q, z, x, tol, rounding_floor(d, state.gap))
        if done or not d.max() > 0:  # every slope underflowed: no curvature to step with
            return Local(grad, None, done)
        keep = d > 1e-22 * d.max()  # smaller weights change H by < 1e-22 relative per term
        H = weighted_gram(Q, d) if keep.all() else weighted_gram(Q[keep], d[keep])
        dmu = solve_psd(H, -grad)
        F0 = mapping.conjugate(state.sign, state.gap)
        here.update(dmu=dmu, dz=Q @ dmu, F0=F0, F0_size=float(np.sum(np.abs(F0))), gnorm=float(np.linalg.norm(grad)))
        return Local(grad, dmu, False)

    def max_step(state, dmu):
        if not mapping.barrier:
            return np.inf
        # largest step keeping 0 < gap < 2
        rate = state.sign * here["dz"]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            lim = np.where(rate > 0, state.gap / rate, np.where(rate < 0, (state.gap - 2.0) / rate, np.inf))
        return float(lim.min()) if lim.size else np.inf

    def trial(state, t, dmu):
        return step_to(state, t * dmu, t * here["dz"], mapping.barrier)

    def decrease(state, new, t, dmu):
        F1 = mapping.conjugate(new.sign, new.gap)
        if not np.all(np.isfinite(F1)):
            return math.inf
        # Phi(new) - Phi(old), summed term by term so that it keeps its relative precision
        # when both values are dominated by <mu, z> (tiny scales).
        return float(np.sum(F1 - here["F0"])) - t * float(dmu @ z)

    def tie(state, new, t, dphi):
        # Phi cannot tell the points apart: accept if the residual improves
        if abs(dphi) > 1e-13 * (here["F0_size"] + abs(t * float(here["dmu"] @ z))):
            return False
        x1 = mapping.primal(new.sign, new.gap)
        return bool(np.all(np.isfinite(x1)) and np.linalg.norm(Q.T @ x1 - z) < here["gnorm"])

    return damped_newton(state, local, trial, decrease, max_iter=max_iter, max_step=max_step, tie=tie,
                         max_halvings=max_halvings)


def weighted_gram(Q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Q^T diag(d) Q`` by a symmetric rank-k update (half the flops of a general product)."""
    if Q.shape[0] == 0:
        return np.zeros((Q.shape[1], Q.shape[1]))
    B = np.asfortranarray(Q * np.sqrt(d)[:, None])
    H = sla.blas.dsyrk(1.0, B, trans=1, lower=1)
    return H + np.tril(H, -1).T


def polish(Q, z, mapping, state, max_steps: int = 2):
    """Extra Newton steps past the tolerance while each halves the residual at least.

    Stopping at ``rtol`` leaves x off by up to ~rtol * cond; from there one quadratic step
    reaches the rounding floor, at the price of one more factorization.
    """
    best = float(np.linalg.norm(Q.T @ mapping.primal(state.sign, state.gap) - z))
    its = 0
    for _ in range(max_steps):
        new, n, _ = newton(Q, z, mapping, state, tol=0.0, max_iter=1, max_halvings=2)
        its += n
        res = float(np.linalg.norm(Q.T @ mapping.primal(new.sign, new.gap) - z))
        if not res <= 0.5 * best:
            break
        state, best = new, res
    return state, its


def rounding_floor(slope: np.ndarray, gap: np.ndarray) -> float:
    """The residual that one rounding of every dual coordinate can cause.

    A coordinate stored as ``gap <= 1`` is known to ``~1.1e-16 gap`` (relative precision of
    the gap), which moves ``x_i`` by ``slope_i * 1.1e-16 gap_i``. Near the boundary this is
    ``~k * 1e-16 |x_i|``; near ``z = 0`` (scales far above the data: the kernel regime) it
    is ``1e-16 * scale``, which no Newton step can beat. A safety factor 4 is included.
    """
    return 4.4e-16 * float(np.linalg.norm(slope * gap))


def residual_check(Q: np.ndarray, z: np.ndarray, x: np.ndarray, tol: float, floor: float = 0.0):
    """The dual gradient ``Q^T x - z`` and whether
    ``||Q^T x - z|| <= max(tol * max(||z||, ||x||), floor)`` (``floor``: see `rounding_floor`)."""
    grad = Q.T @ x - z
    scale = max(float(np.linalg.norm(z)), float(np.linalg.norm(x)))
    return grad, bool(np.linalg.norm(grad) <= max(tol * scale, floor))


#: Residual tolerance of the intermediate continuation stages: they only need to be close
#: enough for the next prediction; the final stage is solved to ``rtol``.
INTERMEDIATE_TOL = 1e-10

#: Smallest ratio eps_new / eps_old of one continuation step: the prediction magnifies the
#: relative error of the last solution (~INTERMEDIATE_TOL) by the inverse of this ratio.
MIN_EPS_RATIO = 1e-6

#: A limit whose KKT error (see `kkt_error`) exceeds this is not reported as converged.
#: The dual method makes it ~1e-16 by construction; 1e-9 flags a genuinely wrong point.
KKT_TOL = 1e-9


def solve_psd(H: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve ``H v = b`` for symmetric positive semidefinite ``H``, regularized when needed.

    A jitter of 1e-14 * max(diag H) caps the step in directions of negligible curvature
    (which appear at tiny scales when the support has fewer than m coordinates); it
    changes well-resolved directions by 1e-14 relative, far below the tolerance.
    """
    scale = float(np.max(np.diag(H))) if H.size else 1.0
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0
    jitter = 1e-14 * scale
    for _ in range(8):
        try:
            c = sla.cho_factor(H + jitter * np.eye(H.shape[0]), lower=True, check_finite=False)
            v = sla.cho_solve(c, b, check_finite=False)
            if np.all(np.isfinite(v)):
                return v
        except np.linalg.LinAlgError:
            pass
        jitter *= 100.0
    return np.linalg.lstsq(H, b, rcond=None)[0]


def kkt_error(Q: np.ndarray, mapping: MirrorMap, x: np.ndarray, state: DualState) -> float:
    """``||P_perp z(x)||_inf / ||z(x)||_inf`` with ``z(x) = grad Q(x)`` in the map's units.

    ``z(x)`` is recomputed from ``x`` by the inverse map, independently of the solver's
    dual point, except for entries below 1e-290 (subnormal or underflowed, where ``x`` no
    longer determines ``z``): those take the solver's own coordinates.
    """
    zx = to_z(*mapping.dual(x))
    tiny = np.abs(x) < 1e-290
    if np.any(tiny):
        zx = np.where(tiny, to_z(state.sign, state.gap), zx)
    zinf = float(np.max(np.abs(zx))) if zx.size else 0.0
    if zinf == 0.0:
        return 0.0
    perp = zx - Q @ (Q.T @ zx)
    return float(np.max(np.abs(perp))) / zinf


def data_size(Q: np.ndarray, z: np.ndarray) -> float:
    """``||x_ls||_inf`` of the minimum-norm interpolator ``x_ls = Q z`` (1.0 if it is 0)."""
    size = float(np.max(np.abs(Q @ z))) if z.size else 0.0
    return size if size > 0 and math.isfinite(size) else 1.0


def start_network(net, Q, z):
    """A scale at which Newton from ``lam = 0`` is easy: comparable to the data's own size.

    At ``scale >= ||x_ls||_inf`` (``x_ls = Q z``, the minimum-norm interpolator) the map
    is nearly linear over the solution's range (the kernel regime).
    """
    if not isinstance(net, ScaleFamily):
        return net
    log_start = math.log(data_size(Q, z))
    if net.log_scale >= log_start:
        return net
    return net.at_log_scale(log_start)


def continuation(Q, z, start, target, state, rtol, intermediate_tol, max_iter, max_stages):
    """Continuation in ``log(scale)`` from ``start`` down to ``target`` (adaptive steps).

    Predictor: linear extrapolation in the small parameter eps of the last stage's move;
    corrector: Newton. A step whose corrector fails within 12 iterations is quartered and
    retried; a step solved in <= 4 iterations doubles the next one. Each predicted point is
    snapped onto an exact l1 face where one is resolved (`snap_to_face`).
    """
    if start is target:
        return state, 0, 0, "converged", ""
    total, stages = 0, 0
    theta, theta_end = start.log_scale, target.log_scale
    step = max(min(2.0, theta - theta_end), 1e-3)
    eps = start.small_parameter
    last = None  # (eps before, eps after, move) of the last stage
    faces = {}  # cache of face projectors by support
    while theta > theta_end:
        if stages >= max_stages:
            return state, total, stages, "failed", f"continuation needed more than {max_stages} stages"
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
        r = getattr(net.at_log_scale(net.log_scale).mirror_map(), "c", 1.0) / getattr(mapping, "c", 1.0)
        if r != 1.0:
            predicted = guess is not base
            base = rescale_dual(base, r)
            guess = rescale_dual(guess, r) if predicted else base
        if mapping.barrier and guess is not base:
            # the prediction shrinks tiny gaps by cancellation: restore the face exactly
            guess = snap_to_face(Q, guess, faces)
        tol = rtol if net is target else intermediate_tol
        new_state, its, ok = newton(Q, z, mapping, guess, tol=tol, max_iter=12)
        total += its
        if not ok and guess is not base:
            new_state, its, ok = newton(Q, z, mapping, base, tol=tol, max_iter=12)
            total += its
        if ok and mapping.barrier:
            # Newton's own moves shrink the gaps by up to 1/MIN_EPS_RATIO: snap and polish
            snapped = snap_to_face(Q, new_state, faces)
            if snapped is not new_state:
                new_state, its, ok = newton(Q, z, mapping, snapped, tol=tol, max_iter=12)
                total += its
        if not ok:
            step *= 0.25
            if step < 1e-8:
                return state, total, stages, "failed", f"continuation stalled at scale exp({theta:.4g})"
            continue
        stages += 1
        last = (eps, net.small_parameter, new_state.travel)
        theta, eps, state = new_theta, net.small_parameter, new_state
        if its <= 4:
            step *= 2.0
    return state, total, stages, "converged", ""


def rescale_dual(state: DualState, r: float) -> DualState:
    """The same dual point in units where ``z`` is ``r`` times larger (depth 2 maps whose
    ``c`` differs: the final stage of a normalized problem keeps the caller's ``c``)."""
    if r == 1.0:
        return state
    sign, gap = normalize(state.sign, (1.0 - r) + r * state.gap)
    return DualState(r * state.mu, sign, gap, r * state.travel)


def predict(Q, base, last, eps_new, barrier):
    """Extrapolate the last stage's move linearly in eps (``base`` itself if unsure)."""
    if last is None:
        return base
    e1, e2, move = last
    if not abs(e2 - e1) > 1e-14 * max(abs(e1), abs(e2)):
        return base
    dmu = move * ((eps_new - e2) / (e2 - e1))
    moved = step_to(base, dmu, Q @ dmu, barrier)
    return base if moved is None else moved


#: Coordinates with gap below this are candidates for an exact l1 face (docs/theory.md section 4).
#: Snapping is exact whenever the consistency test passes, so the threshold only bounds
#: the work; 0.3 catches faces from eps ~ 0.1 on, before drift can matter.
SNAP_GAP = 0.3
#: ``sign_F`` must lie in range(A_F^T) to this (relative) accuracy for F to count as a face.
SNAP_CONSISTENCY = 1e-12
#: Gaps more than this factor apart are snapped on separate levels (see `_finest_level`):
#: a level then keeps ~1e-16 * LEVEL_RATIO relative precision in its smallest gap.
LEVEL_RATIO = 1e4


def snap_to_face(Q: np.ndarray, state: DualState, faces: dict) -> DualState:
    """Remove the rounding drift of tiny gaps on an exact face of the l1 ball.

    On a set F with ``sign_F`` in range(A_F^T) (a face of the BP dual), ``sign_F (1 - gap_F)``
    lies in range(A_F^T) for every dual point, hence so does ``sign_F * gap_F``. Incremental
    updates keep this only up to ~1e-16 absolute, which swamps gaps of 1e-20 and would let
    rounding, not the depth-dependent potential, choose among the l1 minimizers. Projecting
    ``sign_F * gap_F`` back onto range(A_F^T) restores it to relative precision. It changes
    nothing when ``A_F^T`` has full row rank (a unique face) or when no face is resolved.
    """
    F = _finest_level(state.gap)
    if F.size < 2:
        return state
    key = F.tobytes() + state.sign[F].tobytes()
    if key not in faces:
        faces[key] = face_projector(Q[F], state.sign[F])
    U = faces[key]
    if U is None:
        return state
    sF = state.sign[F]
    v = sF * state.gap[F]
    gF = sF * (U @ (U.T @ v))
    if not np.all(gF > 0):
        return state
    gap = state.gap.copy()
    gap[F] = gF
    return DualState(state.mu, state.sign, gap, state.travel)


def _finest_level(gap: np.ndarray) -> np.ndarray:
    """The coordinates of the smallest gaps: those below `SNAP_GAP` and below the first jump
    of more than `LEVEL_RATIO` in their sorted values.

    A projection is accurate to ~1e-16 of the largest gap it sees, so gaps of 1e-17 must not
    share one with gaps of 0.2 (that would let rounding of the large ones decide among the
    small ones: duplicate columns would stop being equal).
    """
    F = np.flatnonzero(gap < SNAP_GAP)
    if F.size < 2:
        return F
    order = F[np.argsort(gap[F])]
    g = gap[order]
    jumps = np.flatnonzero(g[1:] > LEVEL_RATIO * np.maximum(g[:-1], 1e-320))
    return order[: jumps[0] + 1] if jumps.size else order


def face_projector(QF: np.ndarray, sF: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis of range(A_F^T) if F is an exact, overdetermined face; else None."""
    U, sv, _ = np.linalg.svd(QF, full_matrices=False)
    r = int(np.sum(sv > QF.shape[0] * np.finfo(float).eps * sv[0]))
    if r >= QF.shape[0]:
        return None
    U = U[:, :r]
    if np.max(np.abs(sF - U @ (U.T @ sF))) > SNAP_CONSISTENCY:
        return None
    return U
