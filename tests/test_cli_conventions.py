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
