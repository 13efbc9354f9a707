"""One CLI convention: the JSON payload, errors as JSON, exit codes, compact output, file modes."""

import json
import os
import stat

import numpy as np
import pytest
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app
from dlnlab.files import atomic_write_text

runner = CliRunner()


@pytest.fixture
def problem(tmp_path):
    return dl.random_problem().save(tmp_path / "random.npz")


@pytest.mark.parametrize("args", [["limit", "{p}", "--depth", "2", "--scale", "1e-6"],
                                  ["bp", "{p}"], ["nsp", "{p}", "--order", "1"],
                                  ["gd", "{p}", "--network", "symmetric:depth=2,alpha=0.1", "--step", "0.1"],
                                  ["networks"]])
def test_json_payload_shape_and_provenance(args, problem):
    out = runner.invoke(app, [a.format(p=problem) for a in args] + ["--json"])
    assert out.exit_code in (0, 1), out.output
    payload = json.loads(out.stdout)
    assert set(payload) == {"dlnlab", "command", "input", "result", "provenance"}
    assert payload["dlnlab"] == dl.__version__ and payload["command"] == args[0]
    prov = payload["provenance"]
    for key in ("dlnlab", "python", "numpy", "scipy", "platform", "date"):
        assert prov[key], key
    assert prov["numpy"] == np.__version__


def test_errors_are_json_on_stderr_with_exit_2(problem):
    out = runner.invoke(app, ["limit", str(problem), "--depth", "1", "--scale", "1e-6", "--json"])
    assert out.exit_code == 2
    err = json.loads(out.stderr)
    assert err["command"] == "limit" and err["error"]["type"] == "NetworkError" and "depth" in err["error"]["message"]
    plain = runner.invoke(app, ["limit", str(problem), "--depth", "1", "--scale", "1e-6"])
    assert plain.exit_code == 2 and plain.stderr.startswith("error: ")


def test_large_n_prints_a_summary_and_the_support(tmp_path):
    P = dl.gaussian_problem(20, 1000, 3, seed=0)
    path = P.save(tmp_path / "big.npz")
    out = runner.invoke(app, ["limit", str(path), "--depth", "2", "--scale", "1e-6"])
    assert out.exit_code == 0, out.output
    assert len(out.output.splitlines()) < 80 and "support" in out.output
    full = runner.invoke(app, ["limit", str(path), "--depth", "2", "--scale", "1e-6", "--full"])
    assert len(full.output.splitlines()) > 1000


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644  # 0o666 & ~0o022, not tempfile's 0o600


def _payload(out, command):
    payload = json.loads(out.stdout)
    assert set(payload) == {"dlnlab", "command", "input", "result", "provenance"}
    assert payload["command"] == command
    return payload["result"]


def test_reproduce_rates_and_report_speak_json(tmp_path, problem):
    listed = _payload(runner.invoke(app, ["reproduce", "list", "--json"]), "reproduce")
    assert "gha-staircase" in {e["name"] for e in listed["experiments"]}
    out = runner.invoke(app, ["reproduce", "gha-staircase", "--quick", "--out", str(tmp_path / "res"), "--json"])
    assert out.exit_code == 0, out.output
    run = _payload(out, "reproduce")
    again = _payload(runner.invoke(app, ["report", str(tmp_path / "res"), "--json"]), "report")
    # the report of the folder counts the same checks the run did
    assert again["checks"] == run["checks"] > 0 and again["failed"] == run["failed"]
    rates = runner.invoke(app, ["rates", str(problem), "--depths", "2", "--out", str(tmp_path / "rates"),
                                "--per-decade", "0.1", "--json"])
    assert rates.exit_code in (0, 1), rates.output
    result = _payload(rates, "rates")
    assert [r["depth"] for r in result["records"]] == [2.0]
    assert all(os.path.exists(f) for f in result["files"])


@pytest.mark.parametrize("args, kind", [(["limit", "{p}", "--bogus"], "NoSuchOption"),
                                        (["limit"], "MissingParameter"),
                                        (["limit", "{p}", "--depth", "two"], "BadParameter")])
def test_usage_errors_are_one_line_or_json_with_exit_2(args, kind, problem):
    args = [a.format(p=problem) for a in args]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 2
    assert plain.stderr.strip().splitlines()[-1].startswith("error: ")
    as_json = runner.invoke(app, args + ["--json"])
    assert as_json.exit_code == 2 and as_json.stdout == ""
    err = json.loads(as_json.stderr)
    assert err["command"] == "limit" and err["error"]["exit_code"] == 2
    assert err["error"]["type"] in (kind, "BadOptionUsage", "UsageError") and err["error"]["message"]


def test_flow_and_saddle_summarize_large_vectors(tmp_path):
    path = dl.gaussian_problem(10, 200, 2, seed=1).save(tmp_path / "big.npz")
    flow = ["flow", str(path), "--network", "symmetric:depth=2,alpha=1e-3", "--times", "0,10,100"]
    out = runner.invoke(app, flow)
    assert out.exit_code in (0, 1), out.output
    assert "nonzero of 200" in out.output and "--full" in out.output
    full = runner.invoke(app, flow + ["--full"])
    rows = [line for line in full.output.splitlines() if line.startswith("t = ")]
    assert len(rows) == 3 and all(line.count(",") == 199 for line in rows)
    saddle = runner.invoke(app, ["saddle", str(path), "--json"])
    assert saddle.exit_code in (0, 1), saddle.output
    result = _payload(saddle, "saddle")
    assert result["plateaus"] and "status" in result
