"""Dual certificates of basis pursuit: polishing, a strict-certificate search, the rho LPs.

For ``x`` with support ``S`` and signs ``sigma``, a certificate is a ``w`` with
``A_S^T w = sigma`` and ``||A^T w||_inf <= 1``; it is *strict* when ``|a_j^T w| < 1`` off
``S``. The certificate constant (docs/theory.md section 5)

    rho = min { ||A_{S^c}^T w||_inf : A_S^T w = sigma }

is an LP (`rho_lp`) with the primal form ``sup_{v in ker A} <sigma, v_S> / ||v_{S^c}||_1``
(`rho_primal`); `strict_certificate` is a cheap search for a strict ``w`` before the LP.

>>> import numpy as np
>>> A = np.array([[1.0, 0.5]])
>>> rho, w, eq = rho_lp(A, np.array([0]), np.array([1.0]))
>>> round(rho, 12), w.tolist(), eq
(0.5, [1.0], 0.0)
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from ..engine import Local, damped_newton, solve_psd
from .linalg import RHO_TOL, _linprog, _null_space

def polish_certificate(A: np.ndarray, w0: np.ndarray, idx: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The smallest change of ``w0`` with ``A_idx^T w = target`` (least squares if inconsistent)."""
    if idx.size == 0:
        return w0.copy()
    At = A[:, idx].T
    return w0 + sla.lstsq(At, target - At @ w0, lapack_driver="gelsy", check_finite=False)[0]



def strict_certificate(A: np.ndarray, S: np.ndarray, sigma: np.ndarray, max_newton: int = 30) -> np.ndarray | None:
    """A cheap search for ``w`` with ``A_S^T w = sigma`` and ``||A_Sc^T w||_inf < 1`` (or None).

    Writes ``w = w0 + Z c`` (``w0`` the min-norm solution, ``Z`` a basis of ker ``A_S^T``) and
    minimizes the soft maximum ``(1/beta) log sum_j 2 cosh(beta r_j)``, ``r = A_Sc^T w``, by
    Newton for ``beta = 4, 16, ..., 4096``; it overestimates ``||r||_inf`` by at most
    ``log(2k)/beta`` and stops at the first strict ``w``. A heuristic for evidence only: when
    it returns None, the ``rho`` LP decides.
    """
    N = A.shape[1]
    Sc = np.setdiff1d(np.arange(N), S)
    AS = A[:, S]
    w0 = np.linalg.lstsq(AS.T, sigma, rcond=None)[0] if S.size else np.zeros(A.shape[0])
    if S.size and np.max(np.abs(AS.T @ w0 - sigma)) > 1e-12:
        return None
    if Sc.size == 0:
        return w0
    b0 = A[:, Sc].T @ w0
    if np.max(np.abs(b0)) < 1 - RHO_TOL:
        return w0
    Z = _null_space(AS.T) if S.size else np.eye(A.shape[0])
    if Z.shape[1] == 0:
        return None
    B = A[:, Sc].T @ Z
    c = np.zeros(Z.shape[1])

    def soft(c, beta):
        r = b0 + B @ c
        a = beta * np.abs(r)
        top = float(a.max())
        e1, e2 = np.exp(a - top), np.exp(-a - top)
        Zs = float(np.sum(e1 + e2))
        return top / beta + math.log(Zs) / beta, r, np.sign(r) * (e1 - e2) / Zs, (e1 + e2) / Zs

    for beta in (4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0):
        def local(c, beta=beta):
            _, r, u, v = soft(c, beta)
            g = B.T @ u
            if np.max(np.abs(r)) < 1 - 1e-6:  # a margin far above rounding: strict
                return Local(g, None, True)
            H = beta * ((B.T * v) @ B - np.outer(g, g))  # the soft maximum's Hessian (PSD)
            dc = solve_psd(H, -g)
            return Local(g, dc if -float(g @ dc) > 1e-12 else None, False)

        def decrease(c, new, t, dc, beta=beta):
            return soft(new, beta)[0] - soft(c, beta)[0]

        # 27 halvings: steps below 1e-8 are not worth a try
        c, _, strict = damped_newton(c, local, lambda c, t, dc: c + t * dc, decrease, max_iter=max_newton,
                                     max_halvings=27)
        if strict:
            return w0 + Z @ c
    r = b0 + B @ c
    return w0 + Z @ c if np.max(np.abs(r)) < 1 - RHO_TOL else None



def rho_lp(A: np.ndarray, S: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray, float]:
    """``min ||A_Sc^T w||_inf s.t. A_S^T w = sigma``: ``(rho, w, equality residual)``.

    HiGHS' vertex is polished on its active set (``A_S^T w = sigma`` and
    ``|a_j^T w| = t`` for the active ``j``), so ``rho`` is the value an explicit ``w``
    attains, exact to rounding when the LP is nondegenerate.
    """
    m, N = A.shape
    Sc = np.setdiff1d(np.arange(N), S)
    AS, ASc = A[:, S], A[:, Sc]
    if Sc.size == 0:
        w = np.linalg.lstsq(AS.T, sigma, rcond=None)[0] if S.size else np.zeros(m)
        return 0.0, w, float(np.max(np.abs(AS.T @ w - sigma))) if S.size else 0.0
    k = Sc.size
    c = np.zeros(m + 1)
    c[-1] = 1.0
    A_ub = np.block([[ASc.T, -np.ones((k, 1))], [-ASc.T, -np.ones((k, 1))]])
    A_eq = np.hstack([AS.T, np.zeros((S.size, 1))]) if S.size else None
    b_eq = sigma if S.size else None
    bounds = [(None, None)] * m + [(0, None)]
    res = _linprog(c, what="certificate-constant (rho)", A_ub=A_ub, b_ub=np.zeros(2 * k),
                   A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    w, t = res.x[:m], float(res.x[-1])

    def evaluate(w):
        eq = float(np.max(np.abs(AS.T @ w - sigma))) if S.size else 0.0
        return float(np.max(np.abs(ASc.T @ w))), eq

    # polish: the active set of the LP vertex, solved as a linear system in (w, t)
    cw = ASc.T @ w
    act = np.flatnonzero(np.abs(cw) >= t - 1e-9 * max(t, 1.0))
    rows = [np.hstack([AS.T, np.zeros((S.size, 1))])] if S.size else []
    rhs = [sigma] if S.size else []
    if act.size:
        rows.append(np.hstack([np.sign(cw[act])[:, None] * ASc[:, act].T, -np.ones((act.size, 1))]))
        rhs.append(np.zeros(act.size))
    M, r = np.vstack(rows), np.concatenate(rhs)
    z0 = np.append(w, t)
    z1 = z0 + np.linalg.lstsq(M, r - M @ z0, rcond=None)[0]
    best = None
    for cand in (z1[:m], polish_certificate(A, w, S, sigma), w):
        rho, eq = evaluate(cand)
        if eq <= 1e-12 and rho <= t + 1e-9 * max(t, 1.0):
            return rho, cand, eq
        if best is None or eq < best[2]:
            best = (rho, cand, eq)
    return best



def rho_primal(A: np.ndarray, S: np.ndarray, sigma: np.ndarray) -> tuple[float, np.ndarray]:
    """``max <sigma, v_S> s.t. A v = 0, ||v_{S^c}||_1 = 1`` (v_S free): ``(rho, v)``.

    The LP's ``v`` is projected onto ker A and the ratio recomputed from it, so ``rho`` is
    the value an explicit kernel vector attains (a lower bound, tight to rounding).
    """
    m, N = A.shape
    Sc = np.setdiff1d(np.arange(N), S)
    if Sc.size == 0:
        return 0.0, np.zeros(N)
    k, s = Sc.size, S.size
    c = np.concatenate([-sigma, np.zeros(2 * k)])
    A_eq = np.vstack([np.hstack([A[:, S], A[:, Sc], -A[:, Sc]]),
                      np.concatenate([np.zeros(s), np.ones(2 * k)])[None, :]])
    b_eq = np.append(np.zeros(m), 1.0)
    bounds = [(None, None)] * s + [(0, None)] * (2 * k)
    res = _linprog(c, what="certificate-constant (primal)", A_eq=A_eq, b_eq=b_eq, bounds=bounds)
    v = np.zeros(N)
    v[S] = res.x[:s]
    v[Sc] = res.x[s:s + k] - res.x[s + k:]
    Z = _null_space(A)
    v = Z @ (Z.T @ v)
    denom = float(np.sum(np.abs(v[Sc])))
    return float(sigma @ v[S]) / denom, v / denom
