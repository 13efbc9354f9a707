"""Benchmark: `dlnlab reproduce` of Wind-Antun-Hansen Figs. 1 and 2 at full size, against the
seed paper's method (stiff Radau integration of the full network, `dlnlab.reference.full_network.seed_paper_limit`).

Run: ``.venv/bin/python benchmarks/bench_reproduce.py`` (about a minute on an idle 2-core
machine; ``--seed-points 0`` skips timing the seed method and uses its quoted 5 s/point).

It runs ``wind2023-fig1`` and ``wind2023-fig2`` with their ``full`` parameters, counts the
points (one flow limit, or one extended-precision limit, per point), and times the seed
method on three points of the same figures at moderate scales (alpha = 1e-2, 1e-3), where it
still works; at the figures' smallest scales (down to 1e-100) it cannot run at all (its
horizon T = 1e9 alpha^(2-p) and the weights' dynamic range are out of reach), so the
baseline ``points x (seed seconds per point)`` is an underestimate of its true cost and the
ratio a lower bound of the speed-up. Both are timed in this process.
"""

from __future__ import annotations

import os

# One BLAS thread: on a shared 2-core machine spinning BLAS threads measure the load, not us.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import dlnlab as dl  # noqa: E402
from dlnlab.studies import experiments as ex  # noqa: E402
from dlnlab.reference.full_network import seed_paper_limit  # noqa: E402

NAMES = ("wind2023-fig1", "wind2023-fig2")
SEED_POINTS = [  # (problem, depth, alpha): one point of each figure's kind
    (dl.line_problem, 2.0, 1e-2),
    (lambda: dl.kink_problem(0.1), 3.0, 1e-2),
    (dl.random_problem, 2.0, 1e-3),
]
#: The seed code's quoted cost per point (3 to 9 s of Radau integration): the estimate used
#: when the seed method is not timed here.
QUOTED_SECONDS = 5.0


def run_ours(out) -> tuple[dict, dict]:
    seconds, points = {}, {}
    for name in NAMES:
        count = [0]

        def advance(n=1, count=count):
            count[0] += n

        t = time.perf_counter()
        run = ex.run_experiment(name, out, quick=False, advance=advance)
        seconds[name] = time.perf_counter() - t
        points[name] = count[0]
        assert run.passed, f"{name}: a check failed; see {run.out / 'summary.json'}"
    return seconds, points


def time_seed(n: int) -> float | None:
    """Mean seconds per point of the seed method over the first n of `SEED_POINTS`."""
    if n <= 0:
        return None
    total = 0.0
    for make, p, alpha in SEED_POINTS[:n]:
        P = make()
        t = time.perf_counter()
        sol = seed_paper_limit(P.A, P.y, p, alpha)
        total += time.perf_counter() - t
        res = dl.flow_limit(P, dl.SymmetricDLN(depth=p, alpha=alpha))
        diff = float(abs(sol.final - res.x).max())
        print(f"  seed point {P.name}, p={p:g}, alpha={alpha:g}: {time.perf_counter() - t:.2f} s "
              f"(|x_seed - x_flow_limit|_inf = {diff:.1e})")
    return total / n


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-points", type=int, default=3, help="seed-method points to time (0: use 5 s/point)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as out:
        seconds, points = run_ours(out)
    total_s, total_n = sum(seconds.values()), sum(points.values())
    print(f"{'experiment':16s} {'points':>7s} {'seconds':>8s} {'ms/point':>9s}")
    for name in NAMES:
        print(f"{name:16s} {points[name]:7d} {seconds[name]:8.2f} {1e3 * seconds[name] / points[name]:9.1f}")
    print(f"{'total':16s} {total_n:7d} {total_s:8.2f} {1e3 * total_s / total_n:9.1f}")
    per_point = time_seed(args.seed_points)
    if per_point is None:
        per_point, how = QUOTED_SECONDS, f"quoted {QUOTED_SECONDS:g} s/point (an estimate, not timed)"
    else:
        how = f"timed here: {per_point:.2f} s/point over {args.seed_points} point(s), moderate scales only"
    baseline = total_n * per_point
    print(f"seed-method baseline: {total_n} points x {per_point:.2f} s = {baseline:.0f} s ({how})")
    print(f"ratio baseline / dlnlab = {baseline / total_s:.0f}x (a lower bound: the seed method cannot reach "
          "the figures' smallest scales)")


if __name__ == "__main__":
    main()
