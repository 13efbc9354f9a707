"""Exact homogeneity of the symmetric networks' flow, for data far from size 1.

For ``x = u^p - v^p`` from ``u(0) = v(0) = alpha`` (scale ``a = alpha^p``), the map is
``X_a(s) = a h(k a^((p-2)/p) s)`` (depth 2: ``2 a sinh(4 s)``), so if ``x(t)`` is the flow for
data ``y`` at scale ``a``, then

    x_c(t) = c x(c^(2 - 2/p) t)       is the flow for data c y at scale c a,

with dual ``lam_c(t) = c^(-(p-2)/p) lam(c^(2-2/p) t)`` and the same map coordinate ``z``
(docs/theory.md section 3; in the weights, ``u_c(t) = c^(1/p) u(c^(2-2/p) t)``).
`flow_trajectory` uses it with ``c = ||y||_inf`` when the data are far from size 1.
"""

from __future__ import annotations

import math

from ..networks.symmetric import SymmetricDLN

#: Data with ``||y||_inf`` outside ``[1 / FAR, FAR]`` are integrated as data of size 1.
FAR = 1e100


def normalization(problem, net):
    """``(c, net_c, kappa)``: the caller's flow is ``c x(kappa t)`` of ``(A, y / c)`` with
    ``net_c`` (scale ``a / c``, depth 2 keeping the caller's ``c`` of its map, so that ``z`` and
    ``atol`` mean the same); None where the data are near size 1 or no exact relation is used
    (networks other than `SymmetricDLN`)."""
    if type(net) is not SymmetricDLN:
        return None
    size = float(max(abs(problem.y).max(initial=0.0), 0.0))
    if not (size > 0 and math.isfinite(size)) or 1.0 / FAR <= size <= FAR:
        return None
    return size, net.normalized(size), 2.0 - 2.0 / float(net.depth)


def normalized_trajectory(problem, net, t, integrate, norms):
    """The caller's trajectory from ``integrate(problem_c, net_c, t_c)`` (``throw=False``) by the
    relation above, or None (see `normalization`). Times ``kappa t`` beyond float range are
    the largest float (the flow of size-1 data is at rest long before). ``x``, ``loss``, ``dual``
    and ``residual`` are in the caller's units, the residual recomputed from the returned ``x``;
    ``condition`` and ``accuracy`` are relative, the same for both."""
    import dataclasses

    import numpy as np

    from ..problems import Problem

    found = normalization(problem, net)
    if found is None:
        return None
    c, net_c, power = found
    with np.errstate(over="ignore", divide="ignore"):
        t_c = np.minimum(np.exp(np.log(t) + power * math.log(c)), np.finfo(float).max)
    t_c[t == 0] = 0.0
    inner = integrate(Problem(problem.A, problem.y / c), net_c, t_c)
    X = inner.x * c
    with np.errstate(over="ignore", invalid="ignore"):
        r = X @ problem.A.T - problem.y
        rnorm = norms(r)
        loss = 0.5 * rnorm * rnorm  # inf where the caller's loss is beyond float range
    return dataclasses.replace(
        inner, t=t, x=X, loss=loss, dual=inner.dual * c ** (1.0 - power),
        residual=rnorm / problem.y_norm, network=net,
        message=inner.message + (f" (integrated as data / {c:.3g}: exact homogeneity)" if inner.message else ""))
