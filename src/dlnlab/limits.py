"""`flow_limit`: the exact limit of gradient flow, by Newton's method on the convex dual.

The limit of ``x(t) = X(A^T lam(t))`` is ``x_inf = X(A^T lam*)`` where ``lam*`` minimizes

    Phi(lam) = sum_i F((A^T lam)_i) - <lam, y>,     F' = X      (docs/theory.md section 3),

a smooth convex function of ``m`` variables. dlnlab minimizes it by damped Newton on the
orthonormal-row form of the problem (``A -> Q^T``), with dual points kept boundary-relative
(`dlnlab.networks.base`), and reaches small scales by continuation in ``log(scale)`` with a
predictor that extrapolates linearly in the small parameter ``eps(scale)`` (docs/theory.md
section 4), in which the limit is smooth.

Evidence on the result: the relative residual ``||A x - y|| / ||y||`` and the KKT error
``||P_perp grad Q(x)|| / ||grad Q(x)||`` (distance of the mirror image of ``x`` from
range(A^T), computed from ``x`` alone); together they certify ``x = argmin_{Ax=y} Q``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .errors import ConvergenceError, NetworkError, OptionError
from .networks.base import Network, ScaleFamily, conforms
from .networks.symmetric import SymmetricDLN
from .engine import (INTERMEDIATE_TOL, KKT_TOL, DualState, HessianCache, blas_threads, continuation, continuation_path,
                     data_size, kkt_error, newton, polish, residual_check, rounding_floor, start_network)
from .engine.steps import POLISH_STEPS
from .engine.faces import face_tolerance
from .engine.kernel import KERNEL_SCALE, kernel_kkt, kernel_limit
from .engine import lean
from .engine.linalg import JITTER
from .problems import GramBasis, Problem, RowBasis, as_problem
from .results import Result, check_tolerance

#: Default tolerance on the relative residual of the orthonormal system. Newton converges
#: quadratically, so the last iteration typically lands near 1e-15; 1e-12 leaves room for
#: the rounding of ``Q^T x`` when ``||x|| >> ||y||``.
RTOL = 1e-12
#: A residual above ``rtol`` but within the float64 floor of the dual coordinates still counts as
#: converged up to this relative size; beyond it the result is ``"imprecise"`` (no claim of a limit).
FLOOR_CAP = 1e-8


@dataclass(frozen=True)
class LimitResult(Result):
    """The limit of gradient flow and the evidence that it is one.

    Attributes: ``x``; ``dual`` (``lam`` with ``s = A^T lam`` in docs/theory.md units);
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
    sign: np.ndarray = field(repr=False, metadata={"dict": False})
    gap: np.ndarray = field(repr=False, metadata={"dict": False})
    message: str = ""
    problem: Problem | None = field(default=None, repr=False, metadata={"dict": False})

    @property
    def converged(self) -> bool:
        return self.status == "converged"

    @cached_property
    def _linearization(self):
        from .derivatives import Linearization
        return Linearization(self)

    def jvp(self, dA=None, dy=None, dlog_scale=None) -> np.ndarray:
        """``dx`` of the limit for changes ``dA``, ``dy`` (caller's units) and ``dlog_scale``
        (docs/theory.md section 10; accuracy: `dlnlab.derivatives`).

        >>> import numpy as np, dlnlab as dl
        >>> res = dl.flow_limit(dl.random_problem(), dl.SymmetricDLN(depth=2, scale=1e-100))
        >>> dx = res.jvp(dy=np.array([1.0, 0.0, 0.0]))
        >>> bool(np.allclose(dl.random_problem().A @ dx, [1.0, 0.0, 0.0], atol=1e-14))
        True
        """
        return self._linearization.jvp(dA, dy, dlog_scale)

    def vjp(self, cotangent):
        """``(gA, gy, g_log_scale)`` with ``<cotangent, jvp(dA, dy, t)> = <gA, dA> + <gy, dy> + g_log_scale t``
        (a `dlnlab.derivatives.LimitCotangent`; ``log_scale`` is None without a scale family)."""
        return self._linearization.vjp(cotangent)

    @property
    def dx_dlog_scale(self) -> np.ndarray:
        """``dx / dlog(scale)`` along the network's family (`ScaleFamily.at_log_scale`)."""
        return self._linearization.dx_dlog_scale


def _threads_by_size(solver):
    """Run ``solver(A, ...)`` under `blas_threads` for the size of ``A`` (a `Problem` or an array),
    so that the basis of a new problem is computed under the same choice."""

    @functools.wraps(solver)
    def run(A, *args, **kwargs):
        try:
            shape = np.shape(A.A if isinstance(A, Problem) else A)
        except ValueError:  # ragged: as_problem says what is wrong
            shape = ()
        N, r = (shape[1], min(shape)) if len(shape) == 2 else (0, 0)
        with blas_threads(N, r):
            return solver(A, *args, **kwargs)

    return run


@_threads_by_size
def flow_limit(A, y=None, net=None, *, rtol: float = RTOL, max_iter: int = 100,
               max_stages: int = 400, throw: bool = True) -> LimitResult:
    """The limit of gradient flow of ``net`` on ``1/2 ||A x - y||^2`` (docs/theory.md section 3).

    Parameters
    ----------
    A, y
        the data, or a `Problem` as ``A`` (then ``y`` is omitted or the network).
    net
        a network with ``mirror_map()`` (e.g. `SymmetricDLN`).
    rtol
        relative residual at which Newton stops.
    throw
        raise `ConvergenceError` (default) if not converged; else return with ``status``.

    Examples
    --------
    >>> import dlnlab as dl
    >>> P = dl.line_problem()
    >>> res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-12))
    >>> res.status, res.residual < 1e-12
    ('converged', True)
    """
    if net is None and isinstance(A, Problem):
        net, y = y, None
    problem = as_problem(A, y) if conforms(net, Network) else None
    _check_network(net, "flow_limit(A, y, net)")
    rtol = _check_options(rtol, max_iter, max_stages, "flow_limit")
    basis = problem.solver_basis
    Q, z = basis.Q, basis.z
    N = problem.N
    x_ls = None if isinstance(basis, RowBasis) else basis.min_norm()

    # Homogeneity (SymmetricDLN.normalized): solve for y / beta at scale / beta, with
    # beta the size of the minimum-norm interpolator, so that tiny or huge data behave
    # like data of size 1.
    beta = data_size(Q, z, x_ls) if isinstance(net, SymmetricDLN) else 1.0
    target = net.normalized(beta) if beta != 1.0 else net
    z = z / beta
    if isinstance(net, SymmetricDLN) and target.log_scale >= math.log(KERNEL_SCALE):
        return kernel_result(problem, net, target, beta, rtol=rtol, max_iter=max_iter, throw=throw)
    start = start_network(target, Q, z, None if x_ls is None else data_size(Q, z, x_ls / beta))
    zero = DualState(np.zeros(basis.rank), np.ones(N), np.ones(N), np.zeros(basis.rank))
    total = 0
    stages = 0
    status, message = "converged", ""
    intermediate_tol = max(rtol, INTERMEDIATE_TOL)
    hessian = _hessian_cache(basis)  # factorizations the Newton steps of every stage may reuse
    if start is not target and start.log_scale - target.log_scale <= lean.LEAN_DIRECT_SPAN:
        # a small problem at a moderate scale: Newton at the target from 0 first, on a budget
        mapping = target.mirror_map()
        kernel = lean.lean_kernel(Q, mapping)
        if kernel is not None:  # polished as `finish` would (`polish`), in the same loop
            state, its, ok = lean.lean_newton(Q, z, mapping, kernel, zero, tol=rtol, hessian=hessian,
                                              max_iter=min(lean.LEAN_DIRECT_ITERATIONS, max_iter), polish=POLISH_STEPS)
            total += its
            if ok:
                result = finish(problem, net, target, beta, state, status=status, message=message, iterations=total,
                                stages=0, rtol=rtol, hessian=hessian, polished=True)
                return _checked(result, throw)

    tol0 = rtol if start is target else intermediate_tol
    state, its, ok = newton(Q, z, start.mirror_map(), zero, tol=tol0, max_iter=max_iter, hessian=hessian)
    total += its
    if not ok:
        status = "max_iter" if its >= max_iter else "failed"
        message = f"Newton did not converge at the starting scale after {its} iterations."
    else:
        state, its, stages, status, message = continuation(Q, z, start, target, state, rtol, intermediate_tol,
                                                        max_iter, max_stages, hessian, face_tolerance(basis.R11))
        total += its

    result = finish(problem, net, target, beta, state, status=status, message=message, iterations=total,
                    stages=stages, rtol=rtol, hessian=hessian)
    return _checked(result, throw)


def _hessian_cache(basis) -> HessianCache:
    """A `HessianCache` for the Newton steps of one continuation; for a `GramBasis` it starts with the
    factor ``R11^T`` of ``Q^T Q = Q^T diag(1) Q`` (the basis's own Cholesky factor: the Hessian at
    ``lam = 0``, where every slope is ``X'(0)``, is a multiple of it)."""
    cache = HessianCache()
    if isinstance(basis, GramBasis):
        R = basis.R11
        cache.use_factor(R.T, np.ones(basis.Q.shape[0]), JITTER * float(np.max(np.einsum("ij,ij->j", R, R))))
    return cache


def _checked(result: LimitResult, throw: bool) -> LimitResult:
    if throw and not result.success:
        raise ConvergenceError(
            f"flow_limit did not converge ({result.message}) for {result.network}; residual {result.residual:.2e}. "
            "Pass throw=False to inspect the partial result, or raise max_iter/max_stages.", result)
    return result


@dataclass(frozen=True)
class LimitPath(Result):
    """The flow limits of one scale family at several scales, from one continuation run.

    Attributes: ``results`` (a `LimitResult` per requested scale, in the order asked, each
    with its own evidence; a repeated scale repeats its result); ``scales`` and ``log_scales``
    (``a`` as requested, 0 where ``exp(log a)`` underflows, and ``log a``); ``status``
    (``"converged"`` when every limit is, else the first other status, in decreasing scale);
    ``message``; ``iterations`` (Newton steps of the whole run); ``stages`` (its continuation
    stages).
    """

    results: tuple
    scales: np.ndarray
    log_scales: np.ndarray
    status: str
    message: str
    iterations: int
    stages: int

    @property
    def x(self) -> np.ndarray:
        """The limits as rows, one per requested scale."""
        return np.array([res.x for res in self.results])


@_threads_by_size
def flow_limit_path(A, y=None, net=None, scales=None, *, log_scales=None, rtol: float = RTOL, max_iter: int = 100,
                    max_stages: int = 400, throw: bool = True) -> LimitPath:
    """`flow_limit` of ``net``'s scale family at each of ``scales`` (or ``log_scales``), from one
    continuation run that stops exactly at each (docs/theory.md section 4).

    ``net`` gives the family (a `ScaleFamily`; its own scale is replaced by each requested one,
    ``net.at_log_scale(log a)``). Scales may come in any order and repeat; each distinct one is
    solved once, on the way down, to ``rtol`` and finished as `flow_limit` finishes its limit; a
    scale the run fails to reach is solved by `flow_limit` alone (its iterations are counted).
    ``max_stages`` bounds the stages from one requested scale to the next; ``throw`` raises
    `ConvergenceError` if any limit did not converge.

    Examples
    --------
    >>> import numpy as np, dlnlab as dl
    >>> path = dl.flow_limit_path(dl.random_problem(), dl.SymmetricDLN(depth=3, scale=1.0), np.logspace(0, -300, 7))
    >>> one = dl.flow_limit(dl.random_problem(), dl.SymmetricDLN(depth=3, scale=1e-100))
    >>> path.status, bool(np.allclose(path.results[2].x, one.x, rtol=1e-10, atol=0))
    ('converged', True)
    """
    if isinstance(A, Problem) and conforms(y, Network):
        if scales is not None:
            raise OptionError("flow_limit_path(problem, net, scales) takes the problem, the network and the scales; "
                              "got a fourth argument.")
        net, scales, y = y, net, None
    problem = as_problem(A, y) if conforms(net, Network) else None
    _check_network(net, "flow_limit_path(A, y, net, scales)")
    if not conforms(net, ScaleFamily):
        raise NetworkError(f"flow_limit_path needs a scale family (log_scale, small_parameter, at_log_scale); "
                           f"{type(net).__name__} has none: call flow_limit at its own scale.")
    rtol = _check_options(rtol, max_iter, max_stages, "flow_limit_path")
    requested, thetas = _requested_log_scales(scales, log_scales)
    order = sorted(set(thetas.tolist()), reverse=True)
    nets = {t: net.at_log_scale(t) for t in order}
    for each in nets.values():
        _check_network(each, "flow_limit_path(A, y, net, scales)")
    basis = problem.solver_basis
    Q, z = basis.Q, basis.z
    x_ls = None if isinstance(basis, RowBasis) else basis.min_norm()
    beta = data_size(Q, z, x_ls) if isinstance(net, SymmetricDLN) else 1.0
    solved = {}
    if isinstance(net, SymmetricDLN):  # scales far above the data: flow_limit's kernel-regime solve
        for t in order:
            if nets[t].normalized(beta).log_scale >= math.log(KERNEL_SCALE):
                solved[t] = flow_limit(problem, nets[t], rtol=rtol, max_iter=max_iter, throw=False)
        order = [t for t in order if t not in solved]
    targets = [nets[t].normalized(beta) if beta != 1.0 else nets[t] for t in order]
    z = z / beta
    run, polishing, stages = 0, sum(res.iterations for res in solved.values()), 0
    if order:
        start = start_network(targets[0], Q, z, None if x_ls is None else data_size(Q, z, x_ls / beta))
        state = DualState(np.zeros(basis.rank), np.ones(problem.N), np.ones(problem.N), np.zeros(basis.rank))
        intermediate_tol = max(rtol, INTERMEDIATE_TOL)
        tol0 = rtol if start is targets[0] else intermediate_tol
        hessian = _hessian_cache(basis)
        state, its0, ok = newton(Q, z, start.mirror_map(), state, tol=tol0, max_iter=max_iter, hessian=hessian)
        if ok:
            stops = continuation_path(Q, z, start, targets, state, rtol, intermediate_tol, max_stages, hessian,
                                      face_tolerance(basis.R11))
        else:
            bad = "max_iter" if its0 >= max_iter else "failed"
            why = f"Newton did not converge at the starting scale after {its0} iterations."
            stops = ((state, 0, 0, bad, why) for _ in targets)
        run = its0
        for t, target, (point, its, stages, status, message) in zip(order, targets, stops):
            run = its0 + its
            solved[t] = finish(problem, nets[t], target, beta, point, status=status, message=message, iterations=run,
                               stages=stages, rtol=rtol, hessian=hessian)
            polishing += solved[t].iterations - run
        for t in order:
            if not solved[t].success:  # a scale the run did not reach: flow_limit alone, from its own start
                solved[t] = flow_limit(problem, nets[t], rtol=rtol, max_iter=max_iter, max_stages=max_stages,
                                       throw=False)
                polishing += solved[t].iterations
    results = tuple(solved[t] for t in thetas.tolist())
    bad = next((solved[t] for t in sorted(solved, reverse=True) if not solved[t].success), None)
    status = "converged" if bad is None else bad.status
    message = "" if bad is None else f"at scale exp({bad.network.log_scale:.6g}): {bad.message}"
    path = LimitPath(results, requested, thetas, status, message, run + polishing, stages)
    if throw and bad is not None:
        raise ConvergenceError(f"flow_limit_path did not converge ({path.message}) for {net}. Pass throw=False to "
                               "inspect the partial results, or raise max_iter/max_stages.", path)
    return path


def _requested_log_scales(scales, log_scales) -> tuple[np.ndarray, np.ndarray]:
    """The requested ``a`` and ``log a`` as float arrays (`OptionError` unless exactly one of the two is given,
    finite)."""
    if (scales is None) == (log_scales is None):
        raise OptionError("flow_limit_path needs exactly one of scales (a > 0) and log_scales (log a); "
                          f"got scales={scales!r}, log_scales={log_scales!r}.")
    values = np.atleast_1d(np.asarray(scales if log_scales is None else log_scales, dtype=float))
    if values.ndim != 1 or values.size == 0:
        raise OptionError(f"flow_limit_path needs a non-empty list of scales; got shape {values.shape}.")
    if log_scales is None:
        if not np.all(np.isfinite(values) & (values > 0)):
            raise OptionError(f"flow_limit_path needs finite scales a > 0 (log_scales= for smaller ones); "
                              f"got {values[~(np.isfinite(values) & (values > 0))][:3].tolist()}.")
        return values, np.log(values)
    if not np.all(np.isfinite(values)):
        raise OptionError(f"flow_limit_path needs finite log_scales; got {values[~np.isfinite(values)][:3].tolist()}.")
    return np.exp(values), values


def _check_network(net, call: str) -> None:
    """`NetworkError` unless ``net`` is a network whose scale float64 dual coordinates can represent."""
    if not conforms(net, Network):
        raise NetworkError(f"{call} needs a network such as dl.SymmetricDLN(depth=3, scale=1e-6); "
                           f"got {type(net).__name__}.")
    if conforms(net, ScaleFamily) and net.small_parameter <= 1e-300:
        raise NetworkError(
            f"scale exp({net.log_scale:.6g}) is below what float64 dual coordinates can represent for {net}: the gaps ~ alpha^(p-2) = {net.small_parameter:.1e} underflow. At such scales the limit "
            "equals the small-scale limit to every float64 digit: use dl.selected_minimizer, or "
            "dlnlab.rates.deviation_from_bp / mp_flow_limit for the deviation.")


def _check_options(rtol, max_iter, max_stages, solver: str) -> float:
    rtol = check_tolerance(rtol, "rtol", solver)
    if max_iter < 1 or max_stages < 1:
        raise OptionError(f"{solver} needs max_iter >= 1 and max_stages >= 1; "
                          f"got max_iter={max_iter!r}, max_stages={max_stages!r}.")
    return rtol


def kernel_result(problem: Problem, net: SymmetricDLN, target: SymmetricDLN, beta: float, *, rtol: float,
                  max_iter: int, throw: bool) -> LimitResult:
    """The limit at a scale far above the data (`dlnlab.engine.kernel`), with its evidence
    (residual, KKT error of ``u(x)``) recomputed from ``x`` in the caller's units."""
    Q, z = problem.basis.Q, problem.basis.z / beta
    nu, xt, its, ok = kernel_limit(Q, z, target.log_scale, target.k, tol=rtol, max_iter=max_iter)
    x = beta * xt
    with np.errstate(all="ignore"):
        finite = bool(np.all(np.isfinite(x)))
        residual = problem.relative_residual(x) if finite else math.inf
        kkt = kernel_kkt(Q, xt, target.log_scale, target.k) if finite else math.inf
    status, message = "converged", ""
    if not ok:
        status = "max_iter" if its >= max_iter else "failed"
        message = f"Newton in the kernel regime did not converge after {its} iterations"
    elif not residual <= rtol:
        status, message = "imprecise", f"residual {residual:.1e} recomputed in the caller's units exceeds rtol"
    elif not kkt <= KKT_TOL:
        status, message = "failed", f"the final point fails the KKT check ({kkt:.1e} > {KKT_TOL:g})"
    # z = u / X'(0) in the map's units, X'(0) = 2 a c (depth 2) or 2 a k (depth p)
    mu = nu * (math.exp(-target.log_scale) / (2.0 * (target.c if target.depth == 2 else target.k)))
    zq = Q @ mu
    sign = np.where(zq < 0, -1.0, 1.0)
    result = LimitResult(x=x, dual=problem.basis.to_dual(mu / net.dual_scale), residual=residual, kkt=kkt,
                         iterations=its, stages=0, status=status, network=net, sign=sign, gap=1.0 - np.abs(zq),
                         message=message, problem=problem)
    return _checked(result, throw)


def finish(problem: Problem, net, target, beta: float, state: DualState, *, status: str, message: str,
           iterations: int, stages: int, rtol: float, hessian=None, polished: bool = False) -> LimitResult:
    """The `LimitResult` of a solved dual point, with its evidence recomputed from ``x``.

    ``target`` is ``net`` in the solver's units (data divided by ``beta``). A converged point
    is polished (unless ``polished``: its solver did), then must pass the residual test at ``rtol`` (or the float64 floor of its dual
    coordinates, `rounding_floor`) and the KKT test (`kkt_error` <= `KKT_TOL`), both recomputed
    in the caller's units; otherwise its status becomes ``"failed"`` with the reason. A residual
    above ``rtol`` that only the floor admits is ``"imprecise"`` when it exceeds `FLOOR_CAP`.
    """
    basis = problem.solver_basis
    Q, z = basis.Q, basis.z / beta
    total = iterations
    mapping = target.mirror_map()
    if status == "converged" and not polished:
        state, its = polish(Q, z, mapping, state, hessian=hessian)
        total += its
    lam = basis.to_dual(state.mu / net.dual_scale)
    net_map = net.mirror_map()
    # the same evidence on lists of floats (small problems; their basis is orthonormal, RowBasis)
    quick = lean.lean_evidence(problem.A, problem.y, problem.y_norm, Q, z * beta, net_map, mapping, beta, state,
                               rtol) if isinstance(basis, RowBasis) and lean.lean_kernel(Q, mapping) is not None else None
    if quick is not None:
        x, residual, kkt, floor, passes = quick
        finite = True
    else:
        x = beta * mapping.primal(state.sign, state.gap)
        with np.errstate(all="ignore"):
            finite = bool(np.all(np.isfinite(x)))
            residual = problem.relative_residual(x) if finite else math.inf
            kkt = kkt_error(Q, net_map, x, state, basis.off_range) if finite else math.inf
        floor = beta * rounding_floor(mapping.slope(state.sign, state.gap), state.gap) if finite else math.inf
        passes = finite and residual_check(Q, z * beta, x, rtol, floor)[1]
    if status == "converged" and not passes:
        status, message = "failed", "the final point fails the residual check"
    elif status == "converged" and not kkt <= KKT_TOL:
        status, message = "failed", f"the final point fails the KKT check ({kkt:.1e} > {KKT_TOL:g})"
    elif status == "converged" and residual > rtol:
        if residual > FLOOR_CAP:
            status = "imprecise"
        message = (f"residual {residual:.1e} is at the float64 resolution of the dual coordinates "
                   f"({floor / max(problem.y_norm, 1e-300):.1e} relative, larger where the mirror map is "
                   "steep: near a barrier, for p close to 2, or at scales far above the data)")
    return LimitResult(x=x, dual=lam, residual=residual, kkt=kkt, iterations=total, stages=stages,
                       status=status, network=net, sign=state.sign, gap=state.gap, message=message, problem=problem)
