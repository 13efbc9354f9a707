"""The shared typer application and small helpers for command modules."""

from __future__ import annotations

import json
import math

import numpy as np
import typer
from rich.console import Console

from ..errors import DLNError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dlnlab: exact implicit regularization of diagonal linear networks.")
console = Console()


def jsonable(value):
    """Convert numpy values (arrays, floats, inf/nan) to plain JSON-safe Python."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def emit_json(payload: dict) -> None:
    typer.echo(json.dumps(jsonable(payload), indent=2))


def fail(exc: DLNError) -> None:
    """Print a DLNError as a one-line message and exit with status 2."""
    typer.echo(f"error: {exc}", err=True)  # one unwrapped line, greppable
    raise typer.Exit(code=2)
