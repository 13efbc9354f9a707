"""Extended-precision references: flow limits and BP solutions in mpmath (for the tests).

Written straight from the mathematics (docs/theory.md section 3), with no code of the
package's solvers, so that agreement with `dlnlab.flow_limit` and `dlnlab.deviation_from_bp`
is evidence; the Newton iteration below is mpmath's own for that reason. Slow: for problems
with a handful of coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SolverError


@dataclass(frozen=True)
class MPLimit:
    """A flow limit computed with mpmath: ``x`` (list of mpf), ``residual`` (mpf, ``||Ax-y||_inf``),
    ``dps`` (decimal digits), ``stages`` (continuation steps), ``iterations`` (Newton steps)."""

    x: list
    residual: object
    dps: int
    stages: int
    iterations: int

    def log10_error(self, x_star) -> float:
        """``log10 ||x - x_star||_2`` evaluated in the same precision (``x_star``: floats or mpf)."""
        import mpmath
        with mpmath.workdps(self.dps):
            s = mpmath.fsum((xi - mpmath.mpf(xs)) ** 2 for xi, xs in zip(self.x, x_star))
            return float(mpmath.log10(mpmath.sqrt(s))) if s > 0 else -math.inf


def mp_bp_solution(A, y, support, dps: int) -> list:
    """``x*`` with ``A_S x*_S = y`` solved in ``dps`` digits (normal equations, exact for
    consistent systems with ``A_S`` injective); zero off ``support``. Entries are mpf."""
    import mpmath
    A = np.asarray(A, dtype=float)
    S = [int(i) for i in support]
    with mpmath.workdps(dps):
        AS = mpmath.matrix([[mpmath.mpf(float(A[i, j])) for j in S] for i in range(A.shape[0])])
        ym = mpmath.matrix([mpmath.mpf(float(v)) for v in np.asarray(y, dtype=float).ravel()])
        xs = mpmath.lu_solve(AS.T * AS, AS.T * ym)
        x = [mpmath.mpf(0)] * A.shape[1]
        for idx, j in enumerate(S):
            x[j] = xs[idx]
        return x


def mp_flow_limit(A, y, depth: float, log10_scale: float, *, dps: int | None = None,
                  max_iter: int = 200) -> MPLimit:
    """The flow limit of a depth-p DLN in extended precision, independent of the package's solvers.

    Straight from docs/theory.md section 3, in scaled dual units: p = 2: ``x = 2a sinh(z)``,
    ``z = A^T mu``, dual ``Phi(mu) = sum 2a cosh(z_i) - <mu, y>``; p > 2: ``x = a h_p(tau)``,
    ``tau = A^T mu``, ``Phi = sum a/(k-1) [(1-tau)^(1-k) + (1+tau)^(1-k)] - <mu, y>``.
    Damped Newton (Armijo on Phi, staying inside ``|tau| < 1``) with continuation in
    ``log10 a`` from 1 (predictor: linear extrapolation in ``log10 a``), in ``dps`` decimal
    digits. The error to x* can be ~a and a support entry near the barrier loses
    ``log10(1/gap) ~ |log10 a| / k`` digits, so the default is ``40 + 1.1 (1 + 1/k) |log10 a|``
    (``1/k = 0`` for p = 2). Newton stops at ``||Ax - y||_inf <= 1e-(dps-12)`` or at the
    rounding floor of ``Ax - y`` in the working precision. For small problems (tests).

    >>> r = mp_flow_limit([[1.0, 0.9]], [1.0], 2, -100.0)
    >>> round(r.log10_error([1.0, 0.0]), 5)
    -9.87116
    """
    return mp_flow_limit_path(A, y, depth, [log10_scale], dps=dps, max_iter=max_iter)[0]


def mp_flow_limit_path(A, y, depth: float, log10_scales, *, dps: int | None = None,
                       max_iter: int = 200) -> list:
    """`mp_flow_limit` at several scales from one continuation run, which stops exactly at each
    ``log10 a`` of ``log10_scales`` on its way down (list of `MPLimit`, in the order given;
    ``stages`` and ``iterations`` count from scale 1). The default ``dps`` is that of the
    smallest scale.

    >>> rs = mp_flow_limit_path([[1.0, 0.9]], [1.0], 2, [-50.0, -100.0])
    >>> [round(r.log10_error([1.0, 0.0]), 5) for r in rs]
    [-4.87116, -9.87116]
    """
    import mpmath
    A = np.asarray(A, dtype=float)
    m, N = A.shape
    p = float(depth)
    wanted = [float(v) for v in np.atleast_1d(np.asarray(log10_scales, dtype=float))]
    if not wanted or not all(math.isfinite(v) for v in wanted):
        raise SolverError(f"mp_flow_limit_path needs finite log10 scales; got {log10_scales!r}.")
    if dps is None:
        dps = int(40 + 1.1 * (1 + (0 if p == 2 else (p - 2) / p)) * max(abs(v) for v in wanted))
    with mpmath.workdps(dps):
        mpf = mpmath.mpf
        Am = [[mpf(float(v)) for v in row] for row in A]
        ym = [v if isinstance(v, mpmath.mpf) else mpf(float(v)) for v in np.ravel(np.asarray(y, dtype=object))]
        k = None if p == 2 else mpf(p) / (mpf(p) - 2)
        tol = mpf(10) ** (-(dps - 12)) * max(1, max(abs(v) for v in ym))
        eps_mp = mpf(10) ** (-dps)

        def tau_of(mu):
            return [mpmath.fsum(Am[i][j] * mu[i] for i in range(m)) for j in range(N)]

        def parts(t, a):
            if k is None:
                return 2 * a * mpmath.cosh(t), 2 * a * mpmath.sinh(t), 2 * a * mpmath.cosh(t)
            if abs(t) >= 1:
                return None
            return (a / (k - 1) * ((1 - t) ** (1 - k) + (1 + t) ** (1 - k)), a * ((1 - t) ** -k - (1 + t) ** -k),
                    a * k * ((1 - t) ** (-k - 1) + (1 + t) ** (-k - 1)))

        def evaluate(mu, a):
            ps = [parts(t, a) for t in tau_of(mu)]
            if any(q is None for q in ps):
                return None
            phi = mpmath.fsum(q[0] for q in ps) - mpmath.fsum(mu[i] * ym[i] for i in range(m))
            return phi, [q[1] for q in ps], [q[2] for q in ps]

        def newton(mu, a):
            its = 0
            for its in range(max_iter):
                phi, x, d = evaluate(mu, a)
                g = [mpmath.fsum(Am[i][j] * x[j] for j in range(N)) - ym[i] for i in range(m)]
                # rounding floor of g: x_j = X(tau_j) has relative error ~ 10^-dps times
                # |tau_j| (p = 2) or k / (1 - |tau_j|) (p > 2, near the barrier)
                tau = tau_of(mu)
                cond = [max(1, abs(t)) if k is None else (k + 1) / (1 - abs(t)) for t in tau]
                floor = 100 * eps_mp * mpmath.fsum(abs(x[j]) * cond[j] * max(abs(Am[i][j]) for i in range(m))
                                                   for j in range(N))
                if max(abs(v) for v in g) <= max(tol, floor):
                    return mu, x, its, True
                H = mpmath.matrix(m, m)
                for i in range(m):
                    for l in range(m):
                        H[i, l] = mpmath.fsum(Am[i][j] * d[j] * Am[l][j] for j in range(N))
                step = mpmath.lu_solve(H, mpmath.matrix([-v for v in g]))
                dmu = [step[i] for i in range(m)]
                dec = -mpmath.fsum(g[i] * dmu[i] for i in range(m))
                t = mpf(1)
                for _ in range(200):
                    new = [mu[i] + t * dmu[i] for i in range(m)]
                    ev = evaluate(new, a)
                    if ev is not None and ev[0] <= phi - mpf("1e-4") * t * dec:
                        break
                    if ev is not None and dec <= 1000 * eps_mp * (abs(phi) + 1):
                        break  # Phi cannot resolve the decrease: accept the Newton step
                    t /= 2
                else:
                    return mu, x, its, False
                mu = new
            phi, x, d = evaluate(mu, a)
            return mu, x, its, False

        mu = [mpf(0)] * m
        targets = sorted(set(wanted), reverse=True)  # visited from scale 1 down
        found = {}
        L, L_prev, target = mpf(0), None, mpf(targets[0])
        step = mpf(1)
        stages = total = 0
        history = []
        while True:
            guess = mu
            if len(history) == 2 and L_prev is not None:
                (L0, mu0), (L1, mu1) = history
                r = (L - L1) / (L1 - L0)
                cand = [mu1[i] + r * (mu1[i] - mu0[i]) for i in range(m)]
                if evaluate(cand, mpf(10) ** L) is not None:
                    guess = cand
            new_mu, x, its, ok = newton(guess, mpf(10) ** L)
            if not ok and guess is not mu:
                new_mu, x, its2, ok = newton(mu, mpf(10) ** L)
                its += its2
            total += its
            if not ok:
                if L_prev is None:
                    raise SolverError("mp_flow_limit: Newton failed at scale 1; is y in range(A)?")
                step /= 4  # retry from the last solved scale with a smaller step
                if step < mpf("1e-6"):
                    raise SolverError("mp_flow_limit: continuation stalled; raise dps.")
                L = max(L_prev - step, target)
                continue
            mu, L_prev = new_mu, L
            history = (history + [(L, mu)])[-2:]
            stages += 1
            if L == target:
                g = [mpmath.fsum(Am[i][j] * x[j] for j in range(N)) - ym[i] for i in range(m)]
                found[targets[len(found)]] = MPLimit(list(x), max(abs(v) for v in g), dps, stages, total)
                if len(found) == len(targets):
                    break
                target = mpf(targets[len(found)])
            if its <= 12:
                step = min(2 * step, 20)
            L = max(L - step, target)
        return [found[v] for v in wanted]
