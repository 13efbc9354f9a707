"""Sweeps take every network by its spec: several families in one grid, interrupted and resumed;
a family defined here, outside the package, run through a sweep and checked against flow_limit;
bad specs refused with the file and key named."""

import json
import math
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.errors import StoreMismatchError, SweepConfigError
from dlnlab.networks import spec as spec_module
from dlnlab.networks.spec import register_family, spec_of
from dlnlab.sweep import ResultStore, load_config, parse_config, run_sweep
from dlnlab.sweep.store import FILE, VOLATILE_COLUMNS
from dlnlab.sweep.tasks import make_problem, run_chunk

FAMILIES = """
name = "families"
trials = 3
batch = 2
[problem]
N = 20
delta = 0.5
rho = [0.2, 0.4]
[[methods]]
method = "bp"
[[methods]]
method = "flow"
network = ["symmetric:depth=3,scale=1e-6", "twolayer:u0=1e-3,v0=0", "layered:depth=3,alpha=0.1"]
"""


def stable(rows):
    return [{k: v for k, v in r.items() if k not in VOLATILE_COLUMNS} for r in rows]


def read_rows(directory):
    with ResultStore.open(directory) as store:
        return store.rows()


class InterruptAfter:
    """A task that computes ``n`` chunks, then acts like Ctrl-C (as the runner sees it)."""

    def __init__(self, n):
        self.left = n

    def __call__(self, chunk):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return run_chunk(chunk)


def test_three_families_interrupted_resume_to_the_uninterrupted_rows(tmp_path):
    cfg = parse_config(FAMILIES)
    total = len(cfg.points())
    assert total == 2 * 3 * 4 and len(cfg.chunks()) == 12
    cut = run_sweep(cfg, tmp_path / "cut", workers=0, task=InterruptAfter(5))
    assert cut.interrupted and cut.computed == 10 and sum(cut.counts.values()) == 10
    # resumed in worker processes: the built-in families are there as in this process
    resumed = run_sweep(cfg, tmp_path / "cut", workers=2)
    assert resumed.complete and resumed.already == 10 and resumed.computed == total - 10
    reference = run_sweep(cfg, tmp_path / "reference", workers=0)
    assert reference.complete and reference.counts == {"converged": total}
    rows = read_rows(tmp_path / "cut")
    assert [r["point_id"] for r in rows] == [p.id for p in cfg.points()]
    assert stable(rows) == stable(read_rows(tmp_path / "reference"))

    # the row names its network by the spec it prints, and the solver that produced x (the
    # layered map of depth 3 takes one problem at a time: the batch evaluates it row by row)
    specs = {"symmetric:depth=3,scale=1e-06": "batch", "twolayer:u0=0.001,v0=0": "batch",
             "layered:inits=0.1|0.2|0.30000000000000004": "batch", None: "highs"}
    assert {r["network"] for r in rows} == set(specs)
    for r, p in zip(rows, cfg.points()):
        assert r["solver"] == specs[r["network"]] and r["status"] == "converged" and r["error"] is None
        if r["network"] is None:
            continue
        P = make_problem(p)
        net = dl.network_from_spec(r["network"], size=P.N)
        ref = dl.flow_limit(P, net)
        # both certified (residual at rtol 1e-12, KKT <= 1e-9) limits of one strictly convex
        # problem: the recovery errors agree far below the 1e-4 success threshold
        assert abs(r["rel_error"] - np.linalg.norm(ref.x - P.x_true) / np.linalg.norm(P.x_true)) <= 1e-9
        assert r["residual"] <= 1e-11 and r["kkt"] <= 1e-9


def test_the_network_is_part_of_the_config_hash_and_the_point_ids():
    a = parse_config(FAMILIES)
    b = parse_config(FAMILIES.replace("twolayer:u0=1e-3,v0=0", "twolayer:u0=1e-3,v0=1e-4"))
    assert a.hash != b.hash
    changed = {p.id for p in b.points()} - {p.id for p in a.points()}
    assert len(changed) == 2 * 3 and all(p.params["network"] == "twolayer:u0=0.001,v0=0.0001"
                                          for p in b.points() if p.id in changed)
    # the same networks written differently are the same sweep
    c = parse_config(FAMILIES.replace("symmetric:depth=3,scale=1e-6", "symmetric:scale=0.000001,depth=3.0")
                     .replace("twolayer:u0=1e-3,v0=0", "twolayer:v0=0,u0=0.001"))
    assert c.hash == a.hash and [p.id for p in c.points()] == [p.id for p in a.points()]


def test_depth_and_scale_are_shorthand_for_symmetric_specs():
    short = parse_config(FAMILIES.replace('network = ["symmetric:depth=3,scale=1e-6", "twolayer:u0=1e-3,v0=0", '
                                          '"layered:depth=3,alpha=0.1"]', "depth = [2, 3]\nscale = [1e-6, 1e-9]"))
    spelled = parse_config(FAMILIES.replace('"twolayer:u0=1e-3,v0=0", "layered:depth=3,alpha=0.1"',
                                            '"symmetric:depth=2,scale=1e-6", "symmetric:depth=2,scale=1e-9", '
                                            '"symmetric:depth=3,scale=1e-9"'))
    assert short.hash == spelled.hash and [p.id for p in short.points()] == [p.id for p in spelled.points()]


# ---------------------------------------------------------------- a family from outside the package


@dataclass(frozen=True, eq=False)
class WeightedSinhMap:
    """``X(z) = 2 a w sinh(c z)`` per coordinate (``z = sign (1 - gap)``), elementwise."""

    a: float
    w: np.ndarray
    c: float
    barrier: bool = False

    def primal(self, sign, gap):
        return sign * 2.0 * self.a * self.w * np.sinh(self.c * (1.0 - gap))

    def slope(self, sign, gap):
        return 2.0 * self.a * self.w * self.c * np.cosh(self.c * (1.0 - gap))

    def conjugate(self, sign, gap):
        return 2.0 * self.a * self.w * np.cosh(self.c * (1.0 - gap)) / self.c

    def dual(self, x):
        z = np.arcsinh(np.asarray(x) / (2.0 * self.a * self.w)) / self.c
        return np.where(z < 0, -1.0, 1.0), 1.0 - np.abs(z)

    def potential(self, x):
        sign, gap = self.dual(x)
        return x * sign * (1.0 - gap) - self.conjugate(sign, gap)


@dataclass(frozen=True, eq=False)
class WeightedDLN:
    """Depth-2 network whose coordinate ``i`` starts at scale ``a w_i``: ``x = 2 a w sinh(s)``
    with ``s = A^T lam``, in the map's coordinate ``z = s / c``, ``c = max(log(1/a), 1)`` (a ScaleFamily
    in ``a``, continued from a large scale down to its own like the built-in families)."""

    scale: float
    w: np.ndarray
    log_scale: float = field(init=False, repr=False)

    def __post_init__(self):
        w = np.array(self.w, dtype=float).ravel()
        if not self.scale > 0 or w.size == 0 or np.any(w <= 0):
            raise dl.NetworkError("weighted: need scale > 0 and positive weights w.")
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "log_scale", math.log(self.scale))

    @property
    def c(self):
        return max(-self.log_scale, 1.0)

    @property
    def size(self):
        return self.w.size

    @property
    def spec(self):
        return spec_of(self)

    def mirror_map(self):
        return WeightedSinhMap(self.scale, self.w, self.c)

    @property
    def dual_scale(self):
        return 1.0 / self.c

    @property
    def small_parameter(self):
        return 1.0 / self.c

    def at_log_scale(self, log_scale):
        return WeightedDLN(math.exp(log_scale), self.w)


@pytest.fixture
def weighted_family():
    register_family("weighted", WeightedDLN, {"scale": "initial scale a", "w": "positive weights (vector)"},
                    lambda p, size: WeightedDLN(p["scale"], p.get("w", np.ones(1 if size is None else size))),
                    lambda net: {"scale": net.scale, "w": net.w}, vectors=("w",))
    try:
        yield
    finally:
        spec_module._FAMILIES.pop("weighted")


WEIGHTS = (1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 1.0, 0.25, 2.0, 1.0, 1.0, 4.0)
WEIGHTED = f"""
name = "weighted"
trials = 3
[problem]
N = 12
delta = 0.5
rho = [0.2, 0.4]
[[methods]]
method = "flow"
network = ["weighted:scale=1e-3,w={';'.join(map(str, WEIGHTS))}", "weighted:scale=1e-2,w=1"]
"""


def _own_kkt(P, scale, w, x):
    """Relative distance of ``s(x) = asinh(x / 2 a w)`` from range(A^T): the limit's own
    optimality condition, computed from ``x`` alone."""
    s = np.arcsinh(x / (2.0 * scale * w))
    coef = np.linalg.lstsq(P.A.T, s, rcond=None)[0]
    return np.linalg.norm(P.A.T @ coef - s) / np.linalg.norm(s)


def test_a_family_defined_outside_the_package_runs_through_a_sweep(tmp_path, weighted_family):
    cfg = parse_config(WEIGHTED)
    summary = run_sweep(cfg, tmp_path, workers=0)
    assert summary.complete and summary.counts == {"converged": len(cfg.points())}
    # the rows name a network by the spec it was given (a scalar w stays a scalar)
    nets = {WeightedDLN(1e-3, WEIGHTS).spec: WeightedDLN(1e-3, np.array(WEIGHTS)),
            WeightedDLN(1e-2, [1.0]).spec: WeightedDLN(1e-2, np.ones(12))}
    rows = read_rows(tmp_path)
    assert {r["network"] for r in rows} == set(nets)
    for r, p in zip(rows, cfg.points()):
        net = nets[r["network"]]
        assert r["solver"] == "batch"
        P = make_problem(p)
        ref = dl.flow_limit(P, net)  # the network built by hand, not from its spec
        assert ref.success and _own_kkt(P, net.scale, net.w, ref.x) <= 1e-9
        # same limit, both certified at rtol 1e-12 / KKT 1e-9 (see above)
        assert abs(r["rel_error"] - np.linalg.norm(ref.x - P.x_true) / np.linalg.norm(P.x_true)) <= 1e-9
        assert abs(r["residual"] - ref.residual) <= 1e-12 and r["kkt"] <= 1e-9


def test_a_family_the_workers_do_not_know_gives_failed_rows_that_say_so(tmp_path, weighted_family):
    """Registered in this process only (pytest's workers never import this module): the
    configuration is valid here, every row says why it could not be computed there."""
    cfg = parse_config(WEIGHTED)
    summary = run_sweep(cfg, tmp_path, workers=1)
    assert summary.complete and summary.counts == {"failed": len(cfg.points())}
    for r in read_rows(tmp_path):
        assert r["error"].startswith("NetworkError: unknown network family 'weighted'") and r["rel_error"] is None


SCRIPT = """
import sys
import numpy as np
import dlnlab as dl
from dlnlab.networks.spec import register_family
from dlnlab.sweep import ResultStore, parse_config, run_sweep

class ShiftedDLN(dl.SymmetricDLN):
    '''A family of its own: the symmetric network under another name.'''

register_family("shifted", ShiftedDLN, {"depth": "depth", "scale": "scale"},
                lambda p, size: ShiftedDLN(depth=p["depth"], scale=p["scale"]),
                lambda net: {"depth": net.depth, "scale": float(f"{net.scale:.15g}")})

if __name__ == "__main__":
    cfg = parse_config('trials = 2\\n[problem]\\nN = 16\\ndelta = 0.5\\nrho = 0.25\\n[[methods]]\\n'
                       'method = "flow"\\nnetwork = "shifted:depth=3,scale=1e-6"')
    summary = run_sweep(cfg, sys.argv[1], workers=1)
    with ResultStore.open(sys.argv[1]) as store:
        print([(r["status"], r["network"], r["error"]) for r in store.rows()])
"""


def test_a_family_registered_at_the_top_of_a_script_reaches_the_workers(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "store")], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str([("converged", "shifted:depth=3,scale=1e-06", None)] * 2)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("line, needle", [
    ('network = "cubic:depth=3"', "unknown network family 'cubic'"),
    ('network = "symmetric:depth=3,scal=1e-6"', "unknown key 'scal'"),
    ('network = "twolayer:u0=0.1;0.2,v0=0"', "u0 has 2 entries but the problem has 20 coordinates"),
    ('network = "symmetric:depth=1,scale=1e-6"', "depth"),
    ('network = 3', "spec string"),
    ('network = []', "empty list"),
    ('network = "symmetric:depth=3,scale=1e-6"\ndepth = 2', "not both"),
    ('depth = 2', "needs scale"),
])
def test_bad_network_specs_name_the_file_and_the_key(tmp_path, line, needle):
    path = tmp_path / "grid.toml"
    path.write_text(f'[problem]\nN = [20]\ndelta = 0.5\nrho = 0.2\n[[methods]]\nmethod = "bp"\n'
                    f'[[methods]]\nmethod = "flow"\n{line}\n')
    with pytest.raises(SweepConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert text.startswith(f"{path} [[methods]] #2") and needle in text
    assert "network" in text  # the key, or the forms a flow method takes


def test_a_store_of_the_previous_format_is_refused(tmp_path):
    cfg = parse_config(FAMILIES)
    with ResultStore.open(tmp_path, cfg):
        pass
    with sqlite3.connect(tmp_path / FILE) as conn:
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'format'")
    conn.close()
    with pytest.raises(StoreMismatchError, match="format '1'.*new --out directory"):
        run_sweep(cfg, tmp_path, workers=0)


def test_highs_without_a_point_is_a_failed_row_with_a_solver_error(monkeypatch):
    import dlnlab.sweep.tasks as tasks

    class NoPoint:
        x, status, message = None, 4, "numerical difficulties"

    monkeypatch.setattr(tasks, "linprog", lambda *a, **k: NoPoint())
    cfg = parse_config('[problem]\nN = 20\ndelta = 0.5\nrho = 0.2\n[[methods]]\nmethod = "bp"')
    row, = run_chunk(cfg.chunks()[0])
    assert row["status"] == "failed" and row["success"] is None
    assert row["error"].startswith("SolverError: HiGHS returned no solution") and "status 4" in row["error"]
    assert json.dumps(row)  # a row is plain data


def test_cli_runs_a_grid_of_networks_retries_failed_points_and_labels_the_phase_by_spec(tmp_path, monkeypatch):
    import dlnlab.sweep.tasks as tasks
    from typer.testing import CliRunner

    from dlnlab.cli import app

    grid = tmp_path / "grid.toml"
    grid.write_text(FAMILIES.replace('"layered:depth=3,alpha=0.1"', '"nonnegative:u0=1e-3"'))
    cfg = load_config(grid)
    target = next(p for p in cfg.points() if p.params["network"] == "twolayer:u0=0.001,v0=0")
    real = tasks.make_problem
    monkeypatch.setattr(tasks, "make_problem", lambda p: 1 / 0 if p.id == target.id else real(p))
    runner = CliRunner()
    first = runner.invoke(app, ["sweep", str(grid), "--out", str(tmp_path / "s"), "--workers", "0", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)["result"]
    assert summary["complete"] and summary["counts"]["failed"] >= 1
    rows = {r["point_id"]: r for r in read_rows(tmp_path / "s")}
    assert rows[target.id]["status"] == "failed" and rows[target.id]["error"].startswith("ZeroDivisionError")
    failed = {i for i, r in rows.items() if r["status"] == "failed"}

    monkeypatch.setattr(tasks, "make_problem", real)
    again = runner.invoke(app, ["sweep", str(tmp_path / "s"), "--workers", "0", "--retry-failed", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["result"]["computed"] == len(failed)  # every failed point, nothing else
    assert read_rows(tmp_path / "s")[cfg.points().index(target)]["status"] == "converged"

    phase = runner.invoke(app, ["sweep", str(tmp_path / "s"), "--phase", "--json"])
    assert phase.exit_code == 0, phase.output
    labels = set(json.loads(phase.output)["result"]["transitions"])
    assert {"BP N=20", "flow symmetric:depth=3,scale=1e-06 N=20", "flow twolayer:u0=0.001,v0=0 N=20"} <= labels


def test_cli_points_to_retry_failed_when_points_failed(tmp_path, weighted_family):
    from typer.testing import CliRunner

    from dlnlab.cli import app

    grid = tmp_path / "grid.toml"
    grid.write_text(WEIGHTED)
    # the workers do not know the family (see above): every point fails, and the summary says what to do
    res = CliRunner().invoke(app, ["sweep", str(grid), "--out", str(tmp_path / "s"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "12 points failed" in res.output and "--retry-failed" in res.output
