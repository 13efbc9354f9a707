import numpy as np
import pytest

import dlnlab as dl
from dlnlab.theory import line_selection_t


@pytest.mark.parametrize("depth", [2.0, 2.5, 3.0, 4.0])
def test_line_problem_small_scale_limit(depth):
    """docs/theory.md section 4: the limit approaches (1-t*, 2(1-t*), 3t*) as the scale shrinks."""
    P = dl.line_problem()
    t_star = line_selection_t(depth)
    errs = []
    for a in (1e-3, 1e-6, 1e-9):
        res = dl.flow_limit(P, dl.SymmetricDLN(depth=depth, scale=a))
        assert res.converged and res.residual < 1e-12 and res.kkt < 1e-12
        t = res.x[2] / 3
        assert np.allclose(res.x, [1 - t, 2 * (1 - t), 3 * t], atol=1e-12)  # stays on the face
        errs.append(abs(t - t_star))
    assert errs[0] > errs[1] > errs[2] or errs[2] < 1e-12
    assert errs[-1] < 1e-7  # eps(1e-9) = 1e-9^(1-2/p) <= 3.6e-3 and the error is O(eps * a-ish)


def test_convergence_error_and_throw_false():
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=3, scale=1e-6)
    with pytest.raises(dl.ConvergenceError) as info:
        dl.flow_limit(P, net, max_iter=1)
    assert info.value.result is not None and info.value.result.status == "max_iter"
    res = dl.flow_limit(P, net, max_iter=1, throw=False)
    assert res.status == "max_iter" and not res.success
