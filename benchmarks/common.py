"""Shared helpers of the benchmark programs: BLAS threads, timing, time limits, tables, JSON.

Import this module before numpy (``import common`` first): it pins BLAS to one thread unless
the environment already says otherwise. On a shared 2-core machine OpenBLAS's spinning
worker threads made a 300 x 3000 ``flow_limit`` 12x slower (15.6 s against 1.3 s), and
HiGHS, the usual baseline, is single-threaded: one thread is both the stable and the fair
setting. Export ``OPENBLAS_NUM_THREADS=8`` (etc.) to measure threaded BLAS instead.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

from dlnlab.files import atomic_write_text, plain  # noqa: E402

#: Repository root (benchmarks/..): relative output paths are resolved against it.
ROOT = Path(__file__).resolve().parent.parent


def best_time(fn, repeats: int = 1):
    """Best wall time of ``repeats`` calls of ``fn()`` and the last result."""
    wall, _cpu, out = best_times(fn, repeats)
    return wall, out


def best_times(fn, repeats: int = 1):
    """Best wall time and best CPU time (this process) of ``repeats`` calls, and the last result.

    On a loaded machine the CPU time is the steadier of the two (it excludes waiting for a
    core); with BLAS on one thread it is also the work done.
    """
    wall, cpu, out = math.inf, math.inf, None
    for _ in range(max(1, repeats)):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        cpu = min(cpu, time.process_time() - start_cpu)
        wall = min(wall, time.perf_counter() - start)
    return wall, cpu, out


def _child(conn, fn, args):
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as exc:  # report any failure to the parent, which decides
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_with_limit(fn, args=(), seconds: float = 30.0):
    """Run ``fn(*args)`` in a forked process; ``("ok", value)``, ``("error", msg)`` or ``("timeout", None)``.

    The child is ended (by its own process id) when it runs past ``seconds``. ``fn`` must be
    a module-level function and its value picklable.
    """
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args))
    proc.start()
    child.close()
    try:
        if parent.poll(seconds):
            return parent.recv()
        return ("timeout", None)
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join()
        parent.close()


def print_table(title: str, columns: list[tuple[str, str]], rows: list[dict]) -> None:
    """Print ``rows`` (dicts) under ``title``; ``columns`` = [(key, format spec)], '' = str."""
    cells = [[(format(r[k], f) if (f and isinstance(r.get(k), (int, float))) else str(r.get(k, "")))
              for k, f in columns] for r in rows]
    widths = [max([len(k)] + [len(c[i]) for c in cells]) for i, (k, _) in enumerate(columns)]
    print(f"\n{title}")
    head = "  ".join(k.rjust(w) for (k, _), w in zip(columns, widths))
    print(head)
    print("-" * len(head))
    for c in cells:
        print("  ".join(v.rjust(w) for v, w in zip(c, widths)))


def environment() -> dict:
    """What the numbers depend on: machine, load, library versions, BLAS threads."""
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "machine": platform.machine(), "processor": platform.processor(), "cpus": os.cpu_count(),
        "load_average": load, "python": platform.python_version(), "numpy": np.__version__,
        "scipy": scipy.__version__, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def write_json(path, payload: dict) -> Path:
    """Write ``payload`` (plus `environment`) atomically to ``path`` (relative: to the repo root)."""
    path = Path(path)
    if not path.is_absolute():
        path = ROOT / path
    data = {"environment": environment(), **payload}
    return atomic_write_text(path, json.dumps(plain(data), indent=1) + "\n")
