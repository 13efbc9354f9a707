"""
A small Donoho-Tanner diagram
=============================

For Gaussian ``A`` of size ``m x N`` and ``k``-sparse signals, basis pursuit recovers the
signal with high probability below the weak threshold curve ``rho_W(delta)`` of Donoho and
Tanner (``delta = m / N``, ``rho = k / m``; :ref:`docs/theory.md section 9 <theory-9>`). A small-scale
diagonal network inherits that phase transition. We count, on a coarse grid, how often the
depth-2 flow limit at scale ``a = 1e-12`` recovers ``x_true``, computing the limits of the
trials of one grid point together with `dlnlab.batch_flow_limit`.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

N, trials = 40, 6
deltas = np.linspace(0.2, 0.9, 6)
rhos = np.linspace(0.1, 0.9, 7)
net = dl.SymmetricDLN(depth=2, scale=1e-12)

success = np.zeros((len(rhos), len(deltas)))
for j, delta in enumerate(deltas):
    m = int(round(delta * N))
    for i, rho in enumerate(rhos):
        k = max(1, int(round(rho * m)))
        problems = [dl.gaussian_problem(m, N, k, seed=s, signs=True) for s in range(trials)]
        batch = dl.batch_flow_limit(problems, net)
        ok = [np.linalg.norm(r.x - q.x_true) <= 1e-4 * np.linalg.norm(q.x_true)
              for r, q in zip(batch.results, problems)]
        success[i, j] = np.mean(ok)

fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
step_d, step_r = deltas[1] - deltas[0], rhos[1] - rhos[0]
image = ax.imshow(success, origin="lower", cmap="Greys_r", vmin=0, vmax=1, aspect="auto",
                  extent=(deltas[0] - step_d / 2, deltas[-1] + step_d / 2, rhos[0] - step_r / 2, rhos[-1] + step_r / 2))
grid = np.linspace(0.05, 0.95, 60)
ax.plot(grid, [dl.weak_threshold(d) for d in grid], color="C3", lw=2, zorder=3,
        label=r"weak threshold $\rho_W(\delta)$ (theory)")
ax.set_xlabel(r"undersampling $\delta = m / N$")
ax.set_ylabel(r"sparsity $\rho = k / m$")
ax.set_title(f"Recovery by a depth-2 network, $a = 10^{{-12}}$, N = {N}, {trials} trials")
ax.legend(loc="upper left", fontsize=8)
fig.colorbar(image, ax=ax, label="fraction recovered")
plt.show()
