"""`dlnlab flow` (x(t) along gradient flow) and `dlnlab saddle` (the scale -> 0 saddle path)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..dynamics.trajectory import flow_trajectory
from ..errors import DLNError, TimeGridError
from ..problems import Problem
from ..dynamics.saddle import saddle_to_saddle
from .app import (FULL_HELP, NETWORK_HELP, app, console, emit_json, fail, finish, full_vector, network_option,
                  result_dict, titled_table, vector_cell)


def parse_times(text: str) -> np.ndarray:
    """``"0,1,10,1e3"`` -> array; a clear error for anything else."""
    try:
        return np.array([float(v) for v in text.replace(" ", "").split(",") if v != ""])
    except ValueError:
        raise TimeGridError(f"--times must be comma-separated numbers like 0,1,10,1e3; got {text!r}.") from None


def _print_full(full: bool, rows) -> None:
    """With ``--full``, every coordinate of each row's vector; else a hint when some were summarized."""
    if full:
        for label, x in rows:
            console.print(f"{label}: x = {full_vector(x)}")
    elif rows and np.asarray(rows[0][1]).size > 8:
        console.print("x summarized by its support; --full prints every coordinate")


@app.command()
def flow(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    network: Optional[str] = typer.Option(None, "--network", "-n", help=NETWORK_HELP),
    depth: Optional[float] = typer.Option(None, "--depth", "-p", help="Symmetric network depth p >= 2 (default 2)."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Effective scale a = alpha**p."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Weight scale alpha (u(0) = v(0) = alpha)."),
    times: str = typer.Option(..., "--times", help="Comma-separated output times, e.g. 0,1,10,1e3."),
    rescaled: bool = typer.Option(False, "--rescaled", help="Times are T = dual_scale * t (the l1 regime at T ~ 1)."),
    rtol: float = typer.Option(1e-10, "--rtol", help="Integrator tolerance on the scaled dual."),
    method: str = typer.Option("LSODA", "--method", help="LSODA or Radau."),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """x(t) and the loss along gradient flow of a DLN on PROBLEM (the m-dimensional dual ODE)."""
    try:
        P = Problem.load(problem)
        net = network_option(network, depth, scale, alpha, size=P.N)
        t = parse_times(times)
        if rescaled:
            t = t / net.dual_scale
        tr = flow_trajectory(P, net, t, rtol=rtol, method=method)
    except DLNError as exc:
        fail(exc)
    payload = {**result_dict(tr), "dual_scale": net.dual_scale, "rescaled_t": tr.t * net.dual_scale}
    if as_json:
        emit_json(payload)
        return
    table = titled_table(f"gradient flow: {net.spec}")
    for col in ("t", "T = dual_scale t", "loss", "||Ax-y||/||y||", "x"):
        table.add_column(col, justify="right")
    for k in range(tr.t.size):
        table.add_row(f"{tr.t[k]:.6g}", f"{tr.t[k] * net.dual_scale:.6g}", f"{tr.loss[k]:.3e}",
                      f"{tr.residual[k]:.2e}", vector_cell(tr.x[k]))
    console.print(table)
    _print_full(full, [(f"t = {t:.6g}", x) for t, x in zip(tr.t, tr.x)])
    console.print(f"status {tr.status}; {tr.nfev} right-hand sides, {tr.njev} Jacobians ({tr.method}); "
                  f"x accurate to ~{tr.accuracy:.1e} relative")


@app.command()
def saddle(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y."),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """The saddle-to-saddle path (plateaus and rescaled jump times) of the vanishing-scale flow."""
    try:
        res = saddle_to_saddle(Problem.load(problem))
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(res)
        finish(res.success)
        return
    table = titled_table("saddle-to-saddle path (rescaled time T; t = T / dual_scale)")
    for col in ("plateau", "enters at T", "loss", "support", "x"):
        table.add_column(col, justify="right")
    for k, p in enumerate(res.plateaus):
        support = p.support.tolist()
        table.add_row(str(k), f"{p.start:.6g}", f"{p.loss:.4e}",
                      str(support) if len(support) <= 8 or full else f"{len(support)} coordinates",
                      vector_cell(p.x))
    console.print(table)
    _print_full(full, [(f"plateau {k}", p.x) for k, p in enumerate(res.plateaus)])
    console.print(f"status {res.status}; final residual {res.residual:.1e}; certificate error {res.certificate:.1e}")
