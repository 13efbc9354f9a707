"""The Donoho-Tanner phase-diagram figure: success fractions, empirical 50% points, the weak threshold."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from ..errors import DLNError
from ..files import atomic_write_bytes
from ..theory import weak_threshold_curve
from .phase import solver_key, transitions


def solver_label(key: tuple) -> str:
    """``BP N=100`` or ``flow symmetric:depth=3,scale=1e-06 N=100`` for a key of `transitions`."""
    method, network, N = key
    if method == "bp":
        return f"BP N={N}"
    return f"flow {network} N={N}"


def plot_phase(rows: Sequence[dict], path, *, title: str = "Donoho-Tanner phase diagram") -> str:
    """`phase_figure` written as a PNG to ``path`` (atomically: `dlnlab.files`)."""
    import matplotlib.pyplot as plt

    fig = phase_figure(rows, title=title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return str(atomic_write_bytes(path, buf.getvalue()))


def phase_figure(rows: Sequence[dict], *, title: str = "Donoho-Tanner phase diagram"):
    """Success fraction on the (delta, rho) grid per solver, the empirical 50% points (with
    95% intervals) and the theoretical weak threshold; a matplotlib figure."""
    import matplotlib.pyplot as plt

    fits = transitions(rows)
    keys = list(fits)
    if not keys:
        raise DLNError("no finished rows to plot.")
    fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 1.0, 3.6), squeeze=False, sharey=True,
                             layout="constrained")
    grid = np.linspace(0.05, 0.95, 37)
    theory = weak_threshold_curve(grid)
    for ax, key in zip(axes[0], keys):
        cells: dict[tuple[float, float], list[bool]] = {}
        for row in rows:
            if row["status"] == "converged" and solver_key(row) == key:
                cells.setdefault((row["delta"], row["rho"]), []).append(bool(row["success"]))
        d, r = np.array(list(cells)).T
        frac = np.array([np.mean(v) for v in cells.values()])
        sc = ax.scatter(d, r, c=frac, cmap="viridis", vmin=0, vmax=1, marker="s", s=110)
        ax.plot(grid, theory, "r-", lw=1.5, label=r"theory $\rho_W(\delta)$")
        if fits[key]:
            ax.errorbar([t.delta for t in fits[key]], [t.rho50 for t in fits[key]],
                        yerr=[[t.rho50 - t.rho_ci[0] for t in fits[key]], [t.rho_ci[1] - t.rho50 for t in fits[key]]],
                        fmt="o", color="orange", mec="k", ms=5, capsize=3, label="empirical 50%")
        ax.set_title(solver_label(key), fontsize=9)
        ax.set_xlabel(r"$\delta = m/N$")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel(r"$\rho = k/m$")
    axes[0][0].legend(loc="upper left", fontsize=7)
    fig.colorbar(sc, ax=axes[0].tolist(), label="success fraction")
    fig.suptitle(title, fontsize=10)
    return fig
