"""Benchmark: linear programs and optimal transport with the non-negative DLN against HiGHS and Sinkhorn.

Run: ``.venv/bin/python benchmarks/bench_lp.py [--large] [--budget 10] [--out results/bench/lp.json]``
(default about 2-3 minutes on a 2-core machine; ``--large`` adds the 1000 x 10000 LPs and
reg = 1e-4 transport, which take HiGHS many minutes).

Table 1 (dense LPs, 300 x 3000; with ``--large`` also 1000 x 10000), two kinds:
``paper`` (Wang et al.: Gaussian A, c = 1, b = A xbar, xbar >= 0 with m/10 nonzeros) and
``random`` (c ~ U[0.1, 1.1], b = A x with x ~ U[0, 1]: a vertex with m positive entries).
Times to a solution with relative objective gap <= 1e-6 (against HiGHS dual simplex, the
reference value) and relative residual <= 1e-6:
- HiGHS interior point (``linprog(method="highs-ipm")``, with its crossover) and dual simplex
  (``"highs-ds"``), default options;
- ``flow``: `dl.solve_lp` (entropic path by dual Newton + exact crossover), from raw arrays;
- ``gd``/``eg``: `dl.descend` at reg = 0.01 max(c) (default step rule) for ``--budget``
  seconds; the time at which both tolerances were first met, else the gap reached. Their
  limit is the entropic LP at that reg: its own gap ("floor") is printed beside them.
Ratios: HiGHS time / flow time (> 1: flow is faster).

Table 2 (entropic OT, n = m = 1000, squared distances of uniform points in the unit square,
reg = 1e-2 and 1e-3 of max C; ``--large`` adds 1e-4): `dl.solve_ot` (flow) against
`dl.sinkhorn` (log-stabilized) and POT's ``ot.sinkhorn(method="sinkhorn_log")`` when installed,
each to marginal error 1e-9; Sinkhorn/POT stopped after ``--budget`` x 6 seconds.

BLAS runs single-threaded (see `common`); every solver here is single-threaded too.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (first: pins BLAS threads before numpy loads)

import numpy as np  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

import dlnlab as dl  # noqa: E402

GAP = 1e-6  # target relative objective gap and relative residual


def lp_problem(m, n, kind, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    if kind == "paper":
        xbar = np.zeros(n)
        k = m // 10
        xbar[rng.choice(n, k, replace=False)] = 0.5 + rng.random(k)
        return np.ones(n), A, A @ xbar
    return rng.random(n) + 0.1, A, A @ rng.random(n)


def _highs(c, A, b, method, seconds):
    start = time.perf_counter()
    res = linprog(c, A_eq=A, b_eq=b, bounds=(0, None), method=method, options={"time_limit": seconds})
    return time.perf_counter() - start, res


def lp_table(sizes, budget, highs_limit):
    rows = []
    for m, n in sizes:
        for kind in ("paper", "random"):
            c, A, b = lp_problem(m, n, kind)
            t_ds, ds = _highs(c, A, b, "highs-ds", highs_limit)
            t_ipm, ipm = _highs(c, A, b, "highs-ipm", highs_limit)
            if ds.status != 0:
                print(f"HiGHS dual simplex did not finish on {m}x{n} {kind} ({ds.message}); skipping.")
                continue
            ref = float(ds.fun)
            bnorm = float(np.linalg.norm(b))
            t_flow, flow = common.best_time(lambda: dl.solve_lp(c, A, b))
            base = dict(size=f"{m}x{n}", kind=kind)
            for name, t, res in (("highs-ipm", t_ipm, ipm), ("highs-ds", t_ds, ds)):
                gap = abs(res.fun - ref) / abs(ref) if res.status == 0 else math.nan
                rows.append(dict(base, method=name, seconds=t, gap=gap, residual=_residual(A, b, res.x, bnorm),
                                 reached=t if res.status == 0 and gap <= GAP else math.nan, detail=res.message[:30],
                                 ratio_to_flow=t / t_flow))
            gap = abs(flow.objective - ref) / abs(ref)
            rows.append(dict(base, method="flow", seconds=t_flow, gap=gap, residual=_residual(A, b, flow.x, bnorm),
                             reached=t_flow if gap <= GAP else math.nan, ratio_to_flow=1.0,
                             detail=f"{flow.iterations} Newton, {flow.stages} stages, {flow.trace['pivots'].sum()} pivots"))
            reg = 0.01 * float(np.max(c))
            floor = abs(dl.entropic_lp(c, A, b, reg).objective - ref) / abs(ref)
            for method in ("gd", "eg"):
                run = dl.descend(c, A, b, method, reg=reg, max_iter=10**9, time_limit=budget, rtol=1e-12,
                                 record_every=10)
                tr = run.trace
                gaps = np.abs(tr["objective"] - ref) / abs(ref)
                ok = np.flatnonzero((gaps <= GAP) & (tr["residual"] <= GAP))
                rows.append(dict(base, method=method, seconds=float(tr["time"][-1]), gap=float(gaps[-1]),
                                 residual=float(tr["residual"][-1]),
                                 reached=float(tr["time"][ok[0]]) if ok.size else math.nan,
                                 ratio_to_flow=math.nan,
                                 detail=f"reg {reg:g}, {run.iterations} its, floor {floor:.1e}"))
            print(f"  done {m}x{n} {kind}", flush=True)
    return rows


def _residual(A, b, x, bnorm):
    return float(np.linalg.norm(A @ x - b) / bnorm) if x is not None else math.nan


def ot_problem(n, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = rng.random((n, 2)), rng.random((n, 2))
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    a, b = rng.random(n) + 0.1, rng.random(n) + 0.1
    return a / a.sum(), b / b.sum(), C / C.max()


def _pot_sinkhorn(a, b, C, reg):
    import ot

    start = time.perf_counter()
    # POT stops on the 2-norm of the column-marginal error; 1e-9 / sqrt(n) bounds our L1 measure by ~1e-9
    P = ot.sinkhorn(a, b, C, reg, method="sinkhorn_log", numItermax=10**7, stopThr=1e-9 / math.sqrt(a.size))
    return time.perf_counter() - start, P


def ot_table(n, regs, budget):
    a, b, C = ot_problem(n)
    rows = []
    have_pot = importlib.util.find_spec("ot") is not None
    for reg in regs:
        t_flow, flow = common.best_time(lambda: dl.solve_ot(a, b, C, reg, tol=1e-9))
        rows.append(dict(n=n, reg=reg, method="flow", seconds=t_flow, marginal_error=flow.marginal_error,
                         status=flow.status, iterations=flow.iterations, ratio=1.0, plan_diff=0.0))
        start = time.perf_counter()
        sk = dl.sinkhorn(a, b, C, reg, tol=1e-9, time_limit=6 * budget)
        t_sk = time.perf_counter() - start
        rows.append(dict(n=n, reg=reg, method="sinkhorn", seconds=t_sk, marginal_error=sk.marginal_error,
                         status=sk.status, iterations=sk.iterations, ratio=t_sk / t_flow,
                         plan_diff=float(np.abs(sk.plan - flow.plan).sum())))
        if have_pot:
            out = common.run_with_limit(_pot_sinkhorn, (a, b, C, reg), seconds=6 * budget)
            if out[0] == "ok":
                t_pot, P = out[1]
                err = float(np.abs(P.sum(1) - a).sum() + np.abs(P.sum(0) - b).sum())
                rows.append(dict(n=n, reg=reg, method="POT sinkhorn_log", seconds=t_pot, marginal_error=err,
                                 status="converged" if err <= 1e-8 else "max_iter", iterations=math.nan,
                                 ratio=t_pot / t_flow, plan_diff=float(np.abs(P - flow.plan).sum())))
            else:
                rows.append(dict(n=n, reg=reg, method="POT sinkhorn_log", seconds=6 * budget,
                                 marginal_error=math.nan, status=out[0], iterations=math.nan,
                                 ratio=6 * budget / t_flow, plan_diff=math.nan))
        print(f"  done OT n={n} reg={reg:g}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="add 1000 x 10000 LPs and reg = 1e-4 OT")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds for gd/eg runs (OT baselines: 6x)")
    parser.add_argument("--out", default="results/bench/lp.json", help="JSON output (relative: to the repo root)")
    args = parser.parse_args(argv)
    sizes = [(300, 3000)] + ([(1000, 10000)] if args.large else [])
    lp_rows = lp_table(sizes, args.budget, highs_limit=1800.0)
    common.print_table(
        f"Table 1: dense LPs, time to relative gap and residual <= {GAP:g} (reference: HiGHS dual simplex); "
        "reached = nan: not within the budget; ratio = method time / flow time",
        [("size", ""), ("kind", ""), ("method", ""), ("seconds", ".2f"), ("reached", ".2f"), ("gap", ".1e"),
         ("residual", ".1e"), ("ratio_to_flow", ".1f"), ("detail", "")], lp_rows)
    regs = [1e-2, 1e-3] + ([1e-4] if args.large else [])
    ot_rows = ot_table(1000, regs, args.budget)
    common.print_table("Table 2: entropic OT n = m = 1000 to marginal error 1e-9 (reg relative to max C); "
                       "ratio = method time / flow time",
                       [("reg", ".0e"), ("method", ""), ("seconds", ".2f"), ("ratio", ".1f"), ("marginal_error", ".1e"),
                        ("status", ""), ("iterations", ".0f"), ("plan_diff", ".1e")], ot_rows)
    bad = [r for r in lp_rows if r["method"] == "flow" and not r["gap"] <= GAP]
    if bad:
        print(f"\nWARNING: flow missed the gap target on {[(r['size'], r['kind']) for r in bad]}")
    path = common.write_json(args.out, {"lp": lp_rows, "ot": ot_rows, "budget": args.budget, "large": args.large})
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
