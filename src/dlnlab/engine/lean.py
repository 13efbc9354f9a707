"""The lean path: `newton` on a small problem in plain Python floats.

On a problem of a few coordinates a numpy call costs 1-5 us, ten times the arithmetic it does
(a 5-vector ``exp`` measured 1.7 us, ``Q.T @ x`` 5.6 us, ``np.linalg.solve`` 17 us on this
project's 2-core machine), and a Newton step of `dlnlab.engine.steps.newton` is some sixty such
calls. For ``N r^2 <= LEAN_WORK`` and a map with scalar kernels (``scalar_terms``,
``scalar_conjugate``, ``scalar_primal``: `dlnlab.networks.symmetric`) `lean_newton` runs the same
iteration on lists of floats: the Newton direction of the Hessian ``Q^T diag(X') Q`` (same slope
cutoff, same jitter rule as `dlnlab.engine.linalg.solve_psd`, a Cholesky written out), the same
fraction to the boundary, Armijo and tie rules, and the same stopping test
``||Q^T x - z|| <= max(tol max(||z||, ||x||), rounding floor)`` (norms by `math.hypot`, exact
for any magnitude). Only the rounding of sums differs from the array form, so both take the same
steps to the same point.
"""

from __future__ import annotations

import math
from operator import mul

import numpy as np

from .linalg import JITTER
from .steps import FLOOR_FACTOR, PHI_RESOLUTION, SLOPE_CUTOFF, DualState

#: Problems with ``N r^2`` at most this run `newton` on lists of floats (`lean_newton`) when the
#: mirror map has scalar kernels; 0 switches the lean path off. A Newton step measured (p = 2, 3):
#: 19 us against 72-92 us in numpy at 2 x 3, 27-37 against 74-92 at 3 x 5, 62-68 against 78-98 at
#: 4 x 25 (N r^2 = 400); the two cross near N r^2 = 700 (5 x 40: 96-102 against 77-92).
LEAN_WORK = 400
#: `dlnlab.limits.flow_limit` on the lean path first tries Newton from 0 at the target itself when
#: the target is at most this far (in log-scale units, here a factor 1e4) below the starting scale
#: (`dlnlab.engine.scales.start_network`: the data's size), with at most `LEAN_DIRECT_ITERATIONS`
#: iterations; otherwise, or if that fails, the continuation runs as usual. On the seed paper's
#: problems (p = 2 .. 4, scales 1e-1 .. 1e-4 of the data) Newton from 0 took 5-14 iterations, against
#: 9-27 for the start solve and continuation.
LEAN_DIRECT_SPAN = math.log(1e4)
LEAN_DIRECT_ITERATIONS = 20
_INF = math.inf
_hypot, _sqrt, _isfinite = math.hypot, math.sqrt, math.isfinite


def lean_kernel(Q: np.ndarray, mapping):
    """The map's scalar kernels ``(terms, conjugate, primal)`` if ``Q`` (N x r) is small enough
    for the lean path and the map has them; else None."""
    N, r = Q.shape
    if not (0 < r and N * r * r <= LEAN_WORK):
        return None
    kernel = tuple(getattr(mapping, name, None) for name in ("scalar_terms", "scalar_conjugate", "scalar_primal"))
    return None if None in kernel else kernel


def cholesky_solve(H: list, b: list, r: int, jitter: float = 0.0) -> list | None:
    """``(H + jitter I)^{-1} b`` by Cholesky of the r x r list ``H`` (its lower triangle ``H[i][k]``,
    ``k <= i``, is read); None unless every pivot is positive and the solution finite (what LAPACK's
    ``potrf``/``potrs`` report)."""
    L = []
    for i in range(r):
        Hi = H[i]
        row = []
        for k in range(i):
            Lk = L[k]
            s = Hi[k]
            for t in range(k):
                s -= row[t] * Lk[t]
            row.append(s / Lk[k])
        s = Hi[i] + jitter
        for v in row:
            s -= v * v
        if not s > 0.0:
            return None
        row.append(_sqrt(s))
        L.append(row)
    w = []
    for i in range(r):
        Li = L[i]
        s = b[i]
        for k in range(i):
            s -= Li[k] * w[k]
        w.append(s / Li[i])
    v = [0.0] * r
    for i in range(r - 1, -1, -1):
        s = w[i]
        for k in range(i + 1, r):
            s -= L[k][i] * v[k]
        v[i] = s / L[i][i]
    return v if all(map(_isfinite, v)) else None


def solve_psd_lists(H: list, b: list, r: int) -> list:
    """`dlnlab.engine.linalg.solve_psd` on lists (lower triangle of ``H`` read): Cholesky of ``H + j I``
    with ``j = 1e-14 max diag H``, raised 100-fold up to 8 times, then least squares."""
    scale = max([H[i][i] for i in range(r)])
    if not (_isfinite(scale) and scale > 0):
        scale = 1.0
    jitter = JITTER * scale
    for _ in range(8):
        v = cholesky_solve(H, b, r, jitter)
        if v is not None:
            return v
        jitter *= 100.0
    full = np.array([[H[max(i, k)][min(i, k)] for k in range(r)] for i in range(r)])
    return np.linalg.lstsq(full, np.array(b), rcond=None)[0].tolist()


class _Dual:
    """``Phi`` of one small problem on lists: the columns, rows and column products of ``Q`` and ``z``."""

    def __init__(self, Q: np.ndarray, z: np.ndarray, mapping, kernel):
        self.terms, self.conjugate, self.primal = kernel
        self.N, self.r = Q.shape
        self.rows = Q.tolist()
        self.cols = cols = Q.T.tolist()
        self.pairs = [[list(map(mul, cols[j], cols[m])) for m in range(j + 1)] for j in range(self.r)]  # Q_ij Q_im
        self.z = z.tolist()
        self.znorm = _hypot(*self.z)
        self.barrier = mapping.barrier

    def gradient(self, x: list) -> list:
        """``Q^T x - z``."""
        return [sum(map(mul, col, x)) - zj for col, zj in zip(self.cols, self.z)]

    def direction(self, d: list, grad: list):
        """The Newton direction ``dmu = -(Q^T diag(d) Q)^{-1} grad`` over the slopes above the cutoff, and
        ``dz = Q dmu``; None when every slope underflowed (no curvature to step with)."""
        dmax = max(d)
        if not dmax > 0:
            return None
        cut = SLOPE_CUTOFF * dmax
        if min(d) > cut:  # lower triangle, row by row: H_jm = sum_i d_i Q_ij Q_im
            H = [[sum(map(mul, d, p)) for p in row] for row in self.pairs]
        else:
            keep = [i for i in range(self.N) if d[i] > cut]
            dk = [d[i] for i in keep]
            H = [[sum(dk[t] * p[i] for t, i in enumerate(keep)) for p in row] for row in self.pairs]
        dmu = solve_psd_lists(H, [-g for g in grad], self.r)
        return dmu, [sum(map(mul, row, dmu)) for row in self.rows]

    def search(self, sign, gap, F0, grad, gnorm, dmu, dz, max_halvings):
        """`dlnlab.engine.steps.damped_newton`'s line search on ``Phi``: fraction to the boundary, Armijo,
        and the tie rule (a change below the resolution of ``Phi`` is accepted if the residual improves).
        Returns ``(t, sign, gap, F)`` of the accepted point or None."""
        decrement = -sum(map(mul, grad, dmu))
        dmuz = sum(map(mul, dmu, self.z))
        barrier = self.barrier
        t = 1.0
        if barrier:
            tmax = _INF
            for s, g, v in zip(sign, gap, dz):
                rate = s * v
                if rate > 0:
                    lim = g / rate
                elif rate < 0:
                    lim = (g - 2.0) / rate
                else:
                    continue
                if lim < tmax:
                    tmax = lim
            if tmax <= 1.0:
                t = 0.99 * tmax
        F0_size = None
        for _ in range(max_halvings):
            # the trial point mu + t dmu (gap - sign t dz), inside the domain
            g1 = [g - s * (t * v) for s, g, v in zip(sign, gap, dz)]
            top = max(g1)
            if barrier and not (min(g1) > 0.0 and top < 2.0):  # (finite: dz is)
                t *= 0.5
                continue
            s1 = sign
            if top > 1.0:  # flip to the nearer boundary (`normalize`)
                s1 = [-s if g > 1.0 else s for s, g in zip(sign, g1)]
                g1 = [2.0 - g if g > 1.0 else g for g in g1]
            F1 = self.conjugate(s1, g1)
            if F1 is not None:
                # Phi(new) - Phi(old), term by term (keeps its relative precision at tiny scales)
                dphi = sum(map(float.__sub__, F1, F0)) - t * dmuz
                if _isfinite(dphi):
                    if dphi <= -1e-4 * t * decrement:  # Armijo, `damped_newton`'s constant
                        return t, s1, g1, F1
                    if F0_size is None:
                        F0_size = sum(map(abs, F0))
                    if abs(dphi) <= PHI_RESOLUTION * (F0_size + abs(t * dmuz)):
                        x1 = self.primal(s1, g1)
                        if x1 is not None and _hypot(*self.gradient(x1)) < gnorm:
                            return t, s1, g1, F1
            t *= 0.5
        return None


def lean_newton(Q: np.ndarray, z: np.ndarray, mapping, kernel, state, *, tol: float, max_iter: int,
                max_halvings: int = 60, hessian=None, polish: int = 0):
    """`dlnlab.engine.steps.newton` (damped Newton on ``Phi(mu) = sum F(Q mu) - <mu, z>``) on lists of
    floats; ``kernel`` from `lean_kernel`. Returns ``(state, iterations, converged)`` like it.

    ``polish``: after convergence, up to this many steps of `dlnlab.engine.steps.polish` (each kept only
    if it halves the residual; line searches of two trials), counted in the iterations.
    """
    phi = _Dual(Q, z, mapping, kernel)
    terms = phi.terms
    mu, sign, gap, travel = state.mu.tolist(), state.sign.tolist(), state.gap.tolist(), state.travel.tolist()
    F0 = None  # the conjugate at the current point, once a line search has computed it
    its, ok = max_iter, False
    for it in range(max_iter + 1):
        got = terms(sign, gap, F0 is None)
        if got is None:
            its = it
            break
        x, d, F = got
        if F0 is None:
            F0 = F
        grad = phi.gradient(x)
        gnorm = _hypot(*grad)
        floor = FLOOR_FACTOR * _hypot(*map(mul, d, gap))
        if gnorm <= max(tol * max(phi.znorm, _hypot(*x)), floor):
            its, ok = it, True
            break
        step = phi.direction(d, grad) if it < max_iter else None
        if step is None:
            its = it
            break
        if hessian is not None:
            hessian.factorizations += 1
        accepted = phi.search(sign, gap, F0, grad, gnorm, *step, max_halvings)
        if accepted is None:
            its = it
            break
        t, sign, gap, F0 = accepted
        move = [t * v for v in step[0]]
        mu = list(map(float.__add__, mu, move))
        travel = list(map(float.__add__, travel, move))
    for _ in range(polish if ok else 0):
        # `polish`: Newton steps to tolerance 0 (stop at the rounding floor), kept while the residual halves
        if gnorm <= floor:
            break
        step = phi.direction(d, grad)
        if step is None:
            break
        if hessian is not None:
            hessian.factorizations += 1
        accepted = phi.search(sign, gap, F0, grad, gnorm, *step, 2)
        if accepted is None:
            break
        its += 1
        t, s1, g1, F1 = accepted
        got = terms(s1, g1, False)
        if got is None:
            break
        x1, d1, _ = got
        grad1 = phi.gradient(x1)
        gnorm1 = _hypot(*grad1)
        if not gnorm1 <= 0.5 * gnorm:
            break
        sign, gap, F0, d, grad, gnorm = s1, g1, F1, d1, grad1, gnorm1
        floor = FLOOR_FACTOR * _hypot(*map(mul, d, gap))
        move = [t * v for v in step[0]]
        mu = list(map(float.__add__, mu, move))
        travel = list(map(float.__add__, travel, move))
    new = DualState(np.array(mu), np.array(sign, dtype=float), np.array(gap), np.array(travel))
    return new, its, ok


def lean_polish(Q: np.ndarray, z: np.ndarray, mapping, kernel, state, max_steps: int = 2, hessian=None):
    """`dlnlab.engine.steps.polish` on lists: Newton steps past the tolerance while each halves the residual."""
    # tolerance inf: the point is taken as converged, as the caller found it
    new, its, _ = lean_newton(Q, z, mapping, kernel, state, tol=math.inf, max_iter=0, hessian=hessian,
                              polish=max_steps)
    return new, its


def lean_evidence(A: np.ndarray, y: np.ndarray, y_norm: float, Q: np.ndarray, z: np.ndarray, net_map, mapping,
                  beta: float, state, rtol: float):
    """The evidence of a limit computed on lists (`dlnlab.limits.finish` computes the same in numpy):
    ``(x, residual, kkt, floor, passes)`` or None where a scalar kernel is missing or declines.

    ``x = beta X(z)`` (the caller's units); ``residual = ||A x - y|| / ||y||`` from the caller's data;
    ``kkt = ||P_perp z(x)||_inf / ||z(x)||_inf`` with ``z(x)`` from the inverse map of ``net_map``
    (`dlnlab.engine.checks.kkt_error`); ``floor``: `rounding_floor` in the caller's units; ``passes``:
    the residual test ``||Q^T x - z|| <= max(rtol max(||z||, ||x||), floor)`` (``z`` in the caller's units).
    """
    terms = getattr(mapping, "scalar_terms", None)
    scalar_dual = getattr(net_map, "scalar_dual", None)
    if terms is None or scalar_dual is None:
        return None
    sign, gap = state.sign.tolist(), state.gap.tolist()
    got = terms(sign, gap, False)
    if got is None:
        return None
    xt, d, _ = got
    x = [beta * v for v in xt]
    if not all(map(_isfinite, x)):
        return None
    zx = scalar_dual(x)
    if zx is None:
        return None
    zx = [s * (1.0 - g) for s, g in zip(*zx)]
    # entries below 1e-290 (subnormal or underflowed) no longer determine z: the solver's own coordinates
    zx = [s * (1.0 - g) if abs(v) < 1e-290 else w for v, w, s, g in zip(x, zx, sign, gap)]
    zinf = max(map(abs, zx))
    cols, rows = Q.T.tolist(), Q.tolist()
    if zinf == 0.0:
        kkt = 0.0
    else:
        c = [sum(map(mul, col, zx)) for col in cols]
        kkt = max(abs(w - sum(map(mul, row, c))) for w, row in zip(zx, rows)) / zinf
    xa = np.array(x)
    res = _hypot(*(A @ xa - y).tolist())  # A x as `Problem.relative_residual` forms it
    residual = res / y_norm if y_norm > 0 else res
    floor = beta * (FLOOR_FACTOR * _hypot(*map(mul, d, gap)))
    zl = z.tolist()
    passes = _hypot(*[sum(map(mul, col, x)) - zj for col, zj in zip(cols, zl)]) <= max(
        rtol * max(_hypot(*zl), _hypot(*x)), floor)
    return xa, residual, kkt, floor, passes
