"""
A rate curve from one continuation run
======================================

`dlnlab.flow_limit_path` computes the flow limits of one network family at many scales in
a single continuation run, stopping exactly at each requested scale, each limit with its
own evidence. Here it gives the error to the depth-selected l1 minimizer on the line
problem (whose l1 minimizers form a segment) over twelve decades of the scale, at depths
2, 3 and 4. The limit is smooth in the small parameter ``eps`` of :ref:`docs/theory.md section 4 <theory-4>`:
at depth ``p > 2``, ``eps = alpha^(p-2)`` and the error is linear in the scale ``a``; at
depth 2, ``eps = 1 / log(1 / a)`` and the error decays only logarithmically (the nearly
flat curve). `dlnlab.batch_flow_limit` solves one network on many problems at once: we use
it to show the spread of the same error over random perturbations of ``y``.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.line_problem()
scales = np.logspace(-1, -12, 23)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
for p, color in zip((2, 3, 4), ("C0", "C1", "C2")):
    path = dl.flow_limit_path(P, dl.SymmetricDLN(depth=p, scale=1.0), scales)
    target = dl.selected_minimizer(P, depth=p).x
    err = np.array([np.linalg.norm(r.x - target) for r in path.results])
    slope = np.polyfit(np.log10(scales[-8:]), np.log10(err[-8:]), 1)[0]
    print(f"p = {p}: {path.status}, {len(path.results)} limits, slope at small scales {slope:.3f}")
    ax1.loglog(scales, err, "o-", ms=3, color=color, label=f"depth $p = {p}$ (slope {slope:.2f})", zorder=2)
ax1.invert_xaxis()
ax1.set_xlabel(r"scale $a = \alpha^p$")
ax1.set_ylabel(r"$\|x_\infty(a) - x_{\mathrm{sel}}\|$")
ax1.set_title("Error to the selected l1 minimizer")

rng = np.random.default_rng(0)
problems = [dl.Problem(P.A, P.y + 0.05 * rng.standard_normal(P.m)) for _ in range(32)]
for p, color in zip((2, 3), ("C0", "C1")):
    low, high = [], []
    for a in scales[::3]:
        batch = dl.batch_flow_limit(problems, dl.SymmetricDLN(depth=p, scale=a))
        err = [np.linalg.norm(r.x - dl.selected_minimizer(q, depth=p).x) for r, q in zip(batch.results, problems)]
        low.append(np.min(err))
        high.append(np.max(err))
    ax2.fill_between(scales[::3], low, high, color=color, alpha=0.3, label=f"depth $p = {p}$, 32 perturbed $y$")
ax2.set_xscale("log")
ax2.set_yscale("log")
ax2.invert_xaxis()
ax2.set_xlabel(r"scale $a = \alpha^p$")
ax2.set_ylabel("range of the error over the batch")
ax2.set_title("batch_flow_limit over perturbed data")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.show()
