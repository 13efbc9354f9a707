"""`flow_trajectory`: the gradient flow of a network in time, by its m-dimensional dual ODE.

Every network of docs/theory.md section 2 trains as a mirror flow ``x(t) = X(A^T lam(t))`` with

    lam' = y - A X(A^T lam),        lam(0) = 0          (docs/theory.md section 3),

so the 2N- (or LN-) dimensional flow of the weights is an m-dimensional ODE. dlnlab
integrates it in the map's own dual units and a rescaled time,

    w = d lam,   T = d t,   dw/dT = y - A X(A^T w),   Jacobian  -A diag(X'(z)) A^T,

with ``d = net.dual_scale`` (``z = A^T w`` is the map's coordinate, ``|z| ~ 1`` in the l1
regime). ``T`` is the natural clock of the small-scale regime: the flow reaches the
l1 regime at ``T ~ 1`` for every depth (docs/theory.md section 6), whatever the scale.

Accuracy. The integrator controls the error of ``w``: ``rtol`` relative, and ``atol`` relative
to ``S = min(1, max |w|)``, the size the dual reaches (its absolute tolerance is ``atol S``).
``S`` is that of the flow linearized at ``w = 0`` (exact in the kernel regime, data tiny
against the initialization, where ``|z| ~ ||y|| / X'(0)`` can be 1e-100: an absolute 1e-13
would accept anything), lowered to the size the run actually reached if that stayed below a
tenth of it; ``S = 1`` in the rich regime, so there ``atol`` is absolute as before (``S`` is
also at least the change of ``w`` that moves ``x`` by its own size, where ``x`` stays near a
nonzero ``x(0)``); a dual below `TINIEST_DUAL` = 1e-280 is "imprecise". ``x`` is
evaluated from ``z`` itself, not from the maps' ``gap = 1 - |z|``, which keeps only ``eps``
of ``z`` absolute (maps without such a form add that rounding to the condition). An
error ``dz`` moves ``x_i`` by ``X'(z_i) dz``. `Trajectory.condition` is the largest
``X'(z_i) (|A|^T |w|)_i / ||x||_inf`` met at the output times: ``x`` is accurate to about
``rtol * condition`` relative, and float64 rounding of the dual alone costs
``eps * condition``. That is only the order of magnitude (it was 2-29x optimistic), so
`Trajectory.accuracy` is measured a posteriori: ``x`` comes from a run at ``rtol / 100``, the
same grid is integrated again at ``rtol``, and twice the largest relative distance of the two,
at least ``rtol * condition``, plus ``eps * condition`` is reported. The run at ``rtol`` is the
less accurate one, so this bounds the error of ``x`` from above (about 3x the cost of one run
at ``rtol``). For depth 2 the condition is ``~log(1/scale)`` (harmless); for
p > 2 it grows like ``k / gap`` near the barrier ``|z| < 1``, so tiny scales at p > 2 are
out of float64 reach for trajectories (the limit itself, `flow_limit`, is not affected):
the result then says ``status = "imprecise"``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import LSODA, Radau, ode

from ..engine import solve_psd, weighted_gram
from .classification import check_loss, classification_trajectory
from .dual import dual_primal
from .homogeneity import normalized_trajectory
from ..engine.steps import scaled_norms
from ..errors import ConvergenceError, NetworkError, OptionError, TimeGridError
from ..networks.base import Network
from ..problems import Problem, as_problem, real_array
from ..results import Result, check_tolerance

_EPS = float(np.finfo(float).eps)
#: Stand-in for x outside the map's domain (see `flow_trajectory`'s right-hand side).
_HUGE = 1e150

#: Largest relative error of x that float64 rounding of the dual may cause before a
#: trajectory is flagged "imprecise" (half of float64's digits).
MAX_ROUNDING = 1e-8

#: Tightest rtol the integration is run at (scipy's floor is 100 eps ~ 2.2e-14).
_TIGHTEST = 1e-13

#: Integrators of scipy that accept an analytic Jacobian and suit this stiff ODE.
METHODS = ("LSODA", "Radau")


@dataclass(frozen=True)
class Trajectory(Result):
    """``x(t)`` and the loss along the gradient flow, with the integrator's evidence.

    Attributes: ``t`` (requested times), ``x`` (shape ``(len(t), N)``), ``loss``
    (``1/2 ||A x(t) - y||^2``), ``dual`` (``lam(t)``, shape ``(len(t), m)``, the units of docs/theory.md
    ``s = A^T lam``), ``residual`` (``||A x - y|| / ||y||`` at each time), ``iterations`` (integrator steps), ``nfev``, ``njev``,
    ``nlu`` (right-hand sides, Jacobians, LU factorizations), ``condition`` (see the module
    docstring), ``accuracy`` (an a-posteriori bound of ``max_k ||x(t_k) - x_true(t_k)||_inf /
    ||x(t_k)||_inf``: twice the distance of ``x`` (a run at rtol/100) to a run at rtol, at least rtol * condition; see the module docstring; ``inf`` unless
    converged), ``status`` (``"converged"``: integrated to the tolerance at every output time; ``"imprecise"``
    or ``"failed"``), ``method`` (the
    integrator(s) used: ``"LSODA"``, ``"Radau"`` or ``"LSODA+Radau"``) and ``message``.
    """

    t: np.ndarray
    x: np.ndarray
    loss: np.ndarray
    dual: np.ndarray
    residual: np.ndarray
    iterations: int
    nfev: int
    njev: int
    nlu: int
    condition: float
    accuracy: float
    status: str
    method: str
    rtol: float
    atol: float
    network: object = field(repr=False)
    message: str = ""

    @property
    def final(self) -> np.ndarray:
        """``x`` at the last requested time."""
        return self.x[-1]



def check_times(times) -> np.ndarray:
    """Validate output times: a non-empty 1-D array of finite, non-negative, sorted numbers."""
    t = real_array(times, "times", TimeGridError)
    if t.ndim == 0:
        t = t.reshape(1)
    if t.ndim != 1 or t.size == 0:
        raise TimeGridError(f"times must be a non-empty 1-D sequence; got shape {t.shape}.")
    if not np.all(np.isfinite(t)):
        raise TimeGridError("times contain NaN or inf; pass finite times (use a large finite time for the limit, "
                            "or dl.flow_limit for t = infinity).")
    if np.any(t < 0):
        raise TimeGridError(f"times must be >= 0 (the flow starts at t = 0); got min {t.min():g}.")
    if np.any(np.diff(t) < 0):
        raise TimeGridError("times must be sorted in increasing order; pass np.sort(times).")
    return t


def flow_trajectory(A, y=None, net=None, times=None, *, rtol: float = 1e-10, atol: float = 1e-13,
                    method: str = "LSODA", max_steps: int = 100_000, throw: bool = True, loss: str = "square"):
    """``x(t)`` of gradient flow of ``net`` on ``1/2 ||A x - y||^2`` at ``times`` (docs/theory.md section 3).

    With ``loss="exponential"`` or ``"logistic"``, ``y`` are labels in {-1, +1} and the loss is
    ``sum_i l(y_i a_i^T x)``: the result is a `ClassificationTrajectory` (direction, margins,
    log-loss; times up to 1e300, losses down to 1e-300; `dlnlab.dynamics.classification`).

    Parameters
    ----------
    A, y
        the data, or a `Problem` as ``A`` (then ``y`` is omitted and ``net`` follows it).
    net
        a network with ``mirror_map()`` (`SymmetricDLN`, `TwoLayerDLN`, `LayeredDLN`, ...).
    times
        sorted non-negative output times (the flow's own clock ``t``).
    rtol, atol
        tolerances of the integrator on the scaled dual ``w = dual_scale * lam``: ``rtol``
        relative, ``atol`` relative to ``S = min(1, size of w along the flow)`` (absolute
        tolerance ``atol * S``; ``S = 1``, ``atol`` absolute, in the rich regime; ``S << 1`` in
        the kernel regime, see the module docstring); ``x`` is integrated at ``rtol / 100``
        and checked against a run at ``rtol`` (``accuracy``), ``0 < rtol < 1``.
    method
        ``"LSODA"`` (default: Adams while the flow is non-stiff, BDF once it is),
        or ``"Radau"``; both use the analytic Jacobian.
    max_steps
        step budget of the integrator over all outputs (status "max_iter" beyond it).
    throw
        raise `ConvergenceError` if the integration fails or is imprecise (default);
        else return with ``status`` saying so.

    Examples
    --------
    >>> import dlnlab as dl
    >>> P = dl.line_problem()
    >>> tr = dl.flow_trajectory(P, dl.SymmetricDLN(depth=2, scale=1e-2), [0.0, 1.0, 1e6])
    >>> float(tr.loss[0]), bool(tr.loss[1] < tr.loss[0]), bool(tr.residual[-1] < 1e-9)
    (9.0, True, True)
    """
    if isinstance(A, Problem):
        if times is None:
            net, times, y = y, net, None
    if not isinstance(net, Network):
        raise NetworkError("flow_trajectory(A, y, net, times) needs a network such as dl.SymmetricDLN(depth=2, "
                           f"scale=1e-3) and the output times; got {type(net).__name__} as the network.")
    if times is None:
        raise TimeGridError("flow_trajectory(A, y, net, times): the output times are missing.")
    check_loss(loss)
    if loss != "square":
        if isinstance(A, Problem):
            A, y = A.A, A.y
        return classification_trajectory(A, y, net, check_times(times), loss=loss, rtol=rtol,
                                         atol=atol, method=method,
                                         max_steps=max_steps, throw=throw)
    problem = as_problem(A, y)
    t = check_times(times)
    if method not in METHODS:
        raise OptionError(f"method must be one of {METHODS}; got {method!r}.")
    rtol = check_tolerance(rtol, "rtol", "flow_trajectory")
    if not (atol > 0 and np.isfinite(atol)):
        raise OptionError(f"flow_trajectory needs atol > 0 (finite); got atol={atol!r}.")
    rescaled = normalized_trajectory(problem, net, t, lambda P, n, tc: flow_trajectory(
        P, n, tc, rtol=rtol, atol=atol, method=method, max_steps=max_steps, throw=False), scaled_norms)
    if rescaled is not None:  # data far from size 1: exact homogeneity (dlnlab.dynamics.homogeneity)
        if throw and rescaled.status != "converged":
            raise ConvergenceError(f"flow_trajectory: {rescaled.message} Pass throw=False to inspect the result.",
                                   rescaled)
        return rescaled
    A_, y_ = problem.A, problem.y
    mapping = net.mirror_map()
    d = float(net.dual_scale)

    def primal(w):
        return dual_primal(mapping, A_, w)

    calls = [0, 0]
    field = _fast_field(mapping, A_, y_)
    maps = _fast_maps(mapping)
    AT = np.ascontiguousarray(A_.T)
    absAT = np.abs(AT)

    def rhs(_, w):
        calls[0] += 1
        if field is not None:
            f = field(w)
            if f is not None:
                return f
        x, sign, _ = primal(w)
        if x is None:
            x = sign * _HUGE
        elif not np.all(np.isfinite(x)):
            x = np.clip(np.nan_to_num(x, nan=0.0, posinf=_HUGE, neginf=-_HUGE), -_HUGE, _HUGE)
        # Beyond the barrier or float range x is "infinite": a huge finite value makes the
        # trial step's error estimate huge, so the integrator rejects it and shrinks the step
        # (the exact flow never gets there; accepted steps never see the clipped values).
        return y_ - A_ @ x

    def slope_at(w):
        """``X'(A^T w)``, clipped to [0, _HUGE] (NaN as _HUGE) outside the map's domain or float range."""
        if maps is not None:
            slope = maps[1](AT @ w)
            if slope is not None:
                return slope
        _, sign, gap = primal(w)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            slope = mapping.slope(sign, np.maximum(gap, 1e-300) if mapping.barrier else gap)
        return np.clip(np.nan_to_num(slope, nan=_HUGE, posinf=_HUGE), 0.0, _HUGE)

    def jac(_, w):
        calls[1] += 1
        slope = slope_at(w)
        keep = slope > 1e-22 * slope.max()  # smaller terms change J by < 1e-22 relative each
        if keep.all():
            return -weighted_gram(AT, slope)
        return -weighted_gram(AT[keep], slope[keep])

    def condition_at(w, x, sign, gap, output=False, from_gap=False):
        """``max_i X'(z_i) (|A|^T |w|)_i / ||x||_inf``: relative sensitivity of x to the dual.

        ``output``: an output's ``x`` is exactly 0 while the dual moved it: ``inf``.
        ``from_gap``: ``x`` came from the map's ``primal(sign, gap)``, whose ``gap = 1 - |z|``
        keeps only ``eps |gap|`` of ``z != 0`` absolute: ``X'(z_i) |gap_i|`` is added (``~1 / |z|``
        in the kernel regime, ``|z| << 1``, and ``x = 0`` for ``|z| < eps / 4``)."""
        size = float(np.max(np.abs(x))) if x.size else 0.0
        if size == 0 and not output:
            return 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            slope = mapping.slope(sign, gap)
            reach = absAT @ np.abs(w)
            if from_gap:
                reach += np.where(AT @ w != 0.0, np.abs(gap), 0.0)
            top = float(np.max(slope * reach, initial=0.0))
        if size == 0:
            return 0.0 if top == 0.0 else np.inf
        return top / size

    frob2 = float(np.sum(A_ * A_))

    def curvature(w):
        """An upper bound of ``||A diag X'(z) A^T||``: ``max X' ||A||_F^2``."""
        top = float(np.maximum.reduce(slope_at(w), initial=0.0))
        return top * frob2 if top < _HUGE else np.inf

    seen = [0.0]

    def monitor(w):
        """Stop early once float64 cannot represent the trajectory (see the module docstring)."""
        if maps is not None and w.size:
            z = AT @ w
            x, slope = maps[0](z), maps[1](z)
            if x is not None and slope is not None:
                size = float(np.maximum.reduce(np.abs(x)))
                if size > 0.0 and size < np.inf:
                    seen[0] = max(seen[0], float(np.maximum.reduce(slope * (absAT @ np.abs(w)))) / size)
                    if _EPS * seen[0] > MAX_ROUNDING:
                        return "imprecise", _imprecise_message(seen[0])
                    return None
        x, sign, gap = primal(w)
        if x is not None and np.all(np.isfinite(x)):
            seen[0] = max(seen[0], condition_at(w, x, sign, gap))
            if _EPS * seen[0] > MAX_ROUNDING:
                return "imprecise", _imprecise_message(seen[0])
        return None

    T = d * t

    def solve(rtol, atol):
        """States, primal points and the integrator's report at tolerances (rtol, atol)."""
        with np.errstate(over="ignore", invalid="ignore"):  # trial stages beyond the domain (see rhs)
            try:
                W, nlu, steps, used, status, message = _integrate(rhs, jac, T, np.zeros(problem.m), method, rtol,
                                                                  atol, monitor, max_steps, curvature)
            except ValueError as err:  # scipy's finiteness checks: the flow left float64 range
                W, nlu, steps, used = np.full((T.size, problem.m), np.nan), 0, 0, method
                status, message = "failed", (
                    f"the integrator met non-finite values ({err}); the data (||y||_inf = "
                    f"{float(np.max(np.abs(y_))):.1e}) or the scale are too far from size 1 for a float64 "
                    "trajectory: rescale y and the scale together (x scales with them; dl.flow_limit takes any size).")
        X = np.full((T.size, problem.N), np.nan)
        cond = 0.0
        for k, w in enumerate(W):
            if not np.all(np.isfinite(w)):
                continue
            z = AT @ w
            x = maps[0](z) if maps is not None else None  # from z itself (the kernel regime's tiny z)
            from_gap = x is None
            if from_gap:
                x, sign, gap = primal(w)
                if x is None:
                    continue
            else:
                sign, gap = np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z)
            X[k] = x
            cond = max(cond, condition_at(w, x, sign, gap, output=True, from_gap=from_gap))
        return W, X, nlu, steps, used, status, message, cond

    # atol is relative to the size S the dual reaches (capped at 1): the kernel regime's dual is tiny
    # (|z| ~ ||y|| / X'(0)), and an absolute 1e-13 would let the integrator accept anything there.
    # A-priori from the flow linearized at w = 0 (exact in the kernel regime), then a-posteriori
    # from the run's own states, if they stayed well below it (`_kernel_size`).
    size, gain = _kernel_size(mapping, A_, y_, AT, float(T[-1]))
    reach = _tolerance_size(size)
    # x from a run 100x tighter than rtol; its a-posteriori error bound from the distance to the run
    # at rtol (whose error is the larger one), with a 2x margin (see the module docstring)
    inner = max(0.01 * rtol, _TIGHTEST)
    W, X, nlu, steps, used, status, message, cond = solve(inner, inner / rtol * atol * reach)
    if status == "converged" and size > 0.0:
        reached = _reached_size(W, X, gain)
        if 0.0 < reached < 0.1 * reach and reach > TINIEST_DUAL:
            calls[:] = [0, 0]
            size, reach = reached, _tolerance_size(reached)
            W, X, nlu, steps, used, status, message, cond = solve(inner, inner / rtol * atol * reach)
    if status == "converged" and 0.0 < size < TINIEST_DUAL:
        status, message = "imprecise", (
            f"the flow's dual stays at ~{size:.1e} < {TINIEST_DUAL:g} (data of size {float(np.max(np.abs(y_))):.1e} "
            "far below the initialization's kernel scale): its absolute tolerance would leave float64's "
            "normal range; dl.flow_limit takes any size.")
    nfev, njev = calls
    condition = max(seen[0], cond)
    accuracy = np.inf
    if status == "converged":
        outer = rtol if inner < rtol else min(10.0 * rtol, 0.5)
        other = solve(outer, (atol if inner < rtol else 10.0 * atol) * reach)
        if other[5] == "converged":
            with np.errstate(over="ignore", invalid="ignore"):
                size = np.max(np.abs(X), axis=1)
                diff = np.max(np.abs(X - other[1]), axis=1) / np.where(size > 0, size, 1.0)
            # and never below the a-priori rtol * condition of the run at rtol (tolerance
            # proportionality of LSODA is loose: a 100x tighter run can be only ~10x better)
            accuracy = max(2.0 * float(np.max(diff)), rtol * condition) + _EPS * condition
    with np.errstate(over="ignore", invalid="ignore"):
        r = X @ A_.T - y_
        rnorm = scaled_norms(r)
        squares = np.sum(r * r, axis=1)
        loss = np.where((squares > 1e-280) & (squares < 1e280), 0.5 * squares, 0.5 * rnorm * rnorm)
    ynorm = problem.y_norm
    residual = rnorm / (ynorm if ynorm > 0 else 1.0)
    if status == "converged" and not np.all(np.isfinite(X)):
        status, message = "failed", "x(t) left the floating-point range (overflow) at some output time."
    if status == "converged" and _EPS * condition > MAX_ROUNDING:
        status, message = "imprecise", _imprecise_message(condition)
    traj = Trajectory(t=t, x=X, loss=loss, dual=W / d, residual=residual, iterations=steps, nfev=nfev, njev=njev,
                      nlu=nlu, condition=condition, accuracy=accuracy, status=status, method=used,
                      rtol=rtol, atol=atol, network=net, message=message)
    if throw and status != "converged":
        raise ConvergenceError(f"flow_trajectory: {message} Pass throw=False to inspect the result.", traj)
    return traj


#: Depth-2 maps with ``c = log(1/a)`` up to this (scales down to ~1e-22) evaluate ``2 a sinh(c z)``.
SINH_MAX_C = 50.0


def _fast_primal(mapping):
    """``z -> X(z)`` for the symmetric networks' maps (and `TwoLayerMap`, `_two_layer_maps`), the
    same values as their ``primal`` without its per-call checks (None where that path does not
    apply: another map, a scale whose powers leave the float range, ``z`` outside a barrier's
    domain); None for other maps.

    The right-hand side runs it thousands of times on small problems, where the checks cost
    more than the arithmetic. Depth 2 with ``c <= SINH_MAX_C`` is ``2 a sinh(c z)`` itself: its
    rounding, ``c eps`` relative, is that of ``z = A^T w`` already; at larger ``c`` the log-domain
    form keeps the support entries' precision. Both, and depth p > 2 as
    ``a gap^-k (-expm1(-2k atanh|z|))``, take ``z`` itself, not ``gap = 1 - |z|``: in the kernel
    regime (``|z| << 1``, even below ``eps``) ``x`` keeps its relative precision, where the map's
    ``primal(sign, gap)`` keeps only ``eps`` of ``z`` absolute (and ``x = 0`` for ``|z| < eps / 4``).
    """
    from ..networks.symmetric import HyperbolicMap, PowerBarrierMap

    if type(mapping) is HyperbolicMap:
        c, shift = float(mapping.c), float(mapping.log_a + mapping.c)
        if c <= SINH_MAX_C:
            two_a = 2.0 * math.exp(float(mapping.log_a))

            def sinh(z):
                x = np.sinh(c * z)
                x *= two_a
                return x

            return sinh

        def hyperbolic(z):
            absz = np.abs(z)
            x = np.exp(shift - c * (1.0 - absz)) * -np.expm1(-2.0 * c * absz)  # |z| itself: tiny z keep their digits
            return np.copysign(x, np.where(z < 0, -1.0, 1.0))

        return hyperbolic
    if type(mapping) is PowerBarrierMap and mapping._a > 1e-290:
        a, k = float(mapping._a), float(mapping.k)

        def power(z):  # a gap^-k (1 - ((1-|z|)/(1+|z|))^k) = a gap^-k (-expm1(-2k atanh|z|)): no cancellation
            absz = np.abs(z)
            gap = 1.0 - absz
            if not gap.min(initial=1.0) > 0.0:
                return None
            near = np.power(gap, -k)
            near *= a
            if not near.max(initial=0.0) < np.inf:
                return None  # the map's own log-domain powers
            near *= -np.expm1(-2.0 * k * np.arctanh(absz))
            return np.copysign(near, z)

        return power
    return _two_layer_maps(mapping)[0]


def _two_layer_maps(mapping):
    """``(X, X')`` of z for `TwoLayerMap` (`TwoLayerDLN`, `AzulayDLN`), or ``(None, None)``.

    ``X(z) = P e^{cz} - M e^{-cz} = 2 sqrt(PM) sinh(cz + h)``, ``h = log(P/M) / 2``, evaluated as
    ``sign(u) e^{m + |u|} (-expm1(-2|u|))`` (``u = cz + h``, ``m = log(PM) / 2``): no overflow, and
    no cancellation at ``P = M`` (the balanced start ``x0 = 0``), where the map's ``primal(sign, gap)``
    keeps only ``eps`` of ``z`` absolute; one-signed coordinates (``P`` or ``M`` zero) are
    ``P e^{cz}`` or ``-M e^{-cz}``. Each returns None where a value is not finite (the checked path
    takes over); both are None where ``sqrt(PM)`` is not a normal float.
    """
    from ..networks.twolayer import TwoLayerMap

    if type(mapping) is not TwoLayerMap:
        return None, None
    lp, lm = np.asarray(mapping.log_p, dtype=float), np.asarray(mapping.log_m, dtype=float)
    c = float(mapping.c)
    if lp.shape != lm.shape or lp.ndim != 1 or np.any(np.isnan(lp)) or np.any(np.isnan(lm)) \
            or np.any((lp == np.inf) | (lm == np.inf)):
        return None, None
    both = np.isfinite(lp) & np.isfinite(lm)
    mid = np.where(both, 0.5 * (np.where(both, lp, 0.0) + np.where(both, lm, 0.0)), 0.0)
    if np.any(both & (mid < -660.0)):  # sqrt(PM) below 1e-287
        return None, None
    half = np.where(both, 0.5 * (np.where(both, lp, 0.0) - np.where(both, lm, 0.0)), 0.0)
    plus_only = ~both & np.isfinite(lp)
    minus_only = ~both & ~plus_only
    one_sided = bool(np.any(~both))
    log_one = np.where(plus_only, np.where(plus_only, lp, 0.0),
                       np.where(minus_only, np.where(minus_only, lm, 0.0), 0.0))
    side = np.where(minus_only, -1.0, 1.0)

    def primal(z):
        u = c * z
        u += half
        au = np.abs(u)
        with np.errstate(over="ignore"):
            x = np.exp(mid + au)
            x *= -np.expm1(-2.0 * au)
            x = np.copysign(x, u)
            if one_sided:
                x = np.where(both, x, side * np.exp(log_one + side * c * z))
        return x if np.maximum.reduce(np.abs(x), initial=0.0) < np.inf else None

    def slope(z):  # X' = c (P e^{cz} + M e^{-cz}) = c e^{m + |u|} (1 + e^{-2|u|})
        u = c * z
        u += half
        au = np.abs(u)
        with np.errstate(over="ignore"):
            out = np.exp(mid + au)
            out *= c * (1.0 + np.exp(-2.0 * au))
            if one_sided:
                out = np.where(both, out, c * np.exp(log_one + side * c * z))
        return out if np.maximum.reduce(out, initial=0.0) < np.inf else None

    return primal, slope


#: The depth > 2 right-hand side forms ``a [(1 - z)^-k - (1 + z)^-k]`` directly only once some
#: ``|z_i| >= CANCEL_Z``: its cancellation costs ``~eps / (k max|z|)`` of ``||x||_inf`` (<= 1e-14 / k);
#: below, `_fast_primal`'s cancellation-free form (the kernel regime, where all of ``z`` is tiny).
CANCEL_Z = 1e-2

#: Integer exponents ``k`` up to this use reciprocals and products instead of ``np.power``.
INTEGER_K_MAX = 8


def _integer_power(u, k):
    """``u**k`` for an integer ``k >= 1`` by repeated squaring; overwrites ``u`` (a temporary)."""
    out = None
    base = u
    while True:
        if k & 1:
            if out is None:  # base may be squared in place later unless it is u (then a new array) or this is the last bit
                out = base if (base is u or k == 1) else base.copy()
            else:
                np.multiply(out, base, out=out)
        k >>= 1
        if not k:
            return out
        base = base * base if base is u else np.multiply(base, base, out=base)


def _fast_maps(mapping):
    """``(X, X')`` as functions of ``z`` for the symmetric networks' maps and `TwoLayerMap`, without
    the per-call checks of ``primal``/``slope`` (each returns None where `_fast_primal`'s path does
    not apply); None for other maps. ``X`` here may differ from `_fast_primal` in rounding only
    (a few ulp)."""
    from ..networks.symmetric import HyperbolicMap, PowerBarrierMap

    primal = _fast_primal(mapping)
    if primal is None:
        return None
    if type(mapping) not in (HyperbolicMap, PowerBarrierMap):
        return _two_layer_maps(mapping)
    if type(mapping) is HyperbolicMap:
        c, shift = float(mapping.c), float(mapping.log_a + mapping.c)

        if c <= SINH_MAX_C:
            two_ac = 2.0 * math.exp(float(mapping.log_a)) * c

            def slope(z):  # X' = 2 a c cosh(c z)
                out = np.cosh(c * z)
                out *= two_ac
                return out if np.maximum.reduce(out, initial=0.0) < np.inf else None
        else:
            def slope(z):  # X' = c a e^{c|z|} (1 + e^{-2c|z|}), in log domain as the map's own
                absz = np.abs(z)
                out = np.exp(shift - c * (1.0 - absz)) * (c * (1.0 + np.exp(-2.0 * c * absz)))
                return out if np.maximum.reduce(out, initial=0.0) < np.inf else None

        return primal, slope
    a, k = float(mapping._a), float(mapping.k)
    if k == round(k) and 1 <= k <= INTEGER_K_MAX:
        n = int(k) + 1

        def slope(z):  # X' = k a [(1 - z)^{-k-1} + (1 + z)^{-k-1}]
            u, v = 1.0 - z, 1.0 + z
            if not (np.minimum.reduce(u, initial=1.0) > 0.0 and np.minimum.reduce(v, initial=1.0) > 0.0):
                return None
            out = _integer_power(np.reciprocal(u, out=u), n)
            out += _integer_power(np.reciprocal(v, out=v), n)
            out *= k * a
            return out if np.maximum.reduce(out, initial=0.0) < np.inf else None
    else:
        def slope(z):
            absz = np.abs(z)
            gap = 1.0 - absz
            if not gap.min(initial=1.0) > 0.0:
                return None
            out = np.power(gap, -(k + 1.0))
            out += np.power(1.0 + absz, -(k + 1.0))
            out *= k * a
            return out if np.maximum.reduce(out, initial=0.0) < np.inf else None

    return primal, slope


def _fast_field(mapping, A, y):
    """``w -> y - A X(A^T w)`` with the map's constant factors folded into the two matrices (the
    right-hand side is called thousands of times on small problems, where each numpy call's
    overhead counts more than its arithmetic); the result is None where the fast maps do not
    apply (see `_fast_primal`) or it is not finite, and the caller takes the checked path.

    Depth 2 (``c <= SINH_MAX_C``): ``X(z) = 2a sinh(c z)``, so ``y - (2a A) sinh((c A^T) w)``;
    depth p > 2 with integer ``k``: ``X(z) = a [(1 - z)^{-k} - (1 + z)^{-k}]`` from reciprocals
    and products (a few ulp, as ``np.power``; the rounding of ``z`` itself, ``gap^{-1}``-amplified,
    is the larger error; while every ``|z_i| < CANCEL_Z``, `_fast_primal`'s form instead);
    otherwise `_fast_primal` with ``A``.
    """
    from ..networks.symmetric import HyperbolicMap, PowerBarrierMap

    fast = _fast_primal(mapping)
    if fast is None:
        return None
    AT = np.ascontiguousarray(A.T)
    add = np.add.reduce
    if type(mapping) is HyperbolicMap and float(mapping.c) <= SINH_MAX_C:
        cAT = float(mapping.c) * AT
        twoaA = (2.0 * math.exp(float(mapping.log_a))) * A

        def field(w):
            r = twoaA @ np.sinh(cAT @ w)
            return np.subtract(y, r, out=r) if math.isfinite(add(r)) else None

        return field
    if type(mapping) is PowerBarrierMap and float(mapping.k) == round(float(mapping.k)) \
            and 1 <= mapping.k <= INTEGER_K_MAX and mapping._a >= 1e-200:
        k = int(mapping.k)
        aA = float(mapping._a) * A  # a >= 1e-200: a A keeps the entries of data of size ~1 normal
        low = np.minimum.reduce

        def field(w):
            z = AT @ w
            u, v = 1.0 - z, 1.0 + z
            closest = min(low(u, initial=1.0), low(v, initial=1.0))  # 1 - max |z|
            if not closest > 0.0:
                return None
            if closest > 1.0 - CANCEL_Z:  # near - far would cancel
                x = fast(z)
                if x is None:
                    return None
                r = A @ x
                return np.subtract(y, r, out=r) if math.isfinite(add(r)) else None
            near = _integer_power(np.reciprocal(u, out=u), k)
            near -= _integer_power(np.reciprocal(v, out=v), k)
            r = aA @ near
            return np.subtract(y, r, out=r) if math.isfinite(add(r)) else None

        return field

    def field(w):
        x = fast(AT @ w)
        if x is None:
            return None
        r = A @ x
        return np.subtract(y, r, out=r) if math.isfinite(add(r)) else None

    return field


#: Smallest dual size ``S`` the absolute tolerance follows; below it, "imprecise".
TINIEST_DUAL = 1e-280


def _tolerance_size(size):
    """``S`` of the absolute tolerance ``atol S``: ``min(1, size)``; 1 where nothing moves (``size = 0``)."""
    return 1.0 if size == 0.0 else max(min(1.0, size), TINIEST_DUAL)


def _kernel_size(mapping, A, y, AT, T):
    """``(size, gain)``: the size of the dual that ``atol`` is relative to, from the flow
    linearized at ``w = 0`` (``w' = r0 - K w``, ``K = A diag X'(0) A^T``, ``r0 = y - A X(0)``, so
    ``w_lin(T) = f(K) r0`` with ``f(l) = (1 - e^{-l T}) / l``, ``T`` at 0), and
    ``gain = max_i X'(0)_i ||A e_i||_1`` (``||dx||_inf <= gain ||dw||_inf`` near 0).

    ``size = max(||w_lin(T)||_inf, ||x_lin(T)||_inf / gain)``, ``x_lin = X(0) + X'(0) A^T w_lin``:
    ``w`` to ``atol`` relative, or ``x`` to ``atol`` relative, whichever asks less (the second
    where ``x`` stays near a nonzero ``x(0)``). Exact in the kernel regime (``x`` linear in
    ``z`` along the flow); in the rich regime it is huge (``X'(0)`` tiny) and the caller caps it
    at 1: ``inf`` without an ``m x m`` eigendecomposition when ``f(l_max) ||r0|| / sqrt(m) >= 1``
    (``l_max <= trace K``, ``f(l) >= (1 - 1/e) min(T, 1/l)``), or where ``X(0)``, ``X'(0)`` are
    not finite. ``size = 0`` where nothing moves (``r0 = 0`` and ``X(0) = 0``, or ``T = 0``);
    ``5e-324`` where it moves but the size underflows.
    """
    m, N = A.shape
    if not (T > 0.0 and m):
        return 0.0, np.inf
    ones = np.ones(N)
    with np.errstate(all="ignore"):
        x0, slope0 = mapping.primal(ones, ones), mapping.slope(ones, ones)  # z = 0: sign 1, gap 1 (exact)
        r0 = y - A @ x0
        if not (np.all(np.isfinite(r0)) and np.all(np.isfinite(slope0)) and np.all(np.isfinite(x0))):
            return np.inf, np.inf
        gain = float(np.max(slope0 * np.abs(A).sum(axis=0)))
        start = float(np.max(np.abs(x0))) / gain if gain > 0.0 else np.inf
        norm = float(np.linalg.norm(r0))
        if norm == 0.0:
            return start, gain
        trace = float(slope0 @ np.einsum("ij,ij->j", A, A))
        if 0.632 * min(T, 1.0 / trace if trace > 0 else np.inf) * norm >= math.sqrt(m):
            return np.inf, gain
        lam, Q = np.linalg.eigh(weighted_gram(AT, slope0))
        lam = np.maximum(lam, 0.0)
        f = np.where(lam > 0, -np.expm1(-lam * T) / np.where(lam > 0, lam, 1.0), T)
        w = Q @ (f * (Q.T @ r0))
        x = x0 + slope0 * (AT @ w)
        size = max(float(np.max(np.abs(w))), float(np.max(np.abs(x))) / gain if gain > 0.0 else np.inf)
    if not math.isfinite(size):
        return np.inf, gain
    return max(size, 5e-324), gain


def _reached_size(W, X, gain):
    """`_kernel_size`'s measure on a run's outputs: ``max(max_k ||w_k||_inf, max_k ||x_k||_inf / gain)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        top_w = float(np.max(np.abs(W), initial=0.0, where=np.isfinite(W)))
        top_x = float(np.max(np.abs(X), initial=0.0, where=np.isfinite(X)))
        return max(top_w, top_x / gain if gain > 0.0 else np.inf)


def _imprecise_message(condition):
    return (f"float64 rounding of the dual alone moves x by ~{_EPS * condition:.1e} relative "
            f"(condition {condition:.2e}) > {MAX_ROUNDING:g}: the scale is too small for a "
            "float64 trajectory at this depth; use a larger scale (the limit itself is "
            "available at any scale from dl.flow_limit).")


_SOLVERS = {"Radau": Radau, "LSODA": LSODA}
#: LSODA steps allowed on one output segment before Radau takes over (see `_integrate`).
LSODA_SEGMENT_STEPS = 5000


#: LSODA steps of one call into ODEPACK between two checks of the monitor and the rest test.
LSODA_CHUNK = 16


def _integrate(rhs, jac, T, w0, method, rtol, atol, monitor, max_steps, curvature):
    """`_integrate_steps`, with LSODA run by `_lsoda_chunks` (ODEPACK's own loop, chunks of
    `LSODA_CHUNK` steps) where this scipy's wrapper exposes its work arrays."""
    if method == "LSODA" and T.size and T[-1] > 0.0:
        done = _lsoda_chunks(rhs, jac, T, w0, rtol, atol, monitor, max_steps, curvature)
        if done is not None:
            return done
    return _integrate_steps(rhs, jac, T, w0, method, rtol, atol, monitor, max_steps, curvature)


def _lsoda_chunks(rhs, jac, T, w0, rtol, atol, monitor, max_steps, curvature):
    """`_lsoda_chunks_loop` with scipy's LSODA warnings silenced: "Excess work done" marks the end of
    each chunk, and a failed call ("Repeated convergence failures", ...) is continued by Radau
    from the last state, with the method reported as ``"LSODA+Radau"``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Excess work done", category=UserWarning)
        warnings.filterwarnings("ignore", message="lsoda: ", category=UserWarning)
        return _lsoda_chunks_loop(rhs, jac, T, w0, rtol, atol, monitor, max_steps, curvature)


def _lsoda_chunks_loop(rhs, jac, T, w0, rtol, atol, monitor, max_steps, curvature):
    """LSODA from 0 to each ``T[k]`` in turn, each output a step end, in calls of at most
    `LSODA_CHUNK` steps into ODEPACK; the same rules as `_integrate_steps` (monitor and rest
    test between calls, `LSODA_SEGMENT_STEPS`, ``max_steps``, Radau from the last state when
    LSODA fails or thrashes) without a Python call per step.

    ODEPACK's ``itask = 4`` integrates to ``tout`` without passing ``tcrit = rwork[0]``; with
    ``tcrit = tout = T[k]`` every output is the end of a step, and moving ``tcrit`` on continues
    the run with its step size and order (as `_continued`). Returns None (the caller steps
    instead) when the wrapper keeps its arrays elsewhere.
    """
    # scipy's stepping LSODA refuses a start whose scaled rate overflows (data far from size 1,
    # see flow_trajectory); ODEPACK's own loop would return garbage there: the caller steps instead
    with np.errstate(over="ignore", invalid="ignore"):
        rate = rhs(0.0, w0) / (atol + rtol * np.abs(w0))
        if not math.isfinite(float(np.sqrt(np.mean(rate * rate)))):
            return None
    try:
        solver = ode(rhs, jac).set_integrator("lsoda", rtol=rtol, atol=atol, nsteps=LSODA_CHUNK)
        solver.set_initial_value(np.array(w0, dtype=float), 0.0)
        integrator = solver._integrator
        rwork, iwork, args = integrator.rwork, integrator.iwork, integrator.call_args
        if args[4] is not rwork or args[5] is not iwork or args[2] != 1 or iwork.size < 13:
            return None
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    W = np.full((T.size, np.size(w0)), np.nan)
    args[2] = 4
    at_rest, f_checked = False, np.inf

    def report():
        return int(iwork[12]), int(iwork[10])  # LU factorizations (= Jacobians), steps

    for k, Tk in enumerate(T):
        first = int(iwork[10])
        while Tk > solver.t and not at_rest:
            rwork[0] = Tk
            iwork[5] = max(1, min(LSODA_CHUNK, max_steps - int(iwork[10])))  # ODEPACK's mxstep of this call
            t_before, w_before = solver.t, solver.y.copy()
            solver.integrate(Tk)
            nlu, steps = report()
            istate = integrator.istate
            if istate == -1:  # the chunk's steps are done: continue the same run
                args[3] = 2
            good = istate in (-1, 2) and np.all(np.isfinite(solver.y))
            if not good:
                t_cur, w = (solver.t, solver.y) if np.all(np.isfinite(solver.y)) else (t_before, w_before)
                return _integrate_steps(rhs, jac, T, w, "Radau", rtol, atol, monitor, max_steps, curvature,
                                        start=(k, t_cur, W, steps, nlu, "LSODA+Radau"))
            if steps >= max_steps:
                return W, nlu, steps, "LSODA", "max_iter", (
                    f"LSODA needed more than max_steps = {max_steps} steps (reached rescaled time "
                    f"{solver.t:.6g} of {T[-1]:.6g}); loosen rtol or raise max_steps.")
            if steps - first >= LSODA_SEGMENT_STEPS:
                return _integrate_steps(rhs, jac, T, solver.y.copy(), "Radau", rtol, atol, monitor, max_steps,
                                        curvature, start=(k, solver.t, W, steps, nlu, "LSODA+Radau"))
            if solver.t < Tk:
                stop = monitor(solver.y)
                if stop is not None:
                    return W, nlu, steps, "LSODA", stop[0], stop[1]
                f = rhs(solver.t, solver.y)
                fnorm = float(np.linalg.norm(f))
                if fnorm <= 0.1 * f_checked:  # test again only after real progress
                    f_checked = fnorm
                    rest = _rest_point(rhs, jac, solver.y, f, rtol, atol, curvature)
                    if rest is not None:
                        at_rest = True
                        W[k:] = rest
                        break
        if at_rest:
            break
        W[k] = solver.y
    nlu, steps = report()
    return W, nlu, steps, "LSODA", "converged", ""


def _integrate_steps(rhs, jac, T, w0, method, rtol, atol, monitor, max_steps, curvature, start=None):
    """Integrate from 0 to each ``T[k]`` in turn, so that every output is a step end.

    Each output time is the bound of its own segment (no dense-output interpolation: a
    collocation polynomial stretched over a long step can leave a barrier map's domain
    between its nodes); the step size carries over from segment to segment.

    Rest detection: the ODE is the gradient flow ``w' = -grad Phi(w)`` of the convex dual
    ``Phi(w) = sum F(A^T w) - <w, y>``, so the distance of ``w(T)`` to the set of minimizers
    never increases. Once the Newton step ``H^+ f`` (``H = A diag X' A^T``, ``f = w'``)
    is below a tenth of the tolerance, the flow sits on its limit: Newton polishes ``w*``
    and every later output is ``w*`` (within tolerance, by that monotonicity). Integrating
    further would only accumulate rounding over arbitrarily long times.

    Every 16 steps ``monitor(w)`` may stop the integration with a status and message; after
    ``max_steps`` steps in all it stops with status "max_iter". LSODA that fails, or spends
    more than `LSODA_SEGMENT_STEPS` steps on one segment (it can thrash on long, slow
    plateaus near a barrier), hands over to Radau from its last state.

    ``start = (k, t, W, steps, nlu, used)`` continues a run that reached ``w0`` at time ``t``
    with the outputs before ``T[k]`` in ``W``. Returns the states (``len(T) x m``, NaN after a
    failure), LU factorizations, steps, the method(s) used, status and message.
    """
    if start is None:
        start = (0, 0.0, np.full((T.size, w0.size), np.nan), 0, 0, method)
    k0, t_cur, W, steps, nlu, used = start
    w, h = w0, None
    at_rest = False
    f_checked = np.inf
    solver = None
    for k, Tk in enumerate(T):
        if k < k0:
            continue
        while Tk > t_cur and not at_rest:
            continued = _continued(solver, method, t_cur, Tk)
            if continued is None:
                nlu += int(solver.nlu or 0) if solver is not None else 0  # the LUs of the run it replaces
                options = dict(rtol=rtol, atol=atol, jac=jac)
                if h is not None:
                    options["first_step"] = min(h, Tk - t_cur)
                solver = _SOLVERS[method](rhs, t_cur, w, Tk, **options)
            else:
                solver = continued
            message, seg_steps, handover = None, 0, False
            while solver.status == "running":
                message = solver.step()
                steps += 1
                seg_steps += 1
                if steps >= max_steps:
                    return W, nlu + int(solver.nlu or 0), steps, used, "max_iter", (
                        f"{method} needed more than max_steps = {max_steps} steps (reached rescaled time "
                        f"{solver.t:.6g} of {T[-1]:.6g}); loosen rtol or raise max_steps.")
                if method == "LSODA" and seg_steps >= LSODA_SEGMENT_STEPS:
                    handover = True
                    break
                if steps % 16 == 0 and solver.status == "running" and np.all(np.isfinite(solver.y)):
                    stop = monitor(solver.y)
                    if stop is not None:
                        return W, nlu + int(solver.nlu or 0), steps, used, stop[0], stop[1]
                    f = rhs(solver.t, solver.y)
                    fnorm = float(np.linalg.norm(f))
                    if fnorm <= 0.1 * f_checked:  # test again only after real progress
                        f_checked = fnorm
                        rest = _rest_point(rhs, jac, solver.y, f, rtol, atol, curvature)
                        if rest is not None:
                            at_rest, w = True, rest
                            break
            good = solver.status != "failed" and np.all(np.isfinite(solver.y))
            if at_rest:
                break
            if method == "LSODA" and (handover or not good):
                if good:
                    t_cur, w = solver.t, solver.y
                method, used, h = "Radau", "LSODA+Radau", None
                continue
            if not good:
                return W, nlu + int(solver.nlu or 0), steps, used, "failed", (
                    f"{method} stopped at rescaled time {solver.t:.6g} before {Tk:.6g}: "
                    f"{message or 'non-finite state'}")
            t_cur, w = solver.t, solver.y
            h = float(getattr(solver, "h_abs", None) or solver.step_size or 0.0) or None
        if at_rest:
            W[k:] = w
            break
        W[k] = w
    return W, nlu + (int(solver.nlu or 0) if solver is not None else 0), steps, used, "converged", ""


def _continued(solver, method, t_cur, Tk):
    """The LSODA run that just ended at ``t_cur``, extended to the next output ``Tk`` (its step
    size, order and history kept: a restart would begin again at order 1 with tiny steps), or
    None for a fresh start (another method, a failed run, or a scipy whose LSODA wrapper keeps
    its stopping time elsewhere).

    scipy's `LSODA` steps with ODEPACK's ``itask = 5`` (one step, never past ``rwork[0]``); moving
    that bound on is what ODEPACK documents for continuing a run to a new critical time.
    """
    if solver is None or method != "LSODA" or solver.status != "finished" or solver.t != t_cur:
        return None
    try:
        integrator = solver._lsoda_solver._integrator
        rwork = integrator.rwork
        if integrator.call_args[4] is not rwork or rwork[0] != solver.t_bound:
            return None
    except (AttributeError, IndexError, TypeError):
        return None
    rwork[0] = Tk
    solver.t_bound = Tk
    solver.status = "running"
    return solver


def _rest_point(rhs, jac, w, f, rtol, atol, curvature):
    """``w*`` if ``w`` is within a tenth of the tolerance of the dual minimizer, else None.

    ``curvature(w)`` bounds ``||H||`` from above, so ``||f|| / curvature(w)`` bounds the Newton
    step from below: a cheap test that avoids forming ``H`` while the flow is still moving.
    """
    tol = 0.1 * (atol + rtol * float(np.max(np.abs(w))))
    if float(np.linalg.norm(f)) > tol * curvature(w):
        return None
    for it in range(6):
        H = -jac(0.0, w)
        if not np.all(np.isfinite(H)):
            return None
        step = solve_psd(H, f)
        size = float(np.linalg.norm(step))
        if it == 0 and size > tol:
            return None
        w_new = w + step
        f_new = rhs(0.0, w_new)
        if not np.all(np.isfinite(f_new)):
            return None
        w, f = w_new, f_new
        if size <= 1e-3 * tol:
            break
    return w


def rescaled_time(net, t):
    """The clock ``T = dual_scale * t`` in which the small-scale dynamics has a limit.

    For the symmetric network of depth 2 at scale ``a = alpha^2``, ``T = 4 t / log(1/a)``
    (``t = T log(1/alpha) / 2``); for p > 2, ``T = p (p-2) alpha^(p-2) t``. In ``T`` the
    dual ``z = A^T w`` moves at unit speed ``z' = A^T (y - A x)``, which is the time of
    `saddle_to_saddle` (docs/theory.md section 6).

    >>> import math
    >>> from dlnlab.networks import SymmetricDLN
    >>> round(float(rescaled_time(SymmetricDLN(depth=2, scale=math.exp(-40)), 10.0)), 12)
    1.0
    """
    return float(getattr(net, "dual_scale", 1.0)) * np.asarray(t, dtype=float)
