"""Crossover from an entropic point to an exact LP vertex (face solve, primal push, bounded simplex).

All crossover work is in the normalized orthonormal system ``Q^T x = z`` (r x n, full row
rank even when A is not) with costs ``cn``; `dlnlab.lp.solve` maps back and certifies in A, b, c.

>>> import numpy as np
>>> Q = np.array([[1.0], [1.0]]) / np.sqrt(2); z = np.array([1.0 / np.sqrt(2)])
>>> x, mu, pivots = _simplex_repair(Q, z, np.array([1.0, 2.0]), np.array([0.7, 0.3]), np.array([0.3, 1.3]), 10)
>>> x.tolist(), pivots
([1.0, 0.0], 0)
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla


def _face_candidates(rn, reg, r):
    """Candidate optimal supports from entropic reduced costs ``rn`` (normalized units).

    On the path ``rn_i = -reg log x_i``: O(reg) on the optimal face, O(1) off it. Candidates:
    the columns below the largest relative jump among the smallest ``2r + 1`` values.
    """
    n = rn.size
    order = np.argsort(rn)
    K = min(n, 2 * r + 1)
    rs = np.maximum(rn[order[:K]], reg)
    cands = []
    if K >= 2:
        k = int(np.argmax(np.log(rs[1:]) - np.log(rs[:-1]))) + 1
        cands.append(np.sort(order[:k]))
    return cands


def _face_solve(Q, z, cn, xn, mu, S):
    """The point of face S nearest the entropic pair: ``Q_S^T x_S = z``, ``Q_S mu = cn_S`` (least squares).

    Returns ``(x, mu)`` with ``x >= 0`` or None when the face's primal solution has a negative entry.
    """
    QS = Q[S]
    dx = sla.lstsq(QS.T, z - QS.T @ xn[S], lapack_driver="gelsy", check_finite=False)[0]
    xS = xn[S] + dx
    if xS.size and xS.min() < -1e3 * np.finfo(float).eps * max(1.0, float(np.abs(xS).max())):
        return None
    x = np.zeros_like(xn)
    x[S] = np.maximum(xS, 0.0)
    dmu = sla.lstsq(QS, cn[S] - QS @ mu, lapack_driver="gelsy", check_finite=False)[0]
    return x, mu + dmu


class _BasisInverse:
    """``B^{-1}`` for ``B = Q[basis].T`` as an LU factorization times a product of eta matrices.

    A pivot (column ``i`` of B replaced by ``a``, ``d = B^{-1} a``) appends
    ``E = I - (d - e_i) e_i^T / d_i``; FTRAN applies ``B0^{-1}`` then the E's, BTRAN the
    transposes in reverse. Refactorized every `REFACTOR` pivots (O(r^3)).
    """

    REFACTOR = 50

    def __init__(self, Q, basis):
        self.Q = Q
        self.basis = basis
        self.lu = sla.lu_factor(Q[basis].T, check_finite=False)
        self.etas = []

    def ftran(self, v):
        """``B^{-1} v`` for a vector or a matrix of columns."""
        w = sla.lu_solve(self.lu, v, check_finite=False)
        for i, d in self.etas:
            wi = w[i] / d[i]
            w = w - np.multiply.outer(d, wi)
            w[i] = wi
        return w

    def btran(self, v):
        w = np.array(v, dtype=float)
        for i, d in reversed(self.etas):
            w[i] = w[i] - (d @ w - w[i]) / d[i]
        return sla.lu_solve(self.lu, w, trans=1, check_finite=False)

    def replace(self, i, j, d):
        self.basis[i] = j
        if len(self.etas) >= self.REFACTOR:
            self.lu = sla.lu_factor(self.Q[self.basis].T, check_finite=False)
            self.etas = []
        else:
            self.etas.append((i, d))


def _start_basis(Q, xn, rn):
    """r linearly independent columns of ``Q^T`` favouring the largest entropic ``x`` (pivoted QR)."""
    n, r = Q.shape
    cand = np.argsort(rn)[: min(n, 2 * r)]
    w = np.sqrt(np.maximum(xn[cand] / max(float(xn.max()), 1e-300), 1e-150))
    R, piv = sla.qr(Q[cand].T * w, mode="r", pivoting=True, check_finite=False)
    d = np.abs(np.diag(R))
    if d.size < r or not d[r - 1] > 0:
        return None
    return cand[piv[:r]].copy()


def _primal_push(Q, z, xn, inv, in_basis):
    """Move the superbasic entries of the feasible ``xn`` to 0 keeping ``Q^T x = z, x >= 0``.

    Megiddo's primal push: pushing ``x_j -> 0`` moves ``x_B`` along ``B^{-1} q_j``; when a basic
    entry reaches 0 first, ``j`` enters the basis in its place. Superbasics go in batches of
    decreasing size: after each batch the rest are pushed together if that keeps ``x_B >= 0``
    (the segment stays feasible by convexity). Ends at a basic feasible solution (True) or
    False if rounding makes the last check fail.
    """
    n, r = Q.shape
    xB = xn[inv.basis].copy()
    sb = np.flatnonzero(~in_basis & (xn > 0))
    sb = sb[np.argsort(-xn[sb])]
    done, batch = 0, 0
    while True:
        rest = sb[done:]
        if rest.size:
            bulk = xB + inv.ftran(Q[rest].T @ xn[rest])
        else:
            bulk = xB
        if bulk.min() >= -1e-11 * (1.0 + float(np.max(np.abs(bulk)))):
            break
        if rest.size == 0:
            return False
        batch = max(16, 2 * batch)
        chunk = rest[:batch]
        D = inv.ftran(Q[chunk].T)  # B^{-1} q_j for the whole batch (BLAS-3), kept current below
        for k, j in enumerate(chunk):
            xj = xn[j]
            d = D[:, k]
            neg = np.flatnonzero(d < -1e-12 * max(1.0, float(np.max(np.abs(d)))))
            t, i = xj, -1
            if neg.size:
                ratios = np.maximum(xB[neg], 0.0) / -d[neg]
                kk = int(np.argmin(ratios))
                if ratios[kk] < xj:
                    t, i = float(ratios[kk]), int(neg[kk])
            xB = xB + t * d
            if i < 0:
                continue
            # x_B[i] reached 0 first: j enters with its remaining value
            xB[i] = xj - t
            d = d.copy()
            in_basis[inv.basis[i]] = False
            in_basis[j] = True
            inv.replace(i, int(j), d)
            rest_D = D[:, k + 1:]
            if rest_D.size:  # apply the new eta matrix to the pending columns
                wi = rest_D[i] / d[i]
                rest_D -= np.outer(d, wi)
                rest_D[i] = wi
        done += min(batch, rest.size)
    return True


def _simplex_repair(Q, z, cn, xn, rn, max_pivots):
    """Exact LP vertex from the entropic point: a basis from it, then a bounded simplex.

    The basis of the largest entropic ``x`` is used as is when it is primal or dual feasible
    (primal or dual simplex follows); otherwise `_primal_push` turns the feasible entropic
    point into a basic feasible solution first. Primal simplex prices by Dantzig's rule and
    switches to Bland's after repeated degenerate pivots. Returns ``(x, mu, pivots)`` at an
    optimal basis, None if ``max_pivots`` did not suffice.
    """
    n, r = Q.shape
    basis = _start_basis(Q, xn, rn)
    if basis is None:
        return None
    try:
        inv = _BasisInverse(Q, basis)
    except (np.linalg.LinAlgError, ValueError):
        return None
    in_basis = np.zeros(n, dtype=bool)
    in_basis[basis] = True
    mode, stalls, pushed = None, 0, False
    for pivot in range(max_pivots + 1):
        xB = inv.ftran(z)
        mu = inv.btran(cn[inv.basis])
        red = cn - Q @ mu
        red[in_basis] = 0.0
        if not (np.all(np.isfinite(xB)) and np.all(np.isfinite(red))):
            return None
        ptol = 1e-11 * (1.0 + float(np.max(np.abs(xB))))
        dtol = 1e-11 * (1.0 + float(np.max(np.abs(mu))))
        primal_ok = xB.min() >= -ptol
        dual_ok = red.min() >= -dtol
        if primal_ok and dual_ok:
            x = np.zeros(n)
            x[inv.basis] = np.maximum(xB, 0.0)
            return x, mu, pivot
        if pivot == max_pivots:
            return None
        if mode is None:
            if not (primal_ok or dual_ok) and not pushed:
                pushed = True
                if not _primal_push(Q, z, xn, inv, in_basis):
                    return None
                continue
            mode = "primal" if primal_ok else "dual" if dual_ok else None
        if mode == "primal" and primal_ok:
            neg = np.flatnonzero(red < -dtol)
            j = int(neg[0]) if stalls > 5 else int(np.argmin(red))  # Bland's rule against cycling
            d = inv.ftran(Q[j])
            pos = np.flatnonzero(d > 1e-12 * max(1.0, float(np.max(np.abs(d)))))
            if pos.size == 0:
                return None  # an improving ray: impossible with c > 0 unless rounding
            ratios = np.maximum(xB[pos], 0.0) / d[pos]
            best = ratios.min()
            ties = pos[ratios <= best + 1e-14 * (1.0 + best)]
            i = int(ties[np.argmin(inv.basis[ties])])
            stalls = stalls + 1 if best <= ptol else 0
        elif mode == "dual" and dual_ok:
            neg = np.flatnonzero(xB < -ptol)
            i = int(neg[np.argmin(inv.basis[neg])]) if stalls > 5 else int(np.argmin(xB))
            e = np.zeros(r)
            e[i] = 1.0
            alpha = Q @ inv.btran(e)
            cand = np.flatnonzero((alpha < -1e-12 * max(1.0, float(np.max(np.abs(alpha))))) & ~in_basis)
            if cand.size == 0:
                return None  # the LP would be infeasible: rounding
            ratios = np.maximum(red[cand], 0.0) / -alpha[cand]
            best = ratios.min()
            ties = cand[ratios <= best + 1e-14 * (1.0 + best)]
            j = int(ties.min())
            stalls = stalls + 1 if best <= dtol else 0
            d = inv.ftran(Q[j])
        else:
            return None
        in_basis[inv.basis[i]] = False
        in_basis[j] = True
        inv.replace(i, j, d)
    return None

