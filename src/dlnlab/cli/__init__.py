"""The `dlnlab` command line. Each subcommand lives in its own module and registers on `app`."""

from . import limit  # noqa: F401  (registration side effects)
from . import l1  # noqa: F401,E402  (registration: bp, select, rho, nsp)
from . import sweep  # noqa: F401,E402  (registration: sweep)
from . import reproduce  # noqa: F401,E402  (registration: reproduce, rates, report)
from . import flow  # noqa: F401,E402  (registration: flow, saddle)
from . import lp  # noqa: F401,E402  (registration: lp)
from . import networks  # noqa: F401,E402  (registration: networks, gd)
from .app import app


def main() -> None:
    app(prog_name="dlnlab")
