"""`run_sweep`: compute a configuration's grid into its store, in parallel, resumably.

Tasks are the configuration's chunks (`SweepConfig.chunks`); those whose points all have
a row are skipped, so re-running the same sweep resumes it. Executors:

- local processes (default): `concurrent.futures.ProcessPoolExecutor`, one BLAS thread per
  worker, at most ``2 * workers`` tasks in flight. Workers come from a ``forkserver`` that
  has imported dlnlab once (``spawn`` where there is none), so a new pool starts in
  milliseconds and no worker is forked from a process with threads. A
  worker that dies (`BrokenProcessPool`) takes its pool down: the tasks that were in flight
  are retried one at a time in a new pool, so the one that kills its worker is identified;
  a task that kills its worker running alone is retried up to ``max_retries`` times, then
  recorded as failed (``error`` says so), and the sweep goes on (``attempts`` counts every submission);
- a Dask cluster (``scheduler`` address or a ``distributed.Client``): every task submitted
  at once, collected as completed;
- ``workers=0``: in this process, one task after the other.

As with any multiprocessing program, a script that runs a sweep on worker processes
needs the ``if __name__ == "__main__":`` guard (workers import the main module).

The calling process is the only writer of the store: each finished task is committed
before the next is looked at. Ctrl-C (KeyboardInterrupt) stops the workers and returns
with everything finished so far kept (``interrupted=True``).

>>> import tempfile
>>> from dlnlab.sweep.config import parse_config
>>> cfg = parse_config('[problem]\\nN = 20\\ndelta = 0.5\\nrho = [0.1, 0.2]\\n[[methods]]\\nmethod = "bp"')
>>> summary = run_sweep(cfg, tempfile.mkdtemp(), workers=0)
>>> summary.total, summary.computed, summary.counts
(2, 2, {'converged': 2})
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from ..errors import OptionalDependencyError, SweepConfigError
from ..workers import cores, process_context, single_threaded_blas, stop_pool, worker_init
from .config import Chunk, SweepConfig
from .store import ResultStore
from .tasks import run_chunk



@dataclass(frozen=True)
class SweepSummary:
    """What a call of `run_sweep` did: grid size, rows there before, rows computed now,
    status counts of the whole store, worker deaths retried, whether it was interrupted."""

    directory: str
    total: int
    already: int
    computed: int
    counts: dict
    retries: int
    interrupted: bool
    seconds: float
    executor: str

    @property
    def complete(self) -> bool:
        return sum(self.counts.values()) == self.total


def run_sweep(config: SweepConfig, out, *, workers: int | None = None, scheduler=None, retry_failed: bool = False,
              max_retries: int = 2, progress: Callable[[int, int], None] | None = None,
              task: Callable[[Chunk], list[dict]] = run_chunk) -> SweepSummary:
    """Run (or resume) ``config`` into the store in directory ``out``; see the module docstring.

    ``workers``: local processes (default: the machine's cores; 0: in this process);
    ``scheduler``: a Dask scheduler address or ``distributed.Client`` (then ``workers`` is
    ignored); ``retry_failed``: recompute points whose row has status "failed" (a raised
    exception, a dead worker, a solver that stopped unverified);
    ``progress(done, total)``: called after each committed task; ``task``: the function a
    task runs (a module-level function of a `Chunk`, returning its rows).
    """
    t0 = time.perf_counter()
    executor = "dask" if scheduler is not None else ("inline" if workers == 0 else "processes")
    n_workers = 0 if scheduler is not None else cores() if workers is None else int(workers)
    if n_workers < 0:
        raise SweepConfigError(f"workers must be >= 0 (0: run in this process); got {workers}.")
    with ResultStore.open(out, config) as store:
        have = store.finished(include_failed=not retry_failed)
        already = len(have)
        todo = [c for c in config.chunks() if not all(p.id in have for p in c.points)]
        run_id = store.begin_run(executor, n_workers)
        done = [already]

        def finish(chunk: Chunk, rows: list[dict], attempts: int):
            store.record(chunk, rows, attempts=attempts, run_id=run_id)
            done[0] += sum(p.id not in have for p in chunk.points)
            if progress is not None:
                progress(done[0], store.total)

        if progress is not None:
            progress(already, store.total)
        retries, interrupted = 0, False
        with _ctrl_c_as_flag(executor == "processes") as ctrl_c:
            try:
                if executor == "dask":
                    _run_dask(todo, scheduler, task, finish)
                elif executor == "inline":
                    for chunk in todo:
                        finish(chunk, _call(task, chunk), 1)
                else:
                    retries = _run_processes(todo, n_workers, task, finish, max_retries, ctrl_c)
            except KeyboardInterrupt:
                interrupted = True
            state = "interrupted" if interrupted else "complete"
            with _ctrl_c_as_flag(True):  # a second Ctrl-C must not leave the run marked running
                store.end_run(run_id, state, retries)
                counts = store.counts()
        return SweepSummary(directory=str(out), total=store.total, already=already, computed=done[0] - already,
                            counts=counts, retries=retries, interrupted=interrupted,
                            seconds=time.perf_counter() - t0, executor=executor)


def _call(task, chunk: Chunk) -> list[dict]:
    """``task(chunk)``, with an exception turned into failed rows for all its points."""
    try:
        return task(chunk)
    except Exception as exc:
        return error_rows(chunk, f"{type(exc).__name__}: {exc}")


def error_rows(chunk: Chunk, message: str) -> list[dict]:
    """Rows of status "failed" for every point of ``chunk``, ``error`` saying why."""
    return [{"point_id": p.id, "status": "failed", "error": message} for p in chunk.points]


@contextmanager
def _ctrl_c_as_flag(active: bool):
    """While ``active`` (and on the main thread), Ctrl-C only appends to the yielded list; the
    pool loop turns it into KeyboardInterrupt between waits, and the store records a run's end
    undisturbed. Raised at an arbitrary point, it
    can land inside a lock's release in `concurrent.futures.wait` and corrupt it ("release
    unlocked lock"), and a second one could cut the workers' shutdown short."""
    caught: list = []
    if not active or threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda *args: caught.append(args))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


#: How often the pool loop looks for a Ctrl-C while it waits for results (seconds).
CTRL_C_CHECK = 0.1


def _result(future, ctrl_c: list):
    """``future.result()``, raising KeyboardInterrupt within CTRL_C_CHECK of a Ctrl-C."""
    while not wait([future], timeout=CTRL_C_CHECK).done:
        if ctrl_c:
            raise KeyboardInterrupt
    return future.result()


def _run_processes(chunks: list[Chunk], workers: int, task, finish, max_retries: int, ctrl_c: list) -> int:
    """Local process pool with retry of dead workers; returns the number of retries.
    Raises KeyboardInterrupt once ``ctrl_c`` is non-empty (see `_ctrl_c_as_flag`)."""
    pending = deque(chunks)
    suspects: deque[Chunk] = deque()
    attempts = {c.index: 0 for c in chunks}
    deaths = {c.index: 0 for c in chunks}  # deaths while running alone: certainly its own
    retries = 0
    ctx = process_context("dlnlab.sweep.tasks")
    with single_threaded_blas():
        while pending or suspects:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=worker_init,
                                       initargs=(os.getpid(),))
            try:
                broken = False
                while suspects and not broken:  # isolation: one suspect at a time
                    chunk = suspects.popleft()
                    attempts[chunk.index] += 1
                    try:
                        rows = _result(pool.submit(task, chunk), ctrl_c)
                    except BrokenProcessPool:
                        broken = True
                        retries += 1
                        deaths[chunk.index] += 1
                        if deaths[chunk.index] > max_retries:
                            finish(chunk, error_rows(chunk, f"the worker process died {deaths[chunk.index]} times "
                                                            "running this task alone"), attempts[chunk.index])
                        else:
                            suspects.appendleft(chunk)
                    except Exception as exc:
                        finish(chunk, error_rows(chunk, f"{type(exc).__name__}: {exc}"), attempts[chunk.index])
                    else:
                        finish(chunk, rows, attempts[chunk.index])
                flight: dict = {}
                while not broken and (pending or flight):
                    while pending and len(flight) < 2 * workers:
                        chunk = pending.popleft()
                        attempts[chunk.index] += 1
                        flight[pool.submit(task, chunk)] = chunk
                    ready, _ = wait(flight, timeout=CTRL_C_CHECK, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        chunk = flight.pop(fut)
                        try:
                            rows = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            suspects.append(chunk)
                        except Exception as exc:
                            finish(chunk, error_rows(chunk, f"{type(exc).__name__}: {exc}"), attempts[chunk.index])
                        else:
                            finish(chunk, rows, attempts[chunk.index])
                    if broken:
                        retries += 1
                        suspects.extend(flight.values())
                    if ctrl_c:  # after the finished results are recorded
                        raise KeyboardInterrupt
            except BaseException:
                stop_pool(pool)
                raise
            pool.shutdown(wait=not broken, cancel_futures=True)
    return retries


def _run_dask(chunks: list[Chunk], scheduler, task, finish):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise OptionalDependencyError("--scheduler needs dask.distributed: `pip install 'dlnlab[cluster]'`.") from None
    own = not isinstance(scheduler, Client)
    client = Client(scheduler, timeout="30s") if own else scheduler
    futures = {}
    try:
        for chunk in chunks:
            futures[client.submit(task, chunk, pure=False)] = chunk
        for fut in as_completed(list(futures)):
            chunk = futures[fut]
            try:
                rows = fut.result()
            except Exception as exc:  # the task raised, or its worker died too often (KilledWorker)
                rows = error_rows(chunk, f"{type(exc).__name__}: {exc}")
            finish(chunk, rows, 1)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        if own:
            client.close()
