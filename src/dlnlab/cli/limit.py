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
from .app import NETWORK_HELP, app, console, emit_json, fail, network_option, result_dict


@app.command()
def limit(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    network: Optional[str] = typer.Option(None, "--network", "-n", help=NETWORK_HELP),
    depth: Optional[float] = typer.Option(None, "--depth", "-p", help="Symmetric network depth p >= 2 (default 2)."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Effective scale a = alpha**p."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Weight scale alpha (u(0) = v(0) = alpha)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """The limit of gradient flow of a DLN on PROBLEM, with its certificate."""
    try:
        P = Problem.load(problem)
        net = network_option(network, depth, scale, alpha, size=P.N)
        res = flow_limit(P, net)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(result_dict(res))
        return
    table = Table(title=f"flow limit: {net.spec}")
    table.add_column("i", justify="right")
    table.add_column("x_inf", justify="right")
    for i, xi in enumerate(res.x):
        table.add_row(str(i), f"{xi:.12g}")
    console.print(table)
    console.print(f"status {res.status}; residual ||Ax-y||/||y|| = {res.residual:.2e}; "
                  f"KKT error = {res.kkt:.2e}; {res.iterations} Newton steps in {res.stages} continuation stages")
    if P.x_true is not None:
        console.print(f"||x_inf - x_true||_2 = {np.linalg.norm(res.x - P.x_true):.3e}")
