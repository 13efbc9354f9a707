"""`dlnlab reproduce`, `dlnlab rates`, `dlnlab report`: the papers' figures and rate studies."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..studies import experiments as ex
from ..errors import DLNError, OptionError, ProblemError
from ..files import atomic_write_csv, atomic_write_json, atomic_write_text, staged_files
from ..problems import Problem
from ..report import load_results, summary_rows, write_report
from ..workers import cores
from .app import AS_JSON_HELP, app, console, emit_json, fail, finish, output_folder, titled_table


def _progress(as_json: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, disable=as_json or not console.is_terminal, transient=False)


def _summary_dict(results, report) -> dict:
    """The JSON result of `reproduce` and `report`: per experiment its folder, title, seconds,
    checks passed / total and records (the ``summary.json`` records), and the totals."""
    experiments = []
    for res in results:
        rows = [r for r in summary_rows([res]) if r["quantity"]]
        failed = [r for r in rows if not r["pass"]]
        experiments.append({"name": res["name"], "folder": str(res["path"]), "title": res["meta"].get("title", ""),
                            "mode": res["meta"].get("mode"), "seconds": res["meta"].get("seconds"),
                            "checks": len(rows), "failed": len(failed), "records": res["records"]})
    checks = sum(e["checks"] for e in experiments)
    failed = sum(e["failed"] for e in experiments)
    return {"experiments": experiments, "checks": checks, "failed": failed, "passed": checks - failed,
            "report": str(report), "status": "all checks passed" if failed == 0 else f"{failed} checks failed",
            "success": failed == 0}


def _print_summary(results) -> tuple[int, int]:
    table = titled_table("measured vs predicted (per experiment)")
    for col in ("experiment", "records", "checks passed", "seconds", "failed checks"):
        table.add_column(col, justify="left" if col in ("experiment", "failed checks") else "right")
    total = failed = 0
    for res in results:
        rows = [r for r in summary_rows([res]) if r["quantity"]]
        bad = [r for r in rows if not r["pass"]]
        total += len(rows)
        failed += len(bad)
        shown = "; ".join(f"{r['curve']}: {r['quantity']} {r['measured']:.4g} vs {r['theory']:.4g}" for r in bad[:4])
        if len(bad) > 4:
            shown += f"; ... ({len(bad) - 4} more)"
        seconds = res["meta"].get("seconds")
        table.add_row(res["name"], str(len(res["records"])), f"{len(rows) - len(bad)}/{len(rows)}",
                      f"{seconds:.1f}" if isinstance(seconds, (int, float)) else "", shown)
    console.print(table)
    return total, failed


@app.command()
def reproduce(
    name: str = typer.Argument(..., help="Experiment name, 'all', or 'list' to show the registry."),
    quick: bool = typer.Option(False, "--quick", help="Small grids (seconds instead of minutes)."),
    out: Path = typer.Option(Path("results"), "--out", help="Output folder (one subfolder per experiment)."),
    strict: bool = typer.Option(False, "--strict", help="Exit with status 1 if any check fails."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", help="Experiments run at once on worker processes "
                                       "(default: one per core; 1: in this process, with a progress bar each)."),
    as_json: bool = typer.Option(False, "--json", help=AS_JSON_HELP),
):
    """Reproduce the papers' figures: figures (PNG; PDF too in full mode), data (CSV), OUT/NAME/summary.json, OUT/report.html."""
    try:
        output_folder(out)
        registry = ex.load()
        if name == "list":
            if as_json:
                emit_json({"experiments": [{"name": n, "title": registry[n].title} for n in sorted(registry)]})
                return
            table = titled_table("experiments")
            table.add_column("name", justify="left")
            table.add_column("title", justify="left")
            for n in sorted(registry):
                table.add_row(n, registry[n].title)
            console.print(table)
            return
        names = sorted(registry) if name == "all" else [ex.get(name).name]
        if jobs is not None and jobs < 1:
            raise OptionError(f"--jobs must be >= 1; got {jobs}.")
        jobs = min(cores(), len(names)) if jobs is None else jobs
        t0 = time.perf_counter()
        with _progress(as_json) as progress:
            overall = progress.add_task("experiments", total=len(names))
            tasks = {}

            def started(n):
                tasks[n] = task = progress.add_task(f"  {n}", total=None)
                return (lambda k=1: progress.advance(task, k)), (lambda total: progress.update(task, total=total))

            def finished(n):
                if n in tasks:
                    progress.update(tasks[n], visible=False)
                progress.advance(overall)

            crashes = ex.run_experiments(names, out, quick=quick, jobs=jobs, started=started, finished=finished)
        crashed = {n: _record_crash(out, n, *c) for n, c in crashes.items()}
        for n in names:
            if n not in crashed:
                (Path(out) / f"{n}.error.txt").unlink(missing_ok=True)  # a crash of an earlier run
        results = [r for r in load_results(out) if r["name"] in names and r["name"] not in crashed]
        report = write_report(out)
    except DLNError as exc:
        fail(exc)
    if as_json:
        summary = _summary_dict(results, report)
        crashes = [{"name": n, **c} for n, c in crashed.items()]
        emit_json({**summary, "crashed": crashes, "success": summary["success"] and not crashed,
                   "seconds": time.perf_counter() - t0})
        failed = summary["failed"]
    else:
        total, failed = _print_summary(results)
        console.print(f"{len(names)} experiment(s) in {time.perf_counter() - t0:.1f} s; {total - failed}/{total} "
                      f"checks passed; report: {report}")
        for n, c in crashed.items():
            typer.echo(f"error: experiment {n} crashed ({c['error']}); traceback in {c['traceback']}. "
                       "Its previous results, if any, are unchanged.", err=True)
    if crashed:
        raise typer.Exit(code=1)
    if strict and failed:
        raise typer.Exit(code=1)


def _record_crash(out: Path, name: str, error: str, trace: str) -> dict:
    """Write ``OUT/NAME.error.txt`` (the traceback) and return what the summary says of the crash;
    the experiment's own folder keeps its last complete run (`dlnlab.files.staged_files`)."""
    path = atomic_write_text(Path(out) / f"{name}.error.txt", trace)
    return {"error": error, "traceback": str(path)}


def _parse_depths(text: str) -> list[float]:
    try:
        depths = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ProblemError(f"--depths must be comma-separated numbers like 2,3,4; got {text!r}.") from None
    if not depths or any(not math.isfinite(p) or p < 2 for p in depths):
        raise ProblemError(f"--depths must be numbers >= 2 like 2,3,4; got {text!r}.")
    return depths


def _write_rates(study, P, folder: Path, problem: Path, ps, networks, per_decade: float, t0: float):
    """Write a rate study's CSV, figure, ``summary.json`` and ``meta.json`` into ``folder``;
    returns its records, the data files' names and the target's kind."""
    from .. import plots
    from ..provenance import provenance

    records = study.records()
    for r in records:
        r["experiment"] = "rates"
    rows = [[c.depth, L, e] for c in study.curves for L, e in zip(c.log10_scale, c.log10_error)]
    atomic_write_csv(folder / "rates.csv", ["depth", "log10_scale", "log10_error"], rows)
    fig, ax = plots.new_figure(size=(6.0, 4.2))
    for c in study.curves:
        color = plots.depth_color(c.depth)
        plots.plot_curve(ax, c.log10_scale, c.log10_error, label=f"p={c.depth:g}: slope {c.fit.slope:.4f} "
                         f"(predicted {c.predicted_slope:.4f})", color=color, ms=2.5)
    kind = next(iter(study.targets.values())).kind
    plots.rate_axes(ax, f"{P.name}: error to the {'BP solution' if kind == 'bp' else 'selected minimizer'}")
    ax.legend(fontsize=8)
    files = [p.name for p in plots.save_figure(fig, folder / "rates")] + ["rates.csv"]
    prov = provenance()
    atomic_write_json(folder / "summary.json", {"dlnlab": prov["dlnlab"], "experiment": "rates", "records": records,
                                                "provenance": prov})
    atomic_write_json(folder / "meta.json", {"experiment": "rates", "title": f"rate study of {problem.name}",
                                             "mode": "rates", "params": {"problem": str(problem), "depths": ps,
                                                                         "networks": list(networks or []),
                                                                         "per_decade": per_decade},
                                             "files": files, "seconds": time.perf_counter() - t0, "provenance": prov})
    return records, files, kind


@app.command()
def rates(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    depths: str = typer.Option("2,3,4", "--depths", help="Comma-separated depths p >= 2 (symmetric networks)."),
    networks: Optional[List[str]] = typer.Option(None, "--network", "-n", help="A network spec (repeatable), e.g. "
                                                 "twolayer:u0=1e-3,v0=0; replaces --depths; its family's scale "
                                                 "is varied."),
    out: Path = typer.Option(Path("rates"), "--out", help="Output folder."),
    per_decade: float = typer.Option(0.25, "--per-decade", help="Scales per decade of the grid."),
    as_json: bool = typer.Option(False, "--json", help=AS_JSON_HELP),
):
    """Rate study: error to the BP solution (or selected minimizer) vs scale, fitted and predicted slopes."""
    from ..studies.rates import rate_study
    from ..theory import default_scales

    t0 = time.perf_counter()
    try:
        output_folder(out)
        P = Problem.load(problem)
        if not per_decade > 0:
            raise ProblemError(f"--per-decade must be positive; got {per_decade}.")
        from ..l1 import basis_pursuit
        from ..theory import bp_target, selected_target
        if networks:
            from ..networks.spec import network_from_spec
            from ..studies.rates import rate_depth
            nets = [network_from_spec(s, size=P.N) for s in networks]
            ps = [rate_depth(n) for n in nets]
        else:
            nets = None
            ps = _parse_depths(depths)
        unique = basis_pursuit(P).unique
        grids = {}
        for p in ps:
            t = bp_target(P) if unique else selected_target(P, p)
            grids[p] = default_scales(p, t, per_decade)
        with _progress(as_json) as progress:
            task = progress.add_task("flow limits", total=sum(len(grids[p]) for p in ps))
            study = rate_study(P, ps, networks=nets, log10_scales=grids, progress=lambda: progress.advance(task))
    except DLNError as exc:
        fail(exc)
    with staged_files(out) as staging:  # a run that fails midway leaves the last run's files as they were
        records, files, kind = _write_rates(study, P, staging, problem, ps, networks, per_decade, t0)
    if as_json:
        emit_json({**study.to_dict(), "records": records, "out": str(out), "files": [str(out / f) for f in files]
                   + [str(out / "summary.json"), str(out / "meta.json")]})
        finish(study.success)
        return
    table = titled_table(f"rate study: {P.name} ({P.m} x {P.N}), target: {kind}")
    for col in ("depth", "rho", "slope (fit)", "slope (theory)", "fit range log10 a", "constant", "constant (theory)",
                "pass"):
        table.add_column(col, justify="right")
    for r in records:
        ct = r["log10_constant_theory"]
        table.add_row(f"{r['depth']:g}", f"{r['rho']:.4f}", f"{r['slope']:.4f}", f"{r['slope_theory']:.4f}",
                      f"[{r['fit_range'][0]:.0f}, {r['fit_range'][1]:.0f}]", f"{10 ** r['log10_constant']:.4g}",
                      "" if ct is None else f"{10 ** ct:.4g}", str(r["pass"]))
    console.print(table)
    console.print(f"wrote {out / 'summary.json'}, {out / 'rates.png'}, {out / 'rates.csv'}")
    if study.message:
        console.print(f"status {study.status}: {study.message}")
    finish(study.success)


@app.command()
def report(folder: Path = typer.Argument(..., help="A results folder (from `reproduce` or `rates`)."),
           as_json: bool = typer.Option(False, "--json", help=AS_JSON_HELP)):
    """Write FOLDER/report.html (figures and measured-vs-predicted tables) and print the summary."""
    try:
        results = load_results(folder)
        path = write_report(folder)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(_summary_dict(results, path))
        return
    total, failed = _print_summary(results)
    console.print(f"{total - failed}/{total} checks passed; wrote {path}")
