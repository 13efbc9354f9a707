"""`dlnlab networks` (the network families and their spec keys) and `dlnlab gd` (gradient descent)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from ..dynamics.descent import gradient_descent
from ..errors import DLNError
from ..networks.spec import families
from ..problems import Problem
from .app import app, console, emit_json, fail


@app.command()
def networks():
    """The network families and the keys of their spec FAMILY:KEY=VALUE,... (for --network)."""
    table = Table(title="network families (--network FAMILY:KEY=VALUE,...; lists as a;b;c)")
    for col in ("family", "key", "meaning"):
        table.add_column(col, justify="left")
    for name, fam in families().items():
        for k, (key, meaning) in enumerate(fam.params.items()):
            table.add_row(name if k == 0 else "", key, meaning)
    console.print(table)


@app.command()
def gd(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    network: str = typer.Option(..., "--network", "-n", help="Network spec, e.g. twolayer:u0=1e-3,v0=0."),
    step: float = typer.Option(..., "--step", help="Step size eta."),
    steps: int = typer.Option(100_000, "--steps", help="Maximum number of iterations."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="SGD mini-batch size (default: full GD)."),
    seed: int = typer.Option(0, "--seed", help="SGD sampling seed."),
    tol: float = typer.Option(1e-10, "--tol", help="Stop at relative residual ||Ax-y||/||y|| <= tol."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (its to_dict())."),
):
    """Gradient descent (or SGD) on the weights of a network on PROBLEM, from its initialization."""
    try:
        P = Problem.load(problem)
        from ..networks.spec import network_from_spec
        net = network_from_spec(network, size=P.N)
        res = gradient_descent(P, net, step=step, steps=steps, batch_size=batch_size, seed=seed, tol=tol)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(res.to_dict())
        return
    table = Table(title=f"gradient descent: {net.spec}, step {step:g}")
    table.add_column("i", justify="right")
    table.add_column("x", justify="right")
    for i, xi in enumerate(np.asarray(res.x)):
        table.add_row(str(i), f"{xi:.12g}")
    console.print(table)
    console.print(f"status {res.status}; residual ||Ax-y||/||y|| = {res.residual:.2e}; {res.iterations} iterations")
