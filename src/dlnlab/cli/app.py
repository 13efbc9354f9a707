"""The shared typer application and small helpers for command modules."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

try:  # typer >= 0.2x runs on its own copy of click: the context and exceptions live there
    from typer._click.globals import get_current_context
    from typer._click.exceptions import ClickException, UsageError
except ImportError:  # older typer, on click itself
    from click import get_current_context
    from click.exceptions import ClickException, UsageError
from typer import Abort
from typer.core import TyperGroup

from ..errors import DLNError, NetworkError, OutputError
from ..files import plain
from ..networks.spec import network_from_spec
from ..networks.symmetric import SymmetricDLN
from ..results import _plain_value

def _json_in(argv) -> bool:
    """Whether ``--json`` is among the command-line words (before a ``--``)."""
    argv = list(argv)
    return "--json" in (argv[:argv.index("--")] if "--" in argv else argv)


class _Group(TyperGroup):
    """The command group: every error a user can cause (a bad option, a missing argument, a
    value that does not parse, a `DLNError`, an unusable path) is one ``error: ...`` line on
    stderr, or with ``--json`` the JSON of `error_payload`, and exit status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        argv = sys.argv[1:] if args is None else list(args)
        as_json = _json_in(argv)
        try:
            rv = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except UsageError as exc:
            code = _usage_error(exc, as_json)
        except ClickException as exc:
            print_error(exc, command=_command_of(exc), as_json=as_json)
            code = 2
        except Abort:
            typer.echo("Aborted!", err=True)
            code = 1
        except DLNError as exc:
            print_error(exc, as_json=as_json)
            code = 2
        except OSError as exc:  # an output path that is a file, a folder without permission, a full disk
            where = f"{exc.filename}: " if exc.filename else ""
            print_error(OutputError(f"{where}{exc.strerror or exc}. Pass a writable folder (or file) that does not "
                                    "collide with an existing file."), as_json=as_json)
            code = 2
        else:
            code = rv if isinstance(rv, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


def _command_of(exc) -> str:
    ctx = getattr(exc, "ctx", None)
    if ctx is None or ctx.parent is None:
        return "dlnlab"
    return ctx.info_name or "dlnlab"


def _usage_error(exc, as_json: bool) -> int:
    """Print a usage error: JSON, or the usage line, a hint and one ``error:`` line."""
    ctx = exc.ctx
    if as_json:
        print_error(exc, command=_command_of(exc), as_json=True)
        return 2
    if ctx is not None:
        typer.echo(ctx.get_usage(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            typer.echo(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", err=True)
    typer.echo(f"error: {exc.format_message()}", err=True)
    return 2


app = typer.Typer(cls=_Group, add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="dlnlab: exact implicit regularization of diagonal linear networks.")
console = Console()
#: Width of tables when stdout is not a terminal (piped, redirected): wide enough not to wrap.
PIPE_WIDTH = 200
#: Vectors longer than this are printed as a summary and their support (``--full``: all).
COMPACT_N = 30
AS_JSON_HELP = ('Print {"dlnlab", "command", "input", "result", "provenance"} as JSON on stdout '
                '(errors as JSON on stderr).')
FULL_HELP = f"Print every coordinate (by default only a summary and the support when N > {COMPACT_N})."


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__
        typer.echo(f"dlnlab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                          help="Print the dlnlab version and exit.")) -> None:
    """Options that come before the command (--version)."""
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH  # piped output: rich would otherwise wrap tables at 80 columns
        console.soft_wrap = True  # and long lines (a support list) stay one line


def _context():
    try:
        return get_current_context()
    except RuntimeError:
        return None


def command_name() -> str:
    """The running subcommand's name (``limit``, ``nsp``, ...), or ``dlnlab`` outside one."""
    ctx = _context()
    return ctx.info_name if ctx is not None and ctx.info_name else "dlnlab"


def json_requested() -> bool:
    """Whether the running command was given ``--json``."""
    ctx = _context()
    if ctx is not None and "as_json" in ctx.params:
        return bool(ctx.params["as_json"])
    return _json_in(sys.argv[1:])


def command_input() -> dict:
    """The running command's arguments and options as given (paths as text)."""
    ctx = _context()
    params = {} if ctx is None else dict(ctx.params)
    params.pop("as_json", None)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in params.items()}


def payload(result, *, command: str | None = None, input: dict | None = None) -> dict:
    """The one JSON shape of every command:
    ``{"dlnlab", "command", "input", "result", "provenance"}``, ``result`` from ``to_dict()``."""
    from ..provenance import provenance

    prov = provenance(seeds={k: v for k, v in (input or command_input()).items() if "seed" in k})
    return {"dlnlab": prov["dlnlab"], "command": command or command_name(),
            "input": command_input() if input is None else input, "result": result_dict(result),
            "provenance": prov}


def emit_json(result, **kwargs) -> None:
    """Print `payload` of ``result`` on stdout."""
    typer.echo(json.dumps(plain(payload(result, **kwargs)), indent=2))


def error_payload(exc, command: str | None = None) -> dict:
    """``{"dlnlab", "command", "error": {"type", "message", "exit_code"}}`` (exit code 2: bad input)."""
    from .. import __version__
    message = exc.format_message() if isinstance(exc, ClickException) else str(exc)
    return {"dlnlab": __version__, "command": command or command_name(),
            "error": {"type": type(exc).__name__, "message": message, "exit_code": 2}}


def print_error(exc, command: str | None = None, as_json: bool | None = None) -> None:
    """An error on stderr: one ``error: ...`` line, or `error_payload` as JSON with ``--json``."""
    if json_requested() if as_json is None else as_json:
        typer.echo(json.dumps(error_payload(exc, command)), err=True)
    else:
        message = exc.format_message() if isinstance(exc, ClickException) else str(exc)
        typer.echo(f"error: {message}", err=True)  # one unwrapped line, greppable


def fail(exc: DLNError) -> None:
    """Print a DLNError (`print_error`) and exit with status 2 (bad input)."""
    print_error(exc)
    raise typer.Exit(code=2)


def finish(success: bool) -> None:
    """Exit with status 1 when the result is not a success (0 otherwise)."""
    if not success:
        raise typer.Exit(code=1)


def number(value) -> str:
    """A number as the user would type it: ``1e-09`` for 1e-9, ``0.5``, ``3`` (shortest repr)."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    v = float(value)
    if not math.isfinite(v):
        return str(v)
    short = f"{v:.12g}"  # drops a float's representation noise (1.0000000000000007e-09 -> 1e-09)
    return short if float(short) == v or abs(float(short) - v) <= 1e-12 * abs(v) else repr(v)


def titled_table(title: str) -> Table:
    """A rich table at least as wide as its title, so the title is one line (rich wraps a title
    to the table's width)."""
    return Table(title=title, min_width=min(len(title), console.width) if title else None)


def vector_cell(x, *, shown: int = 8) -> str:
    """A vector in one table cell: its values when ``x.size <= shown``, otherwise its support
    (nonzero entries, ``|x_i| > 1e-12 max|x|``) and ``||x||_1``."""
    x = np.asarray(x, dtype=float)
    if x.size <= shown:
        return "[" + ", ".join(f"{v:.6g}" for v in x) + "]"
    scale = float(np.max(np.abs(x), initial=0.0))
    support = np.flatnonzero(np.abs(x) > 1e-12 * scale) if scale > 0 else np.zeros(0, dtype=int)
    idx = ", ".join(str(i) for i in support[:shown]) + (", ..." if support.size > shown else "")
    return f"{support.size} nonzero of {x.size}: [{idx}], ||x||_1 = {np.abs(x).sum():.6g}"


def full_vector(x) -> str:
    """Every coordinate of ``x`` on one line (``--full``), 12 significant digits."""
    return "[" + ", ".join(f"{float(v):.12g}" for v in np.asarray(x, dtype=float)) + "]"


def vector_table(title: str, columns: dict, *, full: bool = False, digits: int = 12) -> tuple[Table, str]:
    """A table of coordinates and a summary line. Up to `COMPACT_N` coordinates (or with
    ``full``) every row; beyond, only the support of the first column (nonzeros, largest
    first, at most `COMPACT_N` rows) and a line saying what was left out."""
    first = np.asarray(next(iter(columns.values())), dtype=float)
    n = first.size
    if full or n <= COMPACT_N:
        rows, note = np.arange(n), ""
    else:
        scale = float(np.max(np.abs(first), initial=0.0))
        support = np.flatnonzero(np.abs(first) > 1e-12 * scale) if scale > 0 else np.zeros(0, dtype=int)
        order = support[np.argsort(-np.abs(first[support]), kind="stable")]
        rows = np.sort(order[:COMPACT_N])
        note = (f"N = {n}: support of {support.size} coordinate(s) (|x_i| > 1e-12 max|x|), ||x||_1 = "
                f"{np.abs(first).sum():.12g}, ||x||_inf = {scale:.12g}; support: {support.tolist()}"
                if support.size <= 200 else
                f"N = {n}: support of {support.size} coordinate(s), ||x||_1 = {np.abs(first).sum():.12g}")
        if support.size > rows.size:
            note += f"; the {rows.size} largest shown"
        note += "; --full prints every coordinate"
    table = titled_table(title)
    table.add_column("i", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    for i in rows:
        table.add_row(str(i), *(f"{float(np.asarray(col)[i]):.{digits}g}" for col in columns.values()))
    return table, note


def show_vector(title: str, columns: dict, *, full: bool = False) -> None:
    table, note = vector_table(title, columns, full=full)
    console.print(table)
    if note:
        console.print(note)


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
