"""`dlnlab networks` (the network families and their spec keys) and `dlnlab gd` (gradient descent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..dynamics.descent import gradient_descent
from ..errors import DLNError, OptionError
from ..networks.spec import families
from ..problems import Problem
from .app import FULL_HELP, app, console, emit_json, fail, finish, number, show_vector, titled_table


@app.command()
def networks(as_json: bool = typer.Option(False, "--json", help="Print the families as JSON.")):
    """The network families and the keys of their spec FAMILY:KEY=VALUE,... (for --network)."""
    if as_json:
        emit_json({name: {"keys": dict(fam.params)} for name, fam in families().items()})
        return
    table = titled_table("network families (--network FAMILY:KEY=VALUE,...; lists as a;b;c)")
    for col in ("family", "key", "meaning"):
        table.add_column(col, justify="left")
    for name, fam in families().items():
        for k, (key, meaning) in enumerate(fam.params.items()):
            table.add_row(name if k == 0 else "", key, meaning)
    console.print(table)


def _pieces(text: str) -> list:
    """``"N:STEP,N:STEP"`` as the (n_steps, step) pairs of a schedule."""
    pairs = []
    for part in text.split(","):
        n, sep, step = part.partition(":")
        try:
            pairs.append((int(n), float(step)))
        except ValueError:
            raise OptionError(f"--schedule takes N:STEP pairs separated by commas (e.g. 1000:0.5,50000:0.1); got "
                              f"{part!r}.") from None
        if not sep:
            raise OptionError(f"--schedule: {part!r} lacks ':STEP' (e.g. 1000:0.5).")
    return pairs


def _saved_weights(path: Path) -> dict:
    """The result saved by ``dlnlab gd --json`` (its ``to_dict()``: weights, log gains, network)."""
    try:
        saved = json.loads(path.read_text())
        result = saved.get("result", saved)
        np.array(result["weights"], dtype=float)
        return result
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise OptionError(f"--init-weights needs the JSON of a previous `dlnlab gd --json` run (with its weights); "
                          f"could not read {path}: {exc}.") from None


@app.command()
def gd(
    problem: Path = typer.Argument(..., help=".npz file with keys A, y (optional x_true)."),
    network: str = typer.Option(..., "--network", "-n", help="Network spec, e.g. twolayer:u0=1e-3,v0=0."),
    step: Optional[float] = typer.Option(None, "--step", help="Step size eta (or --schedule)."),
    schedule: Optional[str] = typer.Option(None, "--schedule", help="Steps by pieces N:STEP,N:STEP (N iterations "
                                           "at STEP, then the next; the run ends with the list)."),
    steps: int = typer.Option(100_000, "--steps", help="Maximum number of iterations."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="SGD mini-batch size (default: full GD)."),
    sampling: str = typer.Option("shuffle", "--sampling", help="SGD batches: shuffle (one pass per epoch) or "
                                 "replacement (independent draws)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the batches and the label noise."),
    weight_decay: float = typer.Option(0.0, "--weight-decay", help="Weight decay lambda (adds lambda/2 ||W||^2)."),
    label_noise: float = typer.Option(0.0, "--label-noise", help="Std of the Gaussian noise added to y each step."),
    langevin: float = typer.Option(0.0, "--langevin", help="SGLD temperature T: adds sqrt(2 step T) N(0, I) "
                                   "to the weights each step (no limit point)."),
    average: Optional[int] = typer.Option(None, "--average", help="Keep the mean of the weights after iteration K "
                                          "(tail averaging; reported as average_x)."),
    loss: str = typer.Option("square", "--loss", help="Training loss: square, or exponential / logistic "
                             "(classification: y holds labels +-1)."),
    init_weights: Optional[Path] = typer.Option(None, "--init-weights", help="Continue from a previous "
                                                "`dlnlab gd --json` output file (its weights and effective "
                                                "initialization)."),
    record: str = typer.Option("", "--record", help="Per-iteration history to keep: loss, gains, sharpness (comma-separated)."),
    tol: float = typer.Option(1e-10, "--tol", help="Stop at relative residual ||Ax-y||/||y|| <= tol."),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (its to_dict())."),
):
    """Gradient descent (or SGD) on the weights of a network on PROBLEM, from its initialization."""
    try:
        P = Problem.load(problem)
        from ..networks.spec import network_from_spec
        net = network_from_spec(network, size=P.N)
        res = gradient_descent(P, net, step=step, schedule=None if schedule is None else _pieces(schedule),
                               steps=steps, batch_size=batch_size, sampling=sampling, seed=seed,
                               weight_decay=weight_decay, label_noise=label_noise, langevin=langevin,
                               average=False if average is None else average, loss=loss,
                               init_weights=None if init_weights is None else _saved_weights(init_weights),
                               record=tuple(r.strip() for r in record.split(",") if r.strip()), tol=tol)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(res)
        finish(res.success)
        return
    title = f"step {number(step)}" if schedule is None else f"schedule {schedule}"
    show_vector(f"gradient descent: {net.spec}, {title}", {"x": np.asarray(res.x)}, full=full)
    if res.average_x is not None:
        show_vector(f"mean weights over the last {res.averaged} iterates", {"average_x": np.asarray(res.average_x)},
                    full=full)
    console.print(f"status {res.status}; residual ||Ax-y||/||y|| = {res.residual:.2e}; {res.iterations} iterations")
    if res.converges_to:
        console.print(f"converges to: {res.converges_to}")
    finish(res.success)
