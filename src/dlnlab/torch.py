"""The flow limit as a PyTorch function with a backward pass (optional extra ``torch``).

``flow_limit(A, y, net, log_scale=None)`` returns ``x_inf`` as a tensor and differentiates in
``A``, ``y`` and ``log_scale`` by ``loss.backward()``: a ``torch.autograd.Function`` whose
backward pass is `LimitResult.vjp` (one solve with the factored Hessian, docs/theory.md section
10). ``log_scale`` moves the network's scale: a number (``a -> a e^t``, any `ScaleFamily`) or an
(N,) tensor (coordinate ``i`` at ``a e^{t_i}``: depth-2, two-layer and Azulay networks). The
solve runs in float64 NumPy on the CPU; results come back in the inputs' dtype and device.

Example: learn the per-coordinate initialization that makes the limit recover a signal. At a
uniform scale the limit is near the l1 minimizer ``(0, 0, 1)``, not ``x_true``; twenty gradient
steps on the per-coordinate log scales cut the squared error from 2.46 to 0.007.

>>> import torch, numpy as np, dlnlab as dl
>>> from dlnlab.torch import flow_limit
>>> A = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
>>> x_true = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
>>> net = dl.SymmetricDLN(depth=2, scale=1e-2)
>>> t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
>>> opt = torch.optim.SGD([t], lr=1.0)
>>> losses = []
>>> for _ in range(20):
...     opt.zero_grad()
...     loss = ((flow_limit(A, A @ x_true, net, t) - x_true) ** 2).sum()
...     loss.backward(); opt.step(); losses.append(loss.item())
>>> losses[-1] < 0.1 * losses[0]
True
"""

from __future__ import annotations

import numpy as np

from .derivatives import shifted_network
from .errors import OptionalDependencyError

try:
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    raise OptionalDependencyError("dlnlab.torch needs PyTorch: `pip install 'dlnlab[torch]'` (or the CPU build "
                                  "`pip install torch==2.13.0`).") from None

__all__ = ["flow_limit", "FlowLimit"]


def _numpy(t):
    return t.detach().to("cpu", torch.float64).numpy()


class FlowLimit(torch.autograd.Function):
    """``x_inf(A, y; net at log_scale t)``; ``apply(A, y, t, net, kind)`` with ``kind`` in
    ``"none"``, ``"scalar"``, ``"vector"`` (use `flow_limit`)."""

    @staticmethod
    def forward(ctx, A, y, t, net, kind):
        from .limits import flow_limit as _flow_limit
        shift = None if kind == "none" else (float(t) if kind == "scalar" else _numpy(t))
        res = _flow_limit(_numpy(A), _numpy(y), shifted_network(net, shift))
        ctx.result, ctx.kind = res, kind
        ctx.meta = (A.dtype, A.device, t.shape)
        return torch.as_tensor(res.x, dtype=A.dtype, device=A.device)

    @staticmethod
    def backward(ctx, grad_x):
        res, kind = ctx.result, ctx.kind
        dtype, device, t_shape = ctx.meta
        c = _numpy(grad_x)
        cot = res.vjp(c)
        if kind == "none":
            gt = None
        elif kind == "scalar":
            gt = torch.as_tensor(cot.log_scale if cot.log_scale is not None else float("nan"), dtype=dtype,
                                 device=device).reshape(t_shape)
        else:
            gt = torch.as_tensor(res._linearization.vjp_log_scales(c), dtype=dtype, device=device)
        def back(g):
            return torch.as_tensor(g, dtype=dtype, device=device)
        return back(cot.A), back(cot.y), gt, None, None


def flow_limit(A, y, net, log_scale=None):
    """``x_inf(A, y)`` of ``net`` (log scale moved by ``log_scale``), differentiable in ``A``
    (m x N), ``y`` (m,) and ``log_scale`` (None, a number or 0-d tensor, or an (N,) tensor).

    >>> import torch, numpy as np, dlnlab as dl
    >>> P = dl.random_problem(); net = dl.SymmetricDLN(depth=3, scale=1e-6)
    >>> y = torch.tensor(P.y, requires_grad=True)
    >>> flow_limit(torch.tensor(P.A), y, net)[2].backward()
    >>> bool(np.allclose(y.grad.numpy(), dl.flow_limit(P, net).vjp(np.eye(5)[2]).y))
    True
    """
    A = torch.as_tensor(A)
    dtype = A.dtype if A.is_floating_point() else torch.float64
    A = A.to(dtype)
    y = torch.as_tensor(y).to(dtype=dtype, device=A.device)
    if log_scale is None:
        kind, t = "none", torch.zeros((), dtype=dtype, device=A.device)
    else:
        t = torch.as_tensor(log_scale).to(dtype=dtype, device=A.device)
        kind = "scalar" if t.ndim == 0 else "vector"
    return FlowLimit.apply(A, y, t, net, kind)
