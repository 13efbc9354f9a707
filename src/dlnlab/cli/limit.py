"""`dlnlab limit`: the gradient-flow limit of a problem stored as .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..errors import DLNError
from ..limits import flow_limit
from ..problems import Problem
from .app import FULL_HELP, NETWORK_HELP, app, console, emit_json, fail, finish, network_option, show_vector


@app.command()
def limit(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    network: Optional[str] = typer.Option(None, "--network", "-n", help=NETWORK_HELP),
    depth: Optional[float] = typer.Option(None, "--depth", "-p", help="Symmetric network depth p >= 2 (default 2)."),
    scale: Optional[float] = typer.Option(None, "--scale", help="Effective scale a = alpha**p."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Weight scale alpha (u(0) = v(0) = alpha)."),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
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
        emit_json(res)
        finish(res.success)
        return
    show_vector(f"flow limit: {net.spec}", {"x_inf": res.x}, full=full)
    console.print(f"status {res.status}; residual ||Ax-y||/||y|| = {res.residual:.2e}; "
                  f"KKT error = {res.kkt:.2e}; {res.iterations} Newton steps in {res.stages} continuation stages")
    if P.x_true is not None:
        console.print(f"||x_inf - x_true||_2 = {np.linalg.norm(res.x - P.x_true):.3e}")
    finish(res.success)
