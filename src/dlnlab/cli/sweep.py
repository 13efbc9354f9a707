"""`dlnlab sweep`: parameter grids in parallel into a resumable SQLite store.

    dlnlab sweep CONFIG.toml --out DIR [--workers N | --scheduler ADDRESS] [--quiet]
    dlnlab sweep DIR [--retry-failed]     resume with the stored configuration
    dlnlab sweep DIR --export csv|parquet
    dlnlab sweep DIR --phase              Donoho-Tanner 50% points and DIR/phase.png
    dlnlab sweep --example                a small working configuration
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, \
    TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from ..errors import DLNError, SweepConfigError
from .app import app, console, emit_json, fail, titled_table


class _RateColumn(ProgressColumn):
    """Points per second over the recent past."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- pts/s" if speed is None else f"{speed:.1f} pts/s", style="progress.data.speed")


@app.command()
def sweep(
    target: Optional[Path] = typer.Argument(None, help="CONFIG.toml to run, or a sweep directory to resume/export."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Directory of the result store (with CONFIG.toml)."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w",
                                          help="Local worker processes (default: cores; 0: none)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address (e.g. tcp://host:8786)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Recompute points whose status is 'failed'."),
    export: Optional[str] = typer.Option(None, "--export", help="Write DIR/results.csv or DIR/results.parquet."),
    phase: bool = typer.Option(False, "--phase", help="Print the empirical 50% points; write DIR/phase.png."),
    example: bool = typer.Option(False, "--example", help="Print a small working configuration and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
):
    """Run a sweep (grid x methods x trials) in parallel into a resumable SQLite store."""
    from ..sweep import ResultStore, load_config, run_sweep

    if example:
        text = resources.files("dlnlab.sweep").joinpath("example.toml").read_text()
        if as_json:
            emit_json({"config": text})
        else:
            typer.echo(text, nl=False)
        return
    try:
        if target is None:
            raise SweepConfigError("give a CONFIG.toml (with --out DIR) or a sweep directory; "
                                   "`dlnlab sweep --example` prints a configuration to start from.")
        if target.is_dir():
            if out is not None:
                raise SweepConfigError(f"{target} is a sweep directory; --out is only for a CONFIG.toml.")
            directory, config = target, None
        else:
            if out is None:
                raise SweepConfigError("--out DIR is required with a configuration file (the store goes there).")
            if export or phase:
                raise SweepConfigError("--export and --phase act on a sweep directory: "
                                       "`dlnlab sweep DIR --export csv`.")
            directory, config = out, load_config(target)
        if export or phase:
            with ResultStore.open(directory) as store:
                done = {}
                if export:
                    path = store.export(directory / f"results.{export}", export)
                    done["export"] = {"path": str(path), "format": export, "rows": len(store.rows())}
                    if not as_json:
                        console.print(f"wrote {len(store.rows())} rows to {path}")
                if phase:
                    done.update(_phase(store, directory, as_json))
            if as_json:
                emit_json(done)
            return
        if config is None:
            with ResultStore.open(directory) as store:
                config = store.config
        summary = _run(run_sweep, config, directory, workers, scheduler, retry_failed, quiet)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json({**summary.__dict__, "complete": summary.complete})
    elif not quiet:
        state = "interrupted" if summary.interrupted else ("complete" if summary.complete else "incomplete")
        console.print(f"{state}: {summary.already + summary.computed}/{summary.total} points in {summary.directory} "
                      f"({summary.computed} computed now in {summary.seconds:.1f} s by {summary.executor}; "
                      f"status {summary.counts}; {summary.retries} worker retries)")
        if summary.interrupted:
            console.print("re-run the same command to resume.")
        if summary.counts.get("failed"):
            console.print(f"{summary.counts['failed']} points failed (their error and message columns say why); "
                          f"`dlnlab sweep {summary.directory} --retry-failed` recomputes them.")
    if summary.interrupted:
        raise typer.Exit(code=130)


def _run(run_sweep, config, directory, workers, scheduler, retry_failed, quiet):
    show = not quiet and sys.stdout.isatty()
    kwargs = dict(workers=workers, scheduler=scheduler, retry_failed=retry_failed)
    if not show:
        return run_sweep(config, directory, **kwargs)
    columns = (TextColumn(f"[bold]{config.name}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
               TextColumn("eta"), TimeRemainingColumn(), TextColumn("elapsed"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        job = bar.add_task("sweep", total=None)

        def update(done, total):
            if bar.tasks[0].total is None:  # start the clock here: rate and ETA count this run only
                bar.reset(job, total=total, completed=done)
            else:
                bar.update(job, completed=done)

        return run_sweep(config, directory, progress=update, **kwargs)


def _phase(store, directory: Path, as_json: bool):
    from ..sweep.phase import transitions
    from ..sweep.phase_figure import plot_phase, solver_label
    from ..theory import weak_threshold

    rows = store.rows()
    fits = transitions(rows)
    payload = {}
    table = titled_table("Donoho-Tanner: empirical 50% points vs the weak threshold rho_W(delta)")
    for col in ("solver", "delta", "rho_50", "95% interval", "rho_W", "trials"):
        table.add_column(col, justify="right")
    for key, columns in fits.items():
        payload[solver_label(key)] = [dict(t.__dict__, rho_W=weak_threshold(t.delta)) for t in columns]
        for t in columns:
            table.add_row(solver_label(key), f"{t.delta:g}", f"{t.rho50:.3f}",
                          f"[{t.rho_ci[0]:.3f}, {t.rho_ci[1]:.3f}]", f"{weak_threshold(t.delta):.3f}", str(t.n))
    figure = plot_phase(rows, directory / "phase.png", title=f"{store.config.name}: Donoho-Tanner phase diagram")
    if not as_json:
        console.print(table)
        console.print(f"figure: {figure}")
    return {"transitions": payload, "figure": figure}
