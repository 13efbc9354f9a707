"""
A linear program solved by a diagonal network
=============================================

The non-negative network ``x = u * u`` started at ``u0 = exp(-c / (2 reg))`` converges to
the entropic linear program ``argmin c^T x + reg sum(x log x - x)`` on ``A x = b``, which
tends to the LP ``min c^T x, A x = b, x >= 0`` as ``reg -> 0`` (:ref:`docs/theory.md section 7 <theory-7>`).
We draw the entropic solutions of a small transport-like LP as ``reg`` decreases and
compare with `dlnlab.solve_lp`, which follows that path to the exact LP vertex and
certifies it.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

rng = np.random.default_rng(0)
m, N = 4, 10
A = rng.uniform(0.5, 1.5, size=(m, N))
b = A @ rng.uniform(0.5, 1.5, size=N)          # strictly feasible: some x > 0 satisfies A x = b
c = rng.uniform(1.0, 3.0, size=N)

lp = dl.solve_lp(c, A, b)                       # method="flow": the DLN limit, certified
print(f"LP: status {lp.status}, value {c @ lp.x:.6f}, duality gap {lp.duality_gap:.1e}")

regs = np.logspace(0.5, -3, 30)
xs = np.array([dl.entropic_lp(c, A, b, reg=r).x for r in regs])
gap = [c @ x - c @ lp.x for x in xs]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
for i in range(N):
    ax1.semilogx(regs, xs[:, i], color=f"C{i % 10}", lw=1.5, zorder=2)
    ax1.plot(regs[-1] / 2, lp.x[i], "o", color=f"C{i % 10}", ms=5, zorder=3, clip_on=False)
ax1.invert_xaxis()
ax1.set_xlabel("entropic regularization (reg)")
ax1.set_ylabel(r"coordinates of $x(\mathrm{reg})$")
ax1.set_title("Entropic LP path; dots: the LP solution")
ax2.loglog(regs, np.maximum(gap, 1e-16), "o-", ms=3, zorder=2)
ax2.invert_xaxis()
ax2.set_xlabel("entropic regularization (reg)")
ax2.set_ylabel(r"$c^T x(\mathrm{reg}) - c^T x_{\mathrm{LP}}$")
ax2.set_title("Objective gap to the LP")
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
plt.show()
