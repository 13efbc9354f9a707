"""
Gradient descent vs its effective-initialization limit
======================================================

Gradient descent with a finite step does not follow the gradient flow, but on a diagonal
network its iterate lies exactly on the flow of *another* network, with a smaller
initialization (Even et al.). `dlnlab.gradient_descent` returns that network as
``effective_init``; its flow limit is the point GD converges to. We run GD at several step
sizes on the seed paper's 3 x 5 problem and measure the distance of the last iterate to
that prediction and to the gradient-flow limit (the limit of small steps).
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.random_problem()
net = dl.SymmetricDLN(depth=2, alpha=0.1)
flow = dl.flow_limit(P, net).x

steps = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4])
to_prediction, to_flow = [], []
for step in steps:
    gd = dl.gradient_descent(P, net, step=step, steps=50000, tol=1e-12)
    predicted = dl.flow_limit(P, gd.effective_init).x
    to_prediction.append(np.linalg.norm(gd.x - predicted))
    to_flow.append(np.linalg.norm(gd.x - flow))
    print(f"step {step:.2f}: {gd.status} after {gd.iterations} steps, "
          f"to the effective limit {to_prediction[-1]:.1e}, to the flow limit {to_flow[-1]:.1e}")

fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
ax.semilogy(steps, to_flow, "s-", label="to the gradient-flow limit", zorder=2)
ax.semilogy(steps, to_prediction, "o-", label="to the effective-initialization limit", zorder=3)
ax.set_xlabel(r"step size $\gamma$")
ax.set_ylabel(r"distance of the GD limit $\|x_{GD} - \cdot\|$")
ax.set_title(r"GD on $x = u^2 - v^2$ from $\alpha = 0.1$")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()
