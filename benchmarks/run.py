"""`make bench`: run every benchmark program listed in BENCHMARKS and print their tables.

Each entry is a module in this folder with ``main(argv=None)``; it gets ``argv`` = the
extra arguments given here for it (none by default). ``--only NAME`` runs a subset,
``--quick`` passes ``--quick`` to the modules that accept it (listed in QUICK).

    .venv/bin/python benchmarks/run.py            # everything
    .venv/bin/python benchmarks/run.py --only bench_limit --quick
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402,F401  (first: pins BLAS threads before numpy loads)

#: Benchmark modules, in running order.
BENCHMARKS = [
    "bench_limit",
    "bench_sweep",
    "bench_l1",
    "bench_lp",
    "bench_dynamics",
]

#: Modules whose main() accepts --quick.
QUICK = {"bench_limit", "bench_sweep"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this module (repeatable)")
    parser.add_argument("--quick", action="store_true", help="pass --quick where supported")
    args = parser.parse_args(argv)
    names = args.only or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; known: {BENCHMARKS}")
    failed = []
    for name in names:
        print(f"\n{'=' * 78}\n{name}\n{'=' * 78}", flush=True)
        start = time.perf_counter()
        try:
            importlib.import_module(name).main(["--quick"] if args.quick and name in QUICK else [])
        except Exception:  # one broken benchmark must not hide the others' tables
            traceback.print_exc()
            failed.append(name)
        print(f"[{name}: {time.perf_counter() - start:.0f} s]", flush=True)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
