"""Reproduced figures and studies: a registry of named experiments.

An experiment is a function ``run(ctx, **params)`` registered with a one-line decorator;
it writes figures (PNG + PDF), data (CSV) and returns records (one per curve) that the
runner stores in ``DIR/NAME/summary.json`` (see README.md beside this file)::

    @experiment("wind2023-fig2", title="...", quick=dict(points=10), full=dict(points=60))
    def kink(ctx, *, points):
        ...
        ctx.save_csv("kink", header, rows)
        ctx.save_figure(fig, "kink")
        return [record("eps=0.1, p=3", params={...}, checks=[check("slope", 1.0, 1.0, 0.01)])]

and the module's name in `MODULES`. ``run_experiment(name, out, quick=True)`` runs one,
``run_experiments(names, out, jobs=2)`` several, on worker processes.

>>> "wind2023-fig2" in names()
True
"""

from __future__ import annotations

import importlib
import math
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ...errors import ExperimentError
from ...files import atomic_write_csv, atomic_write_json, staged_files
from ...provenance import provenance, seeds_of
from ...workers import process_context, single_threaded_blas, stop_pool, worker_init

#: Modules (in this package) whose import registers experiments. Append yours.
MODULES = ("wind2023", "matt2025", "gha", "donoho_tanner", "wang2023_lp", "training_dynamics", "moroshko2020",
           "sgf", "vaskevicius2019", "even2023")

_REGISTRY: dict[str, "Experiment"] = {}
_loaded = False


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: ``name``, ``func``, ``title``, ``quick``/``full`` parameters."""

    name: str
    func: Callable
    title: str
    quick: dict
    full: dict

    def params(self, quick: bool) -> dict:
        return dict(self.quick if quick else self.full)


def experiment(name: str, *, title: str, quick: dict, full: dict):
    """Register ``func(ctx, **params)`` under ``name`` with its quick and full parameters."""
    def register(func):
        if name in _REGISTRY and _REGISTRY[name].func is not func:
            raise ExperimentError(f"experiment name {name!r} is registered twice "
                                  f"({_REGISTRY[name].func.__module__} and {func.__module__}); pick another name.")
        _REGISTRY[name] = Experiment(name, func, title, dict(quick), dict(full))
        return func
    return register


def load() -> dict[str, Experiment]:
    """Import the modules in `MODULES` (once) and return the registry."""
    global _loaded
    if not _loaded:
        for mod in MODULES:
            importlib.import_module(f"{__name__}.{mod}")
        _loaded = True
    return dict(_REGISTRY)


def names() -> list[str]:
    return sorted(load())


def get(name: str) -> Experiment:
    reg = load()
    if name not in reg:
        raise ExperimentError(f"unknown experiment {name!r}; known: {', '.join(sorted(reg))} (or 'all').")
    return reg[name]


# ------------------------------------------------------------------ records


def check(name: str, measured, theory, tol: float, kind: str = "abs") -> dict:
    """A measured quantity against its prediction.

    ``kind``: ``"abs"`` (``|m - t| <= tol``), ``"rel"`` (``|m/t - 1| <= tol``), ``"log10"``
    (``|log10 m - log10 t| <= tol``), ``"min"`` (``m >= t - tol``), ``"max"`` (``m <= t + tol``).
    A non-finite measurement fails.
    """
    m, t = float(measured), float(theory)
    if not (math.isfinite(m) and math.isfinite(t)):
        ok = False
    elif kind == "abs":
        ok = abs(m - t) <= tol
    elif kind == "rel":
        ok = abs(m - t) <= tol * abs(t)
    elif kind == "log10":
        ok = m > 0 and t > 0 and abs(math.log10(m) - math.log10(t)) <= tol
    elif kind == "min":
        ok = m >= t - tol
    elif kind == "max":
        ok = m <= t + tol
    else:
        raise ExperimentError(f"unknown check kind {kind!r}; use abs, rel, log10, min or max.")
    return {"name": name, "measured": m, "theory": t, "tol": tol, "kind": kind, "pass": bool(ok)}


def record(curve: str, *, params: dict | None = None, checks=(), note: str = "", **measured) -> dict:
    """One summary record: the curve's parameters, its measured quantities and its checks.

    Each check ``c`` also appears flat as ``c``, ``c_theory`` and ``c_tol``; ``pass`` is true
    when every check passes (a record without checks has ``pass`` = None: nothing claimed).
    """
    rec = {"curve": curve}
    rec.update(params or {})
    rec.update(measured)
    for c in checks:
        rec[c["name"]] = c["measured"]
        rec[f"{c['name']}_theory"] = c["theory"]
        rec[f"{c['name']}_tol"] = c["tol"]
    rec["checks"] = list(checks)
    rec["pass"] = all(c["pass"] for c in checks) if checks else None
    if note:
        rec["note"] = note
    return rec


# ------------------------------------------------------------------ running


@dataclass
class Context:
    """What an experiment gets: its output folder, mode, and writers that record what they wrote.

    ``out`` is where this run writes its files (staged: they replace the last run's only when the
    run completes); ``home`` is the experiment's folder itself, for state that outlives a run,
    such as a resumable sweep store."""

    name: str
    out: Path
    quick: bool
    home: Path | None = None
    advance: Callable[[int], None] = lambda n=1: None
    set_total: Callable[[int], None] = lambda total: None
    files: list = field(default_factory=list)

    def expect(self, total: int) -> None:
        """Announce the number of steps (for the progress bar)."""
        self.set_total(int(total))

    def step(self, n: int = 1) -> None:
        self.advance(n)

    def save_csv(self, stem: str, header, rows) -> Path:
        path = atomic_write_csv(self.out / f"{stem}.csv", header, rows)
        self.files.append(path.name)
        return path

    def save_figure(self, fig, stem: str) -> list[Path]:
        """``stem.png``, and ``stem.pdf`` in full mode (a quick run is looked at, not printed:
        drawing the PDF too cost about 15% of `make demo`)."""
        from ...plots import save_figure
        paths = save_figure(fig, self.out / stem, formats=("png",) if self.quick else ("png", "pdf"))
        self.files.extend(p.name for p in paths)
        return paths


@dataclass(frozen=True)
class RunResult:
    """An experiment's records, output folder, wall time and overall verdict."""

    name: str
    out: Path
    records: list
    seconds: float

    @property
    def passed(self) -> bool:
        return all(r.get("pass") is not False for r in self.records)


def run_experiment(name: str, out, *, quick: bool = False, advance=None, set_total=None) -> RunResult:
    """Run one experiment into ``out/name``: its files, ``summary.json`` (``{"records": [...],
    "provenance": {...}}``) and ``meta.json`` (title, mode, parameters, files, seconds,
    provenance; see `dlnlab.provenance`)."""
    exp = get(name)
    folder = Path(out) / name
    with staged_files(folder) as staging:  # a run that fails midway leaves the last run's files as they were
        ctx = Context(name, staging, quick, home=folder)
        if advance is not None:
            ctx.advance = advance
        if set_total is not None:
            ctx.set_total = set_total
        params = exp.params(quick)
        t0 = time.perf_counter()
        records = exp.func(ctx, **params)
        seconds = time.perf_counter() - t0
        for r in records:
            r.setdefault("experiment", name)
        prov = provenance(seeds=seeds_of(params))
        atomic_write_json(staging / "summary.json", {"dlnlab": prov["dlnlab"], "experiment": name,
                                                     "records": records, "provenance": prov})
        atomic_write_json(staging / "meta.json", {"experiment": name, "title": exp.title,
                                                  "mode": "quick" if quick else "full", "params": params,
                                                  "files": ctx.files, "seconds": seconds, "records": len(records),
                                                  "passed": all(r.get("pass") is not False for r in records),
                                                  "provenance": prov})
    return RunResult(name, folder, records, seconds)


def run_experiments(names, out, *, quick: bool = False, jobs: int = 1, started=None, finished=None) -> dict:
    """Run the experiments ``names`` into ``out``; returns the crashed ones, ``name -> (error, traceback)``.

    A crash (an exception raised by the experiment) does not stop the others, and its folder keeps
    its last complete run. ``jobs > 1`` runs them on that many worker processes (`dlnlab.workers`:
    one BLAS thread each); the results are the same, since every experiment seeds its own draws.
    ``started(name)`` may return ``(advance, set_total)`` progress callbacks for the experiment
    (used with ``jobs = 1``); ``finished(name)`` is called as each one ends.
    """
    names = [get(n).name for n in names]
    crashed: dict = {}
    if jobs < 1:
        raise ExperimentError(f"jobs must be >= 1; got {jobs}.")
    if jobs == 1 or len(names) <= 1:
        for n in names:
            callbacks = started(n) if started else None
            advance, set_total = callbacks if callbacks else (None, None)
            crash = _run_caught(n, out, quick, advance, set_total)
            if crash:
                crashed[n] = crash
            if finished:
                finished(n)
        return crashed
    with single_threaded_blas():
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=process_context(__name__),
                                   initializer=worker_init, initargs=(os.getpid(),))
        try:
            flight = {pool.submit(_run_caught, n, out, quick): n for n in names}
            while flight:
                ready, _ = wait(flight, return_when=FIRST_COMPLETED)
                for fut in ready:
                    n = flight.pop(fut)
                    crash = fut.result()
                    if crash:
                        crashed[n] = crash
                    if finished:
                        finished(n)
        except BaseException:  # Ctrl-C or a dead worker: stop the others now
            stop_pool(pool)
            raise
        pool.shutdown()
    return crashed


def _run_caught(name: str, out, quick: bool, advance=None, set_total=None):
    """`run_experiment`, with an exception returned as ``(error, traceback)`` (None: no crash)."""
    try:
        run_experiment(name, out, quick=quick, advance=advance, set_total=set_total)
    except Exception as exc:  # noqa: BLE001 -- one experiment's crash must not stop the others
        return f"{type(exc).__name__}: {exc}", "".join(traceback.format_exception(exc))
    return None
