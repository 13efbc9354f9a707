"""The `dlnlab` command line. Each subcommand lives in its own module and registers on `app`."""

import sys

from . import limit  # noqa: F401  (registration side effects)
from . import l1  # noqa: F401,E402  (registration: bp, select, rho, nsp)
from . import sweep  # noqa: F401,E402  (registration: sweep)
from . import reproduce  # noqa: F401,E402  (registration: reproduce, rates, report)
from . import flow  # noqa: F401,E402  (registration: flow, saddle)
from . import lp  # noqa: F401,E402  (registration: lp)
from . import networks  # noqa: F401,E402  (registration: networks, gd)
from ..errors import DLNError, OutputError
from .app import app


def main() -> None:
    """Run the command line; a `DLNError` or a file-system error that a command did not handle is
    one ``error:`` line and exit status 2 (no traceback)."""
    try:
        app(prog_name="dlnlab")
    except OSError as exc:  # an output path that is a file, a folder without permission, a full disk
        if not isinstance(exc, DLNError):
            where = f"{exc.filename}: " if exc.filename else ""
            exc = OutputError(f"{where}{exc.strerror or exc}. Pass a writable folder (or file) that does not "
                              "collide with an existing file.")
        _exit(exc)
    except DLNError as exc:
        _exit(exc)


def _exit(exc: DLNError) -> None:
    print(f"error: {exc}", file=sys.stderr)
    raise SystemExit(2)
