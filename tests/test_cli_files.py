"""Every file-handling path of the command line: one `error:` line, exit status 2, no traceback."""

import sys
import zipfile

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.cli import main


def _run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["dlnlab", *map(str, args)])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    return exit_.value.code, err


def _files(tmp_path):
    good = dl.random_problem().save(tmp_path / "good.npz")
    data = good.read_bytes()
    with zipfile.ZipFile(good) as z:  # a flipped bit inside A's stored bytes: only the CRC sees it
        offset = z.getinfo("A.npy").header_offset + 30 + len("A.npy") + 200
    flipped = bytearray(data)
    flipped[offset] ^= 0x01
    (tmp_path / "flip.npz").write_bytes(bytes(flipped))
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    np.save(tmp_path / "arr.npy", np.eye(3))
    (tmp_path / "text.npz").write_text("A = [[1, 2]]\n")
    (tmp_path / "folder.npz").mkdir()
    return {"truncated": "trunc.npz", "checksum": "flip.npz", "single .npy": "arr.npy",
            "not a .npz (zip)": "text.npz", "folder": "folder.npz", "no such file": "missing.npz"}


@pytest.mark.parametrize("command", ["bp", "limit"])
def test_unusable_problem_files(tmp_path, monkeypatch, capsys, command):
    # truncated files and .npy arrays gave BadZipFile / TypeError tracebacks, text was "pickled",
    # a flipped bit was loaded silently
    for words, name in _files(tmp_path).items():
        extra = ["--scale", "1e-6"] if command == "limit" else []
        code, err = _run(monkeypatch, capsys, command, tmp_path / name, *extra)
        assert code == 2 and err.startswith("error:") and "Traceback" not in err, (name, err)
        assert words in err, (name, err)


def test_load_npz_errors_are_problem_errors(tmp_path):
    for name in _files(tmp_path).values():
        with pytest.raises(dl.ProblemError):
            dl.Problem.load(tmp_path / name)


def test_output_folder_that_is_a_file(tmp_path, monkeypatch, capsys):
    # --out naming a file: NotADirectoryError / FileExistsError tracebacks, `rates` exited 0 after its study
    good = dl.random_problem().save(tmp_path / "good.npz")
    (tmp_path / "afile").write_text("x")
    for args in (["rates", good, "--out", tmp_path / "afile"], ["rates", good, "--out", tmp_path / "afile" / "sub"],
                 ["reproduce", "all", "--quick", "--out", tmp_path / "afile"]):
        code, err = _run(monkeypatch, capsys, *args)
        assert code == 2 and "is a file" in err and "Traceback" not in err


def test_sweep_config_not_utf8(tmp_path, monkeypatch, capsys):
    (tmp_path / "latin.toml").write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    code, err = _run(monkeypatch, capsys, "sweep", tmp_path / "latin.toml", "--out", tmp_path / "store")
    assert code == 2 and "UTF-8" in err


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_rates_run_that_fails_midway_leaves_the_last_run_intact(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dlnlab import plots
    from dlnlab.cli import app

    good = dl.random_problem().save(tmp_path / "good.npz")
    out = tmp_path / "rates"
    args = ["rates", str(good), "--depths", "2", "--out", str(out), "--per-decade", "0.1"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    assert {"rates.csv", "rates.png", "summary.json", "meta.json"} <= {p.name for p in before}

    def broken(fig, stem):  # the CSV of the new run is already written when the figure fails
        raise OSError(28, "No space left on device", str(stem) + ".png")

    monkeypatch.setattr(plots, "save_figure", broken)
    again = CliRunner().invoke(app, args[:3] + ["3"] + args[4:])
    assert again.exit_code == 2 and "No space left" in again.stderr
    assert _snapshot(out) == before  # every old file as it was, nothing new or half-written beside them


def test_an_experiment_that_fails_midway_leaves_its_last_run_intact(tmp_path, monkeypatch):
    import dataclasses

    from dlnlab.studies import experiments as ex

    ex.run_experiment("gha-staircase", tmp_path, quick=True)
    folder = tmp_path / "gha-staircase"
    before = _snapshot(folder)
    exp = ex.get("gha-staircase")

    def fails_after_writing(ctx, **params):
        ctx.save_csv("partial", ["a"], [[1.0]])
        raise RuntimeError("killed midway")

    monkeypatch.setitem(ex._REGISTRY, "gha-staircase", dataclasses.replace(exp, func=fails_after_writing))
    with pytest.raises(RuntimeError, match="killed midway"):
        ex.run_experiment("gha-staircase", tmp_path, quick=True)
    assert _snapshot(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_crashing_experiment_is_recorded_and_the_others_run(monkeypatch, capsys, tmp_path):
    """`reproduce all`: an experiment that raises leaves its traceback in OUT/NAME.error.txt, its
    last complete results untouched, the others run, and the exit status is 1."""
    from dlnlab.studies import experiments as ex

    calls = []

    @ex.experiment("test-crash", title="raises", quick=dict(n=1), full=dict(n=1))
    def crash(ctx, *, n):
        calls.append("crash")
        raise RuntimeError("deliberate failure")

    @ex.experiment("test-fine", title="passes", quick=dict(n=1), full=dict(n=1))
    def fine(ctx, *, n):
        calls.append("fine")
        return [ex.record("c", params={"n": n}, checks=[ex.check("n", n, 1, 0.5)])]

    toys = {n: ex.get(n) for n in ("test-crash", "test-fine")}
    monkeypatch.setattr(ex, "load", lambda: toys)
    old = tmp_path / "res" / "test-crash"
    old.mkdir(parents=True)
    (old / "curves.csv").write_text("x\n1\n")  # a previous run's file
    code, err = _run(monkeypatch, capsys, "reproduce", "all", "--quick", "--jobs", "1", "--out", tmp_path / "res")
    assert code == 1 and calls == ["crash", "fine"], err
    assert "experiment test-crash crashed (RuntimeError: deliberate failure)" in err
    trace = (tmp_path / "res" / "test-crash.error.txt").read_text()
    assert "Traceback" in trace and "deliberate failure" in trace
    assert (old / "curves.csv").read_text() == "x\n1\n"
    assert (tmp_path / "res" / "test-fine" / "summary.json").exists()


def _records(folder):
    import json
    return {p.parent.name: json.loads(p.read_text())["records"] for p in sorted(folder.glob("*/summary.json"))}


def test_experiments_on_worker_processes_give_the_same_records(monkeypatch, capsys, tmp_path):
    """`reproduce --jobs 2` (two worker processes) writes the records `--jobs 1` writes."""
    from dlnlab.studies import experiments as ex

    picked = {n: ex.get(n) for n in ("gha-staircase", "woodworth2020-transition")}
    monkeypatch.setattr(ex, "load", lambda: picked)  # the workers' registry is the full one
    for jobs in (1, 2):
        code, err = _run(monkeypatch, capsys, "reproduce", "all", "--quick", "--jobs", jobs,
                         "--out", tmp_path / f"j{jobs}")
        assert code in (0, None), err
    serial, parallel = _records(tmp_path / "j1"), _records(tmp_path / "j2")
    assert sorted(serial) == sorted(picked) and serial == parallel


def test_jobs_must_be_positive(monkeypatch, capsys, tmp_path):
    code, err = _run(monkeypatch, capsys, "reproduce", "all", "--quick", "--jobs", "0", "--out", tmp_path)
    assert code == 2 and "--jobs must be >= 1" in err
