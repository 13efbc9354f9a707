"""`limit_condition`: the relative condition number of the flow limit as a function of the data.

The limit is a smooth map ``(A, y) -> x_inf`` (docs/theory.md section 10). Its relative
condition number is

    kappa(A, y) = ||J|| * ||(A, y)||_F / ||x_inf||_2,     J = d x_inf / d(A, y),

where ``||(A, y)||_F = sqrt(||A||_F^2 + ||y||^2)`` measures the data, the 2-norm measures
``x``, and ``||J||`` is the operator norm these two induce (the largest singular value of
``J`` as an ``N x (m N + m)`` matrix acting on ``vec(dA), dy``). ``wrt="A"`` or ``"y"``
restricts the data to one of the two (then ``||A||_F`` or ``||y||`` alone).

``J`` is never formed by differences: each row ``e_i^T J`` is one vector-Jacobian product
(`LimitResult.vjp`, one solve with the dual Hessian the solver factored), so for moderate
``N`` the whole Jacobian is assembled exactly and its singular values computed densely
(``method="dense"``); for large ``N``, Lanczos bidiagonalization (``scipy.sparse.linalg.svds``)
needs only ``jvp`` and ``vjp`` (``method="iterative"``). Either way the claim is recomputed
from the returned point: the worst input direction ``v`` is pushed through `LimitResult.jvp`
(a different computation from the ``vjp`` rows) and ``||J v||`` must equal the reported norm.

Near inputs where basis pursuit's minimizer is not unique the condition grows without bound
as the scale goes to 0 (docs/theory.md section 5, "The condition of the limit").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import OptionError, ProblemError
from .limits import LimitResult, flow_limit
from .problems import Problem
from .results import Result

#: Largest ``N`` for which ``method="auto"`` assembles the Jacobian (``N`` vjps, one SVD).
DENSE_MAX = 400
#: Relative agreement of ``||jvp(v)||`` with the reported norm that counts as a verified claim.
CHECK_TOL = 1e-8
WRT = ("data", "A", "y")
METHODS = ("auto", "dense", "iterative")


@dataclass(frozen=True)
class LimitConditionResult(Result):
    """The relative condition number of ``(A, y) -> x_inf`` and its evidence.

    ``condition``: ``||J|| ||data|| / ||x||``; ``derivative_norm``: ``||J||`` (absolute, caller's
    units); ``data_norm``, ``x_norm``: the two norms used; ``norm``: the norms in words;
    ``wrt``: "data", "A" or "y"; ``method``: "dense" or "iterative"; ``dA``, ``dy``: the unit
    perturbation that attains ``||J||`` (None for the part not differentiated); ``dx``: its
    response ``J v``; ``verification``: ``| ||jvp(v)|| - ||J|| | / ||J||`` recomputed by `jvp`;
    ``frobenius``: ``||J||_F`` (dense method only); ``limit``: the `LimitResult` used;
    ``jacobian``: the assembled ``J`` (dense method only; columns ``vec(dA)`` row-major, then ``dy``).
    """

    condition: float
    derivative_norm: float
    data_norm: float
    x_norm: float
    norm: str
    wrt: str
    method: str
    dA: np.ndarray | None
    dy: np.ndarray | None
    dx: np.ndarray
    verification: float
    frobenius: float | None
    iterations: int
    status: str
    message: str = ""
    limit: LimitResult | None = field(default=None, repr=False)
    jacobian: np.ndarray | None = field(default=None, repr=False, metadata={"dict": False})


def limit_condition(A, y=None, net=None, *, wrt: str = "data", method: str = "auto", rtol: float | None = None,
                    throw: bool = True) -> LimitConditionResult:
    """Relative condition number ``kappa = ||J|| ||(A, y)||_F / ||x_inf||_2`` of the flow limit.

    ``J = d x_inf / d(A, y)`` with the operator norm induced by the Frobenius norm on the data
    and the 2-norm on ``x`` (module docstring); ``wrt`` restricts the data to ``"A"`` or ``"y"``.

    Parameters
    ----------
    A, y, net
        as for `flow_limit` (a `Problem` may stand for ``A, y``); or a solved `LimitResult` as
        ``A`` alone, whose limit is then used as it is.
    wrt
        ``"data"`` (both), ``"A"`` or ``"y"``.
    method
        ``"dense"`` (all ``N`` rows of ``J`` by vjp, exact SVD), ``"iterative"`` (Lanczos with
        jvp/vjp) or ``"auto"`` (dense up to ``N = DENSE_MAX``).
    rtol, throw
        passed to `flow_limit`; with ``throw=False`` an unconverged limit gives a result with the
        limit's status and a NaN condition.

    Examples
    --------
    At the tie ``A = [1, 1]``, ``y = 1`` (basis pursuit's minimizer is not unique) the condition
    grows like ``log(1/a)`` at depth 2: exactly ``sqrt(6) sX'(s)`` with ``X(s) = 1/2``.

    >>> import numpy as np, dlnlab as dl
    >>> A, y = np.array([[1.0, 1.0]]), np.array([1.0])
    >>> [round(dl.limit_condition(A, y, dl.SymmetricDLN(depth=2, scale=a)).condition, 3) for a in (1e-10, 1e-100)]
    [27.352, 281.159]
    """
    if wrt not in WRT:
        raise OptionError(f"wrt must be one of {WRT}; got {wrt!r}.")
    if method not in METHODS:
        raise OptionError(f"method must be one of {METHODS}; got {method!r}.")
    if isinstance(A, LimitResult):
        if y is not None or net is not None:
            raise OptionError("limit_condition(result) takes a solved LimitResult alone; got more arguments.")
        res = A
    else:
        kw = {} if rtol is None else {"rtol": rtol}
        if net is None and isinstance(A, Problem):
            net, y = y, None
        res = flow_limit(A, y, net, throw=throw, **kw)
    problem = res.problem
    if problem is None:
        raise ProblemError("this LimitResult does not carry its problem; pass the result of dl.flow_limit.")
    m, N = problem.m, problem.N
    norm_text = {"data": "||J|| induced by sqrt(||dA||_F^2 + ||dy||^2) on the data and ||dx||_2 on x; "
                         "relative to sqrt(||A||_F^2 + ||y||^2) / ||x||_2",
                 "A": "||J_A|| induced by ||dA||_F and ||dx||_2; relative to ||A||_F / ||x||_2",
                 "y": "||J_y|| induced by ||dy||_2 and ||dx||_2; relative to ||y||_2 / ||x||_2"}[wrt]
    A_arr, y_arr = problem.A, problem.y
    data_norm = math.sqrt((float(np.sum(A_arr * A_arr)) if wrt != "y" else 0.0)
                          + (float(y_arr @ y_arr) if wrt != "A" else 0.0))
    if method == "auto":
        method = "dense" if N <= DENSE_MAX else "iterative"
    if not res.success:
        nan = math.nan
        return LimitConditionResult(condition=nan, derivative_norm=nan, data_norm=data_norm, x_norm=nan, norm=norm_text,
                                    wrt=wrt, method=method, dA=None, dy=None, dx=np.full(N, nan), verification=nan,
                                    frobenius=None, iterations=0, status=res.status,
                                    message=f"the limit did not converge ({res.message}); no derivative", limit=res)
    x_norm = float(np.linalg.norm(res.x))
    if not x_norm > 0:
        raise ProblemError("the limit is x = 0 (y = 0): its relative condition number is undefined.")
    lin = res._linearization
    nA = m * N if wrt != "y" else 0
    ny = m if wrt != "A" else 0

    def split(v):
        dA = v[:nA].reshape(m, N) if nA else None
        dy = v[nA:nA + ny] if ny else None
        return dA, dy

    def matvec(v):
        dA, dy = split(np.asarray(v, dtype=float).ravel())
        return lin.jvp(dA=dA, dy=dy)

    def rmatvec(c):
        g = lin.vjp(np.asarray(c, dtype=float).ravel())
        parts = ([g.A.ravel()] if nA else []) + ([g.y] if ny else [])
        return np.concatenate(parts)

    jac, frob = None, None
    if method == "dense":
        jac = np.array([rmatvec(e) for e in np.eye(N)])
        U, svals, Vt = np.linalg.svd(jac, full_matrices=False)
        sigma, v = float(svals[0]), Vt[0]
        frob = float(np.linalg.norm(svals))
        iterations = N
    else:
        from scipy.sparse.linalg import LinearOperator, svds
        counter = {"n": 0}

        def mv(v):
            counter["n"] += 1
            return matvec(v)

        def rmv(c):
            counter["n"] += 1
            return rmatvec(c)

        op = LinearOperator((N, nA + ny), matvec=mv, rmatvec=rmv, dtype=float)
        _, svals, Vt = svds(op, k=1, tol=1e-12, maxiter=50 * N, random_state=0)
        sigma, v = float(svals[0]), Vt[0]
        iterations = counter["n"]
    dA, dy = split(v)
    dx = lin.jvp(dA=dA, dy=dy)  # the claim, recomputed along the other product
    reached = float(np.linalg.norm(dx))
    verification = abs(reached - sigma) / sigma if sigma > 0 else (0.0 if reached == 0 else math.inf)
    ok = verification <= CHECK_TOL
    return LimitConditionResult(
        condition=sigma * data_norm / x_norm, derivative_norm=sigma, data_norm=data_norm, x_norm=x_norm,
        norm=norm_text, wrt=wrt, method=method, dA=dA, dy=dy, dx=dx, verification=verification, frobenius=frob,
        iterations=iterations, status="converged" if ok else "imprecise",
        message="" if ok else (f"||jvp(v)|| differs from the reported norm by {verification:.1e} (relative) "
                               f"> {CHECK_TOL:g}: the norm is not verified to that accuracy"),
        limit=res, jacobian=jac)
