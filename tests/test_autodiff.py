"""dlnlab.jax and dlnlab.torch against the frameworks' own finite-difference gradient checks."""

import numpy as np
import pytest

import dlnlab as dl

P = dl.random_problem()


def test_torch_gradcheck():
    torch = pytest.importorskip("torch")
    from dlnlab.torch import flow_limit
    net = dl.SymmetricDLN(depth=2, scale=1e-2)
    A = torch.tensor(P.A, requires_grad=True)
    y = torch.tensor(P.y, requires_grad=True)
    t = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    # float64 central differences with eps 1e-6: error ~1e-10, far below atol 1e-5
    assert torch.autograd.gradcheck(lambda A, y, t: flow_limit(A, y, net, t), (A, y, t), eps=1e-6, atol=1e-5)


def test_jax_check_grads():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from jax.test_util import check_grads
    from dlnlab.jax import flow_limit
    net = dl.SymmetricDLN(depth=3, scale=1e-3)
    check_grads(lambda A, y, t: flow_limit(A, y, net, t), (P.A, P.y, 0.0), order=1, modes=["rev"], eps=1e-5)
