"""`dlnlab bp|select|rho|nsp`: basis pursuit, its face, the selected minimizer, rho and NSP constants."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import DLNError
from ..l1 import basis_pursuit, bp_face, certificate_constant, selected_minimizer
from ..l1.nsp import METHODS, nsp_constant
from ..problems import Problem, load_npz
from .app import FULL_HELP, app, console, emit_json, fail, finish, show_vector

PROBLEM = typer.Argument(..., help=".npz file with keys A, y (optional x_true).")
AS_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
FULL = typer.Option(False, "--full", help=FULL_HELP)


@app.command()
def bp(problem: Path = PROBLEM, full: bool = FULL, as_json: bool = AS_JSON):
    """Basis pursuit min ||x||_1 s.t. Ax = y (HiGHS), verified; the solution face if not unique."""
    try:
        P = Problem.load(problem)
        res = basis_pursuit(P)
        face = None if res.unique else bp_face(P, bp=res)
    except DLNError as exc:
        fail(exc)
    ok = res.success and (face is None or face.success)
    if as_json:
        emit_json({**res.to_dict(), "face": None if face is None else face.to_dict()})
        finish(ok)
        return
    show_vector("basis pursuit", {"x": res.x}, full=full)
    console.print(f"||x||_1 = {res.objective:.12g}; status {res.status}; residual {res.residual:.2e}; "
                  f"duality gap {res.duality_gap:.2e}; "
                  f"certificate from {res.certificate_source}; unique: {res.unique}")
    if face is not None:
        console.print(f"solution face: support {face.support.tolist()}, dimension {face.dimension}, "
                      f"strict certificate off the face (rho_F = {face.rho:.6g}), {face.status}")
        if face.vertices is not None:
            for v in face.vertices:
                console.print("  vertex " + ", ".join(f"{t:.12g}" for t in v))
    finish(ok)


@app.command()
def select(problem: Path = PROBLEM,
           depth: float = typer.Option(..., "--depth", "-p", help="Network depth p >= 2."),
           full: bool = FULL, as_json: bool = AS_JSON):
    """The scale -> 0 limit of the depth-p flow: the l1 minimizer that depth selects."""
    try:
        P = Problem.load(problem)
        sel = selected_minimizer(P, depth=depth)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json(sel)
        finish(sel.success)
        return
    show_vector("selected l1 minimizer", {"x": sel.x}, full=full)
    console.print(f"depth {sel.depth:g}; face dimension {sel.face.dimension}; KKT {sel.kkt:.2e}; "
                  f"{sel.iterations} Newton steps; "
                  f"{sel.status}")
    finish(sel.success)


@app.command()
def rho(problem: Path = PROBLEM, as_json: bool = AS_JSON):
    """rho of the BP solution (best dual certificate; unique iff A_S injective and rho < 1)."""
    try:
        P = Problem.load(problem)
        res = basis_pursuit(P)
        dual = certificate_constant(P, res.x)
        primal = certificate_constant(P, res.x, form="primal")
    except DLNError as exc:
        fail(exc)
    ok = dual.success and primal.success
    if as_json:
        emit_json({**dual.to_dict(), "primal": primal.to_dict(), "x": res.x})
        finish(ok)
        return
    console.print(f"rho = {dual.rho:.12g} (dual LP), {primal.rho:.12g} (primal LP); support {dual.support.tolist()}; "
                  f"A_S injective: {dual.injective}; unique BP solution: {dual.unique}")
    finish(ok)


@app.command()
def nsp(problem: Path = typer.Argument(..., help=".npz file with key A (a y, if present, is not used)."),
        order: int = typer.Option(..., "--order", "-s", help="Sparsity order s >= 1."),
        method: str = typer.Option("auto", "--method", help="One of: " + ", ".join(METHODS) + "."),
        time_limit: float = typer.Option(600.0, "--time-limit", help="Seconds allowed; stops with an interval."),
        as_json: bool = AS_JSON):
    """Null space constant alpha_s (NSP of order s iff alpha_s < 1/2): exact or an LP bound."""
    try:
        A = load_npz(problem, required=("A",))["A"]  # the constant depends on A only: y is not needed
        res = nsp_constant(A, order, method=method, time_limit=time_limit)
    except DLNError as exc:
        fail(exc)
    if as_json:
        emit_json({**res.to_dict(), "nsp": res.nsp})
        finish(res.success)
        return
    kind = "exact" if res.exact else f"in [{res.lower:.10g}, {res.upper:.10g}]"
    verdict = {True: "holds", False: "fails", None: "undecided"}[res.nsp]
    console.print(f"alpha_{res.order} = {res.objective:.10g} ({kind}, method {res.method}, {res.iterations} LPs, "
                  f"{res.seconds:.2f} s); NSP of order {res.order} {verdict}")
    if res.message:
        console.print(res.message)
    finish(res.success)
