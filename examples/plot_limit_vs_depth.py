"""
Limit vs depth on the line problem
==================================

On ``A = [[1, 1, 1], [3, 0, 1]]``, ``y = (3, 3)`` the l1 minimizers form a segment,
``x = (1 - t, 2 (1 - t), 3 t)`` for ``t`` in ``[0, 1]``. Gradient flow from a small scale
``a = alpha^p`` picks one point of it, and which one depends on the depth ``p``
(:ref:`docs/theory.md section 4 <theory-4>`). We compute the flow limit for a range of scales at depths 2, 3
and 4 and read off its position ``t = x_3 / 3`` on the face, then compare with the point
`dlnlab.selected_minimizer` computes directly for ``a -> 0``.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.line_problem()
log10_scales = np.linspace(0.0, -12.0, 25)
depths = (2, 3, 4)

fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
for p, color in zip(depths, ("C0", "C1", "C2")):
    net = dl.SymmetricDLN(depth=p, scale=1.0)
    path = dl.flow_limit_path(P, net, 10.0 ** log10_scales)   # one continuation run for every scale
    t = [r.x[2] / 3.0 for r in path.results]
    selected = dl.selected_minimizer(P, depth=p).x[2] / 3.0
    ax.plot(log10_scales, t, "o-", color=color, ms=3, label=f"flow limit, depth $p = {p}$", zorder=2)
    ax.axhline(selected, color=color, ls="--", lw=1.2, label=f"selected l1 minimizer, $p = {p}$", zorder=3)
    print(f"p = {p}: t at a = 1e-12 is {t[-1]:.6f}, selected minimizer t = {selected:.6f}")

ax.set_xlabel(r"$\log_{10}$ scale $a = \alpha^p$")
ax.set_ylabel(r"position on the l1 face, $t = x_3 / 3$")
ax.set_title("Depth selects a point of the l1 face")
ax.invert_xaxis()
ax.grid(alpha=0.3)
ax.legend(fontsize=8, ncol=2)
plt.show()
