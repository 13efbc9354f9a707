"""The shared typer application and small helpers for command modules."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from ..errors import DLNError, NetworkError
from ..files import plain
from ..networks.symmetric import SymmetricDLN

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dlnlab: exact implicit regularization of diagonal linear networks.")
console = Console()


def emit_json(payload: dict) -> None:
    typer.echo(json.dumps(plain(payload), indent=2))


def fail(exc: DLNError) -> None:
    """Print a DLNError as a one-line message and exit with status 2."""
    typer.echo(f"error: {exc}", err=True)  # one unwrapped line, greppable
    raise typer.Exit(code=2)


def symmetric_network(depth: float, scale, alpha) -> SymmetricDLN:
    """The network of the ``--depth``, ``--scale`` / ``--alpha`` options (exactly one scale)."""
    if scale is None and alpha is None:
        raise NetworkError("Give --scale S (effective scale alpha**p) or --alpha A (weight scale).")
    return SymmetricDLN(depth=depth, scale=scale, alpha=alpha)
