"""The documentation runs as written: README.md and every page of docs/.

Convention (stated in docs/index.md): a ```python block is either plain code, which must run
without error, or a doctest session (``>>>`` lines followed by the expected output), whose
output must match. The blocks of one page run in order in one namespace, in a fresh working
directory. A ```console block holds ``$ dlnlab ...`` commands, run in that same directory
(``> FILE`` writes the output to FILE); each must exit with status 0, and the lines under a
command, if any, must each appear in its output.
"""

import doctest
import re
import shlex
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import dlnlab as dl
from dlnlab.cli import app
from dlnlab.networks import spec
from dlnlab.networks.spec import families

ROOT = Path(__file__).parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
#: Every example is meant to take well under 2 s; this bound (10x) only catches a runaway
#: example on a loaded machine, it is not a benchmark.
BLOCK_SECONDS = 20.0


def blocks(page: Path):
    """``(language, code, first line number)`` of every fenced block of ``page``."""
    text = page.read_text()
    for m in FENCE.finditer(text):
        yield m.group(1), m.group(2), text.count("\n", 0, m.start(2)) + 1


def run_python(code: str, namespace: dict, where: str, lineno: int) -> None:
    if re.search(r"^\s*>>> ", code, re.M):
        test = doctest.DocTestParser().get_doctest(code, {}, where, where, lineno - 1)
        test.globs = namespace  # get_doctest copies its globals; the page's blocks share one namespace
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, "".join(report)
    else:
        exec(compile(code, where, "exec"), namespace)


def run_console(code: str, where: str) -> None:
    runner = CliRunner()
    commands = []
    for line in code.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        elif line.strip() and commands:
            commands[-1][1].append(line.strip())
    assert commands, f"{where}: a console block without a `$ dlnlab ...` line"
    for command, expected in commands:
        words = shlex.split(command, comments=True)
        target = None
        if len(words) >= 2 and words[-2] == ">":
            words, target = words[:-2], words[-1]
        assert words[0] == "dlnlab", f"{where}: only dlnlab commands run here; got {command!r}"
        out = runner.invoke(app, words[1:])
        assert out.exit_code == 0, f"{where}: `{command}` exited with {out.exit_code}:\n{out.output}"
        if target is not None:
            Path(target).write_text(out.stdout)
        flat = " ".join(out.output.split())
        for fragment in expected:
            assert " ".join(fragment.split()) in flat, f"{where}: `{command}` did not print {fragment!r}:\n{out.output}"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(spec, "_FAMILIES", dict(spec._FAMILIES))  # a page may register a family: keep it there
    namespace = {"__name__": f"docs.{page.stem}"}
    ran = 0
    for language, code, lineno in blocks(page):
        where = f"{page.relative_to(ROOT)}:{lineno}"
        t0 = time.perf_counter()
        if language == "python":
            run_python(code, namespace, where, lineno)
        elif language == "console":
            run_console(code, where)
        else:
            continue
        ran += 1
        seconds = time.perf_counter() - t0
        assert seconds < BLOCK_SECONDS, f"{where} took {seconds:.1f} s; keep examples to a second or two"
    if page.name in ("index.md", "networks.md", "results.md", "cli.md", "README.md"):
        assert ran, f"{page.name} has no runnable example"


def _text(name: str) -> str:
    return (ROOT / "docs" / name).read_text()


def test_index_links_every_page():
    index = _text("index.md")
    for page in (ROOT / "docs").glob("*.md"):
        if page.name != "index.md":
            assert f"({page.name})" in index, f"docs/index.md does not link {page.name}"


def test_results_page_lists_every_status_and_result_type():
    text = _text("results.md")
    rows = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", text, re.M))
    assert set(rows) >= set(dl.STATUSES), f"docs/results.md misses statuses {set(dl.STATUSES) - set(rows)}"
    results = [n for n in dl.__all__ if isinstance(getattr(dl, n), type) and issubclass(getattr(dl, n), dl.Result)
               and getattr(dl, n) is not dl.Result]
    missing = [n for n in results if f"`{n}`" not in text]
    assert not missing, f"docs/results.md does not describe {missing}"


def test_networks_page_covers_every_family():
    text = _text("networks.md")
    for name, fam in families().items():
        assert f"`{name}:" in text, f"docs/networks.md has no spec example of the {name} family"
        assert f"`{fam.cls.__name__}`" in text
        for key in fam.params:
            assert f"`{key}`" in text, f"docs/networks.md does not explain {name}'s key {key}"


def test_cli_page_shows_every_command():
    text = _text("cli.md")
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    for name in commands:
        assert re.search(rf"^\$ dlnlab {name}\b", text, re.M), f"docs/cli.md has no example of `dlnlab {name}`"
