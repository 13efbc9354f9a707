"""Reference integrators: the FULL networks' gradient flows on their weights, by scipy.

Independent of the mirror-map reduction: these integrate the weights themselves,
with Radau IIA at tight tolerances and the analytic Jacobian, on

    L(weights) = 1/2 ||A x(weights) - y||^2,    weights' = -grad L,

for the symmetric depth-p network (``x = u^p - v^p``), the layered network
(``x = prod_j u^j``; the two-layer network is L = 2). Used by the tests only.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

#: Radau's floor is rtol = 100 eps ~ 2.2e-14; 1e-13 keeps the reference ~1e-11 accurate
#: in x on the small, moderately scaled problems of the tests.
RTOL = 1e-13


def symmetric_flow(A, y, depth, alpha, times, rtol=RTOL):
    """``x(t)`` of ``x = u^p - v^p``, ``u(0) = v(0) = alpha`` (THEORY.md section 2).

    ``u' = p u^{p-1} g``, ``v' = -p v^{p-1} g``, ``g = A^T (y - A x)``; integrated in
    ``log u``, ``log v`` (the weights stay positive), so the tolerance is relative per weight.
    """
    A, y = np.asarray(A, float), np.asarray(y, float)
    N, p = A.shape[1], float(depth)
    G = A.T @ A

    def x_of(state):
        return np.exp(p * state[:N]) - np.exp(p * state[N:])

    def rhs(_, state):
        g = A.T @ (y - A @ x_of(state))
        return np.concatenate([p * np.exp((p - 2) * state[:N]) * g, -p * np.exp((p - 2) * state[N:]) * g])

    def jac(_, state):
        lu, lv = state[:N], state[N:]
        g = A.T @ (y - A @ x_of(state))
        cu, cv = p * np.exp((p - 2) * lu), p * np.exp((p - 2) * lv)
        dxu, dxv = p * np.exp(p * lu), -p * np.exp(p * lv)  # dx/dlog u, dx/dlog v
        J = np.zeros((2 * N, 2 * N))
        J[:N, :N] = np.diag((p - 2) * cu * g) - cu[:, None] * G * dxu[None, :]
        J[:N, N:] = -cu[:, None] * G * dxv[None, :]
        J[N:, :N] = cv[:, None] * G * dxu[None, :]
        J[N:, N:] = np.diag(-(p - 2) * cv * g) + cv[:, None] * G * dxv[None, :]
        return J

    state0 = np.full(2 * N, np.log(alpha))
    return _solve(rhs, jac, state0, times, rtol, x_of)


def layered_flow(A, y, inits, times, rtol=RTOL):
    """``x(t)`` of ``x = prod_j u^j`` from ``inits`` (L x N); also returns the layers.

    ``(u^j)' = (prod_{k != j} u^k) g``. Returns ``(x, U)`` with ``U`` of shape (len(times), L, N).
    """
    A, y = np.asarray(A, float), np.asarray(y, float)
    U0 = np.asarray(inits, float)
    L, N = U0.shape
    G = A.T @ A

    def others(U):
        """``prod_{k != j} u^k`` for every j (L x N), without division."""
        out = np.ones_like(U)
        for j in range(L):
            for k in range(L):
                if k != j:
                    out[j] *= U[k]
        return out

    def rhs(_, state):
        U = state.reshape(L, N)
        g = A.T @ (y - A @ np.prod(U, axis=0))
        return (others(U) * g).ravel()

    def jac(_, state):
        U = state.reshape(L, N)
        g = A.T @ (y - A @ np.prod(U, axis=0))
        pi = others(U)
        J = np.zeros((L * N, L * N))
        for j in range(L):
            for k in range(L):
                block = -pi[j][:, None] * G * pi[k][None, :]
                if k != j:
                    both = np.ones(N)
                    for l in range(L):
                        if l not in (j, k):
                            both = both * U[l]
                    block = block + np.diag(both * g)
                J[j * N:(j + 1) * N, k * N:(k + 1) * N] = block
        return J

    sol = _solve(rhs, jac, U0.ravel(), times, rtol, lambda s: np.prod(s.reshape(L, N), axis=0), states=True)
    x, states = sol
    return x, states.reshape(len(times), L, N)


def _solve(rhs, jac, state0, times, rtol, x_of, states=False):
    times = np.asarray(times, float)
    t_eval = times[times > 0]
    X = np.empty((times.size, x_of(state0).size))
    S = np.empty((times.size, state0.size))
    X[times == 0], S[times == 0] = x_of(state0), state0
    if t_eval.size:
        sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), state0, method="Radau", t_eval=t_eval, rtol=rtol,
                        atol=1e-3 * rtol * max(float(np.max(np.abs(state0))), 1e-300), jac=jac)
        assert sol.success, sol.message
        S[times > 0] = sol.y.T
        X[times > 0] = np.array([x_of(s) for s in sol.y.T])
    return (X, S) if states else X
