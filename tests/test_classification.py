"""Classification flows against the full 2N-dimensional network; max-margin solvers against scipy."""

import numpy as np
import pytest
from scipy.optimize import linprog

import dlnlab as dl
from dlnlab.reference.full_network import classification_flow


def _data(seed, m=4, N=5):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, N))
    return A, np.sign(A @ rng.standard_normal(N))


@pytest.mark.parametrize("depth,alpha", [(2, 0.1), (3, 0.3)])
@pytest.mark.parametrize("loss", ["exponential", "logistic"])
def test_trajectory_matches_full_network(depth, alpha, loss):
    A, y = _data(1)
    times = np.array([1.0, 10.0, 1e3, 1e6])
    ref = classification_flow(A, y, depth, alpha, times, loss=loss)
    tr = dl.flow_trajectory(A, y, dl.SymmetricDLN(depth=depth, alpha=alpha), times, loss=loss, rtol=1e-12, atol=1e-14)
    err = np.max(np.abs(tr.x - ref.x), axis=1) / np.max(np.abs(ref.x), axis=1)
    # both integrators at rtol ~1e-12 on x's logarithm / dual: measured agreement ~1e-11
    assert np.all(err < 1e-8)
    assert np.all(np.abs(tr.log_loss - ref.residual) < 1e-7)


def test_l1_max_margin_against_highs_dual():
    A, y = _data(3, m=15, N=8)
    mm = dl.max_margin(A, y, norm="l1")
    Z = y[:, None] * A
    # independent: the dual LP max 1^T mu s.t. |Z^T mu| <= 1, mu >= 0
    out = linprog(-np.ones(15), A_ub=np.vstack([Z.T, -Z.T]), b_ub=np.ones(16), bounds=[(0, None)] * 15,
                  method="highs")
    assert mm.success and abs(mm.objective + out.fun) < 1e-9 * mm.objective


def test_not_separable():
    with pytest.raises(dl.NotSeparableError):
        dl.max_margin(np.array([[1.0], [1.0]]), np.array([1.0, -1.0]), norm="l2")
