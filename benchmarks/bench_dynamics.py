"""Benchmark: `dl.flow_trajectory` (m-dimensional dual ODE) against the full network's flow.

Run: ``.venv/bin/python benchmarks/bench_dynamics.py`` (N = 100, 1000, 10000; the full
integration is capped at ``--cap`` seconds, default 120; a capped run reports the lower
bound ``cap / (dual time over the horizon the full flow covered within the cap)``) or ``--quick`` (N = 100, 1000 only).

Problem: Gaussian compressed sensing, ``m = N / 10``, ``k = m / 5`` nonzeros
(`dl.gaussian_problem`), symmetric network of depth p at scale ``a``; outputs at the
rescaled times ``T = 0.25, 0.5, 1, 2, 4, 16, 64`` (``t = T / dual_scale``: through the l1
transition and on towards the limit).

- ``full``: the baseline, the 2N-dimensional weight flow in log-weights (the vector field of
  `dlnlab.reference.full_network.network_flow`) under scipy's LSODA with the analytic 2N x 2N Jacobian
  for N <= 1000 (LSODA was 2x to 25x faster than Radau on it at N = 1000); at N = 10000 the
  dense Jacobian alone would take 3.2 GB, so the baseline is the same vector field
  matrix-free, and LSODA has to difference the Jacobian once the flow turns stiff;
- ``dual``: ``dl.flow_trajectory`` (LSODA on ``lam' = y - A X(A^T lam)``, m x m Jacobian;
  its time includes the second run at 100x the rtol that gives its a-posteriori error bound).

At the same rtol the two reach different accuracies (the dual's answer comes from a run 100x
tighter); the notes give the ratio at matched accuracy as well (`matched_accuracy`, N <= 1000).

Both run with the same ``rtol`` (and ``atol = 1e-3 rtol``); ``err`` is
``max |x_dual - x_full| / max |x_full|`` over the output times.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a shared 2-core machine: see bench_l1.py

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

import dlnlab as dl  # noqa: E402

T_OUT = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 16.0, 64.0])


class _Deadline(Exception):
    pass


def full_flow(P, net, times, rtol, atol, cap):
    """(seconds, x or None, rescaled time reached) of the full network's log-weight flow;
    ``x`` is None past ``cap`` seconds.

    The vector field of `dlnlab.reference.full_network.network_flow` (``w = log u``, ``r = log v``):
    ``w' = p e^{(p-2) w} g``, ``r' = -p e^{(p-2) r} g``, ``g = A^T (y - A x)``, with its analytic
    Jacobian for N <= 1000 and matrix-free above (see the module docstring).
    """
    A, y = P.A, P.y
    N, p = A.shape[1], float(net.depth)
    start = time.perf_counter()
    stop = start + cap
    G = A.T @ A if N <= 1000 else None

    reached = [0.0]

    def rhs(t, state):
        if time.perf_counter() > stop:
            raise _Deadline
        reached[0] = max(reached[0], t)
        powers = np.exp(p * state)
        g = A.T @ (y - A @ (powers[:N] - powers[N:]))
        return np.concatenate([p * np.exp((p - 2) * state[:N]) * g, -p * np.exp((p - 2) * state[N:]) * g])

    def jac(_t, state):
        w, r = state[:N], state[N:]
        up, vp = np.exp(p * w), np.exp(p * r)
        g = A.T @ (y - A @ (up - vp))
        ew, er = p * np.exp((p - 2) * w), p * np.exp((p - 2) * r)
        J = np.empty((2 * N, 2 * N))
        J[:N, :N] = -(ew[:, None] * G * (p * up)[None, :])
        J[:N, N:] = ew[:, None] * G * (p * vp)[None, :]
        J[N:, :N] = er[:, None] * G * (p * up)[None, :]
        J[N:, N:] = -(er[:, None] * G * (p * vp)[None, :])
        idx = np.arange(N)
        J[idx, idx] += (p - 2) * ew * g
        J[N + idx, N + idx] -= (p - 2) * er * g
        return J

    try:
        sol = solve_ivp(rhs, (0.0, float(times[-1])), np.full(2 * N, math.log(net.alpha)), method="LSODA",
                        t_eval=times, rtol=rtol, atol=atol, jac=jac if G is not None else None)
    except _Deadline:
        return time.perf_counter() - start, None, reached[0] * net.dual_scale
    return time.perf_counter() - start, np.exp(p * sol.y[:N]).T - np.exp(p * sol.y[N:]).T, reached[0] * net.dual_scale


#: Sizes at which the matched-accuracy ratio is measured (a 1e-12 reference run per size).
MATCHED_MAX_N = 1000
#: The dual's rtol ladder for the matched-accuracy ratio.
LADDER = (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)


def matched_accuracy(P, net, times, x_full, t_full):
    """The ratio at equal accuracy: the full flow's error against a reference (the dual flow at
    rtol 1e-12, itself checked against the full flow to the latter's error), and the time of the
    dual flow at the loosest rtol of `LADDER` whose error is no larger (its own error estimate,
    the second run at 100x the rtol, included in its time)."""
    ref = dl.flow_trajectory(P, net, times, rtol=1e-12, atol=1e-15, throw=False).x
    size = np.max(np.abs(ref))
    e_full = np.max(np.abs(x_full - ref)) / size
    for rd in LADDER:
        t0 = time.perf_counter()
        x = dl.flow_trajectory(P, net, times, rtol=rd, atol=1e-3 * rd, throw=False).x
        t_d = time.perf_counter() - t0
        e_d = np.max(np.abs(x - ref)) / size
        if e_d <= e_full:
            return (f"matched accuracy: full err {e_full:.1e} in {t_full:.3f} s, dual rtol {rd:g} err {e_d:.1e} "
                    f"in {t_d:.3f} s, ratio {t_full / t_d:.1f}")
    return f"matched accuracy: no dual rtol in {LADDER} reaches the full flow's error {e_full:.1e}"


def run(sizes, depth, scale, rtol, cap):
    atol = 1e-3 * rtol
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    times = T_OUT / net.dual_scale
    print(f"depth {depth:g}, scale {scale:g}, rtol {rtol:g}, outputs at T = {T_OUT.tolist()} "
          f"(t up to {times[-1]:.4g}); full-network cap {cap:g} s")
    head = (f"{'m x N':>12} | {'full (s)':>10} {'dual (s)':>9} {'ratio':>10} | {'err':>8} {'nfev':>6} {'njev':>5} "
            f"{'final loss':>10} | notes")
    print(head)
    print("-" * len(head))
    rows = []
    for N in sizes:
        m = N // 10
        P = dl.gaussian_problem(m, N, max(1, m // 5), seed=0)
        t0 = time.perf_counter()
        tr = dl.flow_trajectory(P, net, times, rtol=rtol, atol=atol)
        t_dual = time.perf_counter() - t0
        t_full, x_full, reached = full_flow(P, net, times, rtol, atol, cap)
        note = ""
        if x_full is None:
            # a fair lower bound: the dual flow over the horizon the full flow covered in `cap` s
            part = np.append(T_OUT[T_OUT < reached], reached) / net.dual_scale
            t0 = time.perf_counter()
            dl.flow_trajectory(P, net, part, rtol=rtol, atol=atol)
            t_part = time.perf_counter() - t0
            ratio, err = f">= {cap / t_part:.1f}", "  capped"
            full_txt = f"> {cap:.0f}"
            note = (f"full flow reached T = {reached:.3g} of {T_OUT[-1]:g} in {cap:g} s; the dual flow "
                    f"takes {t_part:.2f} s to T = {reached:.3g} (ratio bound) and {t_dual:.1f} s to {T_OUT[-1]:g}")
        else:
            ratio, full_txt = f"{t_full / t_dual:.1f}", f"{t_full:.2f}"
            err = f"{np.max(np.abs(tr.x - x_full)) / np.max(np.abs(x_full)):.1e}"
            if N <= MATCHED_MAX_N:
                note = matched_accuracy(P, net, times, x_full, t_full)
        print(f"{m:>5} x {N:<5} | {full_txt:>10} {t_dual:>9.3f} {ratio:>10} | {err:>8} {tr.nfev:>6} {tr.njev:>5} "
              f"{tr.loss[-1]:>10.2e} | {note}", flush=True)
        rows.append((N, t_full, t_dual, x_full is None))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 100 and 1000 only")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds allowed to the full integration")
    parser.add_argument("--rtol", type=float, default=1e-8)
    parser.add_argument("--sizes", type=int, nargs="+", help="N values (default 100 1000 10000)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ((100, 1000) if args.quick else (100, 1000, 10000))
    for depth, scale in ((2.0, 1e-6), (3.0, 1e-6)):
        run(sizes, depth, scale, args.rtol, args.cap)
        print()


if __name__ == "__main__":
    main()
