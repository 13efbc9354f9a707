"""Damped Newton on the dual, and the step rules every Newton loop of the engine shares.

The dual of docs/theory.md section 3 in orthonormal-row form (``A -> Q^T``, ``y -> z``) is

    Phi(mu) = sum_i F((Q mu)_i) - <mu, z>,     F' = X,

with gradient ``Q^T x - z`` and Hessian ``Q^T diag(X') Q``. Dual points are kept
boundary-relative (`dlnlab.networks.base`). `damped_newton` is the generic loop (the l1,
LP and theory solvers describe their own objectives to it); `newton` applies it to
``Phi``; `dlnlab.engine.batch` runs the same steps on a stack of problems, with the rules
defined here (`barrier_step_limit`, `below_resolution`, `SLOPE_CUTOFF`, `residual_test`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..networks.base import MirrorMap, normalize
from .linalg import HessianCache, solve_psd, weighted_gram

#: Slopes below this fraction of the largest are left out of the Hessian: each changes it by
#: less than 1e-22 relative, and dropping them keeps the Gram product small at tiny scales.
SLOPE_CUTOFF = 1e-22
#: Relative resolution of ``Phi``: a change below it is rounding, not descent (see `below_resolution`).
PHI_RESOLUTION = 1e-13
#: Largest relative residual of a Newton system solved by reusing a factorization (`newton`).
ETA = 1e-2
#: `rounding_floor`: ``FLOOR_FACTOR ||X' gap||`` (the rounding of every dual coordinate, a safety factor 4 in).
FLOOR_FACTOR = 4.4e-16


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
        return type(self)(self.mu.copy(), self.sign.copy(), self.gap.copy(), np.zeros_like(self.mu))


def step_to(state: DualState, dmu: np.ndarray, dz: np.ndarray, barrier: bool) -> DualState | None:
    """The point ``mu + dmu`` (with ``dz = Q dmu``), or None if it leaves the domain."""
    gap = state.gap - state.sign * dz
    if barrier and not ((gap > 0.0) & (gap < 2.0)).all():
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


class _Deferred:
    """A `Local` that is not done, whose direction is solved for when `damped_newton` first reads it
    (it does not at its last iteration: a loop stopped by ``max_iter`` solves one system less)."""

    __slots__ = ("grad", "_solve", "_direction")
    done = False

    def __init__(self, grad, solve):
        self.grad, self._solve, self._direction = grad, solve, None

    @property
    def direction(self):
        if self._solve is not None:
            self._direction, self._solve = self._solve(), None
        return self._direction


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
           max_iter: int, max_halvings: int = 60, hessian: HessianCache | None = None) -> tuple[DualState, int, bool]:
    """`damped_newton` on the dual ``Phi(mu) = sum F(Q mu) - <mu, z>`` from ``state``.

    ``hessian``: a `HessianCache` of this ``Q`` kept across calls (stages of one continuation),
    whose factorizations later Newton systems reuse; None factors every step. With one, each
    Newton system is solved to the relative residual
    ``max(min(ETA, sqrt(||grad|| / max(||z||, ||x||))), 0.1 g_stop / ||grad||)`` (``g_stop``: the
    gradient norm the stopping test asks for): superlinear steps that land within the test. A small
    problem whose map has scalar kernels runs the same iteration on lists of floats
    (`dlnlab.engine.lean`, ``N r^2 <= LEAN_WORK``). Returns the final state, the number of iterations and
    whether the criterion of `residual_check` was met.
    """
    kernel = _lean(Q, mapping, hessian)
    if kernel is not None:
        return lean_newton(Q, z, mapping, kernel, state, tol=tol, max_iter=max_iter, max_halvings=max_halvings,
                           hessian=hessian)
    here = {}  # quantities of the current point that the line search reuses
    terms = getattr(mapping, "terms", None)  # primal, slope and conjugate from one evaluation
    znorm = float(scaled_norms(z))

    def local(state):
        reuse = here.get("new") is state
        if terms is not None:
            x, d, F0 = terms(state.sign, state.gap, conjugate=not reuse)
        else:
            x, d, F0 = mapping.primal(state.sign, state.gap), mapping.slope(state.sign, state.gap), None
        if not (np.isfinite(x).all() and np.isfinite(d).all()):
            return None
        # the test of `residual_check`, with ||z|| computed once per call
        grad = Q.T @ x - z
        gnorm = float(scaled_norms(grad))
        g_stop = max(tol * max(znorm, float(scaled_norms(x))), float(rounding_floor(d, state.gap)))
        done = gnorm <= g_stop
        dmax = d.max()
        if done or not dmax > 0:  # every slope underflowed: no curvature to step with
            return Local(grad, None, done)
        keep = d > SLOPE_CUTOFF * dmax

        def direction():
            if hessian is not None:
                # forcing term: loose far away, ~sqrt(relative gradient) near the limit (superlinear
                # steps), never tighter than needed to land within the stopping test
                gscale = max(znorm, float(scaled_norms(x)), 1e-300)
                eta = max(min(ETA, math.sqrt(gnorm / gscale)), 0.1 * g_stop / gnorm)
                dmu, dz = hessian.solve(Q, d, -grad, eta=eta, keep=keep, image=True)
            else:
                H = weighted_gram(Q, d) if keep.all() else weighted_gram(Q[keep], d[keep])
                dmu = solve_psd(H, -grad)
                dz = Q @ dmu
            # the conjugate at an accepted trial point is the one its line search computed
            F = here["F1"] if reuse else (F0 if F0 is not None else mapping.conjugate(state.sign, state.gap))
            here.update(dmu=dmu, dz=dz, F0=F, F0_size=float(np.abs(F).sum()), gnorm=gnorm)
            return dmu

        return _Deferred(grad, direction)

    def max_step(state, dmu):
        return float(barrier_step_limit(state.sign, state.gap, here["dz"])) if mapping.barrier else np.inf

    def trial(state, t, dmu):
        return step_to(state, t * dmu, t * here["dz"], mapping.barrier)

    def decrease(state, new, t, dmu):
        F1 = mapping.conjugate(new.sign, new.gap)
        if not np.isfinite(F1).all():
            return math.inf
        here.update(new=new, F1=F1)
        # Phi(new) - Phi(old), summed term by term so that it keeps its relative precision
        # when both values are dominated by <mu, z> (tiny scales).
        return float((F1 - here["F0"]).sum()) - t * float(dmu @ z)

    def tie(state, new, t, dphi):
        # Phi cannot tell the points apart: accept if the residual improves
        if not below_resolution(dphi, here["F0_size"], t * float(here["dmu"] @ z)):
            return False
        x1 = mapping.primal(new.sign, new.gap)
        return bool(np.all(np.isfinite(x1)) and scaled_norms(Q.T @ x1 - z) < here["gnorm"])

    return damped_newton(state, local, trial, decrease, max_iter=max_iter, max_step=max_step, tie=tie,
                         max_halvings=max_halvings)


def _lean(Q, mapping, hessian):
    """The map's scalar kernels when the lean path applies (`dlnlab.engine.lean.lean_kernel`; not with a
    `HessianCache` forced to reuse factorizations, whose point is the array path)."""
    if hessian is not None and hessian.force:
        return None
    return lean_kernel(Q, mapping)


def barrier_step_limit(sign: np.ndarray, gap: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """The largest ``t`` keeping ``0 < gap - t sign dz < 2`` (barrier maps), over the last axis.

    >>> float(barrier_step_limit(np.ones(2), np.array([0.5, 1.0]), np.array([1.0, -1.0])))
    0.5
    """
    rate = sign * dz
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lim = np.where(rate > 0, gap / rate, np.where(rate < 0, (gap - 2.0) / rate, np.inf))
    return lim.min(axis=-1, initial=np.inf)


def below_resolution(dphi, F0_size, tmz):
    """Whether a change ``dphi`` of ``Phi`` is below its rounding: ``|dphi| <= 1e-13 (sum|F| + |t <dmu, z>|)``.

    Newton then cannot tell the points apart by ``Phi``; it accepts a step if the residual improves.
    """
    return np.abs(dphi) <= PHI_RESOLUTION * (F0_size + np.abs(tmz))


#: Newton steps `polish` takes at most past the tolerance.
POLISH_STEPS = 2


def polish(Q, z, mapping, state, max_steps: int = POLISH_STEPS, hessian: HessianCache | None = None):
    """Extra Newton steps past the tolerance while each halves the residual at least.

    Stopping at ``rtol`` leaves x off by up to ~rtol * cond; from there one quadratic step
    reaches the rounding floor, at the price of one more factorization.
    """
    kernel = _lean(Q, mapping, hessian)
    if kernel is not None:
        return lean_polish(Q, z, mapping, kernel, state, max_steps, hessian)
    best = float(scaled_norms(Q.T @ mapping.primal(state.sign, state.gap) - z))
    its = 0
    for _ in range(max_steps):
        new, n, _ = newton(Q, z, mapping, state, tol=0.0, max_iter=1, max_halvings=2, hessian=hessian)
        its += n
        res = float(scaled_norms(Q.T @ mapping.primal(new.sign, new.gap) - z))
        if not res <= 0.5 * best:
            break
        state, best = new, res
    return state, its


def rounding_floor(slope: np.ndarray, gap: np.ndarray):
    """The residual that one rounding of every dual coordinate can cause.

    A coordinate stored as ``gap <= 1`` is known to ``~1.1e-16 gap`` (relative precision of
    the gap), which moves ``x_i`` by ``slope_i * 1.1e-16 gap_i``. Near the boundary this is
    ``~k * 1e-16 |x_i|``; near ``z = 0`` (scales far above the data: the kernel regime) it
    is ``1e-16 * scale``, which no Newton step can beat. A safety factor 4 is included.
    """
    return FLOOR_FACTOR * scaled_norms(slope * gap)


def residual_check(Q: np.ndarray, z: np.ndarray, x: np.ndarray, tol: float, floor: float = 0.0):
    """The dual gradient ``Q^T x - z`` and whether
    ``||Q^T x - z|| <= max(tol * max(||z||, ||x||), floor)`` (``floor``: see `rounding_floor`)."""
    grad = Q.T @ x - z
    return grad, bool(residual_test(grad, x, z, tol, floor))


def residual_test(grad, x, z, tol, floor=0.0):
    """``||grad|| <= max(tol * max(||z||, ||x||), floor)`` over the last axis (one problem or a stack),
    with `scaled_norms` (a square that overflows would make the test pass for any point)."""
    scale = np.maximum(scaled_norms(z), scaled_norms(x))
    return scaled_norms(grad) <= np.maximum(tol * scale, floor)


def scaled_norms(v: np.ndarray) -> np.ndarray:
    """``||v||_2`` over the last axis as ``m ||v / m||``, ``m = max |v|``: squares neither under- nor overflow.

    >>> bool(np.allclose(scaled_norms(np.array([[3e200, 4e200], [0.0, 0.0]])), [5e200, 0.0]))
    True
    """
    if v.ndim == 1 and v.dtype == np.float64:
        # np.linalg.norm's own formula for a vector, sqrt(v . v), without its per-call overhead
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            plain = np.sqrt(v @ v)
        if 1e-140 < plain < 1e140:
            return plain
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        plain = np.linalg.norm(v, axis=-1)
    if np.all((plain > 1e-140) & (plain < 1e140)):  # no square under- or overflowed: the plain norm is exact
        return plain
    m = np.max(np.abs(v), axis=-1, keepdims=True, initial=0.0)
    ok = (m > 0) & np.isfinite(m)
    unit = np.where(ok, m, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):  # rows with an inf or nan entry: their m, not this
        scaled = unit[..., 0] * np.linalg.norm(v / unit, axis=-1)
    return np.where(ok[..., 0], scaled, m[..., 0])


# the lean path imports this module's rules and constants: imported once they are defined
from .lean import lean_kernel, lean_newton, lean_polish  # noqa: E402
