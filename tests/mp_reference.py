"""An independent extended-precision (mpmath) flow limit, for checking deviations below 1e-16.

Damped Newton on the dual of THEORY.md section 3 in THEORY's own units (no mirror map, no
boundary-relative coordinates), with y = A x* formed exactly in mpmath, continued in the
scale from 1e-1 down to the target by factors of 1e-2 (each stage starts at the last\ndual point, rescaled so that tau is unchanged).
"""

import mpmath as mp


def mp_flow_limit(A, x_star, depth, scale, dps=120, max_iter=200):
    """x_inf (list of mpf) of the depth-p flow on exact data y = A x_star, at ``scale``."""
    with mp.workdps(dps):
        N = len(A[0])
        Am = mp.matrix([[mp.mpf(float(v)) for v in row] for row in A])
        xs = mp.matrix([mp.mpf(float(v)) for v in x_star])
        y = Am * xs
        p = mp.mpf(depth)
        tol = mp.mpf(10) ** (-(dps // 2))  # the solve itself loses up to log10(cond H) digits
        target = mp.mpf(scale)
        lam = mp.matrix(len(A), 1)
        a = mp.mpf("0.1") if target < mp.mpf("0.1") else target
        while True:
            lam = _newton(Am, y, p, a, lam, tol, max_iter)
            if a == target:
                break
            a_new = max(a / 100, target)
            if p > 2:  # keep tau = p (p-2) alpha^(p-2) s fixed across stages
                lam = lam * (a / a_new) ** ((p - 2) / p)
            a = a_new
        x, _ = _x_of(Am, p, a, lam)
        return [x[i] for i in range(N)]


def _x_of(Am, p, a, lam):
    s = Am.T * lam
    if p == 2:
        return (mp.matrix([2 * a * mp.sinh(4 * si) for si in s]),
                mp.matrix([8 * a * mp.cosh(4 * si) for si in s]))
    alpha = a ** (1 / p)
    c = p * (p - 2) * alpha ** (p - 2)
    k = p / (p - 2)
    xs, ds = [], []
    for si in s:
        t = c * si
        if abs(t) >= 1:
            return None, None
        xs.append(a * ((1 - t) ** (-k) - (1 + t) ** (-k)))
        ds.append(a * k * c * ((1 - t) ** (-k - 1) + (1 + t) ** (-k - 1)))
    return mp.matrix(xs), mp.matrix(ds)


def _newton(Am, y, p, a, lam, tol, max_iter):
    x, d = _x_of(Am, p, a, lam)
    for _ in range(max_iter):
        g = Am * x - y
        gn = mp.norm(g)
        if gn <= tol * max(mp.norm(y), 1):
            return lam
        step = mp.lu_solve(Am * mp.diag(d) * Am.T, -g)
        t = mp.mpf(1)
        while True:
            x1, d1 = _x_of(Am, p, a, lam + t * step)
            if x1 is not None and mp.norm(Am * x1 - y) < gn:
                break
            t /= 2
            if t < mp.mpf(10) ** (-40):
                raise RuntimeError("mp Newton stalled")
        lam = lam + t * step
        x, d = x1, d1
    raise RuntimeError("mp Newton did not converge")
