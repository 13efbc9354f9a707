"""The Donoho-Tanner phase diagram: theory curve, empirical 50% curve, figure (THEORY.md section 9).

Setting: ``A`` iid N(0, 1/m) of size m x N, ``x`` k-sparse with +-1 entries,
``delta = m / N``, ``rho = k / m``; a solver succeeds if ``||x_hat - x|| / ||x|| <= 1e-4``.

**Theory curve** (the weak threshold ``rho_W(delta)`` of l1 minimization) is computed two
independent ways, which agree to ~1e-12:

1. ``method="polytope"``: Donoho's face-counting exponents for the randomly projected
   cross-polytope (Donoho 2006, DCG 35; Donoho-Tanner 2009, JAMS 22). A fraction of the
   k-faces is lost through faces ``G`` of dimension ``l = nu N``, with exponent
   ``Psi_net(nu) = psi_com - psi_int - psi_ext`` (``kappa = k / N``):

   - ``psi_com = (nu - kappa) log 2 + (1 - kappa) H((nu - kappa) / (1 - kappa))``;
   - ``psi_ext = min_x nu x^2 - (1 - nu) log erf(x)`` (external angle of the cross-polytope);
   - ``psi_int = max_lam -nu lam^2 / 2 - (nu - kappa) log Phi(lam)`` (internal angle of the
     simplex; derived here from ``beta(T^k, T^l) = 2^{-(l-k)} sqrt((l+1)/(k+1))
     E exp(-(sum of l-k half-normals)^2 / (2(k+1)))`` and Cramer's theorem).

   Because the angle sums add up to one, ``max_nu Psi_net = 0``, attained at ``nu*(kappa)``;
   faces survive with high probability iff ``nu*(kappa) < delta``. So ``rho_W`` solves
   ``d Psi_net / d nu (nu = delta; kappa = rho delta) = 0`` (derivatives by the envelope
   theorem, in closed form below).

2. ``method="statdim"``: the statistical dimension of the l1 descent cone (Amelunxen,
   Lotz, McCoy, Tropp 2014): ``delta = inf_tau kappa (1 + tau^2) + (1 - kappa) 2
   E[(g - tau)_+^2]``, ``g ~ N(0, 1)``, solved for ``kappa = rho delta``.

Values (both methods): 0.1894, 0.2674, 0.3857, 0.5337, 0.6782 at
delta = 0.1, 0.25, 0.5, 0.75, 0.9 (THEORY.md: 0.189, 0.267, 0.386, 0.534, 0.678).

>>> round(weak_threshold(0.5), 4), round(weak_threshold(0.5, method="statdim"), 4)
(0.3857, 0.3857)

**Empirical 50% curve**: per delta, a logistic regression of success on rho (maximum
likelihood, Newton), ``rho_50 = -b0 / b1``; see `transition`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import optimize, special

from ..errors import DLNError

LOG2 = math.log(2.0)


# ---------------------------------------------------------------- theory: weak threshold


def _erf_point(nu: float) -> float:
    """The minimizer of ``nu x^2 - (1 - nu) log erf(x)`` (external-angle saddle point)."""
    def g(x):
        return 2.0 * nu * x - (1.0 - nu) * (2.0 / math.sqrt(math.pi)) * math.exp(-x * x) / math.erf(x)
    return optimize.brentq(g, 1e-14, 60.0, xtol=1e-15, rtol=1e-15)


def _internal_point(nu: float, kappa: float) -> float:
    """The maximizer ``lam < 0`` of ``-nu lam^2 / 2 - (nu - kappa) log Phi(lam)``.

    Stationarity: ``c lam + phi(lam) / Phi(lam) = 0`` with ``c = nu / (nu - kappa) > 1``."""
    c = nu / (nu - kappa)

    def g(lam):  # phi / Phi = sqrt(2/pi) / erfcx(-lam / sqrt 2), free of cancellation
        return c * lam + math.sqrt(2.0 / math.pi) / float(special.erfcx(-lam / math.sqrt(2.0)))
    lo = -1.0
    while g(lo) > 0:
        lo *= 2.0
    return optimize.brentq(g, lo, 0.0, xtol=1e-15, rtol=1e-15)


def _log_half_erfcx(lam: float) -> float:
    """``log Phi(lam) + lam^2 / 2`` (= ``log(erfcx(-lam / sqrt 2) / 2)``), accurate for lam << 0."""
    return math.log(0.5 * float(special.erfcx(-lam / math.sqrt(2.0))))


def net_exponent(nu: float, kappa: float) -> float:
    """``Psi_net(nu) = psi_com - psi_int - psi_ext`` at face dimension ``nu`` and ``kappa = k/N``."""
    p = (nu - kappa) / (1.0 - kappa)
    x, lam = _erf_point(nu), _internal_point(nu, kappa)
    com = (nu - kappa) * LOG2 + (1.0 - kappa) * float(-special.xlogy(p, p) - special.xlogy(1 - p, 1 - p))
    internal = -kappa * lam * lam / 2.0 - (nu - kappa) * _log_half_erfcx(lam)
    external = nu * x * x - (1.0 - nu) * math.log(math.erf(x))
    return com - internal - external


def _net_slope(nu: float, kappa: float) -> float:
    """``d Psi_net / d nu``; by the envelope theorem the saddle points may be held fixed."""
    p = (nu - kappa) / (1.0 - kappa)
    x, lam = _erf_point(nu), _internal_point(nu, kappa)
    return LOG2 + math.log((1.0 - p) / p) + _log_half_erfcx(lam) - x * x - math.log(math.erf(x))


def _statistical_dimension(kappa: float) -> float:
    """``delta(D)/N`` of the l1 descent cone at a ``kappa N``-sparse vector (ALMT 2014, Prop 4.5)."""
    def f(tau):
        pdf = math.exp(-tau * tau / 2.0) / math.sqrt(2.0 * math.pi)
        tail = (1.0 + tau * tau) * float(special.ndtr(-tau)) - tau * pdf  # E (g - tau)_+^2
        return kappa * (1.0 + tau * tau) + (1.0 - kappa) * 2.0 * tail
    return float(optimize.minimize_scalar(f, bounds=(0.0, 40.0), method="bounded", options={"xatol": 1e-13}).fun)


def weak_threshold(delta: float, method: str = "polytope") -> float:
    """Donoho-Tanner weak threshold ``rho_W(delta)`` for l1 recovery (see the module docstring)."""
    delta = float(delta)
    if not 0.0 < delta < 1.0:
        raise DLNError(f"delta = m/N must lie in (0, 1); got {delta}.")
    if method == "polytope":
        kappa = optimize.brentq(lambda k: _net_slope(delta, k), 1e-6 * delta, delta * (1 - 1e-10),
                                xtol=1e-15, rtol=1e-14)
    elif method == "statdim":
        kappa = optimize.brentq(lambda k: _statistical_dimension(k) - delta, 1e-12, delta * (1 - 1e-12),
                                xtol=1e-15, rtol=1e-14)
    else:
        raise DLNError(f"unknown method {method!r}; use 'polytope' or 'statdim'.")
    return kappa / delta


def weak_threshold_curve(deltas: Iterable[float], method: str = "polytope") -> np.ndarray:
    """`weak_threshold` at each delta."""
    return np.array([weak_threshold(d, method) for d in deltas])


# ---------------------------------------------------------------- empirical transition


@dataclass(frozen=True)
class Transition:
    """The empirical 50% point of one (solver, delta) column of a phase diagram.

    ``rho50 = -b0 / b1`` of the logistic fit ``P(success) = 1 / (1 + exp(-(b0 + b1 rho)))``
    (maximum likelihood; a 1e-6 ridge on ``b1`` keeps it finite on separable data);
    ``rho_ci`` a 95% interval for rho50 by the delta method, or, when the data are separated
    (every success at a smaller rho than every failure, so that the likelihood has no finite
    maximum), the gap between the last success and the first failure; ``n`` trials,
    ``successes``, ``iterations`` and ``converged`` of the fit.
    """

    delta: float
    rho50: float
    rho_ci: tuple[float, float]
    slope: float
    n: int
    successes: int
    iterations: int
    converged: bool
    separated: bool


def logistic_fit(rho: Sequence[float], success: Sequence[bool], *, ridge: float = 1e-6,
                 max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Maximum-likelihood logistic regression of ``success`` on ``rho`` by Newton's method.

    Returns ``(b, cov, iterations, converged)`` with ``b = (b0, b1)`` and ``cov`` the inverse
    Fisher information. ``rho`` is centred and scaled internally for conditioning.
    """
    r = np.asarray(rho, dtype=float)
    s = np.asarray(success, dtype=float)
    c, w = float(r.mean()), float(r.std()) or 1.0
    X = np.column_stack([np.ones_like(r), (r - c) / w])
    b = np.zeros(2)
    penalty = np.diag([0.0, ridge])
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        eta = X @ b
        p = special.expit(eta)
        grad = X.T @ (s - p) - penalty @ b
        H = (X.T * (p * (1 - p))) @ X + penalty
        step = np.linalg.solve(H, grad)
        b = b + step
        if np.max(np.abs(step)) < 1e-10 * (1.0 + np.max(np.abs(b))):
            converged = True
            break
    p = special.expit(X @ b)
    cov = np.linalg.inv((X.T * (p * (1 - p))) @ X + penalty)
    # back to the original rho units: b0' = b0 - b1 c / w, b1' = b1 / w
    T = np.array([[1.0, -c / w], [0.0, 1.0 / w]])
    return T @ b, T @ cov @ T.T, it, converged


def transition(rho: Sequence[float], success: Sequence[bool], delta: float) -> Transition:
    """The 50% point of success against rho in one delta column (see `Transition`)."""
    rho = np.asarray(rho, dtype=float)
    success = np.asarray(success, dtype=bool)
    if rho.size < 2 or np.unique(rho).size < 2:
        raise DLNError(f"delta = {delta}: a 50% point needs trials at two or more rho values; got {np.unique(rho)}.")
    if success.all() or not success.any():
        raise DLNError(f"delta = {delta}: all {success.size} trials {'succeeded' if success.all() else 'failed'}; "
                       "extend the rho grid across the transition.")
    b, cov, its, ok = logistic_fit(rho, success)
    r50 = -b[0] / b[1]
    last_success, first_failure = float(rho[success].max()), float(rho[~success].min())
    separated = last_success < first_failure
    if separated:
        ci = (last_success, first_failure)
    else:
        grad = np.array([-1.0 / b[1], b[0] / b[1] ** 2])  # d rho50 / d (b0, b1)
        se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
        ci = (float(r50 - 1.96 * se), float(r50 + 1.96 * se))
    return Transition(delta=float(delta), rho50=float(r50), rho_ci=ci, slope=float(b[1]), n=int(success.size),
                      successes=int(success.sum()), iterations=its, converged=ok, separated=separated)


def transitions(rows: Iterable[dict]) -> dict[tuple, list[Transition]]:
    """50% points of a sweep's rows, grouped by solver ``(method, depth, scale, N)``.

    Rows are dicts with keys ``method, depth, scale, N, delta, rho, success, status``
    (as in the sweep store); rows whose status is not ``"ok"`` are left out.
    """
    groups: dict[tuple, dict[float, list[tuple[float, bool]]]] = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        key = (row["method"], row["depth"], row["scale"], row["N"])
        groups.setdefault(key, {}).setdefault(row["delta"], []).append((row["rho"], bool(row["success"])))
    out = {}
    for key in sorted(groups, key=lambda k: tuple((v is None, v) for v in k)):
        columns = []
        for delta in sorted(groups[key]):
            rho, ok = zip(*groups[key][delta])
            try:
                columns.append(transition(rho, ok, delta))
            except DLNError:
                continue  # no transition inside the grid for this column: nothing to fit
        out[key] = columns
    return out


def solver_label(key: tuple) -> str:
    method, depth, scale, N = key
    if method == "bp":
        return f"BP N={N}"
    return f"flow p={depth:g} a={scale:.0e} N={N}"


def plot_phase(rows: Sequence[dict], path, *, title: str = "Donoho-Tanner phase diagram") -> str:
    """`phase_figure` written as a PNG to ``path``."""
    import matplotlib.pyplot as plt

    fig = phase_figure(rows, title=title)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def phase_figure(rows: Sequence[dict], *, title: str = "Donoho-Tanner phase diagram"):
    """Success fraction on the (delta, rho) grid per solver, the empirical 50% points (with
    95% intervals) and the theoretical weak threshold; a matplotlib figure."""
    import matplotlib.pyplot as plt

    fits = transitions(rows)
    keys = list(fits)
    if not keys:
        raise DLNError("no finished rows to plot.")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 1.0, 3.6), squeeze=False, sharey=True,
                             layout="constrained")
    grid = np.linspace(0.05, 0.95, 37)
    theory = weak_threshold_curve(grid)
    for ax, key in zip(axes[0], keys):
        cells: dict[tuple[float, float], list[bool]] = {}
        for row in rows:
            if row["status"] == "ok" and (row["method"], row["depth"], row["scale"], row["N"]) == key:
                cells.setdefault((row["delta"], row["rho"]), []).append(bool(row["success"]))
        d, r = np.array(list(cells)).T
        frac = np.array([np.mean(v) for v in cells.values()])
        sc = ax.scatter(d, r, c=frac, cmap="viridis", vmin=0, vmax=1, marker="s", s=110)
        ax.plot(grid, theory, "r-", lw=1.5, label=r"theory $\rho_W(\delta)$")
        if fits[key]:
            ax.errorbar([t.delta for t in fits[key]], [t.rho50 for t in fits[key]],
                        yerr=[[t.rho50 - t.rho_ci[0] for t in fits[key]], [t.rho_ci[1] - t.rho50 for t in fits[key]]],
                        fmt="o", color="orange", mec="k", ms=5, capsize=3, label="empirical 50%")
        ax.set_title(solver_label(key), fontsize=9)
        ax.set_xlabel(r"$\delta = m/N$")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel(r"$\rho = k/m$")
    axes[0][0].legend(loc="upper left", fontsize=7)
    fig.colorbar(sc, ax=axes[0].tolist(), label="success fraction")
    fig.suptitle(title, fontsize=10)
    return fig
