"""
A rate study on your own problem
================================

How fast does the flow limit approach the basis-pursuit solution ``x*`` as the scale
``a = alpha^p`` shrinks? :ref:`docs/theory.md section 5 <theory-5>` predicts ``||x_inf - x*|| ~ a^(1 - rho)``
at depth 2, with ``rho`` the dual certificate constant of ``A`` at ``x*``, and ``~ a`` at
depth ``p > 2``. `dlnlab.rate_study` computes the error far below float64 resolution
(`dlnlab.deviation_from_bp`), fits the slopes and states the predictions. Here the problem
is a small Gaussian compressed-sensing instance of our own.
"""

import matplotlib.pyplot as plt
import numpy as np

import dlnlab as dl

P = dl.gaussian_problem(10, 20, 2, seed=3)
bp = dl.basis_pursuit(P)
rho = dl.certificate_constant(P, bp.x).rho
print(f"unique BP solution: {bp.unique}, certificate constant rho = {rho:.4f}")

study = dl.rate_study(P, depths=(2, 3, 4), log10_scales=np.arange(-20.0, -201.0, -20.0))
print("status:", study.status)

fig, ax = plt.subplots(figsize=(6.0, 4.2), layout="constrained")
# depths 3 and 4 share the rate a (their errors nearly coincide): open and filled markers
for curve, color, style in zip(study.curves, ("C0", "C1", "C2"), (dict(ms=4), dict(ms=8, mfc="none"), dict(ms=3))):
    x, e = curve.log10_scale, curve.log10_error
    ax.plot(x, e, "o", color=color, zorder=2, **style,
            label=f"depth $p = {curve.depth:g}$: slope {curve.fit.slope:.3f}")
    line = curve.fit.intercept + curve.predicted_slope * x
    ax.plot(x, line, "--", color="k", lw=1, zorder=3)
    print(f"p = {curve.depth:g}: fitted slope {curve.fit.slope:.4f}, predicted {curve.predicted_slope:.4f}")
ax.plot([], [], "--", color="k", lw=1, label="predicted slope")
ax.set_xlabel(r"$\log_{10}$ scale $a = \alpha^p$")
ax.set_ylabel(r"$\log_{10} \|x_\infty - x^*\|$")
ax.set_title(rf"Error to basis pursuit, $\rho = {rho:.3f}$")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
plt.show()
