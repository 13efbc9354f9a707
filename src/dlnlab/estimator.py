"""`DLNRegressor`: the flow limit of a diagonal linear network as a scikit-learn estimator.

``fit(A, y)`` sets ``coef_`` to the limit of gradient flow of the network on the least-squares
loss ``1/2 ||A x - y||^2`` (docs/theory.md section 3). The flow sees the data only through
``A^T A`` and ``A^T y``, so:

- ``A x = y`` solvable with ``m < N`` (the over-parameterized case dlnlab studies): ``coef_`` is
  ``dl.flow_limit(A, y, net).x``, the interpolator that minimizes the network's potential;
- otherwise (``m >= N``, noisy ``y``): with the thin SVD ``A = U S V^T`` of rank ``r``, the flow
  is the same as on ``(S_r V_r^T, U_r^T y)``, whose interpolators are the least-squares
  solutions. For ``r < N`` ``coef_`` is that system's flow limit; for ``r = N`` the least-squares
  solution is unique, and it is ``coef_`` when the network can represent it (else `ProblemError`,
  e.g. a negative entry for the non-negative network).

scikit-learn is an optional dependency (``pip install 'dlnlab[sklearn]'``); this module imports it.
Inputs follow scikit-learn's conventions (``sklearn.utils.validation``): ``scipy.sparse`` ``A``
is accepted, object arrays of numbers are converted as every scikit-learn estimator converts them.

>>> import numpy as np, dlnlab as dl
>>> P = dl.gaussian_problem(15, 30, 2, seed=0)      # 15 samples, 30 features, a 2-sparse truth
>>> reg = dl.DLNRegressor(depth=2, scale=1e-30).fit(P.A, P.y)
>>> bool(np.allclose(reg.coef_, P.x_true, atol=1e-12)), reg.result_.status
(True, 'converged')
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .errors import NetworkError, NotInRangeError, ProblemError
from .limits import flow_limit
from .networks.base import Network
from .networks.spec import network_from_spec
from .networks.symmetric import SymmetricDLN
from .problems import Problem

#: Relative singular-value cut-off of the rank (times ``max(m, N)``), as `Problem`'s QR uses.
RANK_RTOL = np.finfo(float).eps


class DLNRegressor(RegressorMixin, BaseEstimator):
    """Linear regression by the gradient-flow limit of a diagonal linear network.

    Parameters
    ----------
    network
        a network spec ``"FAMILY:KEY=VALUE,..."`` (`dl.network_from_spec`, scalars broadcast
        over the features) or a `Network`; None (default) means ``SymmetricDLN(depth, scale)``.
    depth
        the depth ``p >= 2`` of ``x = u^p - v^p`` (default 2), only with ``network=None``.
    scale
        the effective scale ``a = alpha^p`` of the initialization (default 1e-6), only with
        ``network=None``. Small scales approach the l1 minimizer (the Lasso's limit at 0 penalty).
    fit_intercept
        center ``A``'s columns and ``y`` first, as scikit-learn's linear models do; the
        intercept ``mean(y) - mean(A) @ coef_`` is then a free parameter, outside the network.

    Attributes
    ----------
    coef_ : the limit (N,). ``intercept_`` : 0.0 without ``fit_intercept``. ``network_`` : the
    network used. ``result_`` : the `LimitResult` (residual, KKT error, status) of the flow limit,
    or None when the least-squares solution is unique. ``n_features_in_`` : N.

    Examples
    --------
    >>> import dlnlab as dl
    >>> R = dl.random_problem()
    >>> reg = dl.DLNRegressor(depth=3, scale=1e-12).fit(R.A, R.y)
    >>> round(reg.score(R.A, R.y), 12)
    1.0
    """

    def __init__(self, network=None, depth=None, scale=None, fit_intercept=False):
        self.network = network
        self.depth = depth
        self.scale = scale
        self.fit_intercept = fit_intercept

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = False
        return tags

    def _network(self, n_features: int):
        if self.network is None:
            return SymmetricDLN(depth=2.0 if self.depth is None else self.depth,
                                scale=1e-6 if self.scale is None else self.scale)
        if self.depth is not None or self.scale is not None:
            raise NetworkError("DLNRegressor: give network= or depth=/scale=, not both "
                               f"(got network={self.network!r}, depth={self.depth!r}, scale={self.scale!r}).")
        if isinstance(self.network, str):
            return network_from_spec(self.network, size=n_features)
        if isinstance(self.network, Network):
            return self.network
        raise NetworkError(f"DLNRegressor: network must be a spec string like 'symmetric:depth=3,scale=1e-6' or a "
                           f"dlnlab network; got {type(self.network).__name__}.")

    def fit(self, A, y):
        """Compute ``coef_`` (see the module docstring) and return ``self``."""
        A, y = validate_data(self, A, y, accept_sparse=("csr", "csc", "coo"), dtype=np.float64, y_numeric=True)
        net = self._network(A.shape[1])
        A = A.toarray() if hasattr(A, "toarray") else A  # dense inside, as `Problem` stores it
        y = np.asarray(y, dtype=float)
        a_mean, y_mean = (A.mean(axis=0), float(y.mean())) if self.fit_intercept else (np.zeros(A.shape[1]), 0.0)
        self.network_ = net
        self.coef_, self.result_ = _limit(A - a_mean, y - y_mean, net)
        self.intercept_ = y_mean - float(a_mean @ self.coef_)
        return self

    def predict(self, A):
        """``A @ coef_ + intercept_``."""
        check_is_fitted(self)
        A = validate_data(self, A, accept_sparse=("csr", "csc", "coo"), dtype=np.float64, reset=False)
        return np.asarray(A @ self.coef_).ravel() + self.intercept_


def _limit(A: np.ndarray, y: np.ndarray, net):
    """``(x, LimitResult or None)``: the flow limit on ``1/2 ||A x - y||^2`` (module docstring)."""
    m, N = A.shape
    if m < N:
        try:
            res = flow_limit(Problem(A, y), net)
            return res.x, res
        except NotInRangeError:
            pass
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > max(m, N) * RANK_RTOL * s[0])) if s.size and s[0] > 0 else 0
    mapping = net.mirror_map()
    if r == 0:  # A = 0: the gradient vanishes and the flow stays at its initialization X(0)
        return mapping.primal(np.ones(N), np.ones(N)), None
    z = U[:, :r].T @ y
    if r < N:
        res = flow_limit(Problem(s[:r, None] * Vt[:r], z), net)
        return res.x, res
    x = Vt.T @ (z / s)
    with np.errstate(all="ignore"):
        reachable = bool(np.all(np.isfinite(mapping.potential(x))))
    if not reachable:
        raise ProblemError(f"A has full column rank, so the loss has one minimizer, the least-squares solution, "
                           f"and {net} cannot represent it (e.g. a negative entry for a non-negative network). "
                           "Use a network whose x takes every sign, or more features than samples.")
    return x, None
