"""`--network SPEC` on limit/flow/rates, `dlnlab networks` and `dlnlab gd`."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app
from dlnlab.networks.spec import families

runner = CliRunner()

SPECS = ["symmetric:depth=3,scale=1e-6", "twolayer:u0=1e-3,v0=0", "layered:depth=3,alpha=0.1",
         "nonnegative:u0=1e-3", "azulay:up=1e-3,vp=1e-3,um=2e-3,vm=0"]


def _problem():
    """The random problem with data reachable from x >= 0 (so the non-negative network has a limit)."""
    P = dl.random_problem()
    return dl.Problem(P.A, P.A @ np.array([0.5, 0.0, 1.0, 0.0, 0.2]))


@pytest.fixture
def problem(tmp_path):
    return _problem().save(tmp_path / "random.npz")


@pytest.mark.parametrize("spec", SPECS)
def test_limit_json_is_the_library_result(problem, spec):
    out = runner.invoke(app, ["limit", str(problem), "--network", spec, "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    P = _problem()
    ref = dl.flow_limit(P, dl.network_from_spec(spec, size=P.N)).to_dict()
    assert set(payload) == set(ref)
    # the same deterministic computation: the JSON text of floats round-trips exactly
    assert payload["x"] == ref["x"] and payload["status"] == ref["status"] == "converged"
    assert payload["network"] == ref["network"]


def test_network_and_shorthand_exclude_each_other(problem):
    out = runner.invoke(app, ["limit", str(problem), "--network", SPECS[0], "--depth", "3"])
    assert out.exit_code == 2 and "not both" in out.output


def test_bad_spec_is_a_one_line_error(problem):
    out = runner.invoke(app, ["limit", str(problem), "--network", "deep:depth=3"])
    assert out.exit_code == 2 and "unknown network family" in out.output and "twolayer" in out.output


def test_networks_lists_every_family():
    out = runner.invoke(app, ["networks"])
    assert out.exit_code == 0, out.output
    for name, fam in families().items():
        assert name in out.output
        for key in fam.params:
            assert key in out.output


def test_flow_takes_a_spec(problem):
    out = runner.invoke(app, ["flow", str(problem), "--network", SPECS[1], "--times", "0,1,10", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    assert payload["network"] == dl.network_from_spec(SPECS[1], size=5).spec
    assert len(payload["t"]) == 3


def test_gd_json_is_the_result(problem):
    spec = "twolayer:u0=1.4142135623730951e-3,v0=0"
    out = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.5", "--steps", "20000",
                              "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    P = _problem()
    ref = dl.gradient_descent(P, dl.network_from_spec(spec, size=P.N), step=0.5, steps=20000)
    assert payload["status"] == ref.status == "converged" and payload["success"] is True
    assert payload == json.loads(json.dumps(ref.to_dict()))  # the result's to_dict(), same arithmetic: exact


def test_gd_text_says_what_the_run_converges_to(problem):
    spec = "twolayer:u0=1.4142135623730951e-3,v0=0"
    out = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.5", "--steps", "20000"])
    assert out.exit_code == 0, out.output
    P = _problem()
    ref = dl.gradient_descent(P, dl.network_from_spec(spec, size=P.N), step=0.5, steps=20000)
    assert ref.converges_to and " ".join(f"converges to: {ref.converges_to}".split()) in " ".join(out.output.split())


def test_rates_on_a_twolayer_spec(tmp_path):
    path = dl.random_problem().save(tmp_path / "random.npz")
    out = runner.invoke(app, ["rates", str(path), "--network", "twolayer:u0=1e-3,v0=0", "--out",
                              str(tmp_path / "rates"), "--per-decade", "0.1"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "rates" / "summary.json").exists()


def test_rates_refuses_the_nonnegative_network(tmp_path):
    path = dl.random_problem().save(tmp_path / "random.npz")
    out = runner.invoke(app, ["rates", str(path), "--network", "nonnegative:u0=1e-3", "--out",
                              str(tmp_path / "rates")])
    assert out.exit_code == 2 and "linear program" in out.output


def test_gd_training_options_are_the_library_call(problem, tmp_path):
    spec = "twolayer:u0=0.2,v0=0.05"
    args = ["gd", str(problem), "--network", spec, "--schedule", "30:0.1,20:0.05", "--batch-size", "2",
            "--sampling", "replacement", "--seed", "5", "--weight-decay", "0.01", "--label-noise", "0.1",
            "--record", "loss,gains", "--tol", "0", "--json"]
    out = runner.invoke(app, args)
    assert out.exit_code == 1, out.output  # tol 0 runs every step: status max_iter, not a success
    payload = json.loads(out.output)["result"]
    P = _problem()
    net = dl.network_from_spec(spec, size=P.N)
    ref = dl.gradient_descent(P, net, schedule=[(30, 0.1), (20, 0.05)], batch_size=2, sampling="replacement",
                              seed=5, weight_decay=0.01, label_noise=0.1, record=("loss", "gains"), tol=0.0)
    assert payload == json.loads(json.dumps(ref.to_dict()))  # same arithmetic: exact
    assert len(payload["history"]["loss"]) == 51 and payload["iterations"] == 50
    # continue from the saved run: the library run continued from the result (weights and log
    # gains, so the effective initialization carries over)
    saved = tmp_path / "run.json"
    saved.write_text(out.output)
    more = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.05", "--steps", "10",
                               "--init-weights", str(saved), "--tol", "0", "--json"])
    assert more.exit_code == 1, more.output  # tol 0 again: max_iter
    cont = dl.gradient_descent(P, net, step=0.05, steps=10, init_weights=ref, tol=0.0)
    assert json.loads(more.output)["result"] == json.loads(json.dumps(cont.to_dict()))
    assert cont.effective_init is not None
    other = runner.invoke(app, ["gd", str(problem), "--network", "twolayer:u0=0.3,v0=0", "--step", "0.05",
                                "--init-weights", str(saved)])
    assert other.exit_code == 2 and "network that made it" in other.output


def test_gd_langevin_average_and_loss_are_the_library_call(problem):
    spec = "twolayer:u0=0.2,v0=0.05"
    out = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.05", "--steps", "40",
                              "--langevin", "1e-4", "--average", "10", "--tol", "0", "--json"])
    assert out.exit_code == 1, out.output  # SGLD has no limit point and tol 0 runs every step
    P = _problem()
    ref = dl.gradient_descent(P, dl.network_from_spec(spec, size=P.N), step=0.05, steps=40, langevin=1e-4,
                              average=10, tol=0.0)
    payload = json.loads(out.output)["result"]
    assert payload == json.loads(json.dumps(ref.to_dict())) and payload["averaged"] == 30
    text = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.05", "--steps", "40",
                               "--average", "10", "--tol", "0"])
    assert "mean weights over the last 30 iterates" in text.output
    bad = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.05", "--loss", "hinge"])
    assert bad.exit_code == 2 and "loss" in bad.output


def test_gd_record_sharpness_is_the_library_call(problem):
    spec = "symmetric:depth=2,alpha=0.5"
    out = runner.invoke(app, ["gd", str(problem), "--network", spec, "--step", "0.05", "--steps", "8",
                              "--record", "loss,sharpness", "--tol", "0", "--json"])
    assert out.exit_code == 1, out.output  # tol 0: max_iter
    P = _problem()
    ref = dl.gradient_descent(P, dl.network_from_spec(spec, size=P.N), step=0.05, steps=8, tol=0.0,
                              record=("loss", "sharpness"))
    history = json.loads(out.output)["result"]["history"]
    assert history["sharpness"] == ref.history["sharpness"].tolist() and len(history["sharpness"]) == 9


@pytest.mark.parametrize("extra, match", [
    (["--step", "0.1", "--sampling", "bootstrap", "--batch-size", "2"], "sampling"),
    (["--schedule", "fast"], "--schedule"),
    (["--step", "0.1", "--schedule", "10:0.1"], "exactly one of step"),
    (["--step", "0.1", "--record", "speed"], "record"),
    (["--step", "0.1", "--init-weights", "missing.json"], "--init-weights"),
])
def test_gd_bad_options_are_one_line_errors(problem, extra, match):
    out = runner.invoke(app, ["gd", str(problem), "--network", "twolayer:u0=0.2,v0=0"] + extra)
    assert out.exit_code == 2 and match in out.output
