"""Sweep runner and store: executors agree, kills resume exactly, failures are rows, configs guarded."""

import csv
import functools
import importlib.util
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dlnlab.cli import app
from dlnlab.errors import OptionalDependencyError, StoreMismatchError
from dlnlab.sweep import ResultStore, parse_config, run_sweep
from dlnlab.workers import PARENT_CHECK
from dlnlab.sweep.store import COLUMNS, FILE, VOLATILE_COLUMNS
from dlnlab.sweep.tasks import run_chunk

SMALL = """
name = "small"
trials = 3
batch = 3
[problem]
N = 20
delta = 0.5
rho = [0.2, 0.4]
[[methods]]
method = "bp"
[[methods]]
method = "flow"
depth = [2, 3]
scale = 1e-6
"""

# 60 tasks of one point each, 10-60 ms apiece: long enough to interrupt twice mid-run
LONGER = """
name = "longer"
trials = 100  # 600 points: seconds of margin for the signals even on a fast idle machine
batch = 1
[problem]
N = 80
delta = [0.3, 0.5]
rho = [0.2, 0.3, 0.4]
[[methods]]
method = "bp"
"""


def stable(rows):
    """Rows without the columns that say when/how long (they differ between runs)."""
    return [{k: v for k, v in r.items() if k not in VOLATILE_COLUMNS} for r in rows]


def read_rows(directory):
    with ResultStore.open(directory) as store:
        return store.rows()


def test_local_processes_and_dask_give_identical_stores(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is in the test extra")
    cfg = parse_config(SMALL)
    local = run_sweep(cfg, tmp_path / "local", workers=2)
    assert local.complete and local.counts == {"converged": len(cfg.points())} and local.executor == "processes"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = run_sweep(cfg, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert remote.complete and remote.executor == "dask"
    a, b = read_rows(tmp_path / "local"), read_rows(tmp_path / "dask")
    assert len(a) == len(cfg.points())
    # same tasks, same deterministic computations: bit-for-bit equal rows
    assert stable(a) == stable(b)
    assert {r["solver"] for r in a} == {"highs", "batch"}


def _cli(*args):
    # Python's own Ctrl-C handler, as in a terminal, even if the test process passed on an
    # ignored SIGINT (the child would inherit it)
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "from dlnlab.cli import main; sys.argv = ['dlnlab'] + sys.argv[1:]; main()")
    return [sys.executable, "-c", code, "sweep", *args]


def _count(db):
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def _start_and_wait(config_path, out, rows, workers=1):
    proc = subprocess.Popen(_cli(str(config_path), "--out", str(out), "--workers", str(workers), "--quiet"),
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _count(out / FILE) < rows:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the sweep wrote no rows in 60 s"
        time.sleep(0.05)
    return proc


def test_interrupted_and_killed_sweeps_resume_to_exactly_the_uninterrupted_rows(tmp_path):
    cfg = parse_config(LONGER)
    total = len(cfg.points())
    config_path = tmp_path / "longer.toml"
    config_path.write_text(LONGER)

    # Ctrl-C: the parent stops its workers, keeps what is finished, exits 130. In 2 of ~10
    # full-suite runs (never in 12 isolated runs) the child exited 0, i.e. it finished the
    # sweep without seeing the signal; the cause is not pinned down. A run that completed
    # every row is redone in a fresh folder (at most twice); one that ignores Ctrl-C always
    # fails all three.
    for attempt in range(3):
        out = tmp_path / f"run{attempt}"
        proc = _start_and_wait(config_path, out, 4)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        if code == 130 or not (code == 0 and _count(out / FILE) == total):
            break
    assert code == 130, proc.stderr.read().decode()[-2000:]
    after_int = _count(out / FILE)
    assert 4 <= after_int < total

    # SIGKILL of the whole process group after a few more rows (in-process tasks this time:
    # the store is written by the parent alone either way)
    proc = _start_and_wait(config_path, out, after_int + 4, workers=0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    after_kill = _count(out / FILE)
    assert after_int + 4 <= after_kill < total, "kill the sweep before it finishes"

    # resume: the same sweep on the same directory
    done = run_sweep(cfg, out, workers=0)
    assert done.complete and done.already == after_kill and done.computed == total - after_kill
    resumed = read_rows(out)

    reference = run_sweep(cfg, tmp_path / "reference", workers=0)
    assert reference.complete
    assert [r["point_id"] for r in resumed] == [p.id for p in cfg.points()]  # each point once
    assert stable(resumed) == stable(read_rows(tmp_path / "reference"))
    with ResultStore.open(out) as store:
        states = [r["state"] for r in store.runs()]
    assert states == ["interrupted", "abandoned", "complete"]


def test_a_different_config_on_the_same_directory_is_refused(tmp_path):
    cfg = parse_config(SMALL)
    with ResultStore.open(tmp_path, cfg):
        pass
    other = parse_config(SMALL.replace("trials = 3", "trials = 4"))
    with pytest.raises(StoreMismatchError) as info:
        run_sweep(other, tmp_path, workers=0)
    assert "trials (3 vs 4)" in str(info.value) and "new --out" in str(info.value)
    config_path = tmp_path / "other.toml"
    config_path.write_text(SMALL.replace("rho = [0.2, 0.4]", "rho = [0.2]"))
    result = CliRunner().invoke(app, ["sweep", str(config_path), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "different configuration" in result.output


def _raise_in_second_task(chunk):
    if chunk.index == 1:
        raise ValueError("boom in task 1")
    return run_chunk(chunk)


def test_task_errors_become_rows_and_the_sweep_goes_on(tmp_path, monkeypatch):
    cfg = parse_config(SMALL)
    summary = run_sweep(cfg, tmp_path / "a", workers=0, task=_raise_in_second_task)
    rows = read_rows(tmp_path / "a")
    bad = {p.id for p in cfg.chunks()[1].points}
    assert summary.complete and len(rows) == len(cfg.points())
    for r in rows:
        if r["point_id"] in bad:
            assert r["status"] == "failed" and "boom in task 1" in r["error"]
        else:
            assert r["status"] == "converged"

    # a single point that raises inside a task (here: its problem generator) spoils only its row
    import dlnlab.sweep.tasks as tasks
    target = cfg.points()[4]
    real = tasks.make_problem
    monkeypatch.setattr(tasks, "make_problem", lambda p: 1 / 0 if p.id == target.id else real(p))
    run_sweep(cfg, tmp_path / "b", workers=0)
    rows = {r["point_id"]: r for r in read_rows(tmp_path / "b")}
    assert rows[target.id]["status"] == "failed" and "ZeroDivisionError" in rows[target.id]["error"]
    assert sum(r["status"] == "converged" for r in rows.values()) == len(rows) - 1

    # failed points are finished points; --retry-failed recomputes them (here: successfully)
    monkeypatch.setattr(tasks, "make_problem", real)
    again = run_sweep(cfg, tmp_path / "b", workers=0, retry_failed=True)
    assert again.computed == 1 and again.counts == {"converged": len(rows)}


def _die(marker, chunk):
    """Task 0 kills its worker once (a marker file remembers), task 1 every time."""
    marker = Path(marker)
    if chunk.index == 0 and not marker.exists():
        marker.touch()
        os._exit(1)
    if chunk.index == 1:
        os._exit(1)
    return run_chunk(chunk)


def test_dead_workers_are_retried_and_a_killer_task_is_recorded(tmp_path):
    cfg = parse_config(SMALL)
    task = functools.partial(_die, str(tmp_path / "marker"))
    summary = run_sweep(cfg, tmp_path / "run", workers=2, task=task, max_retries=1)
    assert summary.complete and summary.retries >= 2
    rows = {r["point_id"]: r for r in read_rows(tmp_path / "run")}
    chunks = cfg.chunks()
    for p in chunks[0].points:  # died once (in the pool, or alone if the pool broke before it ran)
        assert rows[p.id]["status"] == "converged" and rows[p.id]["attempts"] in (2, 3)
    for p in chunks[1].points:  # in the first pool, then alone: died, retried once, died
        assert rows[p.id]["status"] == "failed" and "died 2 times running this task alone" in rows[p.id]["error"]
        assert rows[p.id]["attempts"] == 3
    assert all(rows[p.id]["status"] == "converged" for c in chunks[2:] for p in c.points)


def test_progress_export_and_missing_parquet(tmp_path, monkeypatch):
    cfg = parse_config(SMALL)
    seen = []
    run_sweep(cfg, tmp_path, workers=0, progress=lambda done, total: seen.append((done, total)))
    total = len(cfg.points())
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    result = CliRunner().invoke(app, ["sweep", str(tmp_path), "--export", "csv"])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "results.csv") as fh:
        exported = list(csv.DictReader(fh))
    rows = read_rows(tmp_path)
    assert [r["point_id"] for r in exported] == [r["point_id"] for r in rows]
    assert list(exported[0]) == list(COLUMNS)
    assert all(float(e["rel_error"]) == r["rel_error"] for e, r in zip(exported, rows))  # repr round-trips
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    with ResultStore.open(tmp_path) as store, pytest.raises(OptionalDependencyError, match="pip install pyarrow"):
        store.export(tmp_path / "r.parquet", "parquet")


def test_parquet_export_round_trips(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="parquet export is optional (pyarrow not installed)")
    cfg = parse_config(SMALL)
    run_sweep(cfg, tmp_path, workers=0)
    with ResultStore.open(tmp_path) as store:
        path = store.export(tmp_path / "r.parquet", "parquet")
        assert pq.read_table(path).to_pylist() == store.rows()


def test_cli_example_and_usage_errors(tmp_path):
    runner = CliRunner()
    example = runner.invoke(app, ["sweep", "--example"])
    assert example.exit_code == 0 and parse_config(example.output).points()
    missing = runner.invoke(app, ["sweep"])
    assert missing.exit_code == 2 and "--example" in missing.output
    no_out = runner.invoke(app, ["sweep", str(tmp_path / "x.toml")])
    assert no_out.exit_code == 2 and "--out" in no_out.output
    not_a_store = runner.invoke(app, ["sweep", str(tmp_path), "--export", "csv"])
    assert not_a_store.exit_code == 2 and "no sweep" in not_a_store.output


def test_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    """SIGKILL of the sweep's own process (not its group): its workers stop within seconds
    instead of computing into nothing (each watches the parent, `dlnlab.workers.PARENT_CHECK`)."""
    psutil = pytest.importorskip("psutil")
    config_path = tmp_path / "longer.toml"
    config_path.write_text(LONGER)
    proc = _start_and_wait(config_path, tmp_path / "out", 4, workers=2)
    family = psutil.Process(proc.pid).children(recursive=True)
    assert len(family) >= 2  # the forkserver and its workers (and a resource tracker)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [p.cmdline() for p in alive]


def _open_store(out, barrier, results):
    barrier.wait()
    try:
        with ResultStore.open(out, parse_config(SMALL)) as store:
            results.put(store.total)
    except Exception as exc:
        results.put(repr(exc))


def test_sweeps_started_at_once_share_one_store(tmp_path):
    """Created under one write transaction: every start finds the first one's store (before,
    8 processes opening a new store together failed with sqlite3.IntegrityError on meta.key
    in 14 of 20 rounds)."""
    import multiprocessing

    # forkserver, not fork: the suite may have imported jax, whose threads make os.fork unsafe
    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("forkserver is POSIX-only (not on Windows); spawn is too slow to start 8 processes at once")
    ctx = multiprocessing.get_context("forkserver")
    total = len(parse_config(SMALL).points())
    for trial in range(5):
        barrier, results = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_open_store, args=(tmp_path / f"out{trial}", barrier, results)) for _ in range(8)]
        for proc in procs:
            proc.start()
        got = [results.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join()
        assert got == [total] * 8


def test_exports_are_atomic(tmp_path, monkeypatch):
    # a write that fails (a full disk) leaves the previous export whole, and no partial file
    # (csv was written with a plain open(): a full disk cut it mid-row)
    import errno

    import dlnlab.files
    from dlnlab.sweep.phase_figure import plot_phase

    run_sweep(parse_config(SMALL), tmp_path / "s", workers=0)
    targets = {"results.csv": "csv", "results.parquet": "parquet", "phase.png": None}
    for name in targets:
        (tmp_path / name).write_text("previous")

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dlnlab.files.os, "replace", full_disk)
    with ResultStore.open(tmp_path / "s") as store:
        for name, fmt in targets.items():
            if fmt == "parquet" and importlib.util.find_spec("pyarrow") is None:
                continue
            with pytest.raises(OSError, match="No space"):
                if fmt is None:
                    plot_phase(store.rows(), tmp_path / name)
                else:
                    store.export(tmp_path / name, fmt)
            assert (tmp_path / name).read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*targets, "s"])


@pytest.mark.parametrize("gap", [0.0, 0.02, 0.2])
def test_a_second_ctrl_c_during_the_shutdown_leaves_a_consistent_store(tmp_path, gap):
    """Ctrl-C twice (an impatient user): the second lands while the first stops the workers or
    records the run's end; the store still says "interrupted", holds only whole chunks, no
    worker outlives the sweep, and a resume completes the grid to the uninterrupted rows."""
    psutil = pytest.importorskip("psutil")
    cfg = parse_config(LONGER)
    config_path = tmp_path / "longer.toml"
    config_path.write_text(LONGER)
    out = tmp_path / "run"
    proc = _start_and_wait(config_path, out, 4)
    family = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=30)
    # 130 from the CLI, or killed by the signal itself (a shell shows both as 130) when the
    # second Ctrl-C lands after Python restored the default handler at exit
    assert code in (130, -signal.SIGINT) or (code == 0 and _count(out / FILE) == len(cfg.points())), \
        proc.stderr.read().decode()[-2000:]
    # a worker left behind notices its parent is gone within PARENT_CHECK; allow for a loaded machine
    _, alive = psutil.wait_procs(family, timeout=10 + 2 * PARENT_CHECK)
    assert not alive, [p.cmdline() for p in alive]
    with ResultStore.open(out) as store:
        assert [r["state"] for r in store.runs()] in (["interrupted"], ["complete"])
    done = run_sweep(cfg, out, workers=0)
    assert done.complete
    reference = run_sweep(cfg, tmp_path / "reference", workers=0)
    assert stable(read_rows(out)) == stable(read_rows(tmp_path / "reference"))
