"""Independent reference computations: the FULL networks' gradient flows, integrated by scipy.

This module exists to *check* `dlnlab.flow_limit` and `dlnlab.flow_trajectory`, and to give
benchmarks a baseline. It uses nothing of the mirror-map reduction (docs/theory.md section 3):
it integrates the weights themselves. For the depth-p symmetric network (docs/theory.md
section 2), the 2N-dimensional flow

    u' = p u^(p-1) g,   v' = -p v^(p-1) g,   g = A^T (y - A x),   x = u^p - v^p,
    u(0) = v(0) = alpha,

with a stiff integrator (Radau IIA by default) and the analytic Jacobian. The weights are
integrated in log variables ``w = log u``, ``r = log v`` (still the full network, one
variable per weight):

    w' = p e^{(p-2) w} g,   r' = -p e^{(p-2) r} g,   x = e^{p w} - e^{p r},

so that the integrator's error control acts on the *relative* error of every weight
(``atol`` on ``w`` is a relative tolerance on ``u``); in the original variables ``v``
decays to ~1e-10 and an absolute tolerance would have to be tuned per coordinate.

Entry points:

- `network_flow`: ``x(t)`` at given times, with the loss along the way as evidence
  (`symmetric_flow`: its ``x`` at the tests' tolerances);
- `network_limit`: integrate until the linearized distance left is below a tolerance;
- `seed_paper_limit`: the seed paper's own method for the limit (Radau, ``rtol = 2.5e-14``,
  up to ``T = 1e9 * alpha^(2-p)``), the baseline that `flow_limit` replaces;
- `layered_flow`: the layered network ``x = prod_j u^j`` (two-layer: L = 2) from any
  initialization, ``(u^j)' = (prod_{k != j} u^k) g``, in the weights themselves;
- `azulay_flow`: Azulay et al.'s ``x = u+ v+ - u- v-`` from any four initializations, the 4N
  weights ``W`` integrated as ``W' = (dx/dW) g``.

These are slow (seconds for a 3 x 5 problem) and only reliable at moderate scales: an ODE
integrator must follow the flow through its whole plateau-and-escape history.

>>> import numpy as np
>>> A, y = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, 1.0]]), np.array([3.0, 3.0])
>>> sol = network_flow(A, y, depth=2, alpha=0.1, times=[60.0], rtol=1e-10, atol=1e-12)
>>> bool(sol.residual[-1] < 1e-11)
True
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ..errors import NetworkError, ProblemError, SolverError

#: Radau's floor is rtol = 100 eps ~ 2.2e-14; 1e-13 keeps the reference ~1e-11 accurate in x
#: on the small, moderately scaled problems of the tests.
TEST_RTOL = 1e-13
#: The seed paper's relative tolerance (scipy's Radau refuses rtol below 100 * eps = 2.2e-14).
SEED_RTOL = 2.5e-14


@dataclass(frozen=True)
class NetworkFlow:
    """``x(t)`` of the full network at ``times``, with the evidence of the integration.

    ``x`` has shape ``(len(times), N)``; ``residual[k] = ||A x(t_k) - y|| / ||y||``;
    ``remaining[k]``: the linearized distance still to travel after ``t_k`` (see
    `remaining_travel`), so that ``||x_inf - x(t_k)|| ~ remaining[k]`` near the limit;
    ``nfev``/``njev``/``nlu``: right-hand side and Jacobian evaluations and LU
    factorizations of the integrator; ``seconds``: wall time of the integration.
    """

    times: np.ndarray
    x: np.ndarray
    residual: np.ndarray
    remaining: np.ndarray
    depth: float
    alpha: float
    method: str
    rtol: float
    atol: float
    nfev: int
    njev: int
    nlu: int
    seconds: float
    message: str

    @property
    def final(self) -> np.ndarray:
        """``x`` at the last requested time."""
        return self.x[-1]


def _check(A, y, depth, alpha):
    A = np.asarray(A, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    if A.ndim != 2 or y.shape != (A.shape[0],):
        raise ProblemError(f"A must be m x N and y of length m; got A {A.shape}, y {y.shape}.")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y))):
        raise ProblemError("A and y must be finite (no NaN or inf).")
    p = float(depth)
    if not math.isfinite(p) or p < 2:
        raise NetworkError(f"depth must be a real number >= 2; got {depth!r}.")
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise NetworkError(f"alpha must be positive and finite; got {alpha!r}.")
    return A, y, p, alpha


def _vector_field(A, y, p):
    """Right-hand side and analytic Jacobian of the log-weight flow (module docstring).

    With ``du = dx/dw = p u^p``, ``dv = -dx/dr = p v^p``, ``ew = p u^(p-2)``,
    ``er = p v^(p-2)``, ``G = A^T A``:
    ``dw'/dw = diag((p-2) ew g) - diag(ew) G diag(du)``, ``dw'/dr = diag(ew) G diag(dv)``,
    ``dr'/dw = diag(er) G diag(du)``, ``dr'/dr = -diag((p-2) er g) - diag(er) G diag(dv)``.
    """
    N = A.shape[1]
    G = A.T @ A
    Aty = A.T @ y

    signed_p = np.concatenate([np.full(N, p), np.full(N, -p)])

    def parts(state):
        w, r = state[:N], state[N:]
        up, vp = np.exp(p * w), np.exp(p * r)
        g = Aty - G @ (up - vp)
        return w, r, up, vp, g

    def rhs(_t, state):
        powers = np.exp(p * state)
        g = Aty - G @ (powers[:N] - powers[N:])
        return signed_p * np.exp((p - 2.0) * state) * np.concatenate((g, g))

    def jac(_t, state):
        w, r, up, vp, g = parts(state)
        ew, er = p * np.exp((p - 2.0) * w), p * np.exp((p - 2.0) * r)
        du, dv = p * up, p * vp
        J = np.empty((2 * N, 2 * N))
        J[:N, :N] = -(ew[:, None] * G * du[None, :])
        J[:N, N:] = ew[:, None] * G * dv[None, :]
        J[N:, :N] = er[:, None] * G * du[None, :]
        J[N:, N:] = -(er[:, None] * G * dv[None, :])
        idx = np.arange(N)
        J[idx, idx] += (p - 2.0) * ew * g
        J[N + idx, N + idx] -= (p - 2.0) * er * g
        return J

    return rhs, jac


def network_flow(A, y, depth: float, alpha: float, times, method: str = "Radau", rtol: float = 1e-12,
                 atol: float = 1e-14) -> NetworkFlow:
    """Integrate the full 2N-dimensional gradient flow of the depth-p network; ``x`` at ``times``.

    ``alpha`` is the weight scale (``u(0) = v(0) = alpha``; effective scale ``alpha**depth``).
    ``rtol``/``atol`` act on the log-weights, i.e. on the relative error of each weight.
    Raises `SolverError` if the integrator fails.

    >>> sol = network_flow([[1.0, 2.0]], [1.0], depth=3, alpha=0.5, times=[0.0, 50.0])
    >>> sol.x.shape, bool(sol.residual[0] > 0.9 and sol.residual[1] < 1e-10)
    ((2, 2), True)
    """
    A, y, p, alpha = _check(A, y, depth, alpha)
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0) or np.any(np.diff(times) < 0):
        raise ProblemError("times must be finite, non-negative and non-decreasing.")
    return _integrate(A, y, p, alpha, times, method, rtol, atol, stop_below=None)


def network_limit(A, y, depth: float, alpha: float, t_max: float, tol: float = 1e-12, method: str = "Radau",
                  rtol: float = 1e-10, atol: float = 1e-12) -> NetworkFlow:
    """Integrate the full network until it has (linearly) ``tol`` left to travel; ``x`` there.

    A terminal event stops the integration at the first time ``t <= t_max`` where
    `remaining_travel` drops to ``tol``: past it, scipy's Radau only thrashes on rounding
    noise (its Newton convergence test sees ratios ~1 between 1e-16 increments). Raises
    `SolverError` if ``t_max`` is reached first. The result has one time, the stopping time.

    >>> sol = network_limit([[1.0, 2.0]], [1.0], depth=2, alpha=0.3, t_max=1e4)
    >>> bool(sol.remaining[-1] <= 1e-12 and sol.residual[-1] < 1e-11)
    True
    """
    A, y, p, alpha = _check(A, y, depth, alpha)
    # the event fires at tol / 2 so that the root finder's last digits cannot land above tol
    sol = _integrate(A, y, p, alpha, np.array([float(t_max)]), method, rtol, atol, stop_below=0.5 * float(tol))
    if sol.remaining[-1] > tol:
        raise SolverError(f"the network flow still had {sol.remaining[-1]:.2e} to travel at t_max = {t_max:.3g} "
                          f"(tol {tol:.1e}); raise t_max.")
    return sol


def _integrate(A, y, p, alpha, times, method, rtol, atol, stop_below):
    N = A.shape[1]
    rhs, jac = _vector_field(A, y, p)
    state0 = np.full(2 * N, math.log(alpha))
    T = float(times[-1])
    events = None
    if stop_below is not None:
        def converged(_t, state):
            return math.log(max(remaining_travel(A, y, p, state[:N], state[N:]), 1e-300)) - math.log(stop_below)
        converged.terminal = True
        converged.direction = -1
        events = converged
    start = time.perf_counter()
    if T == 0.0:
        states = np.repeat(state0[:, None], times.size, axis=1)
        nfev = njev = nlu = 0
        message = "no integration needed (all times are 0)"
    else:
        sol = solve_ivp(rhs, (0.0, T), state0, method=method, t_eval=None if events else times, jac=jac,
                        rtol=rtol, atol=atol, events=events)
        if sol.status < 0:
            raise SolverError(f"{method} integration of the network flow failed at t = {sol.t[-1] if sol.t.size else 0:.3g}: "
                              f"{sol.message}. Try a looser rtol or a shorter horizon.")
        if events is not None:
            stopped = sol.status == 1
            times = np.array([sol.t_events[0][0] if stopped else sol.t[-1]])
            states = (sol.y_events[0][0] if stopped else sol.y[:, -1])[:, None]
        else:
            states = sol.y
        nfev, njev, nlu, message = int(sol.nfev), int(sol.njev), int(sol.nlu), str(sol.message)
    seconds = time.perf_counter() - start
    x = (np.exp(p * states[:N]) - np.exp(p * states[N:])).T
    ynorm = float(np.linalg.norm(y))
    residual = np.linalg.norm(x @ A.T - y, axis=1) / (ynorm if ynorm > 0 else 1.0)
    remaining = np.array([remaining_travel(A, y, p, states[:N, k], states[N:, k]) for k in range(times.size)])
    return NetworkFlow(times=times, x=x, residual=residual, remaining=remaining, depth=p, alpha=alpha,
                       method=method, rtol=rtol, atol=atol, nfev=nfev, njev=njev, nlu=nlu, seconds=seconds,
                       message=message)


def remaining_travel(A, y, p, w, r) -> float:
    """Linearized ``||x_inf - x||`` from the network state ``u = e^w``, ``v = e^r``.

    Along the flow ``x' = D g`` with ``D = p^2 (u^(2p-2) + v^(2p-2))`` and ``g = A^T rho``,
    ``rho = y - A x``; frozen at the current state, ``rho' = -H rho`` with ``H = A D A^T``, so
    the rest of the path adds ``int x' dt = D A^T H^+ rho``. Computed from the weights alone.
    """
    D = p * p * (np.exp((2 * p - 2) * w) + np.exp((2 * p - 2) * r))
    rho = y - A @ (np.exp(p * w) - np.exp(p * r))
    H = (A * D) @ A.T
    return float(np.linalg.norm(D * (A.T @ np.linalg.lstsq(H, rho, rcond=None)[0])))


def seed_paper_horizon(depth: float, alpha: float) -> float:
    """The seed paper's final time ``T = 1e9 * alpha^(2-p)``; for p = 2 (exponent 0), ``T = 1e9``.

    For p > 2 the flow's time scale is ``1/(p (p-2) alpha^(p-2))`` (docs/theory.md section 6), so
    ``T`` is 1e9 of those units up to the factor ``p (p-2)``. At p = 2 the formula reads
    ``alpha^0 = 1``; we keep ``T = 1e9``, which is ~1e8 times the p = 2 time scale
    ``log(1/alpha)/2`` at every scale tested here.
    """
    p = float(depth)
    return 1e9 * float(alpha) ** (2.0 - p)


def seed_paper_limit(A, y, depth: float, alpha: float) -> NetworkFlow:
    """The seed paper's method for the limit: Radau, ``rtol = 2.5e-14``, up to ``seed_paper_horizon``.

    Our interpretation of that method: the full network flow (log-weights, analytic Jacobian,
    ``atol = 1e-14`` on the log-weights, i.e. relative 1e-14 on the weights), one output at
    the final time ``T``. Returns a `NetworkFlow` with one time; ``.final`` is ``x(T)``.

    >>> sol = seed_paper_limit([[1.0, 2.0]], [1.0], depth=2, alpha=0.3)
    >>> bool(sol.residual[-1] < 1e-12)
    True
    """
    _A, _y, p, a = _check(A, y, depth, alpha)
    return network_flow(A, y, p, a, [seed_paper_horizon(p, a)], method="Radau", rtol=SEED_RTOL, atol=1e-14)


def symmetric_flow(A, y, depth: float, alpha: float, times, rtol: float = TEST_RTOL) -> np.ndarray:
    """``x(t)`` of `network_flow` at ``times`` (shape ``(len(times), N)``), with ``atol`` on the
    log-weights set to ``1e-3 rtol |log alpha|`` (relative to the initial log-weights)."""
    return network_flow(A, y, depth, alpha, times, rtol=rtol, atol=1e-3 * rtol * max(abs(math.log(alpha)), 1e-300)).x


def layered_flow(A, y, inits, times, rtol: float = TEST_RTOL):
    """``x(t)`` of ``x = prod_j u^j`` from ``inits`` (L x N) by Radau with the analytic Jacobian.

    Returns ``(x, U)``: ``x`` of shape ``(len(times), N)`` and the layers ``U`` of shape
    ``(len(times), L, N)``. ``atol`` is ``1e-3 rtol max|u(0)|``.

    >>> x, U = layered_flow([[1.0, 2.0]], [1.0], [[0.5, 0.4], [0.5, 0.6]], [0.0, 100.0])
    >>> x.shape, U.shape, bool(abs(x[-1] @ [1.0, 2.0] - 1.0) < 1e-10)
    ((2, 2), (2, 2, 2), True)
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
                    for m in range(L):
                        if m not in (j, k):
                            both = both * U[m]
                    block = block + np.diag(both * g)
                J[j * N:(j + 1) * N, k * N:(k + 1) * N] = block
        return J

    times = np.asarray(times, float)
    t_eval = times[times > 0]
    S = np.empty((times.size, L * N))
    S[times == 0] = U0.ravel()
    if t_eval.size:
        sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), U0.ravel(), method="Radau", t_eval=t_eval, rtol=rtol,
                        atol=1e-3 * rtol * max(float(np.max(np.abs(U0))), 1e-300), jac=jac)
        if not sol.success:
            raise SolverError(f"Radau integration of the layered network failed: {sol.message}")
        S[times > 0] = sol.y.T
    U = S.reshape(times.size, L, N)
    return np.prod(U, axis=1), U


def azulay_flow(A, y, up, vp, um, vm, times, rtol: float = TEST_RTOL):
    """``x(t)`` of ``x = u+ v+ - u- v-`` from ``(up, vp, um, vm)`` (scalars broadcast) by Radau, 4N weights.

    The flow is ``u+' = v+ g``, ``v+' = u+ g``, ``u-' = -v- g``, ``v-' = -u- g``, i.e. ``W' = d g`` with
    ``d = dx/dW = (v+, u+, -v-, -u-)``; its Jacobian is ``-diag(d) G diag(d)`` plus ``+-diag(g)`` in the
    (u+, v+) and (u-, v-) blocks (``G = A^T A``). Returns ``(x, W)``: ``x`` of shape ``(len(times), N)``
    and ``W`` of shape ``(len(times), 4, N)`` (rows u+, v+, u-, v-). ``atol`` is ``1e-3 rtol max|W(0)|``.

    >>> x, W = azulay_flow([[1.0, 2.0]], [1.0], 0.5, 0.4, [0.3, 0.1], 0.2, [0.0, 200.0])
    >>> x.shape, W.shape, bool(abs(x[-1] @ [1.0, 2.0] - 1.0) < 1e-10)
    ((2, 2), (2, 4, 2), True)
    """
    A, y = np.asarray(A, float), np.asarray(y, float)
    N = A.shape[1]
    W0 = np.array([np.broadcast_to(np.asarray(w, float), (N,)) for w in (up, vp, um, vm)])
    G = A.T @ A
    Aty = A.T @ y

    def parts(state):
        u_p, v_p, u_m, v_m = state.reshape(4, N)
        g = Aty - G @ (u_p * v_p - u_m * v_m)
        return np.concatenate([v_p, u_p, -v_m, -u_m]), g

    def rhs(_, state):
        d, g = parts(state)
        return d * np.tile(g, 4)

    def jac(_, state):
        d, g = parts(state)
        J = -(d[:, None] * np.kron(np.ones((4, 4)), G) * d[None, :])
        idx = np.arange(N)
        for (j, k), sign in {(0, 1): 1.0, (1, 0): 1.0, (2, 3): -1.0, (3, 2): -1.0}.items():
            J[j * N + idx, k * N + idx] += sign * g
        return J

    times = np.asarray(times, float)
    t_eval = times[times > 0]
    S = np.empty((times.size, 4 * N))
    S[times == 0] = W0.ravel()
    if t_eval.size:
        sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), W0.ravel(), method="Radau", t_eval=t_eval, rtol=rtol,
                        atol=1e-3 * rtol * max(float(np.max(np.abs(W0))), 1e-300), jac=jac)
        if not sol.success:
            raise SolverError(f"Radau integration of the Azulay network failed: {sol.message}")
        S[times > 0] = sol.y.T
    W = S.reshape(times.size, 4, N)
    return W[:, 0] * W[:, 1] - W[:, 2] * W[:, 3], W


def classification_flow(A, labels, depth: float, alpha: float, times, loss: str = "exponential",
                        method: str = "Radau", rtol: float = 1e-12, atol: float = 1e-13) -> NetworkFlow:
    """The full 2N-dimensional flow of ``x = u^p - v^p`` on ``sum_i l(y_i a_i^T x)``; ``x`` at ``times``.

    ``u' = p u^(p-1) g``, ``v' = -p v^(p-1) g``, ``g = Z^T q``, ``q_i = -l'((Z x)_i)``,
    ``Z = diag(y) A``, ``u(0) = v(0) = alpha``, integrated (like `network_flow`) in the
    log-weights and, so that losses far below 1 stay within reach, against ``tau = log(1 + t)``
    (every right-hand side times ``dt/dtau = e^tau``). ``l(u) = e^{-u}`` or ``log(1 + e^{-u})``.
    ``residual`` holds the log-loss at each time; ``remaining`` is NaN (no limit point).

    >>> sol = classification_flow([[1.0, 2.0], [-2.0, 1.0]], [1.0, -1.0], 2, 0.1, [0.0, 1e4])
    >>> bool(sol.residual[1] < -5)
    True
    """
    from numpy import logaddexp
    from scipy.special import expit

    A, y, p, alpha = _check(A, labels, depth, alpha)
    if not np.all(np.abs(y) == 1):
        raise ProblemError("labels must be -1 or +1.")
    if loss not in ("exponential", "logistic"):
        raise ProblemError(f"loss must be 'exponential' or 'logistic'; got {loss!r}.")
    times = np.atleast_1d(np.asarray(times, dtype=float))
    Z = y[:, None] * A
    N = A.shape[1]

    def weights(tau, state):
        w, r = state[:N], state[N:]
        up, vp = np.exp(p * w), np.exp(p * r)
        u = Z @ (up - vp)
        if loss == "exponential":
            q, c = np.exp(np.minimum(tau - u, 700.0)), np.ones_like(u)
        else:
            q, c = np.exp(np.minimum(tau - logaddexp(0.0, u), 700.0)), expit(u)
        return w, r, up, vp, q, c

    def rhs(tau, state):
        w, r, _, _, q, _ = weights(tau, state)
        g = Z.T @ q
        return np.concatenate((p * np.exp((p - 2.0) * w) * g, -p * np.exp((p - 2.0) * r) * g))

    def jac(tau, state):
        w, r, up, vp, q, c = weights(tau, state)
        g = Z.T @ q
        G = -(Z.T * (q * c)) @ Z  # dg/dx
        ew, er = p * np.exp((p - 2.0) * w), p * np.exp((p - 2.0) * r)
        du, dv = p * up, -p * vp  # dx/dw, dx/dr
        J = np.empty((2 * N, 2 * N))
        J[:N, :N] = ew[:, None] * G * du[None, :]
        J[:N, N:] = ew[:, None] * G * dv[None, :]
        J[N:, :N] = -(er[:, None] * G * du[None, :])
        J[N:, N:] = -(er[:, None] * G * dv[None, :])
        idx = np.arange(N)
        J[idx, idx] += (p - 2.0) * ew * g
        J[N + idx, N + idx] -= (p - 2.0) * er * g
        return J

    taus = np.log1p(times)
    state0 = np.full(2 * N, math.log(alpha))
    start = time.perf_counter()
    if taus[-1] == 0.0:
        states = np.repeat(state0[:, None], times.size, axis=1)
        nfev = njev = nlu = 0
        message = "no integration needed"
    else:
        sol = solve_ivp(rhs, (0.0, taus[-1]), state0, method=method, t_eval=taus, jac=jac, rtol=rtol, atol=atol)
        if sol.status < 0:
            raise SolverError(f"{method} integration of the classification flow failed: {sol.message}")
        states, nfev, njev, nlu, message = sol.y, int(sol.nfev), int(sol.njev), int(sol.nlu), str(sol.message)
    seconds = time.perf_counter() - start
    x = (np.exp(p * states[:N]) - np.exp(p * states[N:])).T
    u = x @ Z.T
    terms = -u if loss == "exponential" else np.log(np.logaddexp(0.0, -u))
    logl = np.log(np.sum(np.exp(terms - terms.max(axis=1, keepdims=True)), axis=1)) + terms.max(axis=1)
    return NetworkFlow(times=times, x=x, residual=logl, remaining=np.full(times.size, np.nan), depth=p, alpha=alpha,
                       method=method, rtol=rtol, atol=atol, nfev=nfev, njev=njev, nlu=nlu, seconds=seconds,
                       message=message)
