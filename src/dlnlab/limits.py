"""`flow_limit`: the exact limit of gradient flow, by Newton's method on the convex dual.

The limit of ``x(t) = X(A^T lam(t))`` is ``x_inf = X(A^T lam*)`` where ``lam*`` minimizes

    Phi(lam) = sum_i F((A^T lam)_i) - <lam, y>,     F' = X      (THEORY.md section 3),

a smooth convex function of ``m`` variables. dlnlab minimizes it by damped Newton on the
orthonormal-row form of the problem (``A -> Q^T``), with dual points kept boundary-relative
(`dlnlab.mirror`), and reaches small scales by continuation in ``log(scale)`` with a
predictor that extrapolates linearly in the small parameter ``eps(scale)`` (THEORY.md
section 4), in which the limit is smooth.

Evidence on the result: the relative residual ``||A x - y|| / ||y||`` and the KKT error
``||P_perp grad Q(x)|| / ||grad Q(x)||`` (distance of the mirror image of ``x`` from
range(A^T), computed from ``x`` alone); together they certify ``x = argmin_{Ax=y} Q``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .errors import ConvergenceError, NetworkError, OptionError
from .mirror import MirrorMap, normalize, to_z
from .networks import SymmetricDLN
from .problems import Problem, as_problem

#: Default tolerance on the relative residual of the orthonormal system. Newton converges
#: quadratically, so the last iteration typically lands near 1e-15; 1e-12 leaves room for
#: the rounding of ``Q^T x`` when ``||x|| >> ||y||``.
RTOL = 1e-12


@dataclass(frozen=True)
class LimitResult:
    """The limit of gradient flow and the evidence that it is one.

    Attributes: ``x``; ``dual`` (``lam`` with ``s = A^T lam`` in THEORY.md units);
    ``residual`` (``||Ax - y|| / ||y||``); ``kkt`` (relative distance of ``grad Q(x)`` from
    range(A^T)); ``iterations`` (Newton steps, all stages); ``stages`` (continuation steps);
    ``status`` (``"converged"`` or the reason it stopped); ``sign``/``gap``: the
    boundary-relative dual coordinates ``z = sign (1 - gap)`` (full relative precision).
    """

    x: np.ndarray
    dual: np.ndarray
    residual: float
    kkt: float
    iterations: int
    stages: int
    status: str
    network: object = field(repr=False)
    sign: np.ndarray = field(repr=False)
    gap: np.ndarray = field(repr=False)
    message: str = ""

    @property
    def converged(self) -> bool:
        return self.status == "converged"


@dataclass
class _State:
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
        return _State(self.mu.copy(), self.sign.copy(), self.gap.copy(), np.zeros_like(self.mu))


def _move(state: _State, dmu: np.ndarray, dz: np.ndarray, barrier: bool) -> _State | None:
    """The point ``mu + dmu`` (with ``dz = Q dmu``), or None if it leaves the domain."""
    gap = state.gap - state.sign * dz
    if barrier and not np.all((gap > 0.0) & (gap < 2.0)):
        return None
    sign, gap = normalize(state.sign, gap)
    return _State(state.mu + dmu, sign, gap, state.travel + dmu)


def _newton(Q: np.ndarray, z: np.ndarray, mapping: MirrorMap, state: _State, *, tol: float,
            max_iter: int, max_halvings: int = 60) -> tuple[_State, int, bool]:
    """Damped Newton on ``Phi(mu) = sum F(Q mu) - <mu, z>`` from ``state``.

    Returns the final state, the number of iterations and whether the criterion of
    `_residual_check` was met.
    """
    for it in range(max_iter + 1):
        x = mapping.primal(state.sign, state.gap)
        d = mapping.slope(state.sign, state.gap)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(d))):
            return state, it, False
        grad, done = _residual_check(Q, z, x, tol, _floor(d, state.gap))
        gnorm = float(np.linalg.norm(grad))
        if done:
            return state, it, True
        if it == max_iter:
            return state, it, False
        if not d.max() > 0:
            return state, it, False  # every slope underflowed: no curvature to step with
        keep = d > 1e-22 * d.max()  # smaller weights change H by < 1e-22 relative per term
        H = _weighted_gram(Q, d) if keep.all() else _weighted_gram(Q[keep], d[keep])
        dmu = _solve_psd(H, -grad)
        dz = Q @ dmu
        decrement = -float(grad @ dmu)  # Newton decrement squared, >= 0
        F0 = mapping.conjugate(state.sign, state.gap)
        t = 1.0
        if mapping.barrier:
            # largest step keeping 0 < gap < 2 (fraction to the boundary 0.99)
            rate = state.sign * dz
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                lim = np.where(rate > 0, state.gap / rate, np.where(rate < 0, (state.gap - 2.0) / rate, np.inf))
            tmax = float(lim.min()) if lim.size else np.inf
            if tmax <= 1.0:
                t = 0.99 * tmax
        accepted = None
        F0_size = float(np.sum(np.abs(F0)))
        for _ in range(max_halvings):
            new = _move(state, t * dmu, t * dz, mapping.barrier)
            if new is not None:
                F1 = mapping.conjugate(new.sign, new.gap)
                if np.all(np.isfinite(F1)):
                    # Phi(new) - Phi(old), summed term by term so that it keeps its relative
                    # precision when both values are dominated by <mu, z> (tiny scales).
                    dphi = float(np.sum(F1 - F0)) - t * float(dmu @ z)
                    if dphi <= -1e-4 * t * decrement:
                        accepted = new
                        break
                    if abs(dphi) <= 1e-13 * (F0_size + abs(t * float(dmu @ z))):
                        # Phi cannot tell the points apart: accept if the residual improves
                        x1 = mapping.primal(new.sign, new.gap)
                        if np.all(np.isfinite(x1)) and np.linalg.norm(Q.T @ x1 - z) < gnorm:
                            accepted = new
                            break
            t *= 0.5
        if accepted is None:
            return state, it, False
        state = accepted
    return state, max_iter, False


def _weighted_gram(Q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``Q^T diag(d) Q`` by a symmetric rank-k update (half the flops of a general product)."""
    B = np.asfortranarray(Q * np.sqrt(d)[:, None])
    H = sla.blas.dsyrk(1.0, B, trans=1, lower=1)
    return H + np.tril(H, -1).T


def _polish(Q, z, mapping, state, max_steps: int = 2):
    """Extra Newton steps past the tolerance while each halves the residual at least.

    Stopping at ``rtol`` leaves x off by up to ~rtol * cond; from there one quadratic step
    reaches the rounding floor, at the price of one more factorization.
    """
    best = float(np.linalg.norm(Q.T @ mapping.primal(state.sign, state.gap) - z))
    its = 0
    for _ in range(max_steps):
        new, n, _ = _newton(Q, z, mapping, state, tol=0.0, max_iter=1, max_halvings=2)
        its += n
        res = float(np.linalg.norm(Q.T @ mapping.primal(new.sign, new.gap) - z))
        if not res <= 0.5 * best:
            break
        state, best = new, res
    return state, its


def _floor(slope: np.ndarray, gap: np.ndarray) -> float:
    """The residual that one rounding of every dual coordinate can cause.

    A coordinate stored as ``gap <= 1`` is known to ``~1.1e-16 gap`` (relative precision of
    the gap), which moves ``x_i`` by ``slope_i * 1.1e-16 gap_i``. Near the boundary this is
    ``~k * 1e-16 |x_i|``; near ``z = 0`` (scales far above the data: the kernel regime) it
    is ``1e-16 * scale``, which no Newton step can beat. A safety factor 4 is included.
    """
    return 4.4e-16 * float(np.linalg.norm(slope * gap))


def _residual_check(Q: np.ndarray, z: np.ndarray, x: np.ndarray, tol: float, floor: float = 0.0):
    """The dual gradient ``Q^T x - z`` and whether
    ``||Q^T x - z|| <= max(tol * max(||z||, ||x||), floor)`` (``floor``: see `_floor`)."""
    grad = Q.T @ x - z
    scale = max(float(np.linalg.norm(z)), float(np.linalg.norm(x)))
    return grad, bool(np.linalg.norm(grad) <= max(tol * scale, floor))


#: Residual tolerance of the intermediate continuation stages: they only need to be close
#: enough for the next prediction; the final stage is solved to ``rtol``.
INTERMEDIATE_TOL = 1e-10

#: Smallest ratio eps_new / eps_old of one continuation step: the prediction magnifies the
#: relative error of the last solution (~INTERMEDIATE_TOL) by the inverse of this ratio.
MIN_EPS_RATIO = 1e-6

#: A limit whose KKT error (see `_kkt_error`) exceeds this is not reported as converged.
#: The dual method makes it ~1e-16 by construction; 1e-9 flags a genuinely wrong point.
KKT_TOL = 1e-9


def _solve_psd(H: np.ndarray, b: np.ndarray) -> np.ndarray:
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


def _kkt_error(Q: np.ndarray, mapping: MirrorMap, x: np.ndarray, state: _State) -> float:
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


def flow_limit(A, y=None, net=None, *, rtol: float = RTOL, max_iter: int = 100,
               max_stages: int = 400, throw: bool = True) -> LimitResult:
    """The limit of gradient flow of ``net`` on ``1/2 ||A x - y||^2`` (THEORY.md section 3).

    Parameters
    ----------
    A, y : the data, or a `Problem` as ``A`` (then ``y`` is omitted or the network).
    net : a network with ``mirror_map()`` (e.g. `SymmetricDLN`).
    rtol : relative residual at which Newton stops.
    throw : raise `ConvergenceError` (default) if not converged; else return with ``status``.

    Example
    -------
    >>> import dlnlab as dl
    >>> P = dl.line_problem()
    >>> res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-12))
    >>> res.status, res.residual < 1e-12
    ('converged', True)
    """
    if net is None and isinstance(A, Problem):
        net, y = y, None
    if not callable(getattr(net, "mirror_map", None)):
        raise NetworkError(f"flow_limit(A, y, net) needs a network such as dl.SymmetricDLN(depth=3, scale=1e-6); "
                           f"got {type(net).__name__}.")
    problem = as_problem(A, y)
    if getattr(net, "small_parameter", 1.0) <= 1e-300:
        raise NetworkError(
            f"scale exp({net.log_scale:.6g}) is below what float64 dual coordinates can represent at depth "
            f"{net.depth:g}: the gaps ~ alpha^(p-2) = {net.small_parameter:.1e} underflow. At such scales the limit "
            "equals the small-scale limit to every float64 digit: use dl.selected_minimizer, or "
            "dlnlab.rates.deviation_from_bp / mp_flow_limit for the deviation.")
    if not (rtol > 0 and math.isfinite(rtol)) or max_iter < 1 or max_stages < 1:
        raise OptionError(f"flow_limit needs rtol > 0 (finite), max_iter >= 1 and max_stages >= 1; "
                         f"got rtol={rtol!r}, max_iter={max_iter!r}, max_stages={max_stages!r}.")
    basis = problem.basis
    Q, z = basis.Q, basis.z
    N = problem.N

    # Homogeneity (SymmetricDLN.normalized): solve for y / beta at scale / beta, with
    # beta the size of the minimum-norm interpolator, so that tiny or huge data behave
    # like data of size 1.
    beta = _data_size(Q, z) if isinstance(net, SymmetricDLN) else 1.0
    target = net.normalized(beta) if beta != 1.0 else net
    z = z / beta
    start = _start_network(target, Q, z)
    state = _State(np.zeros(basis.rank), np.ones(N), np.ones(N), np.zeros(basis.rank))
    total = 0
    stages = 0
    status, message = "converged", ""
    intermediate_tol = max(rtol, INTERMEDIATE_TOL)

    tol0 = rtol if start is target else intermediate_tol
    state, its, ok = _newton(Q, z, start.mirror_map(), state, tol=tol0, max_iter=max_iter)
    total += its
    if not ok:
        status, message = "failed", f"Newton did not converge at the starting scale ({start.scale:.3g} x the data's size) after {its} iterations."
    else:
        state, its, stages, status, message = _continue(Q, z, start, target, state, rtol, intermediate_tol,
                                                        max_iter, max_stages)
        total += its

    mapping = target.mirror_map()
    if status == "converged":
        state, its = _polish(Q, z, mapping, state)
        total += its
    x = beta * mapping.primal(state.sign, state.gap)
    lam = basis.to_dual(state.mu / getattr(net, "dual_scale", 1.0))
    mapping = net.mirror_map()
    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(x)))
        residual = problem.relative_residual(x) if finite else math.inf
        kkt = _kkt_error(Q, mapping, x, state) if finite else math.inf
    floor = beta * _floor(target.mirror_map().slope(state.sign, state.gap), state.gap) if finite else math.inf
    if status == "converged" and not (finite and _residual_check(Q, z * beta, x, rtol, floor)[1]):
        status, message = "failed", "the final point fails the residual check"
    elif status == "converged" and not kkt <= KKT_TOL:
        status, message = "failed", f"the final point fails the KKT check ({kkt:.1e} > {KKT_TOL:g})"
    elif status == "converged" and residual > rtol:
        message = (f"residual {residual:.1e} is at the float64 resolution of the dual coordinates "
                   f"({floor / max(problem.y_norm, 1e-300):.1e} relative, larger where the mirror map is "
                   "steep: near a barrier, for p close to 2, or at scales far above the data)")
    result = LimitResult(x=x, dual=lam, residual=residual, kkt=kkt, iterations=total, stages=stages,
                         status=status, network=net, sign=state.sign, gap=state.gap, message=message)
    if throw and status != "converged":
        raise ConvergenceError(
            f"flow_limit did not converge ({message}) for {net}; residual {residual:.2e}. "
            "Pass throw=False to inspect the partial result, or raise max_iter/max_stages.", result)
    return result


def _data_size(Q: np.ndarray, z: np.ndarray) -> float:
    """``||x_ls||_inf`` of the minimum-norm interpolator ``x_ls = Q z`` (1.0 if it is 0)."""
    size = float(np.max(np.abs(Q @ z))) if z.size else 0.0
    return size if size > 0 and math.isfinite(size) else 1.0


def _start_network(net, Q, z):
    """A scale at which Newton from ``lam = 0`` is easy: comparable to the data's own size.

    At ``scale >= ||x_ls||_inf`` (``x_ls = Q z``, the minimum-norm interpolator) the map
    is nearly linear over the solution's range (the kernel regime).
    """
    if not hasattr(net, "at_log_scale"):
        return net
    log_start = math.log(_data_size(Q, z))
    if net.log_scale >= log_start:
        return net
    return net.at_log_scale(log_start)


def _continue(Q, z, start, target, state, rtol, intermediate_tol, max_iter, max_stages):
    """Continuation in ``log(scale)`` from ``start`` down to ``target`` (adaptive steps).

    Predictor: linear extrapolation in the small parameter eps of the last stage's move;
    corrector: Newton. A step whose corrector fails within 12 iterations is quartered and
    retried; a step solved in <= 4 iterations doubles the next one. Each predicted point is
    snapped onto an exact l1 face where one is resolved (`_snap_to_face`).
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
        guess = _predict(Q, base, last, net.small_parameter, mapping.barrier)
        # stages keep z across scales; a target with its own c (see SymmetricDLN.normalized)
        # gets the point in its units: the same s
        r = getattr(net.at_log_scale(net.log_scale).mirror_map(), "c", 1.0) / getattr(mapping, "c", 1.0)
        if r != 1.0:
            predicted = guess is not base
            base = _rescale_dual(base, r)
            guess = _rescale_dual(guess, r) if predicted else base
        if mapping.barrier and guess is not base:
            # the prediction shrinks tiny gaps by cancellation: restore the face exactly
            guess = _snap_to_face(Q, guess, faces)
        tol = rtol if net is target else intermediate_tol
        new_state, its, ok = _newton(Q, z, mapping, guess, tol=tol, max_iter=12)
        total += its
        if not ok and guess is not base:
            new_state, its, ok = _newton(Q, z, mapping, base, tol=tol, max_iter=12)
            total += its
        if ok and mapping.barrier:
            # Newton's own moves shrink the gaps by up to 1/MIN_EPS_RATIO: snap and polish
            snapped = _snap_to_face(Q, new_state, faces)
            if snapped is not new_state:
                new_state, its, ok = _newton(Q, z, mapping, snapped, tol=tol, max_iter=12)
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


def _rescale_dual(state: _State, r: float) -> _State:
    """The same dual point in units where ``z`` is ``r`` times larger (depth 2 maps whose
    ``c`` differs: the final stage of a normalized problem keeps the caller's ``c``)."""
    if r == 1.0:
        return state
    sign, gap = normalize(state.sign, (1.0 - r) + r * state.gap)
    return _State(r * state.mu, sign, gap, r * state.travel)


def _predict(Q, base, last, eps_new, barrier):
    """Extrapolate the last stage's move linearly in eps (``base`` itself if unsure)."""
    if last is None:
        return base
    e1, e2, move = last
    if not abs(e2 - e1) > 1e-14 * max(abs(e1), abs(e2)):
        return base
    dmu = move * ((eps_new - e2) / (e2 - e1))
    moved = _move(base, dmu, Q @ dmu, barrier)
    return base if moved is None else moved


#: Coordinates with gap below this are candidates for an exact l1 face (THEORY.md section 4).
#: Snapping is exact whenever the consistency test passes, so the threshold only bounds
#: the work; 0.3 catches faces from eps ~ 0.1 on, before drift can matter.
SNAP_GAP = 0.3
#: ``sign_F`` must lie in range(A_F^T) to this (relative) accuracy for F to count as a face.
SNAP_CONSISTENCY = 1e-12


def _snap_to_face(Q: np.ndarray, state: _State, faces: dict) -> _State:
    """Remove the rounding drift of tiny gaps on an exact face of the l1 ball.

    On a set F with ``sign_F`` in range(A_F^T) (a face of the BP dual), ``sign_F (1 - gap_F)``
    lies in range(A_F^T) for every dual point, hence so does ``sign_F * gap_F``. Incremental
    updates keep this only up to ~1e-16 absolute, which swamps gaps of 1e-20 and would let
    rounding, not the depth-dependent potential, choose among the l1 minimizers. Projecting
    ``sign_F * gap_F`` back onto range(A_F^T) restores it to relative precision. It changes
    nothing when ``A_F^T`` has full row rank (a unique face) or when no face is resolved.
    """
    F = np.flatnonzero(state.gap < SNAP_GAP)
    if F.size < 2:
        return state
    key = F.tobytes() + state.sign[F].tobytes()
    if key not in faces:
        faces[key] = _face_projector(Q[F], state.sign[F])
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
    return _State(state.mu, state.sign, gap, state.travel)


def _face_projector(QF: np.ndarray, sF: np.ndarray) -> np.ndarray | None:
    """Orthonormal basis of range(A_F^T) if F is an exact, overdetermined face; else None."""
    U, sv, _ = np.linalg.svd(QF, full_matrices=False)
    r = int(np.sum(sv > QF.shape[0] * np.finfo(float).eps * sv[0]))
    if r >= QF.shape[0]:
        return None
    U = U[:, :r]
    if np.max(np.abs(sF - U @ (U.T @ sF))) > SNAP_CONSISTENCY:
        return None
    return U
