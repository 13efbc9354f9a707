"""Worker processes for the sweeps and `dlnlab reproduce`: one BLAS thread each, dying with their parent.

Parallelism in dlnlab is across processes; inside each worker BLAS runs on one thread
(`single_threaded_blas`), since a multi-threaded BLAS in every worker oversubscribes the cores.
Workers come from a ``forkserver`` that has imported dlnlab once (`process_context`), ignore
Ctrl-C (the parent handles it and stops them with `stop_pool`) and exit within `PARENT_CHECK`
seconds when their parent is gone (`worker_init`: a parent killed by SIGKILL cannot stop them).

>>> from concurrent.futures import ProcessPoolExecutor
>>> import os
>>> with single_threaded_blas(), ProcessPoolExecutor(1, mp_context=process_context("dlnlab"),
...                                                   initializer=worker_init, initargs=(os.getpid(),)) as pool:
...     pool.submit(abs, -2).result()
2
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

#: The environment variables that set the BLAS thread count of a process that starts.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: How often a worker checks that its parent process is still alive (seconds).
PARENT_CHECK = 0.5


def cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def worker_init(parent: int):
    """Pool initializer: ignore Ctrl-C and exit when the process ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int):
    while True:
        time.sleep(PARENT_CHECK)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)
        except PermissionError:  # the pid was reused by another user's process: ours is gone
            os._exit(1)


@contextmanager
def single_threaded_blas():
    """One BLAS thread in the worker processes started inside this block; the user's own
    settings win. Workers read the variables when they start."""
    saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    for v in THREAD_VARIABLES:
        os.environ.setdefault(v, "1")
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def process_context(preload: str):
    """``forkserver`` preloaded with the module ``preload`` where available, else ``spawn``:
    a new pool starts in milliseconds and no worker is forked from a process with threads."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([preload])
    return ctx


def stop_pool(pool: ProcessPoolExecutor):
    """Cancel queued tasks and stop the workers now (in-flight results are dropped)."""
    # ProcessPoolExecutor has no public way to stop running tasks; _processes is its
    # pid -> Process map (stable since Python 3.2).
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        proc.terminate()
    for proc in procs:  # a worker that ignores SIGTERM (stuck in C code) is killed
        proc.join(timeout=2.0)
        if proc.is_alive():
            proc.kill()
    pool.shutdown(wait=False, cancel_futures=True)
