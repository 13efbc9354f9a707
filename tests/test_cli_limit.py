import json

import numpy as np
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app

runner = CliRunner()


def test_limit_json_matches_library(tmp_path):
    path = dl.random_problem().save(tmp_path / "random.npz")
    out = runner.invoke(app, ["limit", str(path), "--depth", "3", "--scale", "1e-9", "--json"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.output)["result"]
    ref = dl.flow_limit(dl.random_problem(), dl.SymmetricDLN(depth=3, scale=1e-9))
    assert payload["status"] == "converged"
    assert np.allclose(payload["x"], ref.x, rtol=0, atol=1e-15)
    assert payload["residual"] < 1e-12 and payload["kkt"] < 1e-12


def test_limit_table_and_alpha(tmp_path):
    path = dl.line_problem().save(tmp_path / "line.npz")
    out = runner.invoke(app, ["limit", str(path), "--depth", "2", "--alpha", "1e-3"])
    assert out.exit_code == 0, out.output
    assert "status converged" in out.output and "1e-06" in out.output


def test_limit_errors_are_one_line_messages(tmp_path):
    path = dl.line_problem().save(tmp_path / "line.npz")
    out = runner.invoke(app, ["limit", str(path), "--depth", "3"])
    assert out.exit_code == 2 and "--scale" in out.output
    out = runner.invoke(app, ["limit", str(path), "--depth", "1", "--scale", "1e-3"])
    assert out.exit_code == 2 and "depth" in out.output
    out = runner.invoke(app, ["limit", str(tmp_path / "missing.npz"), "--scale", "1e-3"])
    assert out.exit_code == 2 and "no such file" in out.output
