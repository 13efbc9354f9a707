"""The package as installed: one version everywhere, `dlnlab --version`, `python -m dlnlab`."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import dlnlab as dl

ROOT = Path(__file__).parents[1]


def _run(args):
    """``args`` in a child process that imports this same dlnlab (the tested tree, not another install)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(dl.__file__).parents[1]),
                                                        os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)


def test_python_m_dlnlab_version():
    out = _run([sys.executable, "-m", "dlnlab", "--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"dlnlab {dl.__version__}\n"


def test_python_m_dlnlab_runs_commands_under_the_name_dlnlab():
    out = _run([sys.executable, "-m", "dlnlab", "networks"])
    assert out.returncode == 0, out.stderr
    assert all(name in out.stdout for name in ("symmetric", "twolayer", "layered", "nonnegative"))
    usage = _run([sys.executable, "-m", "dlnlab", "limit"])  # a missing argument: usage names the program
    assert usage.returncode == 2 and "Usage: dlnlab limit" in usage.stderr


def test_console_script_version():
    script = Path(sys.executable).with_name("dlnlab")
    if not script.exists():
        pytest.skip(f"no dlnlab console script next to {sys.executable} (dlnlab is not pip-installed here)")
    out = _run([str(script), "--version"])
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"dlnlab {dl.__version__}\n"


def test_one_version_source():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/dlnlab/__init__.py"
    citation = (ROOT / "CITATION.cff").read_text()
    assert f'\nversion: "{dl.__version__}"\n' in citation


def test_license_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == {"text": "BSD-3-Clause"}
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License\n")
    assert "\nlicense: BSD-3-Clause\n" in (ROOT / "CITATION.cff").read_text()


def test_changelog_names_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in text and f"## {dl.__version__} " in text
