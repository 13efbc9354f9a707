"""`dlnlab demo`: the limits of the papers' fixtures next to their closed-form small-scale limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from ..limits import flow_limit
from ..networks import SymmetricDLN
from ..problems import line_problem
from ..theory import line_selection_t
from .app import app, console


@app.command()
def demo(out: Path = typer.Option(Path("results"), "--out", help="Output folder.")):
    """Quick tour: flow limits of the line problem against the closed-form selected minimizer."""
    out.mkdir(parents=True, exist_ok=True)
    P = line_problem()
    table = Table(title="line problem A=[[1,1,1],[3,0,1]], y=(3,3): x_inf = (1-t, 2(1-t), 3t)")
    for col in ("depth", "scale", "t(scale)", "t* (closed form)", "|t - t*|", "residual", "steps"):
        table.add_column(col, justify="right")
    lines = []
    for p in (2.0, 2.5, 3.0, 4.0):
        t_star = line_selection_t(p)
        for a in (1e-2, 1e-6, 1e-12):
            res = flow_limit(P, SymmetricDLN(depth=p, scale=a))
            t = res.x[2] / 3.0
            table.add_row(f"{p:g}", f"{a:.0e}", f"{t:.9f}", f"{t_star:.9f}", f"{abs(t - t_star):.1e}",
                          f"{res.residual:.1e}", str(res.iterations))
            lines.append(f"{p},{a},{t!r},{t_star!r},{res.residual!r}")
    console.print(table)
    (out / "demo_line.csv").write_text("depth,scale,t,t_star,residual\n" + "\n".join(lines) + "\n")
    console.print(f"wrote {out / 'demo_line.csv'}")
