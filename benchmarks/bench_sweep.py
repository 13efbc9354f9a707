"""Sweep throughput: a Donoho-Tanner cell at N = 200 and batched flow limits.

Prints, all measured in this process on this machine:

1. basis pursuit, one phase-diagram cell (N = 200, delta = 0.5, rho = 0.35, Gaussian, +-1):
   instances per second of a plain loop calling scipy's HiGHS (``linprog(method="highs")``,
   default options) per instance, against `dlnlab.sweep.run_sweep` on the same instances
   with 0 (in-process), 1 and 2 worker processes (wall time including the pools and the
   SQLite writes; the one-time forkserver start is timed apart); the ratios to the plain
   loop and the 1 -> 2 worker scaling;
2. flow limits: `batch_flow_limit` on a batch against `dl.flow_limit` one by one (same
   problems, same network), with their largest relative disagreement.

Every process runs one BLAS thread (this one is set before numpy loads; the sweep's workers
do the same), so the ratios measure the solver set-up and the parallelism, not BLAS
threading: on a loaded 2-core machine, multi-threaded OpenBLAS made problem generation
(a 200 x 100 pivoted QR) 50x slower, which would flatter the sweep.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--instances 64] [--quick]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

import dlnlab as dl  # noqa: E402
from dlnlab.sweep import ResultStore, parse_config, run_sweep  # noqa: E402
from dlnlab.sweep.batch import batch_flow_limit  # noqa: E402
from dlnlab.sweep.tasks import make_problem  # noqa: E402

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


def plain_highs_loop(points) -> tuple[float, float, int]:
    """The baseline: generate each instance and solve it by linprog/HiGHS with default options.
    Returns wall seconds, CPU seconds of this process, instances recovered."""
    t0, c0 = time.perf_counter(), time.process_time()
    ok = 0
    for p in points:
        P = make_problem(p)
        N = P.N
        res = linprog(np.ones(2 * N), A_eq=np.hstack([P.A, -P.A]), b_eq=P.y, bounds=(0, None), method="highs")
        x = res.x[:N] - res.x[N:]
        ok += np.linalg.norm(x - P.x_true) <= 1e-4 * np.linalg.norm(P.x_true)
    return time.perf_counter() - t0, time.process_time() - c0, ok


def sweep_cell(cfg, workers) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process (all of the work when workers = 0), recovered."""
    with tempfile.TemporaryDirectory() as d:
        t0, c0 = time.perf_counter(), time.process_time()
        summary = run_sweep(cfg, d, workers=workers)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        with ResultStore.open(d) as store:
            ok = sum(r["success"] for r in store.rows())
    assert summary.complete and summary.counts == {"converged": summary.total}, summary
    return seconds, cpu, ok


def bench_bp(instances: int):
    cfg = parse_config(CELL.format(trials=instances, batch=8))
    points = cfg.points()
    print(f"1. basis pursuit, one cell: N = 200, m = 100, k = 35, {instances} instances "
          f"({os.cpu_count()} cores)")
    base, cpu0, ok0 = plain_highs_loop(points)
    rate0 = instances / base
    print(f"   plain loop, linprog(method='highs'): {rate0:7.2f} inst/s wall ({base:.2f} s; CPU {cpu0:.2f} s; "
          f"{ok0} recovered)")
    # the first pool starts the forkserver (one import of dlnlab), once per process: timed apart
    t0 = time.perf_counter()
    sweep_cell(parse_config(CELL.format(trials=2, batch=1)), 2)
    print(f"   worker start-up (forkserver importing dlnlab, once per process): {time.perf_counter() - t0:.2f} s")
    rates = {}
    for workers in (0, 1, 2):
        seconds, cpu, ok = sweep_cell(cfg, workers)
        rates[workers] = instances / seconds
        what = "in-process" if workers == 0 else f"{workers} worker{'s' if workers > 1 else ''}"
        extra = f"; CPU ratio {cpu0 / cpu:.2f}x" if workers == 0 else ""
        print(f"   dlnlab sweep, {what:<11}          {rates[workers]:7.2f} inst/s wall ({seconds:.2f} s; "
              f"{ok} recovered)  ratio {rates[workers] / rate0:.2f}x{extra}")
        assert ok == ok0, "the sweep and the plain loop must recover the same instances"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"   scaling 1 -> 2 workers: {rates[2] / rates[1]:.2f}x (1-minute load average {load:.1f} on "
          f"{os.cpu_count()} cores: above ~1 the second worker competes with other processes)")
    return rates, rate0


def bench_flow(cases, count: int):
    print(f"2. flow limits, batches of {count} problems: batch_flow_limit vs flow_limit one by one")
    for (m, N, depth, scale) in cases:
        problems = [dl.gaussian_problem(m, N, max(1, int(m * r)), seed=j, signs=True)
                    for j, r in enumerate(np.linspace(0.1, 0.5, count))]
        net = dl.SymmetricDLN(depth=depth, scale=scale)
        t0, c0 = time.perf_counter(), time.process_time()
        out = batch_flow_limit(problems, net)
        tb, cb = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        refs = [dl.flow_limit(P, net) for P in problems]
        t1, c1 = time.perf_counter() - t0, time.process_time() - c0
        diff = max(np.linalg.norm(a.x - b.x) / np.linalg.norm(b.x) for a, b in zip(out.results, refs))
        print(f"   m={m:3d} N={N:3d} p={depth:g} a={scale:.0e}: batch {count / tb:7.1f} inst/s, one by one "
              f"{count / t1:7.1f} inst/s, ratio {t1 / tb:.2f}x wall, {c1 / cb:.2f}x CPU; "
              f"fallbacks {int(out.fallback.sum())}, max rel. difference {diff:.1e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=128, help="instances in the BP cell")
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
