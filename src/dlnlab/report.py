"""An HTML page of a results folder: every experiment's figures, files and measured-vs-predicted table.

A results folder holds one subfolder per experiment (or a single rate study) with
``summary.json`` (``{"records": [...], "provenance": {...}}``, or a bare list of records;
see `dlnlab.experiments.record`) and ``meta.json``.
`write_report` writes ``DIR/report.html`` (figures linked by relative path, so the folder
can be moved as a whole); `summary_rows` gives the flat table the CLI prints.

>>> import tempfile, json, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> (d / "x").mkdir(); _ = (d / "x" / "summary.json").write_text(json.dumps([{"curve": "c", "pass": True, "checks": []}]))
>>> write_report(d).name
'report.html'
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

from .errors import ExperimentError
from .files import atomic_write_text
from .provenance import provenance

#: Record keys shown as parameters (in this order) when present.
PARAM_KEYS = ("problem", "depth", "eps", "d", "noise", "rho", "K", "algorithm", "target", "method", "network")


def load_results(folder) -> list[dict]:
    """``[{"name", "path", "meta", "records"}]`` for every ``summary.json`` under ``folder``
    (the folder itself, then its subfolders, sorted by name; hidden ones, such as the staging
    folder a killed run left, are skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExperimentError(f"{folder}: not a folder. Pass the --out folder of `dlnlab reproduce` or `dlnlab rates`.")
    found = []
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for sub in candidates:
        summary = sub / "summary.json"
        if not summary.exists():
            continue
        try:
            records = json.loads(summary.read_text())
            meta = json.loads((sub / "meta.json").read_text()) if (sub / "meta.json").exists() else {}
        except (OSError, json.JSONDecodeError) as exc:
            raise ExperimentError(f"{summary}: unreadable ({exc}); re-run the experiment.") from None
        if isinstance(records, dict) and isinstance(records.get("records"), list):
            meta.setdefault("provenance", records.get("provenance"))
            records = records["records"]
        if not isinstance(records, list):
            raise ExperimentError(f"{summary}: expected a list of records, got {type(records).__name__}.")
        found.append({"name": meta.get("experiment", sub.name), "path": sub, "meta": meta, "records": records})
    if not found:
        raise ExperimentError(f"{folder}: no summary.json found. Run `dlnlab reproduce NAME --out {folder}` first.")
    return found


def _fmt(v) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.6g}"
    if isinstance(v, str):
        return v
    return str(v)


def summary_rows(results) -> list[dict]:
    """One row per check: experiment, curve, quantity, measured, theory, tolerance, pass."""
    rows = []
    for res in results:
        for rec in res["records"]:
            checks = rec.get("checks") or []
            if not checks:
                rows.append({"experiment": res["name"], "curve": rec.get("curve", ""), "quantity": "",
                             "measured": "", "theory": "", "tol": "", "pass": rec.get("pass")})
            for c in checks:
                rows.append({"experiment": res["name"], "curve": rec.get("curve", ""), "quantity": c["name"],
                             "measured": c["measured"], "theory": c["theory"],
                             "tol": f"{c['kind']} {_fmt(c['tol'])}", "pass": c["pass"]})
    return rows


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 1400px; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th { background: #f2f2f2; } td.l { text-align: left; }
.pass { background: #e6f4e6; } .fail { background: #fbe3e3; } .none { background: #f7f7f7; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.3em 0; }
.meta { color: #555; font-size: 0.85em; }
"""


def _records_table(records) -> str:
    keys = [k for k in PARAM_KEYS if any(k in r for r in records)]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["curve", *keys, "check", "measured", "theory", "tolerance",
                                                          "pass"])
    body = []
    for r in records:
        checks = r.get("checks") or [None]
        for c in checks:
            ok = None if c is None else c["pass"]
            cls = "none" if ok is None else ("pass" if ok else "fail")
            cells = [f'<td class="l">{html.escape(str(r.get("curve", "")))}</td>']
            cells += [f"<td>{html.escape(_fmt(r.get(k, '')))}</td>" for k in keys]
            if c is None:
                cells += ["<td></td>"] * 4
            else:
                cells += [f'<td class="l">{html.escape(c["name"])}</td>', f"<td>{_fmt(c['measured'])}</td>",
                          f"<td>{_fmt(c['theory'])}</td>", f"<td>{html.escape(c['kind'])} {_fmt(c['tol'])}</td>"]
            cells.append(f"<td>{_fmt(ok)}</td>")
            body.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    notes = sorted({r["note"] for r in records if r.get("note")})
    note_html = "".join(f"<p class='meta'>{html.escape(n)}</p>" for n in notes)
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{note_html}"


def _provenance_html(prov: dict, lead: str = "report written by") -> str:
    """One line: version, commit, date, platform, numpy/scipy versions, seeds, threads."""
    threads = ", ".join(f"{t.get('internal_api')} {t.get('num_threads')}" for t in prov.get("threads") or [])
    parts = [f"dlnlab {prov.get('dlnlab')}"]
    if prov.get("git_commit"):
        parts.append(f"commit {str(prov['git_commit'])[:12]}")
    parts += [f"{prov.get('date')}", f"{prov.get('platform')}", f"numpy {prov.get('numpy')}",
              f"scipy {prov.get('scipy')}"]
    if prov.get("seeds"):
        parts.append(f"seeds {json.dumps(prov['seeds'])}")
    if threads:
        parts.append(f"threads {threads}")
    return f"<p class='meta provenance'>{html.escape(lead)} " + html.escape("; ".join(parts)) + "</p>"


def write_report(folder) -> Path:
    """Write ``folder/report.html`` from the results under ``folder``; returns its path."""
    folder = Path(folder)
    results = load_results(folder)
    n_checks = sum(len(r.get("checks") or []) for res in results for r in res["records"])
    n_fail = sum(1 for res in results for r in res["records"] for c in (r.get("checks") or []) if not c["pass"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>dlnlab results</title><style>{_STYLE}</style>"
             "</head><body>", "<h1>dlnlab: reproduced experiments</h1>",
             f"<p>{len(results)} experiment(s), {n_checks} checks, {n_fail} failed.</p>",
             _provenance_html(provenance()), "<ul>"]
    parts += [f"<li><a href='#{html.escape(res['name'])}'>{html.escape(res['name'])}</a>: "
              f"{html.escape(res['meta'].get('title', ''))}</li>" for res in results]
    parts.append("</ul>")
    for res in results:
        meta, rel = res["meta"], res["path"].relative_to(folder)
        prefix = "" if str(rel) == "." else f"{rel.as_posix()}/"
        parts.append(f"<h2 id='{html.escape(res['name'])}'>{html.escape(res['name'])}: "
                     f"{html.escape(meta.get('title', ''))}</h2>")
        if isinstance(meta.get("provenance"), dict):
            parts.append(_provenance_html(meta["provenance"], "computed with"))
        if meta:
            parts.append(f"<p class='meta'>mode {html.escape(str(meta.get('mode', '')))}, "
                         f"{_fmt(meta.get('seconds', float('nan')))} s; parameters "
                         f"{html.escape(json.dumps(meta.get('params', {})))}</p>")
        files = meta.get("files") or sorted(p.name for p in res["path"].iterdir() if p.is_file())
        for png in [f for f in files if f.endswith(".png")]:
            pdf = png[:-4] + ".pdf"
            link = f" (<a href='{prefix}{pdf}'>PDF</a>)" if pdf in files else ""
            parts.append(f"<p><img src='{prefix}{png}' alt='{html.escape(png)}'><br>{html.escape(png)}{link}</p>")
        data = [f for f in files if f.endswith(".csv")]
        if data:
            parts.append("<p class='meta'>data: " + ", ".join(f"<a href='{prefix}{f}'>{html.escape(f)}</a>"
                                                             for f in data) + "</p>")
        parts.append(_records_table(res["records"]))
    parts.append("</body></html>")
    return atomic_write_text(folder / "report.html", "\n".join(parts))
