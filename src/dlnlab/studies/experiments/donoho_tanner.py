"""The Donoho-Tanner phase diagram of basis pursuit and of DLN flow limits (docs/theory.md section 9).

Gaussian ``A`` (iid N(0, 1/m)), k-sparse ``x`` with +-1 entries, success if
``||x_hat - x|| <= 1e-4 ||x||``, on a (delta = m/N, rho = k/m) grid, run as a resumable sweep
(`dlnlab.sweep`; the store is ``DIR/donoho-tanner/sweep*/``). Every solver sees the same
instances. Records, per solver and delta: the empirical 50% point (logistic fit) with its
95% interval, against

- basis pursuit: the weak threshold ``rho_W(delta)`` (computed two ways, `dlnlab.sweep.phase`);
- a flow limit: basis pursuit's own 50% point, as an upper bound. For small scales the
  limit is near the BP solution, so it can only recover what BP recovers; how far below it
  sits is the cost of a finite scale (p = 2 converges like ``a^(1 - rho)``, p > 2 like ``a``,
  docs/theory.md section 5). ``flow_only`` counts instances a flow recovered and BP did not.
"""

from __future__ import annotations

import numpy as np

from ...sweep import ResultStore, run_sweep, transitions, weak_threshold
from ...sweep.config import from_dict
from ...sweep.phase_figure import phase_figure, solver_label
from . import check, experiment, record

RHOS_QUICK = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)
RHOS_FULL = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))


@experiment("donoho-tanner", title="Donoho-Tanner phase diagram: basis pursuit and DLN flow limits",
            quick=dict(N=100, deltas=(0.25, 0.5), rhos=RHOS_QUICK, trials=6,
                       networks=("symmetric:depth=2,scale=1e-12", "symmetric:depth=3,scale=1e-12"), bp_tol=0.08),
            full=dict(N=200, deltas=(0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9), rhos=RHOS_FULL, trials=20,
                      networks=("symmetric:depth=2,scale=1e-6", "symmetric:depth=2,scale=1e-12",
                                "symmetric:depth=3,scale=1e-6", "symmetric:depth=3,scale=1e-12"), bp_tol=0.05))
def donoho_tanner(ctx, *, N, deltas, rhos, trials, networks, bp_tol):
    """``bp_tol``: allowed distance of BP's 50% point from rho_W. The finite-N transition sits
    ~0.01 above the asymptotic curve at N = 200 (~0.03 at N = 100) and the fit's standard
    error is 0.01-0.03 with these trials; 0.05 (full) and 0.08 (quick) leave ~2 standard
    errors beyond that shift. ``networks``: the flow solvers, by spec (`dlnlab.networks.spec`)."""
    methods = [{"method": "bp"}, {"method": "flow", "network": list(networks)}]
    config = from_dict({"name": "donoho-tanner", "seed": 0, "trials": int(trials), "batch": 16, "success_tol": 1e-4,
                        "problem": {"generator": "gaussian", "N": [int(N)], "delta": [float(d) for d in deltas],
                                    "rho": [float(r) for r in rhos], "signs": True},
                        "methods": methods})
    folder = (ctx.home or ctx.out) / ("sweep-quick" if ctx.quick else "sweep")  # resumable across runs
    seen = [0]

    def progress(done, total):
        if seen[0] == 0:
            ctx.expect(total)
        ctx.step(done - seen[0])
        seen[0] = done

    run_sweep(config, folder, progress=progress)
    with ResultStore.open(folder) as store:
        rows = store.rows()
    fits = transitions(rows)
    bp_key = next(k for k in fits if k[0] == "bp")
    bp = {t.delta: t for t in fits[bp_key]}
    by_instance = {}
    for r in rows:
        by_instance.setdefault((r["delta"], r["rho"], r["trial"]), {})[(r["method"], r["network"])] = r
    records, table = [], []
    for key, columns in fits.items():
        label = solver_label(key)
        flow_only = 0
        if key[0] == "flow":
            flow_only = sum(1 for inst in by_instance.values()
                            if inst[key[:2]]["success"] and not inst[("bp", None)]["success"])
        for t in columns:
            theory = weak_threshold(t.delta)
            if key[0] == "bp":
                checks = [check("rho50", t.rho50, theory, bp_tol)]
            else:
                # paired instances: a flow near BP's solution cannot recover more than BP
                checks = [check("rho50", t.rho50, bp[t.delta].rho50, 0.02, kind="max")] if t.delta in bp else []
            records.append(record(label, params={"method": key[0], "network": key[1], "N": key[2], "delta": t.delta},
                                  checks=checks, rho50_ci=list(t.rho_ci), rho_W=theory, trials=t.n,
                                  successes=t.successes, flow_only=flow_only if key[0] == "flow" else None))
            table.append([label, t.delta, t.rho50, t.rho_ci[0], t.rho_ci[1], theory, t.n, t.successes])
    records.append(record("theory curve", params={"delta": 0.5},
                          checks=[check("rho_W polytope vs statdim", weak_threshold(0.5),
                                        weak_threshold(0.5, method="statdim"), 1e-9)],
                          note="Donoho's face-counting exponents vs ALMT's statistical dimension"))
    ctx.save_csv("transitions", ["solver", "delta", "rho50", "ci_low", "ci_high", "rho_W", "trials", "successes"], table)
    with ResultStore.open(folder) as store:
        ctx.files.append(str(store.export(ctx.out / "instances.csv", "csv").name))
    import matplotlib.pyplot as plt

    fig = phase_figure(rows, title=f"Donoho-Tanner phase diagram, N = {N}, {trials} trials per cell")
    ctx.save_figure(fig, "phase_diagram")
    plt.close(fig)
    return records
