"""Rate studies: flow limits over a scale grid, their error to the l1 limit, fitted slopes.

As the scale ``a`` goes to 0 the flow limit approaches the basis-pursuit solution ``x*``
(docs/theory.md section 5): for a unique BP solution with certificate constant ``rho < 1``,

    ||x_inf - x*|| = Theta(a^(1 - rho))   (p = 2),        Theta(a)   (p > 2).

A study (`rate_study`) measures the error at each scale of a grid reaching far into the
asymptotic range (by `dlnlab.studies.deviation.deviation_from_bp`, below float64
resolution), fits its slope (`fit_slope`) and sets it beside the predictions of
`dlnlab.theory`.

>>> import dlnlab as dl
>>> study = rate_study(dl.random_problem(), depths=(2,), log10_scales=np.arange(-20.0, -101.0, -20.0))
>>> round(study.curves[0].fit.slope, 4), round(study.curves[0].predicted_slope, 4)
(0.7449, 0.7449)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NetworkError, ProblemError
from ..l1 import basis_pursuit
from ..limits import flow_limit_path
from ..networks.base import ScaleFamily
from ..networks.nonnegative import NonNegativeDLN
from ..networks.symmetric import SymmetricDLN
from ..networks.twolayer import TwoLayerDLN
from ..problems import Problem, as_problem
from ..results import Result
from ..theory import (Target, asymptotic_upper, bp_target, default_scales, predicted_error, predicted_slope,
                      selected_target)
from .deviation import deviation_from_bp

_LN10 = math.log(10.0)


@dataclass(frozen=True)
class SlopeFit:
    """Least-squares line ``log10 err = slope * log10 a + intercept`` over a range of scales.

    ``stderr`` (standard error of the slope), ``n`` (points), ``range`` (log10 scales used),
    ``local`` (slopes between consecutive points of the range), ``curvature``
    (``max |local - slope|``: small when the range is asymptotic).
    """

    slope: float
    intercept: float
    stderr: float
    n: int
    range: tuple[float, float]
    local: np.ndarray = field(repr=False)
    curvature: float = 0.0


def fit_slope(log10_scale, log10_error, *, lo: float = -math.inf, hi: float = math.inf) -> SlopeFit:
    """Fit the slope of ``log10_error`` against ``log10_scale`` over ``lo <= log10 a <= hi``.

    Non-finite errors are skipped; at least two points are needed.

    >>> round(fit_slope([-1, -2, -3], [-0.5, -1.0, -1.5]).slope, 12)
    0.5
    """
    xs = np.asarray(log10_scale, dtype=float)
    ys = np.asarray(log10_error, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys) & (xs >= lo) & (xs <= hi)
    xs, ys = xs[keep], ys[keep]
    if xs.size < 2:
        raise ProblemError(f"a slope fit needs at least two finite points in [{lo}, {hi}]; got {xs.size}. "
                           "Extend the scale grid into the asymptotic range.")
    order = np.argsort(xs)
    xs, ys = xs[order], ys[order]
    slope, intercept = np.polyfit(xs, ys, 1)
    if xs.size > 2:
        resid = ys - (slope * xs + intercept)
        stderr = math.sqrt(float(resid @ resid) / (xs.size - 2) / float(np.sum((xs - xs.mean()) ** 2)))
    else:
        stderr = 0.0
    dx = np.diff(xs)
    local = np.diff(ys)[dx > 0] / dx[dx > 0]  # repeated scales (e.g. two methods) give no local slope
    return SlopeFit(float(slope), float(intercept), stderr, int(xs.size), (float(xs[0]), float(xs[-1])), local,
                    float(np.max(np.abs(local - slope))) if local.size else 0.0)



@dataclass(frozen=True)
class RateCurve:
    """``log10 ||x_inf - target||`` over a grid of ``log10 a`` for one network family, with its fit.

    ``depth``: the depth whose rate theory applies (the network's own; 2 for the two-layer
    network); ``network``: the family's label (``"p=3"`` for the symmetric network of a depth,
    else its spec or type). ``method``: ``"deviation"`` (unique BP, `deviation_from_bp`) or
    ``"subtraction"`` (selected minimizer; points below ``RESOLUTION * ||target|| / eps`` are
    unresolved, NaN). ``log10_constant``: ``log10(error / a^slope_pred)`` at the smallest
    resolved scale; ``predicted_log10_constant``: the same from `predicted_error` (None if not
    available: the closed form is the symmetric network's). Evidence: ``residual``/``kkt``/
    ``iterations`` of each flow limit, ``identity`` (largest `Deviation.identity_residual`),
    ``statuses`` (per scale: the flow limit's status, or its deviation's when that is worse).
    """

    depth: float
    log10_scale: np.ndarray
    log10_error: np.ndarray
    fit: SlopeFit
    predicted_slope: float
    log10_constant: float
    predicted_log10_constant: float | None
    method: str
    residual: np.ndarray = field(repr=False)
    kkt: np.ndarray = field(repr=False)
    iterations: np.ndarray = field(repr=False)
    identity: float = 0.0
    network: str = ""
    statuses: tuple = field(default=(), repr=False)


#: A difference of float64 vectors resolves errors down to ~1e-16 ||x||; below 1e-13 ||x||
#: (a thousand times that, for ill-conditioning) a subtracted error is not trusted. On a
#: BP face the point is chosen by the ``eps g_p`` term of the potential (docs/theory.md
#: section 4), a relative ``eps`` of the l1 part, so float64 places it only to ~1e-16 / eps:
#: the threshold is ``RESOLUTION ||x|| / eps`` (eps = the network's ``small_parameter``).
RESOLUTION = 1e-13


def _label(net) -> str:
    spec = getattr(net, "spec", None)
    return spec if isinstance(spec, str) else type(net).__name__


def rate_depth(net) -> float:
    """The depth whose rate theory (docs/theory.md section 5) applies to a scale family.

    The symmetric and layered networks have their own depth; the two-layer network is
    depth 2 (its off-support entries are ``~ a^(1 - |z_j|)`` as for the hyperbolic entropy).
    Raises `NetworkError` for networks outside that theory: the non-negative network (its
    small-scale limit is the linear program ``min cost^T x, A x = y, x >= 0``, not basis
    pursuit), networks without a scale family (`dlnlab.networks.base.ScaleFamily`) and
    networks that do not say their depth.

    >>> import dlnlab as dl
    >>> rate_depth(dl.SymmetricDLN(depth=3, scale=1e-3)), rate_depth(dl.TwoLayerDLN(u0=[1e-3], v0=[0.0]))
    (3.0, 2.0)
    """
    name = type(net).__name__
    if isinstance(net, NonNegativeDLN):
        raise NetworkError(f"{name}: its small-scale limit is the linear program min cost^T x s.t. A x = y, x >= 0, "
                           "not basis pursuit, so rates to x* do not apply; study it with dl.solve_lp instead.")
    if not isinstance(net, ScaleFamily):
        raise NetworkError(f"{name} is not a scale family (it lacks log_scale, small_parameter or at_log_scale), "
                           "so it has no scale to take to 0; pass a network of dlnlab.networks with a scale.")
    if isinstance(net, TwoLayerDLN):
        return 2.0
    depth = getattr(net, "depth", None)
    if not isinstance(depth, (int, float)) or not depth >= 2:
        raise NetworkError(f"{name} does not give its depth (p >= 2), so no rate theory applies to it; "
                           "rate studies take symmetric, two-layer and layered networks.")
    return float(depth)


def rate_curve(problem, depth: float, target: Target, log10_scales=None, *, fit_range=None,
               progress=None, network=None) -> RateCurve:
    """Flow limits at each ``log10 a`` and the error to ``target``, fitted (see `RateCurve`).

    The family is the symmetric network of ``depth``, or ``network.at_log_scale`` when a
    `ScaleFamily` network is given (``depth`` is then the depth of its rate theory,
    `rate_depth`); all its limits come from one continuation run (`dlnlab.flow_limit_path`).
    """
    P = as_problem(problem)
    depth = float(depth)
    grid = np.asarray(default_scales(depth, target) if log10_scales is None else log10_scales, dtype=float)
    errs, resid, kkts, its, statuses = [], [], [], [], []
    identity = 0.0
    xnorm = float(np.linalg.norm(target.x))
    family = SymmetricDLN.from_log_scale(depth, 0.0) if network is None else network
    path = flow_limit_path(P, family, log_scales=grid * _LN10)
    for res in path.results:
        net = res.network
        resid.append(res.residual)
        kkts.append(res.kkt)
        its.append(res.iterations)
        status = res.status
        if target.kind == "bp":
            dev = deviation_from_bp(P, res, target.support, target.x)
            errs.append(dev.log10_norm)
            identity = max(identity, dev.identity_residual)
            status = status if not res.success else dev.status
        else:
            e = float(np.linalg.norm(res.x - target.x))
            errs.append(math.log10(e) if e > RESOLUTION * xnorm / min(1.0, net.small_parameter) else math.nan)
        statuses.append(status)
        if progress is not None:
            progress()
    errs = np.array(errs)
    lo, hi = fit_range if fit_range is not None else (-math.inf, asymptotic_upper(depth, target))
    fit = fit_slope(grid, errs, lo=lo, hi=hi)
    slope = predicted_slope(depth, target)
    ok = np.flatnonzero(np.isfinite(errs))
    last = ok[np.argmin(grid[ok])]
    const = float(errs[last] - slope * grid[last]) if math.isfinite(slope) else math.nan
    pred = None
    if target.kind == "bp" and (network is None or isinstance(network, SymmetricDLN)):
        pe = predicted_error(P, target, depth, float(grid[last]))
        pred = None if pe is None else pe - slope * float(grid[last])
    label = f"p={depth:g}" if network is None else _label(network)
    return RateCurve(depth, grid, errs, fit, slope, const, pred, "deviation" if target.kind == "bp" else "subtraction",
                     np.array(resid), np.array(kkts), np.array(its, dtype=int), identity, label, tuple(statuses))


#: The order in which a study reports its points' statuses: the worst one found wins.
_SEVERITY = ("failed", "diverged", "interrupted", "max_iter", "imprecise", "unverified")


@dataclass(frozen=True)
class RateStudy(Result):
    """Rate curves of several depths or networks on one problem (see `rate_study`).

    ``targets``: the `Target` of each depth (one per depth: it depends on the depth only);
    ``curves``: one `RateCurve` per depth or network; ``status`` (``"converged"`` when every
    flow limit and every deviation converged, else the worst status among them), ``message``
    (which points did not), ``iterations`` (Newton steps of all flow limits). Whether the
    slopes match the theory is not a status: see `records`.
    """

    problem: Problem = field(metadata={"dict": False})
    targets: dict
    curves: list
    status: str = "converged"
    message: str = ""
    iterations: int = 0

    def records(self, tol: float = 0.02, constant_rtol: float = 0.02) -> list[dict]:
        """One summary record per curve (keys as in the experiments' ``summary.json``)."""
        out = []
        for c in self.curves:
            t = self.targets[c.depth]
            rec = {"curve": c.network or f"p={c.depth:g}", "problem": self.problem.name or "problem", "depth": c.depth,
                   "target": t.kind, "rho": t.rho, "slope": c.fit.slope, "slope_theory": c.predicted_slope,
                   "slope_tol": tol, "slope_stderr": c.fit.stderr, "fit_range": list(c.fit.range),
                   "log10_constant": c.log10_constant, "log10_constant_theory": c.predicted_log10_constant,
                   "method": c.method, "max_residual": float(np.max(c.residual)),
                   "identity_residual": c.identity}
            ok = abs(c.fit.slope - c.predicted_slope) <= tol if math.isfinite(c.predicted_slope) else False
            if c.predicted_log10_constant is not None:
                ok = ok and abs(c.log10_constant - c.predicted_log10_constant) <= math.log10(1 + constant_rtol)
            rec["pass"] = bool(ok)
            out.append(rec)
        return out


def rate_study(problem, depths=(2, 3, 4), *, networks=None, log10_scales=None, progress=None) -> RateStudy:
    """Error to the BP solution (or, if it is not unique, to each depth's selected minimizer)
    over a scale grid reaching the asymptotic regime, with fitted and predicted slopes.

    ``depths``: symmetric networks of these depths. ``networks``: a sequence of
    `ScaleFamily` networks (symmetric, two-layer, layered), which replaces ``depths`` when
    given; each is taken through its own family (``net.at_log_scale``) and compared with the
    rate theory of its depth (`rate_depth`; `NetworkError` for networks outside it). When BP
    is not unique the selected minimizer is the symmetric network's, so ``networks`` must
    then be symmetric. ``log10_scales``: one grid for all curves, or a dict ``{depth: grid}``;
    default `default_scales`. ``progress``: called once per flow limit.

    >>> import dlnlab as dl
    >>> net = dl.TwoLayerDLN(u0=[1e-3, 2e-3, 1e-3, 3e-3, 2e-3], v0=[0.0, 1e-3, 0.0, 0.0, -1e-3])
    >>> study = rate_study(dl.random_problem(), networks=[net], log10_scales=np.arange(-40.0, -301.0, -40.0))
    >>> round(study.curves[0].fit.slope, 3), round(study.curves[0].predicted_slope, 3)
    (0.745, 0.745)
    """
    P = as_problem(problem)
    bp = basis_pursuit(P)
    if networks is None:
        families = [(float(p), None) for p in depths]
    else:
        families = [(rate_depth(net), net) for net in networks]
        if not families:
            raise NetworkError("networks is empty; pass at least one network (or leave it out to use depths).")
        if not bp.unique:
            odd = [type(net).__name__ for _, net in families if not isinstance(net, SymmetricDLN)]
            if odd:
                raise NetworkError(f"BP's solution is not unique here, and the selected minimizer it is measured to "
                                   f"is the symmetric network's; {', '.join(odd)} select differently on the face.")
    targets, curves = {}, []
    for p, net in families:
        if p not in targets:
            targets[p] = bp_target(P) if bp.unique else selected_target(P, p)
        grid = log10_scales.get(p) if isinstance(log10_scales, dict) else log10_scales
        curves.append(rate_curve(P, p, targets[p], grid, progress=progress, network=net))
    bad = [(c.network or f"p={c.depth:g}", L, st) for c in curves for L, st in zip(c.log10_scale, c.statuses)
           if st != "converged"]
    status = next((w for w in _SEVERITY if any(st == w for _, _, st in bad)), "converged")
    message = "" if not bad else f"{len(bad)} points did not converge: " + ", ".join(
        f"{label} at log10 a = {L:g} ({st})" for label, L, st in bad[:5]) + (" ..." if len(bad) > 5 else "")
    return RateStudy(P, targets, curves, status, message, int(sum(int(c.iterations.sum()) for c in curves)))
