"""
Derivatives of the limit
========================

The flow limit is a smooth function of the data and of the scale, and a `LimitResult`
differentiates itself exactly (:ref:`docs/theory.md section 10 <theory-10>`): ``res.jvp(dA=..., dy=...,
dlog_scale=...)`` is the directional derivative and ``res.dx_dlog_scale`` the derivative
along the network's family of scales. We check ``dx / dlog(a)`` against centred finite
differences on the line problem, and draw how each coordinate moves as the scale changes.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.line_problem()
log_scales = np.linspace(np.log(1e-6), np.log(10.0), 40)
xs, slopes, fd = [], [], []
h = 1e-4
for t in log_scales:
    net = dl.SymmetricDLN.from_log_scale(3, t)
    res = dl.flow_limit(P, net)
    xs.append(res.x)
    slopes.append(res.dx_dlog_scale)
    plus = dl.flow_limit(P, dl.SymmetricDLN.from_log_scale(3, t + h)).x
    minus = dl.flow_limit(P, dl.SymmetricDLN.from_log_scale(3, t - h)).x
    fd.append((plus - minus) / (2 * h))
xs, slopes, fd = map(np.array, (xs, slopes, fd))
print(f"largest difference, exact vs finite differences: {np.max(np.abs(slopes - fd)):.1e}")

res = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-6))
dy = np.array([1.0, 0.0])
dx = res.jvp(dy=dy)
print("jvp in y:", np.round(dx, 6), " A dx =", np.round(P.A @ dx, 12))

a = np.exp(log_scales)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.0, 3.8), layout="constrained")
for i in range(P.N):
    ax1.semilogx(a, xs[:, i], color=f"C{i}", label=f"$x_{i + 1}$", zorder=2)
    ax2.semilogx(a, fd[:, i], "o", color=f"C{i}", ms=4, mfc="none", zorder=2)
    ax2.semilogx(a, slopes[:, i], "-", color=f"C{i}", label=rf"$\partial x_{i + 1} / \partial \log a$", zorder=3)
ax2.plot([], [], "ko", mfc="none", ms=4, label="finite differences")
ax1.set_title("Flow limit, depth $p = 3$")
ax1.set_ylabel("coordinates of $x_\\infty(a)$")
ax2.set_title(r"Its derivative in $\log a$: exact (lines)")
for ax in (ax1, ax2):
    ax.set_xlabel(r"scale $a = \alpha^p$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
plt.show()
