"""`dlnlab limit`: the gradient-flow limit of a problem stored as .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from ..errors import DLNError
from ..limits import flow_limit
from ..problems import Problem
from .app import app, console, emit_json, fail, symmetric_network


@app.command()
def limit(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    depth: float = typer.Option(2.0, "--depth", "-p", help="Network depth p >= 2."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Effective scale a = alpha**p."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Weight scale alpha (u(0) = v(0) = alpha)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """The limit of gradient flow of a depth-p DLN on PROBLEM, with its certificate."""
    try:
        P = Problem.load(problem)
        net = symmetric_network(depth, scale, alpha)
        res = flow_limit(P, net)
    except DLNError as exc:
        fail(exc)
    payload = {
        "depth": net.depth, "scale": net.scale, "alpha": net.alpha, "x": res.x, "dual": res.dual,
        "residual": res.residual, "kkt": res.kkt, "iterations": res.iterations,
        "stages": res.stages, "status": res.status,
    }
    if as_json:
        emit_json(payload)
        return
    table = Table(title=f"flow limit: depth {net.depth:g}, scale {net.scale:.3g} (alpha {net.alpha:.3g})")
    table.add_column("i", justify="right")
    table.add_column("x_inf", justify="right")
    for i, xi in enumerate(res.x):
        table.add_row(str(i), f"{xi:.12g}")
    console.print(table)
    console.print(f"status {res.status}; residual ||Ax-y||/||y|| = {res.residual:.2e}; "
                  f"KKT error = {res.kkt:.2e}; {res.iterations} Newton steps in {res.stages} continuation stages")
    if P.x_true is not None:
        console.print(f"||x_inf - x_true||_2 = {np.linalg.norm(res.x - P.x_true):.3e}")
