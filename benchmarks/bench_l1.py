"""Benchmark: `dl.basis_pursuit` against a plain HiGHS call, cvxpy + Clarabel, and the flow limit.

Run: ``.venv/bin/python benchmarks/bench_l1.py`` (about a minute), ``--quick`` (up to
150 x 1000) or ``--full`` (adds the 300 x 3000 flow limits and more repeats). BLAS runs on
one thread (``benchmarks/common.py``): HiGHS is single-threaded, and spinning OpenBLAS
threads on a loaded 2-core machine made a 150 x 150 least-squares solve 300x slower.

Table 1, on Gaussian compressed-sensing problems (A iid N(0, 1/m), k = m/8 nonzeros, well
inside the Donoho-Tanner region so BP is unique): wall time of
- ``linprog``: ``scipy.optimize.linprog(method="highs")`` on the split LP, nothing else
  (the baseline, ratio 1);
- ``dl.basis_pursuit``: the same HiGHS solve plus cleaning, certificate and uniqueness;
- ``cvxpy+clarabel``: ``min norm1(x) s.t. A x == y`` through cvxpy (canonicalization
  included), if cvxpy is installed (``pip install cvxpy``);
with ``err`` = max |x - x_bp| against the verified BP solution and ``res`` = ||Ax-y||/||y||.

Table 2: BP by path following through the depth-3 flow limit,
``dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=s))``, whose limit tends to the BP
solution as s -> 0 (error Theta(s) for unique BP, docs/theory.md section 5); ``polished``:
the error after reading the support off the flow limit (entries > 1e-3 max) and solving
``A_S x_S = y`` by least squares.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (first: one BLAS thread unless the environment says otherwise)

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

import dlnlab as dl  # noqa: E402
from common import best_time  # noqa: E402

try:
    import cvxpy as cp
except ImportError:  # optional: the benchmark says so in its output
    cp = None


def plain_highs(P):
    N = P.N
    res = linprog(np.ones(2 * N), A_eq=np.hstack([P.A, -P.A]), b_eq=P.y, bounds=(0, None), method="highs")
    return res.x[:N] - res.x[N:]


def clarabel(P):
    x = cp.Variable(P.N)
    prob = cp.Problem(cp.Minimize(cp.norm1(x)), [P.A @ x == P.y])
    prob.solve(solver=cp.CLARABEL)
    return np.asarray(x.value)


def polish(P, x, rtol=1e-3):
    """Support of the flow limit (entries above rtol * max), then ``x_S = lstsq(A_S, y)``."""
    S = np.flatnonzero(np.abs(x) > rtol * np.max(np.abs(x)))
    out = np.zeros(P.N)
    out[S] = np.linalg.lstsq(P.A[:, S], P.y, rcond=None)[0]
    return out


def bp_table(sizes, repeats):
    print("Table 1: basis pursuit on Gaussian problems (time in s, ratio = time / plain linprog)")
    head = f"{'m x N':>10} {'k':>3} | {'solver':<16} {'time':>8} {'ratio':>6} {'err':>9} {'res':>9} | notes"
    print(head)
    print("-" * len(head))
    for m, N in sizes:
        k = max(1, m // 8)
        P = dl.gaussian_problem(m, N, k, seed=1)
        r = repeats if m * N <= 200_000 else 1
        t_lp, x_lp = best_time(lambda: plain_highs(P), r)
        t_bp, bp = best_time(lambda: dl.basis_pursuit(P), r)
        rows = [("linprog (HiGHS)", t_lp, x_lp, ""),
                ("dl.basis_pursuit", t_bp, bp.x,
                 f"gap {bp.duality_gap:.1e}, unique={bp.unique} via {bp.certificate_source}, margin {bp.margin:.3g}")]
        if cp is not None:
            t_cv, x_cv = best_time(lambda: clarabel(P), r)
            rows.append(("cvxpy+clarabel", t_cv, x_cv, ""))
        for name, t, x, note in rows:
            err = float(np.max(np.abs(x - bp.x)))
            print(f"{m:>4} x {N:<5d} {k:>3} | {name:<16} {t:8.3f} {t / t_lp:6.2f} {err:9.1e} "
                  f"{P.relative_residual(x):9.1e} | {note}")
    if cp is None:
        print("(cvxpy is not installed: `pip install cvxpy` adds the Clarabel column)")


def flow_table(sizes, scales, repeats):
    print()
    print("Table 2: BP by the depth-3 flow limit at small scale s (ratio = time / plain linprog)")
    head = (f"{'m x N':>10} | {'scale':>7} {'time':>8} {'ratio':>7} {'err vs BP':>10} {'res':>9} {'newton':>6} "
            f"{'stages':>6} {'polished':>9}")
    print(head)
    print("-" * len(head))
    for m, N in sizes:
        P = dl.gaussian_problem(m, N, max(1, m // 8), seed=1)
        r = repeats if m * N <= 200_000 else 1
        t_lp, _ = best_time(lambda: plain_highs(P), r)
        bp = dl.basis_pursuit(P)
        for s in scales:
            net = dl.SymmetricDLN(depth=3, scale=s)
            t, res = best_time(lambda: dl.flow_limit(P, net, throw=False), r)
            err = float(np.max(np.abs(res.x - bp.x)))
            pol = float(np.max(np.abs(polish(P, res.x) - bp.x)))
            print(f"{m:>4} x {N:<5d} | {s:7.0e} {t:8.3f} {t / t_lp:7.1f} {err:10.1e} {res.residual:9.1e} "
                  f"{res.iterations:6d} {res.stages:6d} {pol:9.1e}  {res.status}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add 300 x 3000 flow limits, 3 repeats")
    parser.add_argument("--quick", action="store_true", help="sizes up to 150 x 1000 only")
    args = parser.parse_args(argv)
    repeats = 3 if args.full else 2
    t0 = time.perf_counter()
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, cvxpy "
          f"{'not installed' if cp is None else cp.__version__}")
    dl.basis_pursuit(dl.random_problem())  # warm-up: imports and HiGHS start-up out of the timings
    bp_table([(60, 200), (150, 1000)] + ([] if args.quick else [(300, 3000)]), repeats)
    flow_sizes = [(60, 200), (150, 1000)] + ([(300, 3000)] if args.full else [])
    flow_table(flow_sizes, (1e-6, 1e-9, 1e-12), repeats)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
