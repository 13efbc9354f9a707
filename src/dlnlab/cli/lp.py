"""`dlnlab lp`: a linear program ``min c^T x, A x = b, x >= 0`` solved with the non-negative DLN."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..errors import DLNError, ProblemError
from ..lp.solve import METHODS, solve_lp
from ..problems import load_npz
from .app import FULL_HELP, app, console, emit_json, fail, finish, titled_table


@app.command()
def lp(
    problem: Path = typer.Argument(..., help=".npz file with keys c, A, b."),
    method: str = typer.Option("flow", "--method", "-m", help=f"One of {', '.join(METHODS)}."),
    reg: Optional[float] = typer.Option(None, "--reg", help="Entropic regularization lambda (gd/eg initialization "
                                        "u0 = exp(-c/(2 reg)); flow: starting lambda)."),
    step: Optional[float] = typer.Option(None, "--step", help="gd/eg step eta (default: the adaptive rule)."),
    max_iter: Optional[int] = typer.Option(None, "--max-iter", help="gd/eg iterations; flow continuation stages."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="gd/eg wall-clock budget in seconds."),
    full: bool = typer.Option(False, "--full", help="Print every positive coordinate (by default the 30 largest)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
):
    """Solve min c^T x s.t. A x = b, x >= 0: flow limit + crossover (exact), or GD / EG on x = u*u."""
    try:
        if method not in METHODS:
            raise ProblemError(f"--method must be one of {', '.join(METHODS)}; got {method!r}.")
        data = load_npz(problem, required=("c", "A", "b"))
        res = solve_lp(data["c"], data["A"], data["b"], method=method, reg=reg, step=step, max_iter=max_iter,
                       time_limit=time_limit)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(res)
        finish(res.success)
        return
    support = np.flatnonzero(res.x > 1e-12 * max(1.0, float(np.max(res.x, initial=0.0))))
    table = titled_table(f"LP ({res.method}): x > 0 on {support.size}/{res.x.size}")
    table.add_column("i", justify="right")
    table.add_column("x_i", justify="right")
    shown = support if full or support.size <= 30 else np.sort(support[np.argsort(-res.x[support])[:30]])
    for i in shown:
        table.add_row(str(i), f"{res.x[i]:.12g}")
    console.print(table)
    if shown.size < support.size:
        console.print(f"the {shown.size} largest of {support.size} shown; support: {support.tolist()}; "
                      "--full prints every one")
    console.print(f"status {res.status}; objective c^T x = {res.objective:.12g}; primal residual {res.primal_residual:.1e}; "
                  f"dual infeasibility {res.dual_infeasibility:.1e}; complementarity {res.complementarity:.1e}; "
                  f"duality gap {res.duality_gap:.1e}; {res.iterations} iterations"
                  + (f" in {res.stages} stages" if res.method == "flow" else "")
                  + (f"; costs shifted ({res.shift})" if res.shift else ""))
    if res.message:
        console.print(res.message)
    finish(res.success)
