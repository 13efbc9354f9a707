"""`limit_condition` against independent computations of the Jacobian of ``(A, y) -> x_inf``.

References: (i) the Jacobian by central finite differences of `flow_limit` (one pair of limits
per data entry); (ii) a brute-force dense implicit-function-theorem Jacobian built with numpy
from the limit's dual point (``D = diag(X'(A^T lam))``, ``G = A D A^T``, one dense solve per data
entry, no use of the solver's factorization); (iii) the closed form at the tie ``A = [1, 1]``,
``y = 1``, where ``||J|| = sX'(s)`` with ``X(s) = 1/2`` (docs/theory.md section 5).
"""

import math

import numpy as np
import pytest

import dlnlab as dl

H = 1e-5


def fd_jacobian(A, y, net):
    """Columns vec(dA) (row-major) then dy, by central differences with step H (data of size 1:
    truncation H^2 ~ 1e-10, rounding 1e-15 / H ~ 1e-10 relative)."""
    m, N = A.shape
    cols = []
    for k in range(m * N + m):
        dA, dy = np.zeros((m, N)), np.zeros(m)
        if k < m * N:
            dA.flat[k] = 1.0
        else:
            dy[k - m * N] = 1.0
        plus = dl.flow_limit(A + H * dA, y + H * dy, net).x
        minus = dl.flow_limit(A - H * dA, y - H * dy, net).x
        cols.append((plus - minus) / (2 * H))
    return np.array(cols).T


def relative_condition(J, A, y, x):
    return np.linalg.norm(J, 2) * math.sqrt(np.sum(A * A) + y @ y) / np.linalg.norm(x)


@pytest.mark.parametrize("net", [dl.SymmetricDLN(depth=2, scale=1e-3), dl.SymmetricDLN(depth=3, scale=1e-4),
                                 dl.SymmetricDLN(depth=4, scale=1e-2),
                                 dl.TwoLayerDLN(u0=np.array([0.1, 0.2, 0.05, 0.3, 0.1]),
                                                v0=np.array([0.0, 0.1, -0.05, 0.2, 0.3]))],
                         ids=["sym2", "sym3", "sym4", "twolayer"])
def test_condition_matches_finite_differences(net):
    P = dl.random_problem()
    A, y = P.A, P.y
    res = dl.limit_condition(A, y, net)
    J = fd_jacobian(A, y, net)
    # the difference quotients are accurate to ~1e-10 relative (measured 1.0e-10 to 1.3e-10): 1e-6 tests the formula
    assert res.success and res.method == "dense"
    assert np.linalg.norm(res.jacobian - J) < 1e-6 * np.linalg.norm(J)
    assert res.condition == pytest.approx(relative_condition(J, A, y, res.limit.x), rel=1e-6)
    # y alone: the last m columns
    ry = dl.limit_condition(A, y, net, wrt="y")
    assert ry.derivative_norm == pytest.approx(np.linalg.norm(J[:, -P.m:], 2), rel=1e-6)
    assert ry.condition == pytest.approx(ry.derivative_norm * np.linalg.norm(y) / np.linalg.norm(res.limit.x))


def dense_ift_jacobian(A, y, res, depth, a):
    """``dx = D (A^T dlam + dA^T lam)``, ``G dlam = dy - dA x - A D dA^T lam`` with dense numpy
    solves, from the limit's dual point ``lam`` and ``X'`` evaluated directly (depth 2:
    ``X = 2a sinh(4s)``; depth p: ``X = a h_p(tau)``, ``tau = p (p-2) alpha^(p-2) s``)."""
    m, N = A.shape
    lam = res.dual
    s = A.T @ lam
    if depth == 2:
        x, D = 2 * a * np.sinh(4 * s), 8 * a * np.cosh(4 * s)
    else:
        k, c = depth / (depth - 2), depth * (depth - 2) * a ** ((depth - 2) / depth)
        t = c * s
        x = a * ((1 - t) ** -k - (1 + t) ** -k)
        D = a * k * c * ((1 - t) ** (-k - 1) + (1 + t) ** (-k - 1))
    G = (A * D) @ A.T
    cols = []
    for k_ in range(m * N + m):
        dA, dy = np.zeros((m, N)), np.zeros(m)
        if k_ < m * N:
            dA.flat[k_] = 1.0
        else:
            dy[k_ - m * N] = 1.0
        dlam = np.linalg.solve(G, dy - dA @ x - A @ (D * (dA.T @ lam)))
        cols.append(D * (A.T @ dlam + dA.T @ lam))
    return np.array(cols).T, x


@pytest.mark.parametrize("depth,a", [(2, 1e-2), (2, 1e-6), (3, 1e-3), (4, 1e-4)])
def test_condition_matches_dense_jacobian(depth, a):
    """At moderate scales (D within ~1e6 of itself) the dense normal equations lose at most
    cond(G) * 1e-16 ~ 1e-10 (measured 2e-15 to 5e-14): tolerance 1e-8."""
    rng = np.random.default_rng(7)
    A = rng.standard_normal((3, 6))
    y = A @ np.array([1.0, 0.0, -0.5, 0.0, 0.0, 0.3])
    res = dl.limit_condition(A, y, dl.SymmetricDLN(depth=depth, scale=a))
    J, x = dense_ift_jacobian(A, y, res.limit, depth, a)
    assert np.allclose(x, res.limit.x, rtol=1e-10, atol=1e-12)  # the direct map reproduces the limit
    assert np.linalg.norm(res.jacobian - J) < 1e-8 * np.linalg.norm(J)
    assert res.condition == pytest.approx(relative_condition(J, A, y, x), rel=1e-8)
    assert res.frobenius == pytest.approx(np.linalg.norm(J), rel=1e-8)
    # the reported worst direction attains the norm
    v = np.r_[res.dA.ravel(), res.dy]
    assert np.linalg.norm(J @ v) == pytest.approx(res.derivative_norm, rel=1e-8)


def sxs_at_half(depth, a):
    """``s X'(s)`` at ``X(s) = 1/2``, in closed form (depth 2) or by the log-domain root (depth p)."""
    if depth == 2:  # 2a sinh(4s) = 1/2 -> 4s = asinh(1/(4a)), 2a cosh(4s) = sqrt(1/4 + 4a^2)
        return math.asinh(1 / (4 * a)) * math.sqrt(0.25 + 4 * a * a)
    import mpmath
    k = mpmath.mpf(depth) / (depth - 2)
    with mpmath.workdps(50):  # in e = 1 - tau: a (e^-k - (2-e)^-k) = 1/2, a fixed point (e is tiny)
        am, e = mpmath.mpf(a), mpmath.mpf(0)
        for _ in range(60):
            e = (1 / (2 * am) + (2 - e) ** -k) ** (-1 / k)
        return float((1 - e) * am * k * (e ** (-k - 1) + (2 - e) ** (-k - 1)))


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("a", [1e-8, 1e-40, 1e-100])
def test_condition_at_the_tie_closed_form(depth, a):
    """At ``A = [1, 1]``, ``y = 1``: ``x = (1/2, 1/2)`` and ``J = sigma u_- (u_-, 0)^T + u_+ w^T`` with
    ``sigma = sX'(s)``, ``||w|| = sqrt(3)/2``, so ``||J|| = sigma`` and ``kappa = sqrt(6) sigma``
    (docs/theory.md section 5): log(1/a) growth at depth 2, a^(-(p-2)/p) at depth p."""
    A, y = np.array([[1.0, 1.0]]), np.array([1.0])
    res = dl.limit_condition(A, y, dl.SymmetricDLN(depth=depth, scale=a))
    sigma = sxs_at_half(depth, a)
    # both sides are a few ulps of the slope (the tie is exact in float64)
    assert res.derivative_norm == pytest.approx(sigma, rel=1e-12)
    assert res.condition == pytest.approx(math.sqrt(6) * sigma, rel=1e-12)
    assert np.allclose(np.abs(res.dA), [[1 / math.sqrt(2)] * 2], rtol=1e-10) and abs(res.dy[0]) < 1e-10


def test_iterative_matches_dense():
    """Lanczos (jvp/vjp only) against the assembled Jacobian on N = 40: svds at tol 1e-12 gives the
    top singular value to ~1e-12 relative."""
    P = dl.gaussian_problem(10, 40, 3, seed=4)
    net = dl.SymmetricDLN(depth=3, scale=1e-20)
    dense = dl.limit_condition(P, net, method="dense")
    it = dl.limit_condition(P, net, method="iterative")
    assert dense.success and it.success and it.method == "iterative" and it.jacobian is None
    assert it.condition == pytest.approx(dense.condition, rel=1e-9)


def test_reuses_a_solved_limit_and_reports_its_evidence():
    P = dl.random_problem()
    lim = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-30))
    res = dl.limit_condition(lim)
    assert res.limit is lim and res.verification < 1e-10
    d = res.to_dict()
    assert d["success"] and "jacobian" not in d and d["wrt"] == "data" and "Frobenius" not in d["norm"]
    assert "||dA||_F" in d["norm"]


def test_errors():
    P = dl.random_problem()
    net = dl.SymmetricDLN(depth=2, scale=1e-3)
    with pytest.raises(dl.OptionError, match="wrt"):
        dl.limit_condition(P, net, wrt="x")
    with pytest.raises(dl.OptionError, match="method"):
        dl.limit_condition(P, net, method="svd")
    with pytest.raises(dl.ProblemError, match="undefined"):
        dl.limit_condition(P.A, np.zeros(P.m), net)
    bad = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-6), max_iter=1, throw=False)
    res = dl.limit_condition(bad)
    assert not res.success and res.status == bad.status and math.isnan(res.condition)
