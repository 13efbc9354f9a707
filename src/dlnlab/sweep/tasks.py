"""What a grid point computes: one recovery experiment, one row of the result store.

A point draws its problem with `dl.gaussian_problem(m, N, k, seed, signs)` (``A`` iid
N(0, 1/m), ``x_true`` k-sparse) and solves it with its method:

- ``bp``: basis pursuit by HiGHS on ``x = u - v``, ``[A, -A]``, with presolve off (2x faster
  on dense Gaussian data), verified by its residual and the duality gap of HiGHS' dual
  (`solve_bp`). `dl.basis_pursuit` also certifies uniqueness by a further LP, which a
  phase diagram does not need, at 10x the cost for N = 200;
- ``flow``: the gradient-flow limit ``argmin_{Ax=y} Q(x)`` of the point's network
  (docs/theory.md section 3), ``network_from_spec(spec, size=N)``, any registered family.
  `batch_flow_limit` solves the whole chunk at once; `dl.flow_limit` solves alone any point
  the batch does not converge.

Row fields: ``status`` (a word of `dlnlab.results.STATUSES`: "converged" when the solver
converged and its answer was verified from the returned point; "failed" when it returned
unverified, or raised: then ``error`` says what was raised; "max_iter" when a budget ran
out), ``message`` (the solver's own words), ``rel_error = ||x - x_true|| / ||x_true||``,
``success`` (converged and ``rel_error <= success_tol``), ``residual = ||A x - y|| / ||y||``,
``kkt`` (flow: KKT error), ``duality_gap`` (bp), ``iterations`` (Newton steps or simplex
iterations), ``solver`` (what produced x: "highs", "batch" or "flow_limit"), ``seconds``
(wall time; batch time shared equally by its members).

>>> from dlnlab.sweep.config import parse_config
>>> cfg = parse_config('[problem]\\nN = 20\\ndelta = 0.5\\nrho = 0.2\\n[[methods]]\\nmethod = "bp"')
>>> row = run_chunk(cfg.chunks()[0])[0]
>>> row["status"], row["success"], row["solver"]
('converged', True, 'highs')
"""

from __future__ import annotations

import time
import traceback

import numpy as np
from scipy.optimize import linprog

from ..errors import DLNError, SolverError
from ..limits import flow_limit
from ..networks.spec import network_from_spec
from ..problems import gaussian_problem
from .batch import batch_flow_limit
from .config import Chunk, Point

#: Relative residual and relative duality gap a basis-pursuit answer must meet to count as
#: verified. HiGHS works to primal/dual feasibility tolerances of 1e-7 (its basic solutions
#: showed residuals and gaps up to 4e-9 on N = 200 Gaussian cells); the support polish in
#: `solve_bp` brings the residual to rounding level, the gap stays at HiGHS' dual accuracy.
#: 1e-6 separates such tolerance-level errors from a wrong answer (gap O(1)).
BP_VERIFY_TOL = 1e-6

ROW_FIELDS = ("status", "message", "rel_error", "success", "residual", "kkt", "duality_gap", "iterations", "solver",
              "seconds", "error")
#: HiGHS' status for an iteration or time limit (scipy.optimize.linprog's ``status == 1``).
HIGHS_LIMIT = 1


def make_problem(point: Point):
    q = point.params
    return gaussian_problem(q["m"], q["N"], q["k"], seed=point.seed, signs=q["signs"])


def run_chunk(chunk: Chunk) -> list[dict]:
    """Rows for every point of ``chunk`` (in order). A point's exception is caught into its
    row (status "failed", ``error`` set); only a dying process stops a chunk."""
    if chunk.points[0].params["method"] == "bp":
        return [_bp_row(p, chunk.success_tol) for p in chunk.points]
    return _flow_rows(chunk)


def _row(point: Point, **fields) -> dict:
    row = dict.fromkeys(ROW_FIELDS)
    row.update(fields, point_id=point.id)
    return row


def _error_row(point: Point, exc: BaseException, seconds: float) -> dict:
    what = str(exc) if isinstance(exc, DLNError) else "".join(traceback.format_exception_only(exc)).strip()
    return _row(point, status="failed", error=f"{type(exc).__name__}: {what}", seconds=seconds)


def _quality(P, x, tol, status):
    rel = float(np.linalg.norm(x - P.x_true) / np.linalg.norm(P.x_true))
    return {"status": status, "rel_error": rel, "success": bool(status == "converged" and rel <= tol),
            "residual": P.relative_residual(x)}


def solve_bp(P) -> tuple[np.ndarray, float, int, int, str]:
    """Basis pursuit ``min ||x||_1 s.t. A x = y`` by HiGHS: ``(x, duality gap, iterations, HiGHS status,
    message)``.

    LP: ``min 1^T (u + v)`` s.t. ``[A, -A] (u, v) = y``, ``u, v >= 0``. Polish: on the support
    ``S`` of HiGHS' answer, ``x_S`` is recomputed by least squares when ``A_S`` has full column
    rank, kept if its signs agree and its residual is smaller (same vertex, rounding removed).
    The certificate is HiGHS' equality dual ``w`` scaled to ``||A^T w||_inf <= 1`` (dual
    feasible), with relative gap ``(||x||_1 - <w, y>) / ||x||_1``. The message is empty when
    HiGHS reports optimal; `SolverError` when HiGHS returns no point at all."""
    m, N = P.A.shape
    res = linprog(np.ones(2 * N), A_eq=np.hstack([P.A, -P.A]), b_eq=P.y, bounds=(0, None), method="highs",
                  options={"presolve": False})
    if res.x is None:
        raise SolverError(f"HiGHS returned no solution for basis pursuit (status {res.status}: {res.message}); "
                          "A x = y is consistent for every generated problem, so this is a HiGHS failure: "
                          "re-run it with `dlnlab sweep DIR --retry-failed`.")
    x = _polish(P, res.x[:N] - res.x[N:])
    w = np.asarray(res.eqlin.marginals, dtype=float)
    w = w / max(1.0, float(np.max(np.abs(P.A.T @ w))))
    value = float(np.sum(np.abs(x)))
    gap = abs(value - float(w @ P.y)) / max(value, 1e-300)
    return x, gap, int(res.nit), res.status, "" if res.status == 0 else str(res.message)


def _polish(P, x: np.ndarray) -> np.ndarray:
    """Least squares on the support of ``x`` (see `solve_bp`); ``x`` itself if that is not better.

    Entries at HiGHS' feasibility level (~1e-9) may be noise rather than support, so the
    support is tried at the cut-offs 1e-9, 1e-7, 1e-5 (relative to ``max |x|``); the
    candidate with the smallest residual wins."""
    best, best_res = x, P.relative_residual(x)
    scale = float(np.max(np.abs(x), initial=0.0))
    for cut in (1e-9, 1e-7, 1e-5):
        S = np.flatnonzero(np.abs(x) > cut * scale)
        if S.size == 0 or S.size > P.m:
            continue
        xs, _, rank, _ = np.linalg.lstsq(P.A[:, S], P.y, rcond=None)
        if rank < S.size or np.any(np.sign(xs) != np.sign(x[S])):
            continue
        candidate = np.zeros_like(x)
        candidate[S] = xs
        res = P.relative_residual(candidate)
        if res < best_res:
            best, best_res = candidate, res
    return best


def _bp_row(point: Point, tol: float) -> dict:
    t0 = time.perf_counter()
    try:
        P = make_problem(point)
        x, gap, its, code, message = solve_bp(P)
        residual = P.relative_residual(x)
        if code == 0 and residual <= BP_VERIFY_TOL and gap <= BP_VERIFY_TOL:
            status = "converged"
        elif code == 0:
            status, message = "failed", (f"HiGHS' answer fails verification: residual {residual:.1e}, duality gap "
                                         f"{gap:.1e} (tolerance {BP_VERIFY_TOL:g})")
        else:
            status = "max_iter" if code == HIGHS_LIMIT else "failed"
        return _row(point, **_quality(P, x, tol, status), message=message or None, duality_gap=gap, iterations=its,
                    solver="highs", seconds=time.perf_counter() - t0)
    except Exception as exc:  # a point's failure is data, not the end of the sweep
        return _error_row(point, exc, time.perf_counter() - t0)


def _flow_rows(chunk: Chunk) -> list[dict]:
    q = chunk.points[0].params
    rows: list[dict | None] = [None] * len(chunk.points)
    t0 = time.perf_counter()
    try:
        net = network_from_spec(q["network"], size=q["N"])
    except Exception as exc:  # e.g. a family not registered in this worker: every point's row says so
        share = (time.perf_counter() - t0) / len(chunk.points)
        return [_error_row(p, exc, share) for p in chunk.points]
    problems, members, made = [], [], []
    for i, point in enumerate(chunk.points):
        t0 = time.perf_counter()
        try:
            problems.append(make_problem(point))
            members.append(i)
            made.append(time.perf_counter() - t0)
        except Exception as exc:
            rows[i] = _error_row(point, exc, time.perf_counter() - t0)
    batched = bool(problems)
    if batched:
        t0 = time.perf_counter()
        try:
            out = batch_flow_limit(problems, net, throw=False)
        except Exception:  # the batch machinery itself failed: each point alone, errors kept per point
            batched = False
        else:
            share = (time.perf_counter() - t0) / len(problems)
            for P, i, t, res, alone in zip(problems, members, made, out.results, out.fallback):
                rows[i] = _flow_row(chunk.points[i], P, res, "flow_limit" if alone else "batch", t + share,
                                    chunk.success_tol)
    if problems and not batched:
        for P, i, t in zip(problems, members, made):
            t1 = time.perf_counter()
            try:
                res = flow_limit(P, net, throw=False)
                rows[i] = _flow_row(chunk.points[i], P, res, "flow_limit", t + time.perf_counter() - t1,
                                    chunk.success_tol)
            except Exception as exc:
                rows[i] = _error_row(chunk.points[i], exc, t + time.perf_counter() - t1)
    return rows


def _flow_row(point, P, res, solver, seconds, tol):
    return _row(point, **_quality(P, res.x, tol, res.status), message=res.message or None, kkt=res.kkt,
                iterations=res.iterations, solver=solver, seconds=seconds)
