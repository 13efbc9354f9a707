"""Sweep configurations: validation, canonical form, deterministic ids, seeds and tasks."""

from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.errors import SweepConfigError
from dlnlab.sweep.config import from_dict, parse_config

BASE = """
name = "t"
seed = 7
trials = 3
batch = 4
[problem]
N = [30]
delta = [0.5, 0.25]
rho = [0.2, 0.4]
[[methods]]
method = "bp"
[[methods]]
method = "flow"
depth = [3, 2]
scale = 1e-6
"""


def test_grid_size_ids_and_paired_seeds():
    cfg = parse_config(BASE)
    pts = cfg.points()
    # 2 deltas x 2 rhos x (bp + 2 depths) x 3 trials
    assert len(pts) == 2 * 2 * 3 * 3
    assert len({p.id for p in pts}) == len(pts)
    assert [p.index for p in pts] == list(range(len(pts)))
    # every method sees the same instance for the same (problem, trial): a paired comparison
    by_instance = {}
    for p in pts:
        q = p.params
        by_instance.setdefault((q["delta"], q["rho"], q["trial"]), set()).add(p.seed)
    assert all(len(s) == 1 for s in by_instance.values())
    assert len({next(iter(s)) for s in by_instance.values()}) == len(by_instance)
    p = pts[0].params
    assert (p["N"], p["m"], p["k"]) == (30, round(0.25 * 30), round(0.2 * round(0.25 * 30)))
    P = dl.gaussian_problem(p["m"], p["N"], p["k"], seed=pts[0].seed, signs=True)
    assert sorted(set(abs(P.x_true[P.x_true != 0]))) == [1.0]


def test_canonical_form_ignores_order_and_spelling():
    a = parse_config(BASE)
    b = parse_config(BASE.replace("[0.5, 0.25]", "[0.25, 0.5, 0.5]").replace("[3, 2]", "[2.0, 3]")
                     .replace("scale = 1e-6", "scale = [0.000001]"))
    assert a.hash == b.hash and [p.id for p in a.points()] == [p.id for p in b.points()]
    assert from_dict(a.canonical).hash == a.hash  # the stored canonical form round-trips
    c = parse_config(BASE.replace("seed = 7", "seed = 8"))
    assert c.hash != a.hash and not {p.id for p in c.points()} & {p.id for p in a.points()}


def test_chunks_cover_grid_once_with_one_solver_and_size_each():
    cfg = parse_config(BASE)
    chunks = cfg.chunks()
    ids = [p.id for c in chunks for p in c.points]
    assert sorted(ids) == sorted(p.id for p in cfg.points())
    for c in chunks:
        assert 1 <= len(c.points) <= 4
        keys = {(p.params["method"], p.params["network"], p.params["N"], p.params["m"])
                for p in c.points}
        assert len(keys) == 1
    assert [c.index for c in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize("text, needle", [
    ("trials = 0\n[problem]\nN=10\ndelta=0.5\nrho=0.5\n[[methods]]\nmethod='bp'", "trials"),
    ("[problem]\nN=10\ndelta=1.5\nrho=0.5\n[[methods]]\nmethod='bp'", "delta"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.01\n[[methods]]\nmethod='bp'", "k = 0"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5\nrhoo=1\n[[methods]]\nmethod='bp'", "unknown key"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5\n[[methods]]\nmethod='lasso'", "unknown method"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5\n[[methods]]\nmethod='flow'\ndepth=1\nscale=1e-3", "depth"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5\n[[methods]]\nmethod='flow'\ndepth=2\nscale=-1", "scale"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5", "[[methods]]"),
    ("[problem]\nN=10\ndelta=0.5\nrho=[]\n[[methods]]\nmethod='bp'", "empty"),
    ("[problem\n", "TOML"),
    ("[problem]\nN=10\ndelta=0.5\nrho=0.5\n[[methods]]\nmethod='bp'\n[[methods]]\nmethod='bp'", "twice"),
])
def test_bad_configs_are_refused_with_a_clear_message(text, needle):
    with pytest.raises(SweepConfigError) as info:
        parse_config(text)
    assert needle in str(info.value)


def test_example_config_is_valid_and_small():
    text = resources.files("dlnlab.sweep").joinpath("example.toml").read_text()
    cfg = parse_config(text)
    assert 0 < len(cfg.points()) <= 600


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.45]), min_size=1, max_size=4),
       st.integers(1, 3), st.integers(1, 5))
def test_ids_depend_only_on_the_point(rhos, trials, batch):
    """A point's id and seed do not depend on the rest of the grid or on the batch size."""
    text = f"trials = {trials}\nbatch = {batch}\n[problem]\nN = 40\ndelta = 0.5\nrho = {rhos}\n[[methods]]\nmethod = 'bp'"
    small = {p.id: p.seed for p in parse_config(text).points()}
    full = {p.id: p.seed for p in parse_config(text.replace(f"rho = {rhos}", "rho = [0.1, 0.2, 0.3, 0.45]")
                                               .replace(f"trials = {trials}", "trials = 3")).points()}
    assert all(full[i] == s for i, s in small.items())

