"""Initialization scale vs training accuracy in classification (Moroshko et al. 2020).

- ``moroshko2020-transition``: gradient flow of ``SymmetricDLN(depth=D, alpha)`` on the
  exponential loss of separable data (Gaussian 30 x 60, labels from a 3-sparse teacher), at
  several ``alpha`` for D = 2, 3, followed down to a loss of 1e-300. Measured along the flow:
  the distance of the direction ``x / ||x||_2`` to the l2 and l1 max-margin directions (for
  D = 3 to l_{2/3} stationary points) against ``r = log(1/loss)``.

Derivation (from the mirror flow, not from the paper, which could not be retrieved here).
With ``Z = diag(y) A`` the flow is ``x(t) = X_a(Z^T mu(t))``, ``mu >= 0``, so ``x(t)`` is the
minimizer of the network's potential ``Q_a`` under ``Z x = gamma(t)``, and, the multipliers
being positive, under ``Z x >= gamma(t)``. Both maps are homogeneous in the scale
``a = alpha^D``: ``X_a(s) = a X_1(c_a s)`` (``2 a sinh(4 s)`` for D = 2, ``a h_D(...)`` for
D > 2), so ``Q_a(x) = const * Q_1(x / a)`` and, with ``r = min_i gamma_i = log(1/loss) + O(1)``,

    direction(x(t)) ~ direction of argmin { Q_1(xi) : Z xi >= (r / a) 1 } + O(1/r),

the O(1/r) from the support vectors' margins differing by O(1) (they are logarithms of the
dual weights; the same 1/log t rate as Soudry et al.'s linear model). ``Q_1`` is quadratic
near 0 and l1-like at infinity, so the bias is a function of ``rho = log(1/loss) / alpha^D``:
kernel (l2 max-margin) for ``rho << 1``, rich for ``rho >> 1``. Hence:

(a) at large alpha and ``r << alpha^D`` the direction is the l2 max-margin one up to O(1/r)
    (plus ``O((r / a)^2)`` from the quartic term of ``Q_1``): slope -1 of ``log d_l2`` in ``log r``;
(c) the loss at which the direction leaves l2 obeys ``log(1/loss*) = rho* alpha^D``, i.e.
    ``log log(1/loss*) = const - D log(1/alpha)``: slope -D against ``log(1/alpha)``, up to the
    O(1/r*) corrections (the exit is measured where ``d_l2`` reaches 1/8 of the distance
    between the l1 and l2 max-margin directions; for D = 2 also where ``d_l1 = d_l2``);
(b) in the rich regime D = 2 the direction tends to the l1 max-margin one, slowly: on the
    support ``4 s_i = log(r |w_i| / a)``, so the dual departs from the LP's by O(1 / log(r / a));
    for D > 2 the dual is confined to a box and the tail of ``mu`` makes the limit a KKT point
    of ``min sum |x_i|^{2/D} s.t. Z x >= 1`` (Gunasekar et al. 2018), approached at the O(1/r) rate;
    that problem is non-convex, and the flow picks its stationary point by its path;
(c') at small alpha (D = 2) coordinates outside the early support switch on only when
    ``4 |s_j|`` reaches ``log(1/a) + log r``, but ``s`` grows only like ``log r / 4`` once the
    data are separated, so the l1 direction needs ``log log(1/loss) ~ kappa log(1/alpha)``:
    losses like ``exp(-(1/alpha)^{D kappa})`` -- the "ridiculous" accuracies of the paper's
    abstract. Measured: the loss at which ``d_l1`` falls to a level, against alpha;
(d) the normalized l1 margin increases to the l1 max margin (LP duality bounds it above).

Not checked against the paper: its theorems' exact statement (the form and constants of
the ``alpha``--``loss`` relation, its parametrization of alpha), its data and figures; the
setup and the derivation above are ours. ``kappa`` and ``rho*`` depend on the data and are
measured, not predicted.
"""

from __future__ import annotations

import math

import numpy as np

from ... import plots
from ...dynamics.trajectory import flow_trajectory
from ...maxmargin import lq_stationarity, max_margin
from ...networks.symmetric import SymmetricDLN
from . import check, experiment, record


def _data(n, d, k, seed):
    """Gaussian ``n x d`` design, labels ``sign(A x_teacher)`` of a ``k``-sparse teacher."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, d))
    teacher = np.zeros(d)
    teacher[:k] = rng.standard_normal(k)
    return A, np.sign(A @ teacher)


def _first_crossing(r, values, level, below=True, start=0):
    """First ``r`` (from index ``start``, log-interpolated in r) at which values fall below
    (``below``) or rise above ``level``; NaN if never."""
    start = max(start, int(np.argmax(np.asarray(r) > 1.0)))  # log r needs r > 0: the separated phase
    v = np.asarray(values) - level
    if not below:
        v = -v
    idx = np.flatnonzero(v[start:] < 0)
    if idx.size == 0:
        return math.nan
    i = start + int(idx[0])
    if i == 0 or i == start:
        return math.nan
    lr0, lr1 = math.log(r[i - 1]), math.log(r[i])
    return math.exp(lr0 + (lr1 - lr0) * v[i - 1] / (v[i - 1] - v[i]))


def _slope(xs, ys):
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(xs[ok], ys[ok], 1)[0])


def _own_stationary_point(Z, x, q):
    """The l_q KKT point the flow approaches: the flow's support (entries above 1e-4 of the
    largest) and active constraints (margins within 1% of the smallest), ``Z_AS x_S = 1``
    solved by least squares; returns it with `lq_stationarity`'s residual."""
    w = x / np.min(Z @ x)
    S = np.flatnonzero(np.abs(w) > 1e-4 * np.max(np.abs(w)))
    act = np.flatnonzero(Z @ w <= 1.01)
    xs = np.linalg.lstsq(Z[np.ix_(act, S)], np.ones(act.size), rcond=None)[0]
    out = np.zeros_like(w)
    out[S] = xs
    out /= np.min(Z @ out)
    return out, lq_stationarity(Z, out, q, 1e-9)[0], S.size, act.size


@experiment("moroshko2020-transition", title="Classification: distance to the l1 / l2 max-margin directions vs "
            "training loss, several alpha, depths 2-3 (Moroshko et al. 2020)",
            quick=dict(n=30, d=60, k=3, seed=0, points=121, kernel_log10_scale=4.0,
                       exit_log10_scales=(1.0, 1.25, 1.5), rich_log10_alphas=(-1.0, -2.0),
                       small_log10_alphas=(-2.0, -3.0), delay_level=0.33),
            full=dict(n=30, d=60, k=3, seed=0, points=301, kernel_log10_scale=4.0,
                      exit_log10_scales=(0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5),
                      rich_log10_alphas=(-1.0, -2.0),
                      small_log10_alphas=(-1.5, -2.0, -2.5, -3.0, -3.5), delay_level=0.33))
def transition(ctx, *, n, d, k, seed, points, kernel_log10_scale, exit_log10_scales, rich_log10_alphas,
               small_log10_alphas, delay_level):
    """Runs per depth: the kernel scale ``a = 10^kernel_log10_scale``; the exit scales; the
    rich alphas (``rich_log10_alphas`` for D = 2, 3); for D = 2 the small alphas (the delay (c') of the module docstring). Output
    times ``[0] + logspace(-1, 300, points)`` (losses down to ~1e-300)."""
    A, y = _data(n, d, k, seed)
    Z = y[:, None] * A
    mm = {"l1": max_margin(A, y, norm="l1"), "l2": max_margin(A, y, norm="l2"), 3: max_margin(A, y, depth=3)}
    sep = float(np.linalg.norm(mm["l1"].direction - mm["l2"].direction))
    times = np.r_[0.0, np.logspace(-1, 300, points)]
    depths = (2, 3)
    rich = {2: float(rich_log10_alphas[0]), 3: float(rich_log10_alphas[1])}
    plan = []
    for D in depths:
        plan.append((D, kernel_log10_scale / D, "kernel"))
        plan.extend((D, s / D, "exit") for s in exit_log10_scales)
        plan.append((D, rich[D], "rich"))
    plan.extend((2, la, "small") for la in small_log10_alphas)
    ctx.expect(len(plan))
    runs, rows = {}, []
    for D, la, role in plan:
        tr = flow_trajectory(A, y, SymmetricDLN(depth=D, alpha=10.0 ** la), times, loss="exponential")
        r = -tr.log_loss
        d1 = np.linalg.norm(tr.direction - mm["l1"].direction, axis=1)
        d2 = np.linalg.norm(tr.direction - mm["l2"].direction, axis=1)
        dq = np.linalg.norm(tr.direction - mm[3].direction, axis=1) if D == 3 else d1
        runs[(D, la, role)] = dict(r=r, d1=d1, d2=d2, dq=dq, m1=tr.margin_l1, tr=tr)
        rows.extend((D, la, role, t, ll, a, b, c, m) for t, ll, a, b, c, m in
                    zip(times, tr.log_loss, d1, d2, dq, tr.margin_l1))
        ctx.step()
    ctx.save_csv("transition", ["depth", "log10_alpha", "role", "t", "log_loss", "dist_l1", "dist_l2",
                                "dist_maxmargin_depth", "margin_l1"], rows)
    records = []
    late = lambda run: run["r"] >= 20.0  # noqa: E731  the asymptotic regime: r = log(1/loss) >= 20

    # (a) kernel regime
    for D in depths:
        run = runs[(D, kernel_log10_scale / D, "kernel")]
        sel = late(run)
        slope = _slope(np.log(run["r"][sel]), np.log(run["d2"][sel]))
        records.append(record(
            f"kernel D={D}", params={"depth": D, "log10_alpha": kernel_log10_scale / D,
                                     "log10_scale": kernel_log10_scale},
            dist_l2_final=float(run["d2"][-1]), dist_l1_final=float(run["d1"][-1]), r_final=float(run["r"][-1]),
            checks=[
                # O(1/r) (Soudry-type) approach to the l2 max-margin direction; the quartic
                # term's (r / a)^2 <= (700 / 1e4)^2 = 5e-3 relative and O(log r / r) terms bend
                # the fit by a few percent (measured -0.99): 0.1
                check("slope_log_dist_l2_vs_log_r", slope, -1.0, 0.1),
                # the 1/r law (measured constant ~1.5) gives ~2e-3 at r = 700: at most 1% of the
                # l1-l2 separation (0.76), a factor ~3 above the law
                check("dist_l2_final_over_separation", float(run["d2"][-1]) / sep, 0.0, 0.01, "max"),
            ],
            note="d_l2 = ||x/||x|| - l2 max-margin direction|| along the flow (loss down to 1e-300), alpha^D = 1e4"))

    # (c) exit from the kernel regime: log(1/loss*) = rho* alpha^D
    fig, axes = plots.new_figure(2, 3, size=(4.2, 3.4))
    exits = {}
    for D in depths:
        lev = sep / 8.0
        r_exit, r_cross = [], []
        for s in exit_log10_scales:
            run = runs[(D, s / D, "exit")]
            i0 = int(np.argmin(np.where(run["r"] > 1.0, run["d2"], np.inf)))  # after the closest approach to l2
            r_exit.append(_first_crossing(run["r"], run["d2"], lev, below=False, start=i0))
            ref = run["dq"]
            r_cross.append(_first_crossing(run["r"], ref - run["d2"], 0.0, below=True, start=i0))
        la = np.array(exit_log10_scales, dtype=float) / D
        log_inv_alpha = -la * math.log(10.0)
        ok = np.isfinite(r_exit)
        # fit on the three largest scales reached (r* >= 60 at a >= 10): the derivation is asymptotic
        # in r*, and from a = 3 to 10 the O(1/r*) corrections still steepen the slope by 14%
        use = np.flatnonzero(ok)[-3:]
        slope = _slope(log_inv_alpha[use], np.log(np.array(r_exit)[use]))
        cross_slope = _slope(log_inv_alpha, np.log(np.array(r_cross)))
        exits[D] = (la, r_exit, r_cross)
        records.append(record(
            f"exit D={D}", params={"depth": D, "log10_scales": list(exit_log10_scales)},
            log10_alpha=la.tolist(), log_inv_loss_exit=[float(v) for v in r_exit],
            rho_exit=[float(v / 10.0 ** s) for v, s in zip(r_exit, exit_log10_scales)],
            log_inv_loss_crossing=[float(v) for v in r_cross], crossing_slope=cross_slope,
            checks=[
                # derivation: log log(1/loss*) = const - D log(1/alpha). The measured local slope
                # (in log a) falls toward 1 as r* grows (1.14 at r* ~ 30-110, 1.04 at 110-350 for
                # D = 2): the O(1/r*) corrections; 10% of D
                check("slope_loglog_inv_loss_vs_log_inv_alpha", slope, -float(D), 0.1 * D),
            ],
            note="r* = log(1/loss) where d_l2 rises to 1/8 of ||l1 - l2 direction||; crossing: where the "
                 "direction is as near the l1 (D = 2) / l_{2/3} (D = 3) point as the l2 one"))
        ax = axes[D - 2, 2]
        ax.plot(la, np.log10(r_exit), "o-", color=plots.depth_color(D), label=r"$d_{l2}$ = sep/8")
        ax.plot(la, np.log10(r_cross), "s--", color=plots.depth_color(D), mfc="none", label="equidistant")
        if np.isfinite(slope):
            b = float(np.mean(np.log10(np.array(r_exit)[use]) - D * la[use]))
            plots.plot_slope(ax, float(la[0]), float(la[-1]), float(D), b, label=f"slope {D} (theory)")
        plots.rate_axes(ax, f"D = {D}: leaving the kernel regime", xlabel=r"$\log_{10} \alpha$",
                        ylabel=r"$\log_{10} \log(1/\mathrm{loss}^*)$")
        ax.legend(fontsize=7)

    # (b) rich regime, (d) l1 margin
    run = runs[(2, rich[2], "rich")]
    sel = late(run)
    d1 = run["d1"][sel]
    gap = mm["l1"].margin - run["m1"][sel]
    rate_d1 = _slope(np.log(run["r"][sel]), np.log(d1))
    rate_gap = _slope(np.log(run["r"][sel]), np.log(gap))
    L = np.log(run["r"][sel]) - 2.0 * rich[2] * math.log(10.0)  # log(r / a)
    records.append(record(
        "rich D=2", params={"depth": 2, "log10_alpha": rich[2]}, dist_l1_final=float(d1[-1]),
        dist_l2_final=float(run["d2"][-1]), rate_dist_l1_vs_log_r=rate_d1,
        rate_dist_l1_vs_log_L=_slope(np.log(L), np.log(d1)),
        checks=[
            # the direction approaches l1 monotonically over r in [20, 700] (any increase would be
            # a real departure: the integration error is ~1e-10)
            check("max_increase_of_dist_l1", float(np.max(np.diff(d1))), 0.0, 1e-8, "max"),
            # the slow O(1/log(r/a))-type approach (measured rate ~ r^-0.2): at loss 1e-300 the
            # direction has covered 85% of the way from l2 to l1 (measured 0.13 of the separation)
            check("dist_l1_final_over_separation", float(d1[-1]) / sep, 0.0, 0.15, "max"),
            check("dist_l1_over_dist_l2_final", float(d1[-1] / run["d2"][-1]), 0.0, 0.2, "max"),
        ],
        note="alpha = 0.1: distance to the l1 max-margin direction along the flow, r = log(1/loss) >= 20"))
    records.append(record(
        "l1 margin D=2", params={"depth": 2, "log10_alpha": rich[2]}, margin_final=float(run["m1"][-1]),
        max_margin=mm["l1"].margin, rate_gap_vs_log_r=rate_gap,
        checks=[
            # monotone increase (integration error ~1e-10 relative)
            check("max_decrease_of_margin", float(np.max(-np.diff(run["m1"][sel]))), 0.0, 1e-8, "max"),
            # LP duality: no direction beats the max margin (certified to its 1e-9 duality gap)
            check("margin_below_max_margin", float(np.max(run["m1"])), mm["l1"].margin, 1e-9 * mm["l1"].margin,
                  "max"),
            # the gap closes (measured rate ~ r^-0.5): a negative slope
            check("gap_rate", rate_gap, 0.0, 0.0, "max"),
        ],
        note="normalized l1 margin min_i y_i a_i^T x / ||x||_1 vs the l1 max margin (LP)"))
    run = runs[(3, rich[3], "rich")]
    sel = late(run)
    xhat, kkt, supp, act = _own_stationary_point(Z, run["tr"].x[-1], 2.0 / 3.0)
    dist_own = np.linalg.norm(run["tr"].direction[sel] - xhat / np.linalg.norm(xhat), axis=1)
    q = 2.0 / 3.0
    records.append(record(
        "rich D=3", params={"depth": 3, "log10_alpha": rich[3]}, support=supp, active=act,
        lq_margin_flow_point=float(np.sum(np.abs(xhat) ** q) ** (-1 / q)), lq_margin_max_margin=mm[3].margin,
        dist_to_max_margin_depth3=float(run["dq"][-1]), dist_to_own_point_final=float(dist_own[-1]),
        checks=[
            # the flow's point is a KKT point of min sum |x|^(2/3), Z x >= 1 (NNLS residual,
            # rounding level ~1e-15 measured)
            check("kkt_residual", kkt, 0.0, 1e-9, "max"),
            # approached at the O(1/r) rate of the support vectors' unequal margins (measured -1.0);
            # 0.2 allows the log r / r next term over one decade of r
            check("slope_log_dist_vs_log_r", _slope(np.log(run["r"][sel]), np.log(dist_own)), -1.0, 0.2),
        ],
        note="alpha = 0.01: the direction converges to an l_{2/3} stationary point chosen by the path (on the "
             "early support), not the one max_margin(depth=3) returns (reweighted l1 from the l1 solution)"))

    # (c') small-alpha delay (D = 2)
    r_act_small = [_first_crossing(runs[(2, la, "small")]["r"], runs[(2, la, "small")]["d1"], delay_level)
                   for la in small_log10_alphas]
    log_r = np.log(np.array(r_act_small, dtype=float))  # NaN: the level is not reached by loss 1e-300
    later = [bool(b > a or (math.isnan(b) and not math.isnan(a))) for a, b in zip(log_r, log_r[1:])]
    records.append(record(
        "small-alpha delay D=2", params={"depth": 2, "log10_alphas": list(small_log10_alphas),
                                         "level": delay_level},
        log_inv_loss_at_level=[float(v) for v in r_act_small],
        kappa=_slope(-np.array(small_log10_alphas) * 2 * math.log(10.0), log_r),
        final_dist_l1=[float(runs[(2, la, "small")]["d1"][-1]) for la in small_log10_alphas],
        checks=[
            # (c'): smaller alpha needs a smaller loss to reach the l1 direction
            # (a level not reached by loss 1e-300 counts as later than any reached)
            check("each_smaller_alpha_later", float(all(later)) if later else math.nan, 1.0, 0.0, "abs"),
        ],
        note="log(1/loss) at which d_l1 falls below the level, alpha decreasing; kappa = slope of log log(1/loss) "
             "in log(1/a), a = alpha^2 (measured, not predicted)"))

    for D in depths:
        for col, key, name in ((0, "d2", "l2 max-margin"), (1, "dq", "l1 max-margin" if D == 2 else
                                                               "max_margin(depth=3)")):
            ax = axes[D - 2, col]
            for (DD, la, role), run in sorted(runs.items()):
                if DD != D:
                    continue
                ok = run["r"] > 1.0
                ax.plot(np.log10(run["r"][ok]), np.log10(run[key][ok]), lw=1.1,
                        label=rf"$\alpha$ = 1e{la:.2g}" + (" (kernel)" if role == "kernel" else ""))
            plots.rate_axes(ax, f"D = {D}: distance to the {name} direction",
                            xlabel=r"$\log_{10} \log(1/\mathrm{loss})$", ylabel=r"$\log_{10}$ distance")
        axes[D - 2, 0].legend(fontsize=6)
    ctx.save_figure(fig, "transition")
    return records
