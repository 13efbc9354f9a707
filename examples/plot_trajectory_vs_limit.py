"""
A trajectory and its flow limit
===============================

`dlnlab.flow_trajectory` integrates the gradient flow through its ``m``-dimensional dual
ODE; `dlnlab.flow_limit` gives the point it converges to, without integrating. We follow
the depth-3 flow on the line problem from two scales and check that the trajectory ends at
the limit, plotting the loss and the distance to the limit over time.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.line_problem()
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
for scale, color in ((1e-2, "C0"), (1e-6, "C1")):
    net = dl.SymmetricDLN(depth=3, scale=scale)
    limit = dl.flow_limit(P, net)
    T = np.geomspace(1e-3, 1e4, 200)              # rescaled time: the l1 regime at T ~ 1
    traj = dl.flow_trajectory(P, net, T / net.dual_scale)
    distance = np.linalg.norm(traj.x - limit.x, axis=1)
    print(f"a = {scale:g}: {traj.status}, distance to the limit at the end {distance[-1]:.1e}")
    label = rf"scale $a = 10^{{{int(np.log10(scale))}}}$"
    ax1.loglog(T, traj.loss, color=color, label=label, zorder=2)
    ax2.loglog(T, distance, color=color, label=label, zorder=2)
ax1.set_ylabel(r"loss $\frac{1}{2}\|A x(T) - y\|^2$")
ax2.set_ylabel(r"$\|x(T) - x_\infty\|$ (flow limit)")
for ax in (ax1, ax2):
    ax.set_xlabel(r"rescaled time $T$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
ax1.set_title("Training loss, depth $p = 3$")
ax2.set_title("Distance to the computed limit")
plt.show()
