"""Early-stopped GD on ``x = u^2 - v^2`` with noisy measurements (Vaskevicius, Kanade, Rebeschini 2019).

- ``vaskevicius2019-early-stopping``: the error along the run, the early-stopping point against
  the oracle least squares, the scale alpha, the Lasso path, and increasing step sizes.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import OptionError


def early_stopping_path(A, y, x_true, *, alpha: float, step: float, steps: int, zeta: float | None = None,
                        every: int | None = None, floor: float = 0.0):
    """GD on ``x = u^2 - v^2`` from ``u = v = alpha``, loss ``1/2 ||A x - y||^2``, with the error
    ``e_t = ||x_t - x_true||`` at every iteration ``t = 0..steps``.

    Per-coordinate steps ``gamma_j``: ``u <- u (1 - 2 gamma g)``, ``v <- v (1 + 2 gamma g)``,
    ``g = A^T (A x - y)`` (``gamma = 2 eta`` of the paper's ``(1/n) ||X w - y||^2``, ``X = sqrt(n) A``).
    Constant: ``gamma_j = step``. Increasing (their Algorithm 1, ``every = tau`` given): after
    iteration ``m tau`` the step of each coordinate with ``|x_j| <= 2^{-m-1} zeta`` doubles, as long
    as that threshold is above ``floor``.

    Returns ``(errors, best)``: the errors (length ``steps + 1``) and the iterate at their minimum.
    """
    A = np.asarray(A, dtype=float)
    y, x_true = np.asarray(y, dtype=float), np.asarray(x_true, dtype=float)
    if not (alpha > 0 and step > 0 and int(steps) == steps and steps >= 1):
        raise OptionError(f"alpha and step must be positive and steps a positive integer; got "
                          f"alpha={alpha!r}, step={step!r}, steps={steps!r}.")
    if every is not None and not (int(every) == every and every >= 1 and zeta is not None and zeta > 0):
        raise OptionError(f"increasing steps need every >= 1 (iterations per round) and zeta > 0 (a bound on "
                          f"||x_true||_inf); got every={every!r}, zeta={zeta!r}.")
    N = A.shape[1]
    u, v = np.full(N, float(alpha)), np.full(N, float(alpha))
    gamma = np.full(N, float(step))
    x = np.zeros(N)
    errors = np.empty(int(steps) + 1)
    errors[0] = best_err = float(np.linalg.norm(x_true))
    best = x.copy()
    for t in range(1, int(steps) + 1):
        g = A.T @ (A @ x - y)
        u *= 1.0 - 2.0 * gamma * g
        v *= 1.0 + 2.0 * gamma * g
        x = u * u - v * v
        errors[t] = e = float(np.linalg.norm(x - x_true))
        if e < best_err:
            best_err, best = e, x.copy()
        if every is not None and t % every == 0:
            threshold = zeta * 2.0 ** (-(t // every))
            if threshold > floor:
                gamma[np.abs(x) <= threshold] *= 2.0
    return errors, best
