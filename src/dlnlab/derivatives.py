"""Derivatives of the flow limit in the data ``(A, y)`` and the log scale (docs/theory.md section 10).

The limit is ``x = X(A^T lam*)`` with ``A X(A^T lam*) = y``. Differentiating, with
``D = diag(X'(A^T lam*))``, ``G = A D A^T``, ``dtheta = dlog(scale)`` and ``e = dX/dtheta`` at
fixed ``s`` (the map's ``log_scale_rate`` gives ``r = e / X'``, up to a multiple of ``z``, which
lies in range(A^T) and so changes nothing below),

    G dlam = dy - dA x - A D dA^T lam* - A e dtheta,     dx = D (dA^T lam* + A^T dlam) + e dtheta.

Writing ``e = D r`` and ``S_D = D - D A^T G^{-1} A D`` (symmetric), this is

    dx = S_D (dA^T lam* + r dtheta) + D A^T G^{-1} (dy - dA x),

and the vector-Jacobian product follows by transposition: for a cotangent ``c``,
``g = G^{-1} A D c``, ``p = S_D c``, ``gy = g``, ``gA = lam* p^T - g x^T``, ``g_theta = <r, p>``.

Numerics. At small scales ``D`` spans hundreds of orders of magnitude (``~1/eps`` on the
support, ``~scale`` off it), and ``S_D v`` is tiny on the support although ``D v`` is huge there:
formed as a difference it would lose everything. Instead the work is done in a basis ``B`` of
``r = rank(A)`` coordinates chosen by weight (pivoted QR of ``sqrt(D) A^T``), where with
``M = Q_off Q_B^{-1}`` (``Q``: orthonormal basis of range(A^T)) and the scaled Gram matrix
``I + C C^T``, ``C = D_B^{-1/2} M^T D_off^{1/2}`` (eigenvalues >= 1), every quantity is a sum of
terms of its own size:

    S_D v = [-D_B^{1/2} u ; D_off^{1/2} (b - C^T u)],   b = D_off^{1/2} (v_off - M v_B),
    u = (I + C C^T)^{-1} C b.

So the derivative is exact to float64 (a few ulps times ``cond(I + C C^T)`` and the conditioning
of ``Q_B``) at every scale where the slopes are representable, including 1e-100 and below: with
a unique BP solution of support ``m`` it tends to BP's derivative
``dx_S = A_S^{-1} (dy - dA_S x_S)``; ``dx/dtheta`` too, to its own relative precision, although it is ~scale there (1e-98 at
depth 3 and scale 1e-100), far below the resolution of ``x``. It is not exact (i) where slopes
fall below the smallest normal float (1e-308; they are floored there, and directions carried
only by such coordinates respond wrongly), and (ii) to more than the limit's own accuracy: the
slopes are evaluated at the solver's dual point, known to its residual. This matters when the
support has fewer than ``rank(A)`` coordinates: changes of ``y`` outside range(A_S) are absorbed
by off-support entries far below the residual tolerance, which the float64 limit does not pin
down, so the derivative there carries the limit's error (0.7% against extended precision for a
1-sparse ``x*``, m = 3, depth 2, scale 1e-20; finite differences of the float64 limit are off by
30% there). Near inputs whose BP minimizer is not unique the derivative grows without bound as
the scale goes to 0 (docs/theory.md section 5); that is the problem's conditioning, not an error
of the method.

Derivatives in ``A`` and ``y`` need ``A`` of full row rank (otherwise a generic perturbation
leaves ``y`` outside range(A)); derivatives in the scale need a `ScaleFamily` whose map
provides ``log_scale_rate``.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from .errors import ConvergenceError, NetworkError, ProblemError
from .networks.base import ScaleFamily
from .networks.symmetric import HyperbolicMap
from .networks.twolayer import TwoLayerDLN, TwoLayerMap

#: Maps whose ``log_scale_rate`` is exact coordinate by coordinate (no multiple of ``z`` dropped):
#: there ``X_i(s) = a_i F(s_i)`` with the dual scaling independent of ``a_i``, so ``dX_i/dlog a_i = X_i``.
_COORDINATEWISE = (HyperbolicMap, TwoLayerMap)


class LimitCotangent(NamedTuple):
    """The vector-Jacobian product of the limit: cotangents of ``A``, ``y`` and ``log(scale)``
    (``log_scale`` is None for a network without a scale family)."""

    A: np.ndarray
    y: np.ndarray
    log_scale: float | None


class Linearization:
    """The limit's linear response at a solved `LimitResult` (see the module docstring).

    >>> import numpy as np, dlnlab as dl
    >>> P = dl.random_problem()
    >>> res = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-60))
    >>> dy = np.array([1e-3, 0.0, 0.0])
    >>> lin = Linearization(res)
    >>> bool(np.allclose(P.A @ lin.jvp(dy=dy), dy, atol=1e-15))   # the limit keeps interpolating
    True
    """

    def __init__(self, result):
        if not result.success:
            raise ConvergenceError(f"derivatives of the limit need a converged limit; this one is "
                                   f"{result.status!r} ({result.message}). Solve it first.", result)
        problem = result.problem
        if problem is None:
            raise ProblemError("this LimitResult does not carry its problem; derivatives need the result of "
                               "dl.flow_limit or dl.batch_flow_limit.")
        self.problem = problem
        self.network = result.network
        self.x = result.x
        mapping = self.network.mirror_map()
        self.mapping = mapping
        self.sign, self.gap = result.sign, result.gap
        # slopes in the map's coordinate z = dual_scale * s; nu = dual_scale * lam (z = A^T nu)
        d = np.asarray(mapping.slope(result.sign, result.gap), dtype=float)
        self.d = np.maximum(d, np.finfo(float).tiny)
        self.nu = self.network.dual_scale * result.dual
        basis = problem.basis
        Q = basis.Q
        r = basis.rank
        root = np.sqrt(self.d)
        _, _, piv = sla.qr((Q * root[:, None]).T, mode="economic", pivoting=True)
        self.B, self.off = np.sort(piv[:r]), np.sort(piv[r:])
        self.lu = sla.lu_factor(Q[self.B])
        # M = Q_off Q_B^{-1}: (Q v)_off = M (Q v)_B for every v in range(Q)
        self.M = sla.lu_solve(self.lu, Q[self.off].T, trans=1).T
        self.root_b, self.root_off = root[self.B], root[self.off]
        self.C = self.M.T * self.root_off[None, :] / self.root_b[:, None]
        self.chol = sla.cho_factor(np.eye(r) + self.C @ self.C.T, lower=True)

    # ------------------------------------------------------------------ building blocks
    def _solve(self, h):
        return sla.cho_solve(self.chol, h)

    def sandwich(self, v: np.ndarray) -> np.ndarray:
        """``S_D v = D v - D A^T G^{-1} A D v`` (in z units), each entry to its own precision."""
        b = self.root_off * (v[self.off] - self.M @ v[self.B])
        u = self._solve(self.C @ b)
        out = np.empty_like(self.d)
        out[self.B] = -self.root_b * u
        out[self.off] = self.root_off * (b - self.C.T @ u)
        return out

    def _response(self, w: np.ndarray) -> np.ndarray:
        """``D Q (Q^T D Q)^{-1} w``: the response to a change ``w`` of the orthonormal system's data."""
        h = sla.lu_solve(self.lu, w, trans=1)  # Q_B^{-T} w
        u = self._solve(h / self.root_b)
        out = np.empty_like(self.d)
        out[self.B] = self.root_b * u
        out[self.off] = self.root_off * (self.C.T @ u)
        return out

    def _to_orthonormal(self, b: np.ndarray) -> np.ndarray:
        """``w = T^{-T} b`` with ``A^T = Q T``: data-space vectors in the orthonormal system."""
        basis = self.problem.basis
        return sla.solve_triangular(basis.R11.T, b[basis.perm[: basis.rank]], lower=True)

    @cached_property
    def rate(self) -> np.ndarray:
        """``r = (dX/dlog scale) / X'`` in z units, up to a multiple of ``z``."""
        net = self.network
        rate = getattr(self.mapping, "log_scale_rate", None)
        if not isinstance(net, ScaleFamily) or rate is None:
            raise NetworkError(
                f"{type(net).__name__} has no derivative in its scale: it needs a scale family (log_scale, "
                "at_log_scale) whose mirror map provides log_scale_rate(sign, gap) = (dX/dlog scale) / (dX/dz) "
                "at fixed s. Differentiate in A and y only, or add log_scale_rate to the map.")
        return np.asarray(rate(self.sign, self.gap), dtype=float)

    @cached_property
    def coordinate_rate(self) -> np.ndarray:
        """``r_i = (dX_i/dlog a_i) / X_i'`` for a change of coordinate ``i``'s own scale ``a_i`` (z units).

        Exact where ``X_i = a_i F(s_i)`` (the depth-2 and two-layer maps: ``r = X / X'``). For the
        other maps the rate is known only up to a multiple of ``z``, which a per-coordinate change
        does not cancel, so they raise `NetworkError`.
        """
        if not isinstance(self.mapping, _COORDINATEWISE):
            raise NetworkError(
                f"{type(self.network).__name__} has no per-coordinate scale derivative: it is exact only for "
                "depth-2 maps (SymmetricDLN(depth=2), TwoLayerDLN, AzulayDLN), whose coordinates scale "
                "independently. Pass one log scale (a number) instead.")
        return self.rate

    def _full_rank(self, what: str):
        problem = self.problem
        if problem.rank < problem.m:
            raise ProblemError(
                f"derivatives in {what} need A of full row rank; A has rank {problem.rank} < m = {problem.m}, so a "
                "generic perturbation leaves y outside range(A). Drop the dependent rows of A first.")

    # ------------------------------------------------------------------ products
    def jvp(self, dA=None, dy=None, dlog_scale=None) -> np.ndarray:
        """``dx`` for perturbations ``dA`` (m x N), ``dy`` (m,) and ``dlog_scale`` (a number, or an
        (N,) vector of per-coordinate log-scale changes where `coordinate_rate` exists)."""
        problem = self.problem
        m, N = problem.m, problem.N
        v = np.zeros(N)
        rhs = np.zeros(m)
        if dA is not None or dy is not None:
            self._full_rank("A and y")
        if dA is not None:
            dA = _array(dA, (m, N), "dA")
            v += dA.T @ self.nu
            rhs -= dA @ self.x
        if dy is not None:
            rhs += _array(dy, (m,), "dy")
        if dlog_scale is not None:
            if np.ndim(dlog_scale) == 1:
                v += self.coordinate_rate * _array(dlog_scale, (N,), "dlog_scale")
            else:
                v += _number(dlog_scale, "dlog_scale") * self.rate
        dx = self.sandwich(v)
        if dA is not None or dy is not None:
            dx += self._response(self._to_orthonormal(rhs))
        return dx

    def vjp(self, cotangent) -> LimitCotangent:
        """``(gA, gy, g_log_scale)`` with ``<c, jvp(dA, dy, t)> = <gA, dA> + <gy, dy> + g_log_scale t``."""
        self._full_rank("A and y")
        problem = self.problem
        c = _array(cotangent, (problem.N,), "cotangent")
        p = self.sandwich(c)
        # g = G^{-1} A D c = T^{-1} Q_B^{-1} D_B^{-1/2} (I + C C^T)^{-1} (D_B^{1/2} c_B + C D_off^{1/2} c_off)
        u = self._solve(self.root_b * c[self.B] + self.C @ (self.root_off * c[self.off]))
        phi = sla.lu_solve(self.lu, u / self.root_b)
        g = problem.basis.to_dual(phi)
        gA = np.outer(self.nu, p) - np.outer(g, self.x)
        g_scale = None
        if isinstance(self.network, ScaleFamily) and hasattr(self.mapping, "log_scale_rate"):
            g_scale = float(self.rate @ p)
        return LimitCotangent(gA, g, g_scale)

    def vjp_log_scales(self, cotangent) -> np.ndarray:
        """The cotangent of the per-coordinate log scales: ``r * S_D c`` (``S_D`` is symmetric), so that
        ``<c, jvp(dlog_scale=t)> = <vjp_log_scales(c), t>`` for every (N,) vector ``t``."""
        c = _array(cotangent, (self.problem.N,), "cotangent")
        return self.coordinate_rate * self.sandwich(c)

    @property
    def dx_dlog_scale(self) -> np.ndarray:
        """``dx / dlog(scale)`` along the network's `ScaleFamily.at_log_scale`."""
        return self.sandwich(self.rate)


def shifted_network(net, log_scale=None):
    """``net`` with its log scale moved by ``log_scale``: a number (along `ScaleFamily.at_log_scale`) or
    an (N,) vector (coordinate ``i`` at scale ``a_i = a e^{t_i}``; depth-2 and two-layer networks).

    The per-coordinate network is a `TwoLayerDLN` with the same limit: ``u0, v0`` times ``e^{t/2}``
    (a two-layer or Azulay network), or ``u0 = 2 alpha e^{t/2}, v0 = 0`` for `SymmetricDLN(depth=2)`.

    >>> import numpy as np, dlnlab as dl
    >>> net = shifted_network(dl.SymmetricDLN(depth=2, scale=1e-6), np.zeros(5))
    >>> P = dl.random_problem()
    >>> bool(np.allclose(dl.flow_limit(P, net).x, dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-6)).x))
    True
    """
    if log_scale is None:
        return net
    if np.ndim(log_scale) == 0:
        if not isinstance(net, ScaleFamily):
            raise NetworkError(f"{type(net).__name__} is not a scale family (log_scale, at_log_scale); "
                               "it cannot move its scale.")
        return net.at_log_scale(net.log_scale + _number(log_scale, "log_scale"))
    t = np.asarray(log_scale, dtype=float)
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise NetworkError(f"a per-coordinate log scale must be a finite 1-D vector; got shape {t.shape}.")
    from .networks.azulay import AzulayDLN
    from .networks.symmetric import SymmetricDLN
    if isinstance(net, AzulayDLN):
        net = net.two_layer
    if isinstance(net, SymmetricDLN) and net.depth == 2:
        return TwoLayerDLN.from_rotated(np.full(t.size, 0.5 * net.log_scale) + 0.5 * t,
                                        np.full(t.size, 0.5 * net.log_scale) + 0.5 * t,
                                        np.ones(t.size), np.ones(t.size))
    if isinstance(net, TwoLayerDLN):
        if t.size != net.size:
            raise NetworkError(f"the per-coordinate log scale has {t.size} entries; the network has {net.size}.")
        if net._log_rotated is not None:
            lp, lm, sp, sm = net._log_rotated
        else:
            w_p, w_m = 0.5 * (net.u0 + net.v0), 0.5 * (net.u0 - net.v0)
            with np.errstate(divide="ignore"):
                lp, lm = np.log(np.abs(w_p)), np.log(np.abs(w_m))
            sp, sm = np.where(w_p < 0, -1.0, 1.0), np.where(w_m < 0, -1.0, 1.0)
        return TwoLayerDLN.from_rotated(lp + 0.5 * t, lm + 0.5 * t, sp, sm)
    raise NetworkError(f"{type(net).__name__} has no per-coordinate scale: it is defined for SymmetricDLN(depth=2), "
                       "TwoLayerDLN and AzulayDLN, whose coordinates scale independently. Pass a number instead.")


def _array(value, shape, name) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ProblemError(f"{name} must be a real array of shape {shape}; got {type(value).__name__}.") from None
    if arr.shape != shape:
        raise ProblemError(f"{name} must have shape {shape} (the problem's); got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ProblemError(f"{name} has non-finite entries; pass a finite perturbation.")
    return arr


def _number(value, name) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise ProblemError(f"{name} must be a real number; got {value!r}.") from None
    if not math.isfinite(t):
        raise ProblemError(f"{name} must be finite; got {value!r}.")
    return t
