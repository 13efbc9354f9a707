"""The embedded result store of a sweep: one SQLite file, one row per grid point.

``DIR/sweep.sqlite`` holds

- ``meta``: the canonical configuration, its SHA-256 (``config_hash``), the grid size;
- ``points``: one row per finished point, primary key ``point_id`` (a hash of the point's
  canonical parameters): the parameters (the network as its spec string), the derived seed,
  the measured quantities of `dlnlab.sweep.tasks` (``status`` a word of
  `dlnlab.results.STATUSES`), and ``attempts``, ``run_id``, ``finished_at``;
- ``runs``: one row per invocation (executor, workers, points computed, retries, state).

The parent process is the only writer. The database runs in WAL mode with
``synchronous=FULL``; each task's rows are written in one transaction, so a killed sweep
leaves whole tasks or nothing, and readers (a progress monitor, a test) never block it.
A store refuses a configuration other than the one it was created with, and a store of
another format (`StoreMismatchError`): its rows would silently mix two experiments.

>>> import tempfile
>>> from dlnlab.sweep.config import parse_config
>>> cfg = parse_config('[problem]\\nN = 20\\ndelta = 0.5\\nrho = 0.2\\n[[methods]]\\nmethod = "bp"')
>>> with ResultStore.open(tempfile.mkdtemp(), cfg) as store:
...     store.total, len(store.finished())
(1, 0)
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import time
from pathlib import Path

from ..errors import OptionalDependencyError, StoreMismatchError, SweepConfigError
from ..files import atomic_write_bytes, atomic_write_text
from .config import Chunk, SweepConfig, from_dict

FILE = "sweep.sqlite"
#: The store layout this version reads and writes (format 1: symmetric networks as depth, scale).
FORMAT = "2"
PARAM_COLUMNS = ("generator", "N", "m", "k", "delta", "rho", "signs", "method", "network", "trial")
RESULT_COLUMNS = ("status", "message", "rel_error", "success", "residual", "kkt", "duality_gap", "iterations",
                  "solver", "seconds", "error")
#: Columns that describe how and when a row was computed rather than what it is.
VOLATILE_COLUMNS = ("seconds", "attempts", "run_id", "finished_at")
COLUMNS = ("point_id", "idx", *PARAM_COLUMNS, "seed", *RESULT_COLUMNS, "attempts", "run_id", "finished_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    point_id TEXT PRIMARY KEY, idx INTEGER NOT NULL,
    generator TEXT, N INTEGER, m INTEGER, k INTEGER, delta REAL, rho REAL, signs INTEGER,
    method TEXT, network TEXT, trial INTEGER, seed INTEGER,
    status TEXT NOT NULL, message TEXT, rel_error REAL, success INTEGER, residual REAL, kkt REAL, duality_gap REAL,
    iterations INTEGER, solver TEXT, seconds REAL, error TEXT,
    attempts INTEGER NOT NULL, run_id INTEGER, finished_at REAL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, started REAL, ended REAL, executor TEXT, workers INTEGER,
    computed INTEGER DEFAULT 0, retries INTEGER DEFAULT 0, state TEXT);
"""


class ResultStore:
    """A sweep's SQLite store (see the module docstring). Use `ResultStore.open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, config: SweepConfig, total: int):
        self.path = path
        self.conn = conn
        self.config = config
        self.total = total

    @classmethod
    def open(cls, directory, config: SweepConfig | None = None) -> "ResultStore":
        """Open ``directory/sweep.sqlite``, creating it for ``config`` if it does not exist.

        Without ``config`` the store must exist (its own configuration is used). With one,
        an existing store must have been created by the same canonical configuration."""
        directory = Path(directory)
        path = directory / FILE
        if config is None and not path.exists():
            raise SweepConfigError(f"{directory}: no sweep store ({FILE}) here. Start one with "
                                   "`dlnlab sweep CONFIG.toml --out DIR`.")
        directory.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, timeout=60.0)
        try:
            _set_up(conn)
            # read and create in one write transaction: of two sweeps started on the same
            # directory at once, one creates the store and the other finds it
            with _transaction(conn):
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if not meta:
                    if config is None:
                        raise SweepConfigError(f"{path}: the store has no configuration; it was not created by "
                                               "dlnlab.")
                    from .. import __version__  # at call time: dlnlab imports this module first

                    total = len(config.points())
                    conn.executemany("INSERT INTO meta VALUES (?, ?)", [
                        ("config_hash", config.hash), ("config", json.dumps(config.canonical, sort_keys=True)),
                        ("points", str(total)), ("created", repr(time.time())), ("format", FORMAT),
                        ("dlnlab_version", __version__)])
            if len(meta) == 0:
                return cls(path, conn, config, total)
            if meta.get("format") != FORMAT:
                raise StoreMismatchError(
                    f"{directory} holds a sweep store of format {meta.get('format')!r} (dlnlab "
                    f"{meta.get('dlnlab_version', '?')}); this dlnlab reads format {FORMAT!r} (networks by spec, "
                    "statuses of dlnlab.results.STATUSES). Run the configuration again into a new --out directory.")
            stored = from_dict(json.loads(meta["config"]), source=str(path))
            if config is not None and meta["config_hash"] != config.hash:
                raise StoreMismatchError(
                    f"{directory} holds the sweep {stored.name!r} (config hash {meta['config_hash'][:12]}), created "
                    f"by a different configuration (hash {config.hash[:12]}); they differ in "
                    f"{_differences(stored.canonical, config.canonical)}. Use a new --out directory, or resume "
                    f"this one with the original configuration (`dlnlab sweep {directory}` uses the stored one).")
            return cls(path, conn, stored, int(meta["points"]))
        except BaseException:
            conn.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.conn.close()

    def finished(self, *, include_failed: bool = True) -> set[str]:
        """Ids of the points with a row (``include_failed=False``: leave out status "failed")."""
        sql = "SELECT point_id FROM points" + ("" if include_failed else " WHERE status != 'failed'")
        return {r[0] for r in self.conn.execute(sql)}

    def begin_run(self, executor: str, workers: int) -> int:
        with _transaction(self.conn):
            self.conn.execute("UPDATE runs SET state = 'abandoned' WHERE state = 'running'")
            cur = self.conn.execute("INSERT INTO runs (started, executor, workers, state) VALUES (?, ?, ?, 'running')",
                                    (time.time(), executor, workers))
        return int(cur.lastrowid)

    def end_run(self, run_id: int, state: str, retries: int):
        with _transaction(self.conn):
            self.conn.execute("UPDATE runs SET ended = ?, state = ?, retries = ? WHERE run_id = ?",
                              (time.time(), state, retries, run_id))

    def record(self, chunk: Chunk, rows: list[dict], *, attempts: int, run_id: int):
        """Write a task's rows in one transaction (a point already present is replaced)."""
        if len(rows) != len(chunk.points):
            raise SweepConfigError(f"task {chunk.index} returned {len(rows)} rows for {len(chunk.points)} points.")
        now = time.time()
        values = []
        for point, row in zip(chunk.points, rows):
            if row.get("point_id") != point.id:
                raise SweepConfigError(f"task {chunk.index}: row for {row.get('point_id')} where {point.id} was due.")
            q = point.params
            values.append((point.id, point.index, *(q[c] for c in PARAM_COLUMNS), point.seed,
                           *(row.get(c) for c in RESULT_COLUMNS), attempts, run_id, now))
        marks = ", ".join("?" * len(COLUMNS))
        update = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        with _transaction(self.conn):
            self.conn.executemany(f"INSERT INTO points ({', '.join(COLUMNS)}) VALUES ({marks}) "
                                  f"ON CONFLICT(point_id) DO UPDATE SET {update}", values)
            self.conn.execute("UPDATE runs SET computed = computed + ? WHERE run_id = ?", (len(values), run_id))

    def rows(self) -> list[dict]:
        """All rows in grid order, as dicts keyed by `COLUMNS`."""
        cur = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM points ORDER BY idx")
        return [dict(zip(COLUMNS, r)) for r in cur]

    def counts(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall())

    def runs(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM runs ORDER BY run_id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur]

    def export(self, path, fmt: str) -> Path:
        """Write all rows to ``path`` as ``csv`` or ``parquet`` (needs pyarrow), atomically (`dlnlab.files`)."""
        path = Path(path)
        rows = self.rows()
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return atomic_write_text(path, buf.getvalue())
        if fmt == "parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise OptionalDependencyError("parquet export needs pyarrow: `pip install pyarrow` "
                                              "(or export with --export csv).") from None
            buf = io.BytesIO()
            pq.write_table(pa.Table.from_pylist(rows), buf)
            return atomic_write_bytes(path, buf.getvalue())
        raise SweepConfigError(f"unknown export format {fmt!r}; use csv or parquet.")


def _set_up(conn, wait: float = 60.0) -> None:
    """WAL mode and the schema. Switching a new file to WAL takes a lock that SQLite does not
    wait for (``database is locked`` at once when sweeps start together): retry until ``wait``."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01 + 0.04 * random.random())


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception, Ctrl-C included)."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, tb):
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")
        return False


def _differences(a: dict, b: dict, prefix: str = "") -> str:
    keys = sorted(set(a) | set(b))
    diffs = []
    for k in keys:
        if a.get(k) != b.get(k):
            if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
                diffs.append(_differences(a[k], b[k], f"{prefix}{k}."))
            else:
                diffs.append(f"{prefix}{k} ({a.get(k)!r} vs {b.get(k)!r})")
    return ", ".join(diffs)
