"""The shared typer application and small helpers for command modules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from ..errors import DLNError, NetworkError, OutputError
from ..files import plain
from ..networks.spec import network_from_spec
from ..networks.symmetric import SymmetricDLN
from ..results import _plain_value

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dlnlab: exact implicit regularization of diagonal linear networks.")
console = Console()


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__
        typer.echo(f"dlnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the dlnlab version and exit.")) -> None:
    """Options that come before the command (--version)."""


def emit_json(payload: dict) -> None:
    typer.echo(json.dumps(plain(payload), indent=2))


def fail(exc: DLNError) -> None:
    """Print a DLNError as a one-line message and exit with status 2."""
    typer.echo(f"error: {exc}", err=True)  # one unwrapped line, greppable
    raise typer.Exit(code=2)


def output_folder(path) -> None:
    """`OutputError` unless ``path`` is a folder or can become one (checked before any work is done)."""
    path = Path(path)
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise OutputError(f"{part} is a file, so {path} cannot be an output folder; pass another --out.")
            if not os.access(part, os.W_OK | os.X_OK):
                raise OutputError(f"{part} is not writable, so {path} cannot be created or written; pass another --out.")
            return


def symmetric_network(depth: float, scale, alpha) -> SymmetricDLN:
    """The network of the ``--depth``, ``--scale`` / ``--alpha`` options (exactly one scale)."""
    if scale is None and alpha is None:
        raise NetworkError("Give --scale S (effective scale alpha**p) or --alpha A (weight scale).")
    return SymmetricDLN(depth=depth, scale=scale, alpha=alpha)


def network_option(spec, depth, scale, alpha, size=None, *, default_depth: float = 2.0):
    """The network of ``--network SPEC``, or the symmetric shorthand ``--depth/--scale/--alpha``."""
    if spec is not None:
        given = [name for name, v in (("--depth", depth), ("--scale", scale), ("--alpha", alpha)) if v is not None]
        if given:
            raise NetworkError(f"give --network SPEC or the symmetric shorthand {'/'.join(given)}, not both "
                               "(e.g. --network symmetric:depth=3,scale=1e-6).")
        return network_from_spec(spec, size=size)
    return symmetric_network(default_depth if depth is None else depth, scale, alpha)


def result_dict(result) -> dict:
    """A result's ``to_dict()`` (every field; a network printed as its spec)."""
    to_dict = getattr(result, "to_dict", None)
    return to_dict() if callable(to_dict) else _plain_value(result)


NETWORK_HELP = ("Network as FAMILY:KEY=VALUE,... (e.g. twolayer:u0=0.1,v0=0; see `dlnlab networks`); "
                "replaces --depth/--scale/--alpha.")
