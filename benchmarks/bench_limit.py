"""Benchmark: `dl.flow_limit` against the seed paper's Radau integration and one HiGHS BP solve.

Run: ``.venv/bin/python benchmarks/bench_limit.py [--quick] [--out results/bench/limit.json]``
(about 10 minutes on an idle 2-core machine; ``--quick`` about 2).

Table 1: the seed paper's method (`dlnlab.reference.full_network.seed_paper_limit`: the full 2N-dimensional
network flow, Radau at rtol 2.5e-14 up to T = 1e9 alpha^(2-p)) on the line, plane and random
problems, p in {2, 2.5, 3, 4}: its time (one run in a child process, the baseline; a run past
``--radau-limit`` seconds, default 60, is reported as "reference timed out" and left out of the
ratios), flow_limit's (best of 20, from raw arrays), the ratio baseline / flow_limit (targets: CPU
ratio median >= 3000 and min >= 1500) and max |difference| (target <= 1e-9).

Table 2: a 300 x 3000 Gaussian problem (k = 30) at scale 1e-6, p = 2 and 3: flow_limit
against one basis-pursuit solve by HiGHS (``linprog(method="highs")`` on ``[A, -A]``,
c = 1), both from raw arrays; ratio flow_limit / HiGHS (target <= 1).

Table 3: time, Newton iterations and continuation stages of flow_limit across scales 1e-1
.. 1e-300 (p = 2, 3, 4) on the same problem; each point in a child process, stopped and
reported after ``--limit`` seconds (default 30).

Table 4: a rate curve, 50 scales from 1 to 1e-300 on one problem and depth: one
`flow_limit_path` run against 50 `flow_limit` calls (ratio = calls / path) and against the
single solve at the smallest scale (ratio = path / single; target <= 3), with the largest
difference of x between the path and the calls.

Table 5: small problems (line 2 x 3, random 3 x 5) at scales 1e-2 and 1e-100: milliseconds
per limit and per Newton step (CPU time, best of 20), and at 1e-2 the ratio against the seed
paper's Radau run on the same point in this process.

Table 6: the 300 x 3000 problem in the default environment (BLAS on every core, as for a user
who sets nothing) with the engine's own threading choice (`dlnlab.engine.linalg.blas_threads`)
against the same with that choice switched off (the process threading throughout: the
baseline) and against one thread; ratios are wall times.

Table 7 (not with ``--quick``): a 1000 x 10000 Gaussian problem (k = 100) at scale 1e-6,
p = 2 and 3: flow_limit (one run) against the cost of 12 dense Gram products ``A @ A.T``
timed in the same process (the issue's target: ratio <= 1), with iterations, stages and
seconds per Newton step.

BLAS runs single-threaded (see `common`) except in table 6.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (first: pins BLAS threads before numpy loads)

import numpy as np  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

import dlnlab as dl  # noqa: E402
from dlnlab.reference.full_network import seed_paper_horizon, seed_paper_limit  # noqa: E402

DEPTHS = [2.0, 2.5, 3.0, 4.0]
LARGE = dict(m=300, N=3000, k=30, seed=0)


def large_problem():
    return dl.gaussian_problem(LARGE["m"], LARGE["N"], LARGE["k"], seed=LARGE["seed"])


#: Seconds one seed-paper Radau reference may run (in a child process) before the point is reported
#: as "reference timed out": on the random 3 x 5 problem at p = 2.5 and 3, scale 1e-2, it runs past
#: 60 s (the other points take 1-15 s).
RADAU_LIMIT = 60.0


def _seed_paper_point(A, y, depth, alpha):
    """One seed-paper Radau run (in a child process): wall and CPU seconds, evaluations, residual, x(T)."""
    import time

    start_cpu = time.process_time()
    ref = seed_paper_limit(A, y, depth, alpha)
    return dict(seconds=ref.seconds, cpu_s=time.process_time() - start_cpu, nfev=ref.nfev,
                residual=float(ref.residual[-1]), final=np.asarray(ref.final))


def seed_paper_reference(A, y, depth, alpha, limit=RADAU_LIMIT):
    """`_seed_paper_point` under a time limit: its dict, or None if it ran past ``limit`` seconds."""
    kind, value = common.run_with_limit(_seed_paper_point, (A, y, depth, alpha), seconds=limit)
    if kind == "timeout":
        return None
    if kind == "error":
        raise RuntimeError(f"seed-paper reference failed: {value}")
    return value


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def vs_seed_paper(scales, limit=RADAU_LIMIT):
    rows = []
    for name in ("line", "plane", "random"):
        P = dl.FIXTURES[name]()
        A, y = np.array(P.A), np.array(P.y)
        for depth in DEPTHS:
            for scale in scales:
                alpha = scale ** (1 / depth)
                ref = seed_paper_reference(A, y, depth, alpha, limit)
                net = dl.SymmetricDLN(depth=depth, scale=scale)
                t_flow, flow_cpu, res = common.best_times(lambda: dl.flow_limit(A, y, net), repeats=20)
                row = dict(problem=name, p=depth, scale=scale, T=seed_paper_horizon(depth, alpha),
                           flow_ms=1e3 * t_flow, flow_cpu_ms=1e3 * flow_cpu, iterations=res.iterations,
                           stages=res.stages)
                if ref is None:
                    row.update(radau_s=f"timed out (> {limit:g} s)")
                else:
                    row.update(radau_s=ref["seconds"], radau_nfev=ref["nfev"], radau_residual=ref["residual"],
                               ratio=ref["seconds"] / t_flow, radau_cpu_s=ref["cpu_s"],
                               cpu_ratio=ref["cpu_s"] / flow_cpu, max_diff=float(np.max(np.abs(res.x - ref["final"]))))
                rows.append(row)
                radau = "reference timed out" if ref is None else f"Radau {ref['seconds']:.2f} s"
                print(f"  seed-paper {name} p={depth:g} scale={scale:g}: {radau}, flow_limit {1e3 * t_flow:.2f} ms",
                      flush=True)
    common.print_table(
        "Table 1: seed paper's Radau (rtol 2.5e-14, T = 1e9 alpha^(2-p)) vs flow_limit (best of 20) "
        "(ratio = Radau time / flow_limit time, wall and CPU; targets: CPU ratio median >= 3000 and min >= 1500, "
        "max_diff <= 1e-9)",
        [("problem", ""), ("p", "g"), ("scale", "g"), ("T", ".2g"), ("radau_s", ".2f"), ("radau_nfev", "d"),
         ("flow_ms", ".3f"), ("ratio", ".0f"), ("radau_cpu_s", ".2f"), ("flow_cpu_ms", ".3f"), ("cpu_ratio", ".0f"),
         ("max_diff", ".1e"), ("iterations", "d"), ("stages", "d")], rows)
    timed = [r for r in rows if "cpu_ratio" in r]
    ratios = sorted(r["cpu_ratio"] for r in timed)
    if not ratios:
        print("every seed-paper reference timed out")
        return rows
    ok_diff = all(r["max_diff"] <= 1e-9 for r in timed)
    median = _median(ratios)
    print(f"CPU-time ratio min {ratios[0]:.0f}, median {median:.0f} over {len(ratios)} points "
          f"({len(rows) - len(timed)} references timed out); max diff {max(r['max_diff'] for r in timed):.1e}: "
          f"accuracy target {'met' if ok_diff else 'MISSED'}, speed target (median >= 3000, min >= 1500) "
          f"{'met' if median >= 3000 and ratios[0] >= 1500 else 'MISSED'}")
    return rows


def highs_bp(A, y):
    N = A.shape[1]
    lp = linprog(np.ones(2 * N), A_eq=np.hstack([A, -A]), b_eq=y, bounds=(0, None), method="highs")
    if lp.status != 0:
        raise RuntimeError(f"HiGHS failed: {lp.message}")
    return lp.x[:N] - lp.x[N:]


def vs_highs(depths=(2.0, 3.0), scale=1e-6):
    P = large_problem()
    A, y = np.array(P.A), np.array(P.y)
    t_lp, cpu_lp, x_bp = common.best_times(lambda: highs_bp(A, y))
    rows = []
    for depth in depths:
        net = dl.SymmetricDLN(depth=depth, scale=scale)
        t_flow, cpu_flow, res = common.best_times(lambda: dl.flow_limit(A, y, net))
        rows.append(dict(p=depth, scale=scale, highs_s=t_lp, flow_s=t_flow, ratio=t_flow / t_lp,
                         highs_cpu_s=cpu_lp, flow_cpu_s=cpu_flow, cpu_ratio=cpu_flow / cpu_lp,
                         iterations=res.iterations, stages=res.stages, residual=res.residual, kkt=res.kkt,
                         dist_to_bp=float(np.max(np.abs(res.x - x_bp))),
                         bp_recovers_truth=bool(np.max(np.abs(x_bp - P.x_true)) < 1e-6)))
    common.print_table(
        f"Table 2: {LARGE['m']} x {LARGE['N']} Gaussian (k = {LARGE['k']}): flow_limit vs one HiGHS BP solve "
        "(ratio = flow_limit / HiGHS; target <= 1)",
        [("p", "g"), ("scale", "g"), ("highs_s", ".2f"), ("flow_s", ".2f"), ("ratio", ".2f"), ("highs_cpu_s", ".2f"),
         ("flow_cpu_s", ".2f"), ("cpu_ratio", ".2f"), ("iterations", "d"),
         ("stages", "d"), ("residual", ".1e"), ("kkt", ".1e"), ("dist_to_bp", ".1e"), ("bp_recovers_truth", "")],
        rows)
    return rows


def _sweep_point(depth, scale):
    """One flow_limit on the large problem (run in a child process; problem built outside the timing)."""
    import time

    P = large_problem()
    A, y = np.array(P.A), np.array(P.y)
    start, start_cpu = time.perf_counter(), time.process_time()
    res = dl.flow_limit(A, y, dl.SymmetricDLN(depth=depth, scale=scale), throw=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return dict(seconds=seconds, cpu_s=cpu, iterations=res.iterations, stages=res.stages, status=res.status,
                residual=res.residual, kkt=res.kkt, dist_to_truth=float(np.max(np.abs(res.x - P.x_true))))


def scale_sweep(depths=(2.0, 3.0, 4.0), scales=(1e-1, 1e-3, 1e-6, 1e-12, 1e-30, 1e-100, 1e-300), limit=30.0):
    rows = []
    for depth in depths:
        for scale in scales:
            kind, value = common.run_with_limit(_sweep_point, (depth, scale), seconds=limit)
            row = dict(p=depth, scale=scale)
            if kind == "ok":
                row.update(value)
            else:
                row.update(status=f"timeout > {limit:g} s" if kind == "timeout" else value)
            rows.append(row)
            print(f"  sweep p={depth:g} scale={scale:g}: {row.get('seconds', float('nan')):.2f} s "
                  f"{row['status']}", flush=True)
    common.print_table(
        f"Table 3: flow_limit across scales on the {LARGE['m']} x {LARGE['N']} problem "
        f"(dist_to_truth = max |x - x_true|, BP recovers x_true here)",
        [("p", "g"), ("scale", "g"), ("seconds", ".2f"), ("cpu_s", ".2f"), ("iterations", "d"), ("stages", "d"), ("status", ""),
         ("residual", ".1e"), ("kkt", ".1e"), ("dist_to_truth", ".1e")], rows)
    return rows


def path_vs_calls(depths=(2.0, 3.0), problems=("line", "random"), n=50):
    rows = []
    scales = np.logspace(0.0, -300.0, n)
    for name in problems:
        P = dl.FIXTURES[name]()
        for depth in depths:
            net = dl.SymmetricDLN(depth=depth, scale=1.0)
            _, cpu_path, path = common.best_times(lambda: dl.flow_limit_path(P, net, scales), repeats=3)
            _, cpu_calls, calls = common.best_times(
                lambda: [dl.flow_limit(P, net.at_log_scale(float(np.log(a)))) for a in scales])
            _, cpu_one, _ = common.best_times(lambda: dl.flow_limit(P, net.at_log_scale(float(np.log(scales[-1])))),
                                              repeats=5)
            diff = max(float(np.max(np.abs(r.x - c.x)) / np.max(np.abs(c.x))) for r, c in zip(path.results, calls))
            rows.append(dict(problem=name, p=depth, n=n, path_ms=1e3 * cpu_path, calls_ms=1e3 * cpu_calls,
                             single_ms=1e3 * cpu_one, calls_over_path=cpu_calls / cpu_path,
                             path_over_single=cpu_path / cpu_one, stages=path.stages, iterations=path.iterations,
                             max_rel_diff=diff, status=path.status))
    common.print_table(
        "Table 4: rate curve of 50 scales (1 .. 1e-300): one flow_limit_path vs 50 flow_limit calls "
        "(CPU time; calls_over_path = speed-up, path_over_single = path / one solve at 1e-300, target <= 3)",
        [("problem", ""), ("p", "g"), ("n", "d"), ("path_ms", ".1f"), ("calls_ms", ".1f"), ("single_ms", ".2f"),
         ("calls_over_path", ".2f"), ("path_over_single", ".2f"), ("stages", "d"), ("iterations", "d"),
         ("max_rel_diff", ".1e"), ("status", "")], rows)
    return rows


def small_problems(depths=(2.0, 3.0), scales=(1e-2, 1e-100), repeats=20):
    rows = []
    for name in ("line", "random"):
        P = dl.FIXTURES[name]()
        A, y = np.array(P.A), np.array(P.y)
        for depth in depths:
            for scale in scales:
                net = dl.SymmetricDLN(depth=depth, scale=scale)
                _, cpu, res = common.best_times(lambda: dl.flow_limit(A, y, net), repeats=repeats)
                row = dict(problem=f"{name} {A.shape[0]}x{A.shape[1]}", p=depth, scale=scale, limit_ms=1e3 * cpu,
                           step_us=1e6 * cpu / max(res.iterations, 1), iterations=res.iterations, stages=res.stages)
                if scale >= 1e-3:
                    ref = seed_paper_reference(A, y, depth, scale ** (1 / depth))
                    if ref is None:
                        row.update(radau_cpu_s="timed out")
                    else:
                        row.update(radau_cpu_s=ref["cpu_s"], radau_over_limit=ref["cpu_s"] / cpu,
                                   max_diff=float(np.max(np.abs(res.x - ref["final"]))))
                rows.append(row)
    common.print_table(
        "Table 5: small problems, CPU time per limit and per Newton step (best of 20); at 1e-2 the seed "
        "paper's Radau on the same point (radau_over_limit = Radau / flow_limit)",
        [("problem", ""), ("p", "g"), ("scale", "g"), ("limit_ms", ".2f"), ("step_us", ".0f"), ("iterations", "d"),
         ("stages", "d"), ("radau_cpu_s", ".2f"), ("radau_over_limit", ".0f"), ("max_diff", ".1e")], rows)
    return rows


def default_threads(depths=(2.0, 3.0), scale=1e-6, repeats=2):
    import os

    from threadpoolctl import threadpool_limits

    from dlnlab.engine import linalg

    P = large_problem()
    A, y = np.array(P.A), np.array(P.y)
    cores = os.cpu_count() or 1
    rows = []
    for depth in depths:
        net = dl.SymmetricDLN(depth=depth, scale=scale)
        with threadpool_limits(cores, user_api="blas"):
            t_auto, _, res = common.best_times(lambda: dl.flow_limit(A, y, net), repeats=repeats)
            chosen = linalg.SINGLE_THREAD_WORK
            linalg.SINGLE_THREAD_WORK = 0.0
            try:
                t_all, _, ref = common.best_times(lambda: dl.flow_limit(A, y, net), repeats=repeats)
            finally:
                linalg.SINGLE_THREAD_WORK = chosen
        with threadpool_limits(1, user_api="blas"):
            t_one, _, _ = common.best_times(lambda: dl.flow_limit(A, y, net), repeats=repeats)
        rows.append(dict(p=depth, cores=cores, default_s=t_auto, all_threads_s=t_all, one_thread_s=t_one,
                         all_over_default=t_all / t_auto, default_over_one=t_auto / t_one,
                         x_rel_diff=float(np.max(np.abs(res.x - ref.x)) / np.max(np.abs(ref.x)))))
    common.print_table(
        f"Table 6: {LARGE['m']} x {LARGE['N']} at scale {scale:g}, BLAS on {cores} threads (the default "
        "environment): the engine's threading choice vs the process threading throughout and vs one thread "
        "(wall time; target default_over_one <= 1.1)",
        [("p", "g"), ("cores", "d"), ("default_s", ".2f"), ("all_threads_s", ".2f"), ("one_thread_s", ".2f"),
         ("all_over_default", ".2f"), ("default_over_one", ".2f"), ("x_rel_diff", ".1e")], rows)
    return rows


HUGE = dict(m=1000, N=10000, k=100, seed=0)
GRAMS = 12


def vs_gram_products(depths=(2.0, 3.0), scale=1e-6):
    """Table 7: flow_limit on the 1000 x 10000 problem against `GRAMS` products ``A @ A.T``."""
    import time

    P = dl.gaussian_problem(HUGE["m"], HUGE["N"], HUGE["k"], seed=HUGE["seed"])
    A, y = np.array(P.A), np.array(P.y)
    t0 = time.perf_counter()
    for _ in range(GRAMS):
        A @ A.T
    t_gram = time.perf_counter() - t0
    rows = []
    for depth in depths:
        t0 = time.perf_counter()
        res = dl.flow_limit(A, y, dl.SymmetricDLN(depth=depth, scale=scale))
        t_flow = time.perf_counter() - t0
        rows.append(dict(p=depth, scale=scale, grams_s=t_gram, flow_s=t_flow, ratio=t_flow / t_gram,
                         iterations=res.iterations, stages=res.stages,
                         s_per_newton=t_flow / max(res.iterations, 1), status=res.status,
                         residual=res.residual, kkt=res.kkt,
                         err_truth=float(np.max(np.abs(res.x - P.x_true)) / np.max(np.abs(P.x_true)))))
    common.print_table(
        f"Table 7: {HUGE['m']} x {HUGE['N']} Gaussian (k = {HUGE['k']}): flow_limit vs {GRAMS} products A @ A.T "
        "(ratio = flow_limit / products; target <= 1)",
        [("p", "g"), ("scale", "g"), ("grams_s", ".2f"), ("flow_s", ".2f"), ("ratio", ".2f"), ("iterations", "d"),
         ("stages", "d"), ("s_per_newton", ".2f"), ("status", ""), ("residual", ".1e"), ("kkt", ".1e"),
         ("err_truth", ".1e")],
        rows)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed-paper scale, p = 2 only in tables 2-3")
    parser.add_argument("--limit", type=float, default=30.0, help="seconds per point of table 3")
    parser.add_argument("--radau-limit", type=float, default=RADAU_LIMIT,
                        help="seconds per seed-paper Radau reference of table 1 (then: reference timed out)")
    parser.add_argument("--out", default="results/bench/limit.json", help="JSON output (relative: to the repo root)")
    args = parser.parse_args(argv)
    seed_rows = vs_seed_paper([1e-2] if args.quick else [1e-2, 1e-3], limit=args.radau_limit)
    highs_rows = vs_highs(depths=(2.0,) if args.quick else (2.0, 3.0))
    sweep_rows = scale_sweep(depths=(2.0,) if args.quick else (2.0, 3.0, 4.0), limit=args.limit)
    path_rows = path_vs_calls(problems=("random",) if args.quick else ("line", "random"))
    small_rows = small_problems()
    thread_rows = default_threads(depths=(2.0,) if args.quick else (2.0, 3.0))
    huge_rows = [] if args.quick else vs_gram_products()
    path = common.write_json(args.out, {"benchmark": "limit", "quick": args.quick, "problem": LARGE,
                                        "seed_paper": seed_rows, "highs": highs_rows, "scales": sweep_rows,
                                        "paths": path_rows, "small": small_rows, "threads": thread_rows,
                                        "huge": huge_rows})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
