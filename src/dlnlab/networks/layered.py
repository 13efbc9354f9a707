"""The layered deep DLN ``theta = u^1 * u^2 * ... * u^L`` from any initialization (Labarriere et al.).

Gradient flow ``(u^j)' = (prod_{k != j} u^k) g`` (``g = A^T (y - A theta)``) conserves
``(u^j_i)^2 - (u^k_i)^2``. Per coordinate (docs/theory.md section 3), with ``j*`` the layer of
smallest initial magnitude (it must be unique), ``r = u^{j*}``, ``delta_j = u^j(0)^2 - r(0)^2 > 0``
and ``sigma`` the product of the signs of the other layers:

    theta(r) = sigma r prod_{j != j*} sqrt(r^2 + delta_j),
    Psi(r)   = int_0^r d rho / prod_{j != j*} sqrt(rho^2 + delta_j),   sigma s = Psi(r) - Psi(r(0)),

so ``x = X(s)`` is explicit through ``Psi^{-1}`` and ``grad Q(theta) = sigma Psi(r)``. For L = 2
this is the two-layer network (`dlnlab.twolayer`, closed form); for L >= 3 the range of
``Psi`` is a bounded interval ``(-Psi_max, Psi_max)``: the dual has a barrier (sparsity).

Numerics (L >= 3). With ``c = min_j sqrt(delta_j)`` and ``rho = c sinh(w)``,
``Psi = int_0^W h(w) dw``, ``h(w) = prod_{j != j*, j_min} (c^2 sinh^2 w + delta_j)^{-1/2}``:
smooth, decreasing, ``~ e^{-(L-2) w}`` in the tail, with all its complex singularities at
``Im w = pi / 2``. A per-coordinate table of Gauss-Legendre panels (10 nodes, width
``<= 1 / (L-2)``: error ~ 6.4^{-20}) holds both ``int_0^{W_k} h`` and the tail
``int_{W_k}^inf h`` (so distances to the barrier keep their relative precision); beyond
``W_end = max_j log(2 sqrt(delta_j) / c) + 20`` the tail is ``h(W) / (L-2)`` to 1e-17.
``Psi^{-1}`` is a safeguarded Newton iteration inside one panel.

The map's coordinate is ``z = dual_scale * s`` with ``dual_scale = 1 / median_i Psi_max,i``,
so the barrier is at ``|z| ~ 1``; ``F(z) = dual_scale (r^2 - r(0)^2) / 2`` (since
``x dz = dual_scale r dr``). Outside the domain ``primal``/``slope``/``conjugate`` return
``inf`` (the map is flagged ``barrier = False`` because its domain is not ``|z| < 1``; Newton
line searches and integrators back off from infinite values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import NetworkError
from ..problems import real_array
from .base import check_size
from .twolayer import TwoLayerDLN, TwoLayerMap

_GL_X, _GL_W = np.polynomial.legendre.leggauss(10)
_LOG2 = math.log(2.0)
#: Margin (in w) past the last transition of h after which the tail is h / (L - 2) to e^{-40}.
_TAIL_MARGIN = 20.0


def _log_sinh(w):
    """``log sinh(w) = w + log(1 - e^{-2w}) - log 2`` for ``w >= 0``: no overflow, ``-inf`` at 0."""
    with np.errstate(divide="ignore"):
        return w + np.log(-np.expm1(-2.0 * w)) - _LOG2


@dataclass(frozen=True, eq=False)
class LayeredMap:
    """``x = X(z)`` of an L >= 3 layered network (see the module docstring), vectorized over coordinates."""

    sigma: np.ndarray      # (N,) product of the signs of the layers other than j*
    r0: np.ndarray         # (N,) initial value of the smallest layer
    log_delta: np.ndarray  # (L-1, N) log delta_j for the layers j != j*
    dual_scale: float
    barrier: bool = False

    # ------------------------------------------------------------------ tables
    @cached_property
    def _c(self):
        return np.exp(0.5 * self.log_delta.min(axis=0))

    @cached_property
    def _rest(self):
        """log delta_j of the layers other than j* and the smallest delta (L-2, N)."""
        order = np.argsort(self.log_delta, axis=0)
        return np.take_along_axis(self.log_delta, order[1:], axis=0)

    @property
    def kappa(self) -> int:
        return self.log_delta.shape[0] - 1

    def _log_h(self, w):
        """``log h(w)`` for ``w`` of shape (N, ...) (w >= 0)."""
        lsc = np.log(self._c).reshape((-1,) + (1,) * (w.ndim - 1)) + _log_sinh(w)
        total = np.zeros_like(w)
        for ld in self._rest:
            total += np.logaddexp(2.0 * lsc, ld.reshape(lsc.shape[:1] + (1,) * (w.ndim - 1)))
        return -0.5 * total

    def _panel(self, a, b):
        """``int_a^b h`` by 10-point Gauss-Legendre (a, b of shape (N,))."""
        half = 0.5 * (b - a)
        nodes = (0.5 * (a + b))[:, None] + half[:, None] * _GL_X
        return half * (np.exp(self._log_h(np.abs(nodes))) @ _GL_W)

    @cached_property
    def _table(self):
        c = self._c
        # log(2 beta_j) with beta_j = sqrt(delta_j) / c >= 1: where h turns into its exponential tail
        w_end = np.max(0.5 * self._rest - np.log(c), axis=0) + _LOG2 + _TAIL_MARGIN
        K = int(math.ceil(float(np.max(w_end)) * self.kappa))
        width = w_end / K
        grid = width[:, None] * np.arange(K + 1)
        half = 0.5 * width
        nodes = grid[:, :-1, None] + half[:, None, None] * (1.0 + _GL_X)
        panels = half[:, None] * (np.exp(self._log_h(nodes)) @ _GL_W)
        cum = np.concatenate([np.zeros((c.size, 1)), np.cumsum(panels, axis=1)], axis=1)
        tail_end = np.exp(self._log_h(w_end)) / self.kappa
        tail = tail_end[:, None] + np.concatenate([np.cumsum(panels[:, ::-1], axis=1)[:, ::-1],
                                                   np.zeros((c.size, 1))], axis=1)
        return grid, width, panels, cum, tail, w_end

    @property
    def psi_max(self) -> np.ndarray:
        """``Psi_max = int_0^inf h`` per coordinate (the dual range is ``|Psi| < Psi_max``)."""
        return self._table[4][:, 0]

    @cached_property
    def psi0(self) -> np.ndarray:
        return np.sign(self.r0) * self._integral(np.arcsinh(np.abs(self.r0) / self._c))[0]

    # ------------------------------------------------------------------ Psi and its inverse
    def _integral(self, W):
        """``(int_0^W h, int_W^inf h)`` for ``W >= 0`` of shape (N,)."""
        grid, width, panels, cum, tail, w_end = self._table
        K = panels.shape[1]
        beyond = W >= w_end
        k = np.clip(np.floor(W / width).astype(int), 0, K - 1)
        rows = np.arange(W.size)
        start = grid[rows, k]
        J = self._panel(start, np.where(beyond, start, np.minimum(W, w_end)))
        T = np.where(beyond, np.exp(self._log_h(np.where(beyond, W, w_end))) / self.kappa, tail[rows, k] - J)
        I = np.where(beyond, self.psi_max - T, cum[rows, k] + J)
        return I, T

    def _inverse(self, a):
        """``W >= 0`` with ``int_0^W h = a`` for ``0 <= a < Psi_max`` (shape (N,))."""
        grid, width, panels, cum, tail, w_end = self._table
        K = panels.shape[1]
        rows = np.arange(a.size)
        tau = self.psi_max - a
        use_tail = a > 0.5 * self.psi_max
        k_head = np.clip(np.sum(cum <= a[:, None], axis=1) - 1, 0, K - 1)
        k_tail = np.clip(np.sum(tail >= tau[:, None], axis=1) - 1, 0, K - 1)
        k = np.where(use_tail, k_tail, k_head)
        target = np.where(use_tail, tail[rows, k] - tau, a - cum[rows, k])
        beyond = use_tail & (tau <= tail[:, K])
        start = grid[rows, k]
        lo = np.where(beyond, w_end, start)
        hi = np.where(beyond, w_end + 800.0, start + width)
        target = np.where(beyond, np.log(np.where(beyond, tau * self.kappa, 1.0)), target)
        with np.errstate(divide="ignore", invalid="ignore"):
            W = np.where(beyond, w_end, start + width * np.clip(target / panels[rows, k], 0.0, 1.0))
        # warm start: integrators and Newton ask for nearby points in turn; the last solution,
        # where it lies in the same bracket, is a better first guess than the linear one
        last = self.__dict__.get("_last_W")
        if last is not None and last.shape == W.shape:
            W = np.where((last >= lo) & (last <= hi), last, W)
        any_beyond = bool(np.any(beyond))
        # In a panel: int_start^W h = target (increasing in W, derivative h). Beyond the
        # table: log h(W) = log(kappa tau), nearly linear (slope ~ -kappa). Safeguarded Newton.
        for _ in range(60):
            lh = self._log_h(W)
            f = np.where(beyond, target - lh, self._panel(start, np.where(beyond, start, W)) - target)
            lo = np.where(f < 0, W, lo)
            hi = np.where(f > 0, W, hi)
            slope = np.where(beyond, self._dlog_h(W), np.exp(lh)) if any_beyond else np.exp(lh)
            W_new = W - f / slope
            W_new = np.where((W_new >= lo) & (W_new <= hi), W_new, 0.5 * (lo + hi))
            # converged: the step is at rounding level, or the equation is met to rounding
            # (f's own floating-point noise is ~ eps times the integrals involved)
            done = (np.abs(W_new - W) <= 4e-16 * np.maximum(W, 1.0)) | \
                (np.abs(f) <= 4e-16 * np.where(beyond, np.maximum(np.abs(target), 1.0), panels[rows, k]))
            W = W_new
            if np.all(done):
                break
        self.__dict__["_last_W"] = W.copy()
        return W

    def _dlog_h(self, W):
        """``-d log h / dW`` (positive, ~ kappa in the tail)."""
        lsc = np.log(self._c) + _log_sinh(W)
        coth = 1.0 / np.tanh(np.maximum(W, 1e-300))
        total = np.zeros_like(W)
        for ld in self._rest:
            total += coth * np.exp(2.0 * lsc - np.logaddexp(2.0 * lsc, ld))
        return total

    # ------------------------------------------------------------------ the map
    def _state(self, sign, gap):
        """``(sign of r, log|r|, inside)`` at ``z = sign (1 - gap)`` (the last one is remembered:
        solvers ask for primal, slope and conjugate at the same point)."""
        z = sign * (1.0 - gap)
        last = self.__dict__.get("_last")
        if last is not None and last[0].shape == z.shape and np.array_equal(last[0], z):
            return last[1]
        state = self._compute_state(z)
        self.__dict__["_last"] = (z.copy(), state)
        return state

    def _compute_state(self, z):
        psi = self.psi0 + self.sigma * z / self.dual_scale
        a = np.abs(psi)
        inside = a < self.psi_max
        W = self._inverse(np.where(inside, a, 0.0))
        log_r = np.log(self._c) + _log_sinh(W)
        return np.where(psi < 0, -1.0, 1.0), log_r, inside

    def _log_terms(self, log_r):
        """``log(r^2 + delta_j)`` for all layers j != j* (L-1, N)."""
        return np.logaddexp(2.0 * log_r, self.log_delta)

    def primal(self, sign, gap):
        sr, log_r, inside = self._state(sign, gap)
        with np.errstate(over="ignore"):
            mag = np.exp(log_r + 0.5 * self._log_terms(log_r).sum(axis=0))
        return self.sigma * sr * np.where(inside, mag, np.inf)

    def slope(self, sign, gap):
        _, log_r, inside = self._state(sign, gap)
        terms = self._log_terms(log_r)
        with np.errstate(over="ignore"):
            value = np.exp(terms.sum(axis=0)) * (1.0 + np.exp(2.0 * log_r - terms).sum(axis=0)) / self.dual_scale
        return np.where(inside, value, np.inf)

    def conjugate(self, sign, gap):
        _, log_r, inside = self._state(sign, gap)
        with np.errstate(over="ignore"):
            value = 0.5 * self.dual_scale * (np.exp(2.0 * log_r) - self.r0 ** 2)
        return np.where(inside, value, np.inf)

    def log_scale_rate(self, sign, gap):
        """``(dX/dlog scale) / (dX/dz)`` at fixed ``s``, up to a multiple of ``z``: ``X / X'``.

        Scaling every layer by ``f`` gives ``X_f(s) = f^L X(f^{L-2} s)``, so along the family
        ``dX/dlog scale = X + ((L-2)/L) z X'``, and the ``z`` term is invisible to the limit.
        """
        with np.errstate(invalid="ignore"):
            return self.primal(sign, gap) / self.slope(sign, gap)

    def dual(self, x):
        x = np.asarray(x, dtype=float)
        v = self.sigma * x
        log_r = self._theta_inverse(np.abs(v))
        W = np.arcsinh(np.exp(log_r - np.log(self._c)))
        I, T = self._integral(W)
        psi = np.where(v < 0, -1.0, 1.0) * np.where(I <= 0.5 * self.psi_max, I, self.psi_max - T)
        z = self.dual_scale * self.sigma * (psi - self.psi0)
        sign = np.where(z < 0, -1.0, 1.0)
        return sign, 1.0 - np.abs(z)

    def _theta_inverse(self, v):
        """``log r`` with ``r prod_j sqrt(r^2 + delta_j) = v`` (``v >= 0``; ``-inf`` at 0).

        Newton on ``phi(rho) = rho + 1/2 sum log(e^{2 rho} + delta_j) - log v``, convex and
        increasing, from a point where ``phi >= 0``: monotone convergence.
        """
        with np.errstate(divide="ignore"):
            lv = np.log(v)
        zero = ~np.isfinite(lv)
        lv = np.where(zero, 0.0, lv)
        L = self.log_delta.shape[0] + 1
        rho = np.minimum(lv - 0.5 * self.log_delta.sum(axis=0), lv / L)
        for _ in range(200):
            terms = np.logaddexp(2.0 * rho, self.log_delta)
            phi = rho + 0.5 * terms.sum(axis=0) - lv
            dphi = 1.0 + np.exp(2.0 * rho - terms).sum(axis=0)
            new = rho - phi / dphi
            if np.all(np.abs(new - rho) <= 4e-16 * np.maximum(np.abs(rho), 1.0)):
                rho = new
                break
            rho = new
        return np.where(zero, -np.inf, rho)

    def potential(self, x):
        x = np.asarray(x, dtype=float)
        sign, gap = self.dual(x)
        return x * sign * (1.0 - gap) - self.conjugate(sign, gap)


@dataclass(frozen=True, eq=False)
class LayeredDLN:
    """Layered DLN ``theta = prod_j u^j`` with initial layers ``inits`` (an ``L x N`` array).

    For every coordinate the layer of smallest initial magnitude must be unique when L >= 3
    (L = 2 is the two-layer network, any initialization). The flow limit is
    ``argmin_{Ax=y} D_Q(x, x0)``, ``x0 = prod_j u^j(0)``.

    >>> import numpy as np, dlnlab as dl
    >>> inits = np.array([[0.3, 0.2, 0.1], [0.5, -0.4, 0.6], [0.7, 0.8, -0.9]])
    >>> res = dl.flow_limit(dl.line_problem(), dl.LayeredDLN(inits))
    >>> res.status, bool(res.residual < 1e-12)
    ('converged', True)
    """

    inits: np.ndarray
    log_scale: float = field(init=False, repr=False)

    def __post_init__(self):
        U = np.array(real_array(self.inits, "inits", NetworkError))
        if U.ndim != 2 or U.shape[0] < 2 or U.shape[1] < 1:
            raise NetworkError(f"inits must be an L x N array with L >= 2 layers; got shape {U.shape}.")
        if not np.all(np.isfinite(U)):
            raise NetworkError("inits has non-finite entries; initial weights must be finite numbers.")
        if U.shape[0] >= 3:
            mags = np.sort(np.abs(U), axis=0)
            tied = np.flatnonzero(mags[0] >= mags[1])
            if tied.size:
                raise NetworkError(
                    f"coordinates {tied[:5].tolist()} have two layers of equal smallest magnitude "
                    f"(e.g. |u| = {mags[0, tied[0]]:g}); the layered mirror map needs a unique smallest layer "
                    "per coordinate (docs/theory.md section 3). Perturb one of them.")
        elif np.any(np.all(U == 0, axis=0)):
            raise NetworkError("a coordinate starts with both layers at 0, a saddle the flow never leaves; "
                               "give it a nonzero weight.")
        amax = float(np.max(np.abs(U)))
        if amax == 0:
            raise NetworkError("all initial weights are 0: the flow never moves.")
        U.setflags(write=False)
        object.__setattr__(self, "inits", U)
        object.__setattr__(self, "log_scale", U.shape[0] * math.log(amax))

    @property
    def depth(self) -> int:
        return self.inits.shape[0]

    @property
    def size(self) -> int:
        return self.inits.shape[1]

    @property
    def x0(self) -> np.ndarray:
        return np.prod(self.inits, axis=0)

    @property
    def scale(self) -> float:
        """``alpha^L`` with ``alpha`` the largest initial weight (continuation scales all layers)."""
        return math.exp(self.log_scale)

    @cached_property
    def _two_layer(self):
        return TwoLayerDLN(self.inits[0], self.inits[1]) if self.depth == 2 else None

    @cached_property
    def _map(self):
        if self.depth == 2:
            return self._two_layer.mirror_map()
        U = self.inits
        jstar = np.argmin(np.abs(U), axis=0)
        cols = np.arange(U.shape[1])
        r0 = U[jstar, cols]
        others = np.ones(U.shape, dtype=bool)
        others[jstar, cols] = False
        rest = U.T[others.T].reshape(U.shape[1], U.shape[0] - 1).T  # (L-1, N), order kept
        sigma = np.prod(np.sign(rest), axis=0)
        log_delta = np.log(rest ** 2 - r0 ** 2)
        probe = LayeredMap(sigma=sigma, r0=r0, log_delta=log_delta, dual_scale=1.0)
        ds = 1.0 / float(np.median(probe.psi_max))
        return LayeredMap(sigma=sigma, r0=r0, log_delta=log_delta, dual_scale=ds)

    @property
    def spec(self) -> str:
        """Text form ``FAMILY:KEY=VALUE,...``; `dlnlab.network_from_spec` rebuilds the network from it."""
        from .spec import spec_of
        return spec_of(self)

    def mirror_map(self) -> TwoLayerMap | LayeredMap:
        return self._map

    @property
    def dual_scale(self) -> float:
        if self.depth == 2:
            return self._two_layer.dual_scale
        return self._map.dual_scale

    @property
    def small_parameter(self) -> float:
        """``1 / log(1/scale)`` for L = 2, ``alpha^{L-2}`` for L >= 3 (as for the symmetric network)."""
        if self.depth == 2:
            return self._two_layer.small_parameter
        return math.exp((self.depth - 2.0) * self.log_scale / self.depth)

    def at_log_scale(self, log_scale: float) -> "LayeredDLN":
        """All layers multiplied by a common factor so that ``scale = exp(log_scale)``."""
        return LayeredDLN(self.inits * math.exp((log_scale - self.log_scale) / self.depth))

    def layers(self, x: np.ndarray) -> np.ndarray:
        """The layers ``u^j`` (L x N) on the flow at output ``x`` (they follow from the conserved
        ``(u^j)^2 - (u^k)^2`` and the signs, which only the smallest layer can change)."""
        x = np.asarray(x, dtype=float)
        U = self.inits
        jstar = np.argmin(np.abs(U), axis=0)
        cols = np.arange(U.shape[1])
        r0 = U[jstar, cols]
        if self.depth == 2:
            sign, gap = self._map.dual(x)
            u, v = self._two_layer.weights(sign * (1.0 - gap) / self.dual_scale)
            return np.vstack([u, v])
        mapping = self._map
        log_r = mapping._theta_inverse(np.abs(mapping.sigma * x))
        r = np.where(mapping.sigma * x < 0, -1.0, 1.0) * np.exp(log_r)
        out = np.sign(U) * np.sqrt(np.maximum(r ** 2 + (U ** 2 - r0 ** 2), 0.0))
        out[jstar, cols] = r
        return out

    def init_weights(self, size: int) -> np.ndarray:
        """``W = inits`` (`dlnlab.networks.base.Trainable`)."""
        check_size(self.size, size)
        return np.array(self.inits)

    def weights_to_x(self, W: np.ndarray) -> np.ndarray:
        """``theta = prod_j u^j``."""
        return np.prod(W, axis=0)

    def pullback(self, W: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Row ``j``: ``(prod_{k != j} u^k) g``."""
        rows = range(W.shape[0])
        return np.stack([np.prod(W[[k for k in rows if k != j]], axis=0) * g for j in rows])

    @property
    def gd_rates(self) -> tuple[float, ...]:
        """L = 2: those of the two-layer network; L >= 3: no exact identity."""
        return self._two_layer.gd_rates if self.depth == 2 else ()

    def effective_network(self, log_gains: np.ndarray) -> TwoLayerDLN:
        """L = 2: the two-layer network's effective initialization (docs/theory.md section 6)."""
        if self.depth != 2:
            raise NetworkError(f"a layered network of depth {self.depth} has no exact effective initialization "
                               "(depth 2 has).")
        return self._two_layer.effective_network(log_gains)
