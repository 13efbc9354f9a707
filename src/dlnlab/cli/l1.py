"""`dlnlab bp|select|rho|nsp`: basis pursuit, its face, the selected minimizer, rho and NSP constants."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import DLNError
from ..l1 import basis_pursuit, bp_face, certificate_constant, selected_minimizer
from ..l1.nsp import METHODS, nsp_constant
from ..problems import Problem
from .app import app, console, emit_json, fail

PROBLEM = typer.Argument(..., help=".npz file with keys A, y (optional x_true).")
AS_JSON = typer.Option(False, "--json", help="Print the result as JSON.")


def _vector_table(title: str, columns: dict) -> Table:
    table = Table(title=title)
    table.add_column("i", justify="right")
    for name in columns:
        table.add_column(name, justify="right")
    n = len(next(iter(columns.values())))
    for i in range(n):
        table.add_row(str(i), *(f"{col[i]:.12g}" for col in columns.values()))
    return table


@app.command()
def bp(problem: Path = PROBLEM, as_json: bool = AS_JSON):
    """Basis pursuit min ||x||_1 s.t. Ax = y (HiGHS), verified; the solution face if not unique."""
    try:
        P = Problem.load(problem)
        res = basis_pursuit(P)
        face = None if res.unique else bp_face(P, bp=res)
    except DLNError as exc:
        fail(exc)
    payload = {
        "x": res.x, "value": res.objective, "unique": res.unique, "alternative": res.alternative,
        "support": res.support, "sign": res.sign,
        "certificate": res.certificate, "certificate_source": res.certificate_source, "margin": res.margin,
        "residual": res.residual, "duality_gap": res.duality_gap, "status": res.status,
    }
    if face is not None:
        payload["face"] = {"support": face.support, "sign": face.sign, "dimension": face.dimension,
                           "point": face.point, "vertices": face.vertices, "rho": face.rho,
                           "status": face.status}
    if as_json:
        emit_json(payload)
        return
    console.print(_vector_table("basis pursuit", {"x": res.x}))
    console.print(f"||x||_1 = {res.objective:.12g}; status {res.status}; residual {res.residual:.2e}; "
                  f"duality gap {res.duality_gap:.2e}; "
                  f"certificate from {res.certificate_source}; unique: {res.unique}")
    if face is not None:
        console.print(f"solution face: support {face.support.tolist()}, dimension {face.dimension}, "
                      f"strict certificate off the face (rho_F = {face.rho:.6g}), {face.status}")
        if face.vertices is not None:
            for v in face.vertices:
                console.print("  vertex " + ", ".join(f"{t:.12g}" for t in v))


@app.command()
def select(problem: Path = PROBLEM,
           depth: float = typer.Option(..., "--depth", "-p", help="Network depth p >= 2."),
           as_json: bool = AS_JSON):
    """The scale -> 0 limit of the depth-p flow: the l1 minimizer that depth selects."""
    try:
        P = Problem.load(problem)
        sel = selected_minimizer(P, depth=depth)
    except DLNError as exc:
        fail(exc)
    payload = {"depth": sel.depth, "x": sel.x, "objective": sel.objective, "kkt": sel.kkt,
               "decrement": sel.decrement, "iterations": sel.iterations, "status": sel.status,
               "face_support": sel.face.support, "face_dimension": sel.face.dimension}
    if as_json:
        emit_json(payload)
        return
    console.print(_vector_table("selected l1 minimizer", {"x": sel.x}))
    console.print(f"depth {sel.depth:g}; face dimension {sel.face.dimension}; KKT {sel.kkt:.2e}; "
                  f"{sel.iterations} Newton steps; "
                  f"{sel.status}")


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
    payload = {"rho": dual.rho, "rho_primal": primal.rho, "support": dual.support, "sign": dual.sign,
               "injective": dual.injective, "unique": dual.unique, "x": res.x, "w": dual.w}
    if as_json:
        emit_json(payload)
        return
    console.print(f"rho = {dual.rho:.12g} (dual LP), {primal.rho:.12g} (primal LP); support {dual.support.tolist()}; "
                  f"A_S injective: {dual.injective}; unique BP solution: {dual.unique}")


@app.command()
def nsp(problem: Path = PROBLEM,
        order: int = typer.Option(..., "--order", "-s", help="Sparsity order s >= 1."),
        method: str = typer.Option("auto", "--method", help="One of: " + ", ".join(METHODS) + "."),
        time_limit: float = typer.Option(600.0, "--time-limit", help="Seconds allowed; stops with an interval."),
        as_json: bool = AS_JSON):
    """Null space constant alpha_s (NSP of order s iff alpha_s < 1/2): exact or an LP bound."""
    try:
        P = Problem.load(problem)
        res = nsp_constant(P, order, method=method, time_limit=time_limit)
    except DLNError as exc:
        fail(exc)
    payload = {"order": res.order, "value": res.objective, "exact": res.exact, "lower": res.lower, "upper": res.upper,
               "method": res.method, "nsp": res.nsp, "witness": res.witness, "witness_set": res.witness_set,
               "lps": res.iterations, "seconds": res.seconds, "status": res.status, "message": res.message}
    if as_json:
        emit_json(payload)
        return
    kind = "exact" if res.exact else f"in [{res.lower:.10g}, {res.upper:.10g}]"
    verdict = {True: "holds", False: "fails", None: "undecided"}[res.nsp]
    console.print(f"alpha_{res.order} = {res.objective:.10g} ({kind}, method {res.method}, {res.iterations} LPs, "
                  f"{res.seconds:.2f} s); NSP of order {res.order} {verdict}")
    if res.message:
        console.print(res.message)
