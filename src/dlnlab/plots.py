"""Figures of the experiments: matplotlib without pyplot (Agg canvas, no global state).

Scales and errors reach 1e-300 and below, beyond float range for some quantities, so
every rate plot takes ``log10`` values and draws them on linear axes labelled as powers
of ten. `save_figure` writes PNG (and PDF, for papers) atomically.

>>> fig, ax = new_figure()
>>> _ = rate_axes(ax, "error vs scale")
>>> fig.axes[0].get_title()
'error vs scale'
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .files import atomic_write_bytes

#: One color per depth, stable across figures.
DEPTH_COLORS = {2.0: "#1f77b4", 2.5: "#ff7f0e", 3.0: "#2ca02c", 4.0: "#d62728", 5.0: "#9467bd"}
CYCLE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def depth_color(depth: float) -> str:
    return DEPTH_COLORS.get(float(depth), CYCLE[int(round(4 * float(depth))) % len(CYCLE)])


def new_figure(nrows: int = 1, ncols: int = 1, *, size=(5.0, 3.8), **kw):
    """A figure with a grid of axes (``axes`` is a 2-D array unless the grid is 1 x 1)."""
    fig = Figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, (axes[0, 0] if nrows == ncols == 1 else axes)


def save_figure(fig, stem, formats=("png", "pdf")) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf`` (or the given ``formats``) atomically;
    returns the paths. Each format draws the figure again (PDF about as long as PNG)."""
    stem = Path(stem)
    paths = []
    for ext in formats:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=150)
        paths.append(atomic_write_bytes(stem.with_suffix(f".{ext}"), buf.getvalue()))
    return paths


def rate_axes(ax, title: str = "", xlabel: str = r"$\log_{10}$ scale $a = \alpha^p$",
              ylabel: str = r"$\log_{10} \|x_\infty - x^*\|$"):
    """Label an axes for log10-valued data."""
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return ax


def plot_curve(ax, log10_scale, log10_error, *, label: str, color=None, marker="o", ms=3.0):
    """One measured curve (NaN points, e.g. unresolved errors, leave gaps)."""
    ax.plot(log10_scale, log10_error, marker=marker, ms=ms, lw=1.2, color=color, label=label)


def plot_slope(ax, lo: float, hi: float, slope: float, intercept: float, *, color=None, label=None):
    """A dashed line ``y = slope x + intercept`` over ``lo <= x <= hi`` (a predicted rate)."""
    xs = np.array([lo, hi])
    ax.plot(xs, slope * xs + intercept, ls="--", lw=1.0, color=color or "k", label=label)


def heatmap(ax, x, y, values, *, xlabel: str, ylabel: str, title: str, vmin=None, vmax=None, cmap="viridis",
            colorbar_label: str = ""):
    """``values[i, j]`` at ``(x[j], y[i])`` as an image with a colorbar."""
    mesh = ax.pcolormesh(x, y, values, shading="nearest", vmin=vmin, vmax=vmax, cmap=cmap)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(mesh, ax=ax, label=colorbar_label)
    return mesh


def diagonal_scatter(ax, predicted, measured, *, labels=None, title: str = "", xlabel: str = "predicted",
                     ylabel: str = "measured"):
    """Measured against predicted values with the identity line."""
    predicted = np.asarray(predicted, dtype=float)
    measured = np.asarray(measured, dtype=float)
    lo = float(min(predicted.min(), measured.min()))
    hi = float(max(predicted.max(), measured.max()))
    pad = 0.05 * (hi - lo + 1e-12)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, ls=":")
    ax.scatter(predicted, measured, s=18, zorder=3)
    if labels is not None:
        for px, my, lab in zip(predicted, measured, labels):
            ax.annotate(lab, (px, my), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
