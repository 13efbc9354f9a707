"""Sharpness: the top eigenvalue of the Hessian of the training loss in a network's weights.

For ``F(W) = 1/2 ||A x(W) - y||^2`` on the ``J x N`` weights of a diagonal network (output
coordinate ``x_i`` depends on column ``W[:, i]`` only), with ``r = A x - y``, ``g = A^T r``,
``D[j, i] = dx_i / dW_ji`` and ``B_i[j, k] = g_i d^2 x_i / dW_ji dW_ki``,

    (H V)[j, i] = D[j, i] (A^T A (sum_k D[k] * V[k]))_i + sum_k B_i[j, k] V[k, i],

the Gauss-Newton term plus the curvature of the network. ``D = pullback(W, 1)`` (the pullback
is linear in ``g``) and ``B`` are exact: ``B`` comes from the complex-step derivative
``Im pullback(W + i h E_k, g) / h`` (exact to rounding for the polynomial networks of dlnlab;
a network whose pullback does not take complex weights falls back to central differences).
``sharpness`` is ``lambda_max(H)``: dense ``eigvalsh`` for ``J N <= DENSE_LIMIT``, otherwise
Lanczos (``scipy.sparse.linalg.eigsh`` on a `LinearOperator` of Hessian-vector products).
GD with step ``gamma`` is linearly stable at a minimum only if ``sharpness <= 2 / gamma``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConvergenceError, NetworkError, OptionError
from ..networks.base import Trainable
from ..problems import as_problem

#: Up to this many weights (``J * N``) the Hessian is formed and diagonalized exactly.
DENSE_LIMIT = 600


def _parts(A, y, net, W):
    """``D`` (J x N), the curvature blocks ``B`` (J x J x N) and ``A``."""
    x = net.weights_to_x(W)
    g = A.T @ (A @ x - y)
    D = np.asarray(net.pullback(W, np.ones(W.shape[1])), dtype=float)
    J = W.shape[0]
    B = np.empty((J, J, W.shape[1]))
    h = 1e-30
    for k in range(J):
        E = np.zeros(W.shape)
        E[k] = 1.0
        col = None
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(net.pullback(W + 1j * h * E, g))
            if np.iscomplexobj(out) and np.all(np.isfinite(out)):
                col = out.imag / h
        except (TypeError, ValueError):
            col = None
        if col is None:  # a pullback that refuses complex weights: central differences
            eps = 1e-6 * max(1.0, float(np.max(np.abs(W[k]))))
            col = (np.asarray(net.pullback(W + eps * E, g)) - np.asarray(net.pullback(W - eps * E, g))) / (2 * eps)
        B[:, k, :] = col
    return D, B


def hessian(A, y=None, net=None, weights=None) -> np.ndarray:
    """The dense Hessian of ``1/2 ||A x(W) - y||^2`` in ``W``, rows and columns in ``W.ravel()`` order.

    >>> import numpy as np, dlnlab as dl
    >>> from dlnlab.dynamics.sharpness import hessian
    >>> P = dl.random_problem()
    >>> net = dl.TwoLayerDLN(np.full(5, 0.5), np.full(5, 0.3))
    >>> H = hessian(P, net, net.init_weights(5))
    >>> H.shape, bool(np.allclose(H, H.T))
    ((10, 10), True)
    """
    A_, y_, net, W = _inputs(A, y, net, weights)
    D, B = _parts(A_, y_, net, W)
    J, N = W.shape
    G = A_.T @ A_
    Df = D.ravel()
    H = Df[:, None] * np.kron(np.ones((J, J)), G) * Df[None, :]
    for i in range(N):
        idx = np.arange(J) * N + i
        H[np.ix_(idx, idx)] += B[:, :, i]
    return 0.5 * (H + H.T)


def sharpness(A, y=None, net=None, weights=None, *, method: str = "auto", tol: float = 1e-10) -> float:
    """``lambda_max`` of the Hessian of the training loss in the weights (module docstring).

    ``weights``: a ``J x N`` array, a `GDResult` / `SGFResult` (its final weights) or None
    (the network's initialization). ``method``: ``"dense"`` (``eigvalsh``), ``"lanczos"``
    (``eigsh`` on Hessian-vector products, relative tolerance ``tol``) or ``"auto"``
    (dense up to `DENSE_LIMIT` weights). Non-convergence of Lanczos is a `ConvergenceError`.

    Examples
    --------
    >>> import numpy as np, dlnlab as dl
    >>> P = dl.random_problem()
    >>> net = dl.TwoLayerDLN(np.full(P.N, 1.0), np.full(P.N, 1.0))
    >>> s1 = dl.sharpness(P, net, method="dense"); s2 = dl.sharpness(P, net, method="lanczos")
    >>> bool(abs(s1 - s2) <= 1e-8 * s1)
    True
    """
    if method not in ("auto", "dense", "lanczos"):
        raise OptionError(f"method must be 'auto', 'dense' or 'lanczos'; got {method!r}.")
    A_, y_, net, W = _inputs(A, y, net, weights)
    J, N = W.shape
    if method == "dense" or (method == "auto" and J * N <= DENSE_LIMIT):
        H = hessian(A_, y_, net, W)
        return float(np.linalg.eigvalsh(H)[-1])
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    D, B = _parts(A_, y_, net, W)

    def hvp(v):
        V = np.asarray(v, dtype=float).reshape(J, N)
        gn = A_.T @ (A_ @ np.sum(D * V, axis=0))
        return (D * gn + np.einsum("jki,ki->ji", B, V)).ravel()

    op = LinearOperator((J * N, J * N), matvec=hvp, dtype=float)
    v0 = np.ones(J * N) / math.sqrt(J * N)
    try:
        val = eigsh(op, k=1, which="LA", tol=tol, v0=v0, maxiter=20 * J * N, return_eigenvectors=False)
    except ArpackNoConvergence as exc:
        raise ConvergenceError(f"Lanczos did not converge on the {J * N}-weight Hessian ({exc}); use method='dense' "
                               "or a larger tol.") from None
    return float(val[0])


def _inputs(A, y, net, weights):
    if net is None or (weights is None and not isinstance(net, Trainable) and isinstance(y, Trainable)):
        # sharpness(P, net, weights): the problem object carries y
        net, weights, y = y, net, None
    if not isinstance(net, Trainable):
        raise NetworkError(f"sharpness needs a network that declares its weights (dlnlab.networks.base.Trainable); "
                           f"got {type(net).__name__}.")
    problem = as_problem(A, y)
    A_ = problem.A.toarray() if hasattr(problem.A, "toarray") else np.asarray(problem.A)
    N = A_.shape[1]
    if weights is None:
        W = np.array(net.init_weights(N), dtype=float)
    else:
        W = np.array(getattr(weights, "weights", weights), dtype=float)
    if W.ndim != 2 or W.shape[1] != N or not np.all(np.isfinite(W)):
        raise OptionError(f"weights must be a finite J x {N} array (or a GDResult); got shape {W.shape}.")
    return A_, np.asarray(problem.y, dtype=float), net, W
