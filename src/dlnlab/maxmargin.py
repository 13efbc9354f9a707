"""Max-margin linear separators with certificates: l1 (LP), l2 (hard-margin SVM), l_{2/D}.

For labels ``y_i = +-1`` and ``Z = diag(y) A`` (rows ``y_i a_i``), the ``||.||``-max-margin
direction maximizes ``min_i (Z x)_i / ||x||``; by homogeneity it is the direction of

    x* = argmin { ||x|| : Z x >= 1 },        margin = 1 / ||x*||.

- ``norm="l1"`` (the limit direction of depth-2 networks at small scale): the LP
  ``min 1^T (x+ + x-)`` s.t. ``Z (x+ - x-) >= 1``, solved by HiGHS. Its dual is
  ``max 1^T mu`` s.t. ``||Z^T mu||_inf <= 1, mu >= 0``.
- ``norm="l2"`` (the kernel regime): the hard-margin SVM without bias
  ``min 1/2 ||x||^2`` s.t. ``Z x >= 1``, solved as a least-distance program by
  non-negative least squares (``scipy.optimize.nnls``); its dual is
  ``max 1^T mu - 1/2 ||Z^T mu||^2, mu >= 0`` with ``x = Z^T mu``.
- ``depth=D > 2``: a first-order stationary (KKT) point of the non-convex
  ``min sum_i |x_i|^{2/D}`` s.t. ``Z x >= 1`` (Gunasekar et al. 2018; it is also what the
  parameter-space KKT conditions of ``x = u^D - v^D`` reduce to): iteratively reweighted l1
  LPs from the l1 solution, then Newton on the KKT system of the support. This is a
  stationary point, not the global maximizer of the l_{2/D} margin: the problem is
  non-convex, and at D = 3 gradient flow can converge to another KKT point with a higher
  margin (experiment ``moroshko2020-transition``).

Certificates are recomputed from the returned point: ``x`` is rescaled to be exactly
feasible (``min Z x = 1``), the dual is rescaled to be exactly feasible, and the relative
duality gap bounds the suboptimality (for l2 also the distance: ``||x - x*|| <= sqrt(2 gap)``
in absolute terms, by 1-strong convexity). For D > 2 the certificate is first order:
feasibility, ``mu >= 0`` on the active constraints, and the stationarity residual on the
support. Data that no ``x`` separates strictly raise `NotSeparableError` with a Gordan
certificate ``mu >= 0, sum mu = 1, Z^T mu = 0``.

>>> import numpy as np, dlnlab as dl
>>> mm = dl.max_margin(np.array([[1.0, 2.0]]), np.array([1.0]), norm="l1")
>>> mm.success, round(mm.margin, 12), np.round(mm.x, 12).tolist()
(True, 2.0, [0.0, 0.5])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog, nnls

from .dynamics.classification import check_labels
from .errors import NotSeparableError, OptionError, SolverError
from .results import Result

#: Relative duality gap (l1, l2) or stationarity residual (D > 2) accepted as converged.
TOL = 1e-9
NORMS = ("l1", "l2")


@dataclass(frozen=True)
class MaxMarginResult(Result):
    """A max-margin separator and its certificate.

    ``x``: feasible (``min_i (Z x)_i = 1`` exactly up to rounding) minimizer of the norm;
    ``direction``: ``x / ||x||_2``; ``margin``: ``1 / ||x||`` in the problem's norm (for
    D > 2 in the quasi-norm ``(sum |x_i|^q)^{1/q}``, ``q = 2/D``, the margin of the returned
    stationary point, a lower bound of the max margin); ``dual``: ``mu >= 0``;
    ``objective``: the primal value at ``x`` (``||x||_1``, ``1/2 ||x||^2`` or
    ``sum |x_i|^q``); ``dual_bound``: the dual value at the rescaled ``mu`` (a lower bound of
    the optimum; None for D > 2); ``duality_gap``: relative duality gap (None for D > 2);
    ``stationarity``: relative KKT residual; ``distance_bound``: for l2,
    ``sqrt(2 (objective - dual_bound))`` bounds ``||x - x*||``; ``support``: indices of the
    active constraints (the support vectors); ``norm``: "l1", "l2" or "l2/D".
    """

    x: np.ndarray
    direction: np.ndarray
    margin: float
    dual: np.ndarray
    objective: float
    dual_bound: float | None
    duality_gap: float | None
    stationarity: float
    distance_bound: float | None
    support: np.ndarray
    norm: str
    depth: float | None
    iterations: int
    status: str
    message: str = field(default="")


def max_margin(A, labels, norm: str | None = None, *, depth: float | None = None, tol: float = TOL,
               max_iter: int = 200) -> MaxMarginResult:
    """The ``norm``-max-margin separator of ``(A, labels)`` with its certificate (module docstring).

    Give ``norm="l1"`` or ``"l2"``, or ``depth=D``: D = 2 is l1, D > 2 an l_{2/D}
    stationary (KKT) point, not necessarily the max-margin one (``margin`` is its own margin). ``tol`` is the accepted relative duality gap / KKT residual.
    Raises `NotSeparableError` when no ``x`` has ``y_i a_i^T x > 0`` for all i.

    >>> import numpy as np, dlnlab as dl
    >>> mm = dl.max_margin(np.array([[1.0, 2.0]]), np.array([1.0]), norm="l2")
    >>> mm.success, round(mm.margin ** 2, 12), np.round(mm.x, 12).tolist()
    (True, 5.0, [0.2, 0.4])
    """
    _, _, Z = check_labels(A, labels)
    if (norm is None) == (depth is None):
        raise OptionError("give exactly one of norm='l1' | 'l2' or depth=D (D = 2: l1; D > 2: l_{2/D}).")
    if not (isinstance(tol, (int, float)) and 0 < tol < 1):
        raise OptionError(f"tol must be in (0, 1); got {tol!r}.")
    if depth is not None:
        D = float(depth)
        if not (math.isfinite(D) and D >= 2):
            raise OptionError(f"depth must be a real number >= 2; got {depth!r}.")
        if D == 2:
            res = _l1(Z, tol)
            return _replace(res, depth=2.0)
        return _lq(Z, 2.0 / D, D, tol, max_iter)
    if norm not in NORMS:
        raise OptionError(f"norm must be one of {NORMS} (or pass depth=D); got {norm!r}.")
    return _l1(Z, tol) if norm == "l1" else _l2(Z, tol)


def _replace(res, **kw):
    import dataclasses
    return dataclasses.replace(res, **kw)


def separability_certificate(Z: np.ndarray):
    """``mu >= 0``, ``sum mu = 1`` with ``Z^T mu = 0`` (Gordan: then no ``x`` has ``Z x > 0``), or None."""
    m, N = Z.shape
    out = linprog(np.zeros(m), A_eq=np.vstack([Z.T, np.ones((1, m))]), b_eq=np.r_[np.zeros(N), 1.0],
                  bounds=[(0, None)] * m, method="highs")
    if out.status != 0:
        return None
    mu = np.maximum(out.x, 0.0)
    mu /= mu.sum()
    return mu


def _not_separable(Z):
    mu = separability_certificate(Z)
    extra = ""
    if mu is not None:
        scale = float(np.max(np.abs(Z))) or 1.0
        extra = (f" Gordan certificate: mu >= 0, sum mu = 1, ||Z^T mu||_inf = "
                 f"{float(np.max(np.abs(Z.T @ mu))) / scale:.1e} (relative).")
    raise NotSeparableError("the data are not linearly separable through the origin: no x has y_i a_i^T x > 0 "
                            "for every i, so the classification loss has no minimizer at infinity and no "
                            "max-margin direction exists." + extra)


def _feasible(Z, x):
    """``x`` rescaled so that ``min Z x = 1`` (None if ``x`` does not separate)."""
    g = float(np.min(Z @ x))
    if not (g > 0 and math.isfinite(g)):
        return None
    return x / g


def _support(Z, x, tol):
    return np.flatnonzero(Z @ x <= 1.0 + max(tol, 1e-9))


def _l1(Z, tol):
    m, N = Z.shape
    out = linprog(np.ones(2 * N), A_ub=-np.hstack([Z, -Z]), b_ub=-np.ones(m), bounds=[(0, None)] * (2 * N),
                  method="highs")
    if out.status == 2:
        _not_separable(Z)
    if out.status != 0:
        raise SolverError(f"HiGHS did not solve the l1 max-margin LP: {out.message}")
    x = _feasible(Z, out.x[:N] - out.x[N:])
    if x is None:
        _not_separable(Z)
    mu = np.maximum(-np.asarray(out.ineqlin.marginals, dtype=float), 0.0)
    s = float(np.max(np.abs(Z.T @ mu))) if mu.size else 0.0
    mu_hat = mu / s if s > 0 else mu
    P, Dv = float(np.sum(np.abs(x))), float(np.sum(mu_hat))
    gap = (P - Dv) / P
    # stationarity of the LP: mu supported on the active constraints, Z^T mu = sign(x) on supp(x)
    supp = np.abs(x) > 1e-12 * np.max(np.abs(x))
    stat = float(np.max(np.abs((Z.T @ mu_hat)[supp] - np.sign(x[supp])))) if np.any(supp) else 0.0
    ok = abs(gap) <= tol
    return MaxMarginResult(x=x, direction=x / np.linalg.norm(x), margin=1.0 / P, dual=mu_hat, objective=P,
                           dual_bound=Dv, duality_gap=gap, stationarity=stat, distance_bound=None,
                           support=_support(Z, x, tol), norm="l1", depth=None,
                           iterations=int(getattr(out, "nit", 0) or 0), status="converged" if ok else "imprecise",
                           message="" if ok else f"relative duality gap {gap:.2e} > tol = {tol:g}")


def _l2(Z, tol):
    m, N = Z.shape
    # least-distance program min ||x|| s.t. Z x >= 1 as NNLS: min_{u >= 0} ||E u - f||,
    # E = [Z^T; 1^T], f = e_{N+1}; r = E u - f != 0 gives x = -r_{1:N} / r_{N+1}.
    E = np.vstack([Z.T, np.ones((1, m))])
    f = np.zeros(N + 1)
    f[-1] = 1.0
    try:
        u, rnorm = nnls(E, f, maxiter=50 * (m + N + 1))
    except RuntimeError as err:
        raise SolverError(f"NNLS did not solve the hard-margin SVM: {err}") from None
    r = E @ u - f
    if not (rnorm > 1e-12 and r[-1] < 0):
        _not_separable(Z)
    mu = u / (-r[-1])
    x = _feasible(Z, Z.T @ mu)
    if x is None:
        _not_separable(Z)
    P = 0.5 * float(x @ x)
    # the best multiple c mu of mu >= 0 gives the dual value (1^T mu)^2 / (2 ||Z^T mu||^2)
    zt = Z.T @ mu
    nz = float(zt @ zt)
    c = float(np.sum(mu)) / nz if nz > 0 else 0.0
    mu_hat = c * mu
    Dv = float(np.sum(mu_hat)) - 0.5 * c * c * nz
    gap = (P - Dv) / P
    stat = float(np.linalg.norm(x - Z.T @ mu_hat)) / float(np.linalg.norm(x))
    ok = abs(gap) <= tol
    return MaxMarginResult(x=x, direction=x / np.linalg.norm(x), margin=1.0 / math.sqrt(2.0 * P), dual=mu_hat,
                           objective=P, dual_bound=Dv, duality_gap=gap, stationarity=stat,
                           distance_bound=math.sqrt(2.0 * max(P - Dv, 0.0)), support=_support(Z, x, tol),
                           norm="l2", depth=None, iterations=1, status="converged" if ok else "imprecise",
                           message="" if ok else f"relative duality gap {gap:.2e} > tol = {tol:g}")


def lq_stationarity(Z, x, q, tol=1e-9):
    """``(residual, mu, support, active)``: the KKT residual of ``x`` for ``min sum |x_i|^q, Z x >= 1``.

    On the support ``S`` of ``x`` stationarity reads ``q sign(x_S) |x_S|^{q-1} = Z_{A,S}^T mu``
    with ``mu >= 0`` on the active constraints ``A`` (``(Z x)_i = 1``); off the support the
    regular subdifferential of ``|t|^q`` at 0 is all of R (q < 1), so nothing is required.
    ``mu`` is the best non-negative fit (NNLS); the residual is relative to ``||grad||_inf``.
    """
    big = float(np.max(np.abs(x)))
    S = np.flatnonzero(np.abs(x) > 1e-10 * big)
    act = _support(Z, x, tol)
    grad = q * np.sign(x[S]) * np.abs(x[S]) ** (q - 1.0)
    mu = np.zeros(Z.shape[0])
    if act.size == 0:
        return math.inf, mu, S, act
    coef, _ = nnls(Z[np.ix_(act, S)].T, grad)
    mu[act] = coef
    res = float(np.max(np.abs(Z[np.ix_(act, S)].T @ coef - grad))) / float(np.max(np.abs(grad)))
    return res, mu, S, act


def _lq(Z, q, D, tol, max_iter):
    m, N = Z.shape
    start = _l1(Z, 1e-6)
    x = start.x
    iterations = 0
    eps = 0.1 * float(np.max(np.abs(x)))
    for it in range(max_iter):  # reweighted l1: each LP minimizes the concave objective's linearization
        iterations += 1
        w = q * (np.abs(x) + eps) ** (q - 1.0)
        out = linprog(np.r_[w, w], A_ub=-np.hstack([Z, -Z]), b_ub=-np.ones(m), bounds=[(0, None)] * (2 * N),
                      method="highs")
        if out.status != 0:
            raise SolverError(f"HiGHS failed on a reweighted l1 LP: {out.message}")
        x_new = out.x[:N] - out.x[N:]
        change = float(np.max(np.abs(x_new - x))) / float(np.max(np.abs(x_new)))
        x = x_new
        if change < 1e-12:
            if eps < 1e-14 * float(np.max(np.abs(x))):
                break
            eps *= 0.1
        elif eps > 1e-14 * float(np.max(np.abs(x))):
            eps *= 0.5
    x = _newton_polish(Z, x, q, tol)
    x = _feasible(Z, x)
    res, mu, S, act = lq_stationarity(Z, x, q, tol)
    obj = float(np.sum(np.abs(x) ** q))
    ok = res <= max(tol, 1e-9) * 10 and np.all(np.sign(x[S]) != 0)
    return MaxMarginResult(x=x, direction=x / np.linalg.norm(x), margin=obj ** (-1.0 / q), dual=mu, objective=obj,
                           dual_bound=None, duality_gap=None, stationarity=res, distance_bound=None, support=act,
                           norm="l2/D", depth=D, iterations=iterations, status="converged" if ok else "imprecise",
                           message="" if ok else f"KKT residual {res:.2e} on the support: not a certified "
                                                 "stationary point")


def _newton_polish(Z, x, q, tol):
    """Newton on ``q sign |x_S|^{q-1} = Z_{A,S}^T mu``, ``Z_{A,S} x_S = 1`` (support and active set fixed)."""
    res, mu, S, act = lq_stationarity(Z, x, q, 1e-7)
    if act.size == 0 or S.size == 0:
        return x
    sig = np.sign(x[S])
    xs, ms = x[S].copy(), mu[act].copy()
    ZA = Z[np.ix_(act, S)]
    for _ in range(30):
        ax = np.abs(xs)
        F = np.r_[q * sig * ax ** (q - 1.0) - ZA.T @ ms, ZA @ xs - 1.0]
        if float(np.max(np.abs(F))) < 1e-15 * max(1.0, float(np.max(q * ax ** (q - 1.0)))):
            break
        J = np.block([[np.diag(q * (q - 1.0) * ax ** (q - 2.0)), -ZA.T], [ZA, np.zeros((act.size, act.size))]])
        step = np.linalg.lstsq(J, -F, rcond=None)[0]
        t = 1.0
        while t > 1e-4 and np.any(np.sign(xs + t * step[:S.size]) != sig):
            t *= 0.5
        xs, ms = xs + t * step[:S.size], ms + t * step[S.size:]
    out = np.zeros_like(x)
    out[S] = xs
    if np.all(np.isfinite(out)) and np.min(Z @ out) > 0:
        return out
    return x
