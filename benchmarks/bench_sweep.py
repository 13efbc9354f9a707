"""Sweep throughput: a Donoho-Tanner cell at N = 200 and batched flow limits.

Prints, all measured in this process on this machine:

1. basis pursuit, one phase-diagram cell (N = 200, delta = 0.5, rho = 0.35, Gaussian, +-1):
   instances per second of a plain loop calling scipy's HiGHS (``linprog(method="highs")``,
   default options) per instance, against `dlnlab.sweep.run_sweep` on the same instances
   with 0 (in-process), 1 and 2 worker processes (wall time including pool start-up and
   the SQLite writes); the ratios to the plain loop and the 1 -> 2 worker scaling;
2. flow limits: `batch_flow_limit` on a batch against `dl.flow_limit` one by one (same
   problems, same network), with their largest relative disagreement.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--instances 64] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from scipy.optimize import linprog

import dlnlab as dl
from dlnlab.sweep import parse_config, run_sweep
from dlnlab.sweep.batch import batch_flow_limit
from dlnlab.sweep.tasks import make_problem

CELL = """
name = "bench-cell"
seed = 11
trials = {trials}
batch = {batch}
[problem]
N = 200
delta = 0.5
rho = 0.35
[[methods]]
method = "bp"
"""


def plain_highs_loop(points) -> tuple[float, int]:
    """The baseline: generate each instance and solve it by linprog/HiGHS with default options."""
    t0 = time.perf_counter()
    ok = 0
    for p in points:
        P = make_problem(p)
        N = P.N
        res = linprog(np.ones(2 * N), A_eq=np.hstack([P.A, -P.A]), b_eq=P.y, bounds=(0, None), method="highs")
        x = res.x[:N] - res.x[N:]
        ok += np.linalg.norm(x - P.x_true) <= 1e-4 * np.linalg.norm(P.x_true)
    return time.perf_counter() - t0, ok


def sweep_cell(cfg, workers) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        summary = run_sweep(cfg, d, workers=workers)
        seconds = time.perf_counter() - t0
        from dlnlab.sweep import ResultStore
        with ResultStore.open(d) as store:
            ok = sum(r["success"] for r in store.rows())
    assert summary.complete and summary.counts == {"ok": summary.total}, summary
    return seconds, ok


def bench_bp(instances: int):
    cfg = parse_config(CELL.format(trials=instances, batch=8))
    points = cfg.points()
    print(f"1. basis pursuit, one cell: N = 200, m = 100, k = 35, {instances} instances "
          f"({os.cpu_count()} cores)")
    base, ok0 = plain_highs_loop(points)
    rate0 = instances / base
    print(f"   plain loop, linprog(method='highs'):   {rate0:7.2f} inst/s  ({base:.2f} s, {ok0} recovered)")
    rates = {}
    for workers in (0, 1, 2):
        seconds, ok = sweep_cell(cfg, workers)
        rates[workers] = instances / seconds
        what = "in-process" if workers == 0 else f"{workers} worker{'s' if workers > 1 else ''}"
        print(f"   dlnlab sweep, {what:<12}            {rates[workers]:7.2f} inst/s  ({seconds:.2f} s, {ok} recovered)"
              f"  ratio {rates[workers] / rate0:.2f}x")
        assert ok == ok0, "the sweep and the plain loop must recover the same instances"
    print(f"   scaling 1 -> 2 workers: {rates[2] / rates[1]:.2f}x")
    return rates, rate0


def bench_flow(cases, count: int):
    print(f"2. flow limits, batches of {count} problems: batch_flow_limit vs flow_limit one by one")
    for (m, N, depth, scale) in cases:
        problems = [dl.gaussian_problem(m, N, max(1, int(m * r)), seed=j, signs=True)
                    for j, r in enumerate(np.linspace(0.1, 0.5, count))]
        net = dl.SymmetricDLN(depth=depth, scale=scale)
        t0 = time.perf_counter()
        out = batch_flow_limit(problems, net)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        refs = [dl.flow_limit(P, net) for P in problems]
        t1 = time.perf_counter() - t0
        diff = max(np.linalg.norm(a.x - b.x) / np.linalg.norm(b.x) for a, b in zip(out.results, refs))
        print(f"   m={m:3d} N={N:3d} p={depth:g} a={scale:.0e}: batch {count / tb:7.1f} inst/s, one by one "
              f"{count / t1:7.1f} inst/s, ratio {t1 / tb:.2f}x; fallbacks {int(out.fallback.sum())}, "
              f"max rel. difference {diff:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=64, help="instances in the BP cell")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    args = parser.parse_args(argv)
    if args.quick:
        bench_bp(16)
        bench_flow([(20, 40, 2.0, 1e-12)], 8)
        return
    bench_bp(args.instances)
    bench_flow([(20, 40, 2.0, 1e-12), (20, 40, 3.0, 1e-12), (50, 100, 2.0, 1e-12), (50, 100, 3.0, 1e-6),
                (100, 200, 2.0, 1e-12), (100, 200, 3.0, 1e-12)], 16)


if __name__ == "__main__":
    main()
