"""
The saddle-to-saddle path
=========================

As the scale goes to 0, gradient flow on a depth-2 network from ``u(0) = v(0) = alpha``
no longer moves smoothly: in the rescaled time ``T = dual_scale * t`` it stays on a
plateau (a saddle of the loss), jumps to the next, and ends at the basis-pursuit solution
(Pesme and Flammarion; :ref:`docs/theory.md section 6 <theory-6>`). `dlnlab.saddle_to_saddle` computes the
plateaus exactly; we compare them with the trajectory of a network at a small scale.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

A = np.array([[1.0, 0.5, 0.7, 0.0], [0.5, 1.0, 0.1, 0.7]])
y = np.array([1.0, 0.0])
path = dl.saddle_to_saddle(A, y)
for plateau in path.plateaus:
    print(f"from T = {plateau.start:.4f}: support {plateau.support.tolist()}, loss {plateau.loss:.4f}")

net = dl.SymmetricDLN(depth=2, scale=1e-30)
T = np.linspace(0.0, 1.3 * path.jump_times[-1], 400)
traj = dl.flow_trajectory(A, y, net, T / net.dual_scale)

fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
for i in range(A.shape[1]):
    ax.plot(T, traj.x[:, i], color=f"C{i}", lw=2, label=f"$x_{i + 1}$, scale $a = 10^{{-30}}$", zorder=2)
starts = [p.start for p in path.plateaus] + [T[-1]]
for plateau, t0, t1 in zip(path.plateaus, starts[:-1], starts[1:]):
    for i in range(A.shape[1]):
        ax.hlines(plateau.x[i], t0, t1, color="k", ls="--", lw=1, zorder=3)
ax.plot([], [], "k--", lw=1, label=r"saddle-to-saddle limit ($a \to 0$)")
for t in path.jump_times:
    ax.axvline(t, color="0.7", lw=0.8, zorder=1)
ax.set_xlabel(r"rescaled time $T$ (the l1 regime at $T \sim 1$)")
ax.set_ylabel("coordinates of $x(T)$")
ax.set_title("Plateaus of gradient flow at a vanishing scale")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
plt.show()
