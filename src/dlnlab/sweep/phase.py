"""The empirical side of a Donoho-Tanner phase diagram: 50% points of success (docs/theory.md section 9).

Per delta column of a sweep, a logistic regression of success on rho (maximum likelihood,
damped Newton), ``rho_50 = -b0 / b1`` (`transition`); a sweep's rows grouped by solver
(`transitions`, by method, network spec and N). The theory curve it is compared with is `dlnlab.theory.weak_threshold`;
the figure is `dlnlab.sweep.phase_figure`.

>>> t = transition([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [True, True, False, True, False, False], 0.5)
>>> round(t.rho50, 3), t.separated
(0.35, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from scipy import special

from ..engine import Local, damped_newton, solve_psd
from ..errors import DLNError


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
    """Maximum-likelihood logistic regression of ``success`` on ``rho`` by damped Newton.

    Returns ``(b, cov, iterations, converged)`` with ``b = (b0, b1)`` and ``cov`` the inverse
    Fisher information. ``rho`` is centred and scaled internally for conditioning.
    """
    r = np.asarray(rho, dtype=float)
    s = np.asarray(success, dtype=float)
    c, w = float(r.mean()), float(r.std()) or 1.0
    X = np.column_stack([np.ones_like(r), (r - c) / w])
    penalty = np.diag([0.0, ridge])

    def nll(b):  # the penalized negative log-likelihood, without overflow
        eta = X @ b
        return float(np.sum(np.logaddexp(0.0, eta) - s * eta) + 0.5 * b @ penalty @ b)

    def local(b):
        p = special.expit(X @ b)
        grad = X.T @ (p - s) + penalty @ b
        step = solve_psd((X.T * (p * (1 - p))) @ X + penalty, -grad)
        return Local(grad, step, bool(np.max(np.abs(step)) < 1e-10 * (1.0 + np.max(np.abs(b)))))

    def tie(b, new, t, dphi):  # the likelihood cannot resolve the step: take it
        return abs(dphi) <= 1e-14 * max(1.0, abs(nll(b)))

    b, it, converged = damped_newton(np.zeros(2), local, lambda b, t, d: b + t * d,
                                     lambda b, new, t, d: nll(new) - nll(b), max_iter=max_iter, tie=tie)
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


def solver_key(row: dict) -> tuple:
    """``(method, network, N)``: the solver of a row, as `transitions` groups them."""
    return row["method"], row["network"], row["N"]


def transitions(rows: Iterable[dict]) -> dict[tuple, list[Transition]]:
    """50% points of a sweep's rows, grouped by solver ``(method, network, N)``.

    Rows are dicts with keys ``method, network, N, delta, rho, success, status``
    (as in the sweep store); rows whose status is not ``"converged"`` are left out.
    """
    groups: dict[tuple, dict[float, list[tuple[float, bool]]]] = {}
    for row in rows:
        if row["status"] != "converged":
            continue
        key = solver_key(row)
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
