"""The flow limit as a JAX function with a reverse-mode derivative (optional extra ``jax``).

``flow_limit(A, y, net, log_scale=None)`` returns ``x_inf`` as a JAX array and differentiates
in ``A``, ``y`` and ``log_scale`` by `jax.grad` / `jax.vjp`: a ``jax.custom_vjp`` whose backward
pass is `LimitResult.vjp` (one solve with the factored Hessian, docs/theory.md section 10).
``log_scale`` moves the network's scale: a number (``a -> a e^t``, any `ScaleFamily`) or an
(N,) vector (coordinate ``i`` at ``a e^{t_i}``: depth-2, two-layer and Azulay networks). The solve
runs in float64 NumPy through ``jax.pure_callback``, so the function also works under ``jax.jit``;
forward mode (``jax.jvp``) is not offered (a ``custom_vjp``). Enable ``jax_enable_x64`` for
float64 gradients; in float32 the result and gradients are rounded to float32.

Example: learn the per-coordinate initialization that makes the limit recover a signal. At a
uniform scale the limit is near the l1 minimizer ``(0, 0, 1)``, not ``x_true``; twenty gradient
steps on the per-coordinate log scales cut the squared error from 2.46 to 0.007.

>>> import jax, jax.numpy as jnp, numpy as np, dlnlab as dl
>>> jax.config.update("jax_enable_x64", True)
>>> from dlnlab.jax import flow_limit
>>> A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]); x_true = np.array([1.0, 1.0, 0.0])
>>> net = dl.SymmetricDLN(depth=2, scale=1e-2)
>>> loss = lambda t: jnp.sum((flow_limit(A, A @ x_true, net, t) - x_true) ** 2)
>>> t = jnp.zeros(3)
>>> before = float(loss(t))
>>> for _ in range(20):
...     t = t - 1.0 * jax.grad(loss)(t)
>>> bool(float(loss(t)) < 0.1 * before)
True
"""

from __future__ import annotations

import numpy as np

from .derivatives import shifted_network
from .errors import OptionalDependencyError

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - depends on the environment
    raise OptionalDependencyError("dlnlab.jax needs JAX: `pip install 'dlnlab[jax]'` (or `pip install jax jaxlib`).") \
        from None

__all__ = ["flow_limit"]


def _solve(A, y, net, t):
    from .limits import flow_limit as _flow_limit
    return _flow_limit(np.asarray(A, dtype=float), np.asarray(y, dtype=float), shifted_network(net, t))


def flow_limit(A, y, net, log_scale=None):
    """``x_inf(A, y)`` of ``net`` (with its log scale moved by ``log_scale``), differentiable in
    ``A`` (m x N), ``y`` (m,) and ``log_scale`` (None, a scalar or an (N,) vector).

    >>> import jax, numpy as np, dlnlab as dl
    >>> jax.config.update("jax_enable_x64", True)
    >>> P = dl.random_problem(); net = dl.SymmetricDLN(depth=3, scale=1e-6)
    >>> g = jax.grad(lambda y: flow_limit(P.A, y, net)[2])(P.y)
    >>> bool(np.allclose(g, dl.flow_limit(P, net).vjp(np.eye(5)[2]).y))
    True
    """
    A = jnp.asarray(A)
    y = jnp.asarray(y)
    dtype = jnp.result_type(A, y)
    scalar = log_scale is None or np.ndim(log_scale) == 0
    t = jnp.asarray(0.0 if log_scale is None else log_scale, dtype=dtype)
    N = A.shape[-1]
    out_x = jax.ShapeDtypeStruct((N,), dtype)

    def forward_np(A_, y_, t_):
        res = _solve(A_, y_, net, None if log_scale is None else (float(t_) if scalar else np.asarray(t_)))
        return res.x.astype(dtype)

    def backward_np(A_, y_, t_, c_):
        res = _solve(A_, y_, net, None if log_scale is None else (float(t_) if scalar else np.asarray(t_)))
        cot = res.vjp(np.asarray(c_, dtype=float))
        if log_scale is None:
            gt = np.zeros(())
        elif scalar:
            gt = np.asarray(cot.log_scale if cot.log_scale is not None else np.nan)
        else:
            gt = res._linearization.vjp_log_scales(np.asarray(c_, dtype=float))
        return cot.A.astype(dtype), cot.y.astype(dtype), gt.astype(dtype)

    @jax.custom_vjp
    def limit(A_, y_, t_):
        return jax.pure_callback(forward_np, out_x, A_, y_, t_)

    def fwd(A_, y_, t_):
        return limit(A_, y_, t_), (A_, y_, t_)

    def bwd(saved, c_):
        A_, y_, t_ = saved
        shapes = (jax.ShapeDtypeStruct(A_.shape, dtype), jax.ShapeDtypeStruct(y_.shape, dtype),
                  jax.ShapeDtypeStruct(t_.shape, dtype))
        return tuple(jax.pure_callback(backward_np, shapes, A_, y_, t_, c_))

    limit.defvjp(fwd, bwd)
    return limit(A, y, t)
