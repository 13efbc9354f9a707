"""The SGF and label-noise experiments (`dlnlab.studies.experiments.sgf`): helpers and quick runs."""

from __future__ import annotations

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.studies import experiments as ex
from dlnlab.studies.experiments.sgf import mean_log_gain, shared_paths


def test_shared_paths_are_one_path_at_two_steps():
    coarse, fine = shared_paths(0.01, 1.0, 3, seed=4)
    assert coarse.shape == (100, 3) and fine.shape == (200, 3)
    assert np.array_equal(coarse, fine[0::2] + fine[1::2])
    big, _ = shared_paths(0.01, 400.0, 3, seed=0)  # variance dt per coarse increment: 4% of 2/sqrt(1.2e5)
    assert big.var() == pytest.approx(0.01, rel=0.02)
    again, _ = shared_paths(0.01, 1.0, 3, seed=4)
    assert np.array_equal(again, coarse)


def test_mean_log_gain_is_the_effective_alpha():
    """``alpha exp((c_+ + c_-) / 2)`` is ``sqrt(alpha_+ alpha_-)`` of the effective network."""
    net = dl.SymmetricDLN(depth=2, alpha=0.1)
    c = np.array([[-0.3, -0.1], [-0.5, -0.2]])
    eff = net.effective_network(c)
    w_plus, w_minus = (eff.u0 + eff.v0) / 2, (eff.u0 - eff.v0) / 2  # the rotated weights alpha e^{c_+-}
    assert np.allclose(np.sqrt(w_plus * w_minus), 0.1 * np.exp(mean_log_gain(c)), rtol=1e-12)
    assert np.allclose(mean_log_gain(c), [-0.4, -0.15])

def test_sgf_discrete_gains_track_the_ito_integral():
    """On the same Brownian path the discrete gains approach the Ito integral as dt halves
    (relative gap measured 0.075 -> 0.057 at step 0.04, seed 0)."""
    P = dl.gaussian_problem(20, 50, 3, seed=0)
    net = dl.SymmetricDLN(depth=2, alpha=0.1)
    coarse, fine = shared_paths(0.01, 1500.0, P.m, seed=0)
    gaps = []
    for h, dB in ((0.01, coarse), (0.005, fine)):
        run = dl.stochastic_flow(P, net, step=0.05, dt=h, brownian=dB, tol=1e-6, limit=False)
        assert run.status == "converged"
        c, pred = mean_log_gain(run.log_gains), mean_log_gain(run.predicted_log_gains)
        gaps.append(np.linalg.norm(c - pred) / np.linalg.norm(pred))
        assert np.all(c <= 0) and np.all(pred <= 0)
    assert gaps[1] < 0.15 and gaps[0] < 0.25


@pytest.mark.parametrize("name", ["pesme2021-sgf", "haochen2021-label-noise"])
def test_quick_run_passes(name, tmp_path):
    run = ex.run_experiment(name, tmp_path, quick=True)
    assert run.passed and run.seconds < 10
    names = {f.name for f in run.out.iterdir()}
    assert {"summary.json", "meta.json"} <= names and any(n.endswith(".png") for n in names)


def test_label_noise_records_say_no_limit_point(tmp_path):
    run = ex.run_experiment("haochen2021-label-noise", tmp_path, quick=True)
    noisy = [r for r in run.records if r["curve"].startswith("sigma=")]
    assert noisy and all("no limit point" in r["note"] for r in noisy)
    plain = next(r for r in run.records if r["curve"] == "plain GD")
    assert all(max(r["tail_average_error"]) < 0.3 * plain["test_error"] for r in noisy)
