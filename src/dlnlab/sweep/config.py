"""Sweep configurations: a TOML file -> a validated grid of points with derived seeds.

A configuration names a problem generator with lists of parameters, a list of methods
(each with its own lists of parameters) and a number of trials; the grid is their product::

    name = "phase-diagram"
    seed = 0              # root of every derived seed
    trials = 10
    batch = 16            # points per task: problems of equal size are solved together
    success_tol = 1e-4    # success: converged and ||x - x_true|| / ||x_true|| <= success_tol

    [problem]             # dl.gaussian_problem: A iid N(0, 1/m), k-sparse x_true
    generator = "gaussian"
    N = [100]
    delta = [0.25, 0.5]   # m = round(delta N)
    rho = [0.2, 0.3]      # k = round(rho m)
    signs = true          # +-1 nonzeros (Donoho-Tanner); false: standard normal

    [[methods]]
    method = "bp"         # basis pursuit (HiGHS)

    [[methods]]
    method = "flow"       # gradient-flow limit of each network (dl.flow_limit)
    network = ["symmetric:depth=3,scale=1e-6", "twolayer:u0=0.1,v0=0", "layered:depth=3,alpha=0.1"]

    [[methods]]
    method = "flow"       # shorthand for network = "symmetric:depth=D,scale=A", every D x A
    depth = [2, 3]
    scale = [1e-6]        # effective scale a = alpha**depth

A flow method names its networks by their text form (`dlnlab.networks.spec`, any registered
family, yours included), one spec or a list, a grid axis like the others; each problem size
``N`` gets ``network_from_spec(spec, size=N)``. Specs are stored in the form the network
prints back (``net.spec``), so ``symmetric:scale=1e-6,depth=3`` and
``symmetric:depth=3,scale=0.000001`` are one solver. A family you register reaches worker
processes when the registration runs on import: at the top level of the script (workers
import it, skipping its ``if __name__ == "__main__":`` block) or in a module it imports.

Every value list is canonicalized (sorted, duplicates dropped), so the canonical form,
its hash, the point ids and the chunks do not depend on how the file is written.
A point's problem seed is a hash of the root seed, the problem parameters and the trial
(not the method): every method sees the same instances, a paired comparison.

>>> cfg = parse_config('trials = 2\\n[problem]\\nN = 20\\ndelta = 0.5\\nrho = [0.1, 0.2]\\n[[methods]]\\nmethod = "bp"')
>>> len(cfg.points()), cfg.points()[0].params["m"], cfg.points()[0].params["k"]
(4, 10, 1)
>>> flow = '[problem]\\nN = 20\\ndelta = 0.5\\nrho = 0.2\\n[[methods]]\\nmethod = "flow"\\n'
>>> parse_config(flow + 'depth = 3\\nscale = 1e-6').points()[0].params["network"]
'symmetric:depth=3,scale=1e-06'
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import NetworkError, SweepConfigError
from ..networks.base import Network
from ..networks.spec import network_from_spec

TOP_KEYS = {"name", "seed", "trials", "batch", "success_tol", "problem", "methods"}
PROBLEM_KEYS = {"generator", "N", "delta", "rho", "signs"}
METHOD_KEYS = {"bp": {"method"}, "flow": {"method", "network", "depth", "scale"}}
#: How a flow method names its networks (for the error messages).
FLOW_FORMS = ('network = "SPEC" or a list of specs (e.g. network = ["symmetric:depth=3,scale=1e-6", '
              '"twolayer:u0=0.1,v0=0"]), or depth = [...] with scale = [...] (the symmetric network)')
GENERATORS = ("gaussian",)


@dataclass(frozen=True)
class Point:
    """One grid point: its id (hash of its canonical parameters), position in the grid, parameters
    (the problem's, ``method``, ``network`` (the spec; None for bp), ``trial``) and problem seed."""

    id: str
    index: int
    params: dict
    seed: int


@dataclass(frozen=True)
class Chunk:
    """A task: points of one solver (method and network) on problems of one size, in grid order."""

    index: int
    points: tuple[Point, ...]
    success_tol: float


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration; ``canonical`` is the plain-data form that is hashed."""

    canonical: dict

    @property
    def name(self) -> str:
        return self.canonical["name"]

    @property
    def hash(self) -> str:
        return digest(self.canonical)

    def points(self) -> list[Point]:
        """The grid in canonical order: problem parameters x methods x trials."""
        c = self.canonical
        prob = c["problem"]
        out = []
        for N in prob["N"]:
            for delta in prob["delta"]:
                m = round(delta * N)
                for rho in prob["rho"]:
                    k = round(rho * m)
                    problem = {"generator": prob["generator"], "N": N, "m": m, "k": k, "delta": delta, "rho": rho,
                               "signs": prob["signs"]}
                    for method in c["methods"]:
                        for solver in _solvers(method):
                            for trial in range(c["trials"]):
                                params = {**problem, **solver, "trial": trial}
                                seed = int(digest({"seed": c["seed"], "problem": problem, "trial": trial}, 16), 16) >> 1
                                out.append(Point(id=digest({"seed": c["seed"], **params}, 16), index=len(out),
                                                 params=params, seed=seed))
        return out

    def chunks(self) -> list[Chunk]:
        """Points grouped by solver and problem size (``N, m``), cut into ``batch``-size tasks.

        Depends on the configuration alone (not on workers or on what is finished), so a
        resumed or distributed run computes exactly the same tasks."""
        groups: dict[tuple, list[Point]] = {}
        for p in self.points():
            q = p.params
            groups.setdefault((q["method"], q["network"], q["N"], q["m"]), []).append(p)
        size = self.canonical["batch"]
        out = []
        for pts in groups.values():
            for i in range(0, len(pts), size):
                out.append(Chunk(index=len(out), points=tuple(pts[i:i + size]),
                                 success_tol=self.canonical["success_tol"]))
        return out


def _solvers(method: dict) -> list[dict]:
    if method["method"] == "bp":
        return [{"method": "bp", "network": None}]
    return [{"method": "flow", "network": spec} for spec in method["network"]]


def digest(obj, length: int = 64) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, shortest float repr), hex."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def load_config(path) -> SweepConfig:
    """Read and validate a TOML sweep configuration file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SweepConfigError(f"{path}: cannot read the sweep configuration ({exc}). "
                               "`dlnlab sweep --example` prints a working one.") from None
    except UnicodeDecodeError as exc:
        raise SweepConfigError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                               "TOML files are UTF-8: re-save it as UTF-8.") from None
    return parse_config(text, source=str(path))


def parse_config(text: str, source: str = "<config>") -> SweepConfig:
    """Validate TOML text (see the module docstring) into a `SweepConfig`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SweepConfigError(f"{source}: not valid TOML ({exc}).") from None
    return from_dict(raw, source)


def from_dict(raw: dict, source: str = "<config>") -> SweepConfig:
    """Validate a plain dict (the parsed TOML, or a stored canonical form)."""
    where = source
    _unknown(raw, TOP_KEYS, where)
    name = raw.get("name", "sweep")
    if not isinstance(name, str):
        raise SweepConfigError(f"{where}: name must be a string; got {name!r}.")
    seed = _integer(raw.get("seed", 0), "seed", where, lo=0)
    trials = _integer(raw.get("trials", 1), "trials", where, lo=1)
    batch = _integer(raw.get("batch", 16), "batch", where, lo=1)
    tol = _real(raw.get("success_tol", 1e-4), "success_tol", where)
    if not tol > 0:
        raise SweepConfigError(f"{where}: success_tol must be > 0; got {tol}.")
    if "problem" not in raw or not isinstance(raw["problem"], dict):
        raise SweepConfigError(f"{where}: a [problem] table is required (generator, N, delta, rho).")
    problem = _problem(raw["problem"], f"{where} [problem]")
    methods_raw = raw.get("methods")
    if not isinstance(methods_raw, list) or not methods_raw:
        raise SweepConfigError(f'{where}: at least one [[methods]] table is required, e.g. [[methods]] method = "bp".')
    methods = [_method(m, f"{where} [[methods]] #{i + 1}", problem["N"]) for i, m in enumerate(methods_raw)]
    seen = set()
    for m in methods:
        for s in _solvers(m):
            key = (s["method"], s["network"])
            if key in seen:
                what = s["method"] if s["network"] is None else f"{s['method']} {s['network']}"
                raise SweepConfigError(f"{where}: solver {what} appears twice in [[methods]]; list it once.")
            seen.add(key)
    canonical = {"name": name, "seed": seed, "trials": trials, "batch": batch, "success_tol": tol,
                 "problem": problem, "methods": methods}
    return SweepConfig(canonical)


def _problem(raw, where):
    if not isinstance(raw, dict):
        raise SweepConfigError(f"{where}: must be a table.")
    _unknown(raw, PROBLEM_KEYS, where)
    generator = raw.get("generator", "gaussian")
    if generator not in GENERATORS:
        raise SweepConfigError(f"{where}: unknown generator {generator!r}; available: {', '.join(GENERATORS)}.")
    for key in ("N", "delta", "rho"):
        if key not in raw:
            raise SweepConfigError(f"{where}: {key} is required (a number or a list of numbers).")
    Ns = sorted({_integer(v, "N", where, lo=2) for v in _as_list(raw["N"], f"{where} N")})
    deltas = sorted({_real(v, "delta", where) for v in _as_list(raw["delta"], f"{where} delta")})
    rhos = sorted({_real(v, "rho", where) for v in _as_list(raw["rho"], f"{where} rho")})
    signs = raw.get("signs", True)
    if not isinstance(signs, bool):
        raise SweepConfigError(f"{where}: signs must be true or false; got {signs!r}.")
    for d in deltas:
        if not 0 < d < 1:
            raise SweepConfigError(f"{where}: delta = m/N must lie in (0, 1); got {d}.")
    for r in rhos:
        if not 0 < r <= 1:
            raise SweepConfigError(f"{where}: rho = k/m must lie in (0, 1]; got {r}.")
    for N in Ns:
        for d in deltas:
            m = round(d * N)
            if not 1 <= m < N:
                raise SweepConfigError(f"{where}: delta = {d} at N = {N} gives m = {m}; need 1 <= m < N.")
            for r in rhos:
                if round(r * m) < 1:
                    raise SweepConfigError(f"{where}: rho = {r} at m = {m} (N = {N}, delta = {d}) gives k = 0; "
                                           "raise rho or N.")
    return {"generator": generator, "N": Ns, "delta": deltas, "rho": rhos, "signs": signs}


def _method(raw, where, sizes):
    if not isinstance(raw, dict) or "method" not in raw:
        raise SweepConfigError(f'{where}: each [[methods]] table needs method = "bp" or "flow".')
    kind = raw["method"]
    if kind not in METHOD_KEYS:
        raise SweepConfigError(f"{where}: unknown method {kind!r}; available: {', '.join(METHOD_KEYS)}.")
    _unknown(raw, METHOD_KEYS[kind], where)
    if kind == "bp":
        return {"method": "bp"}
    shorthand = [key for key in ("depth", "scale") if key in raw]
    if "network" in raw:
        if shorthand:
            raise SweepConfigError(f"{where}: give network or depth/scale, not both; a flow method takes "
                                   f"{FLOW_FORMS}.")
        specs = _as_list(raw["network"], f"{where} network")
        key = "network"
    else:
        if len(shorthand) < 2:
            missing = " and ".join(k for k in ("depth", "scale") if k not in raw)
            raise SweepConfigError(f"{where}: method flow needs {missing}; it takes {FLOW_FORMS}.")
        depths = sorted({_real(v, "depth", where) for v in _as_list(raw["depth"], f"{where} depth")})
        scales = sorted({_real(v, "scale", where) for v in _as_list(raw["scale"], f"{where} scale")})
        specs = [f"symmetric:depth={d!r},scale={a!r}" for d in depths for a in scales]
        key = "depth/scale"
    return {"method": "flow", "network": sorted({_spec(s, sizes, f"{where} {key}") for s in specs})}


def _spec(text, sizes, where) -> str:
    """The canonical form of a network spec (what the network prints back), checked at every
    problem size."""
    if not isinstance(text, str):
        raise SweepConfigError(f"{where}: a network is a spec string such as \"symmetric:depth=3,scale=1e-6\"; "
                               f"got {text!r}. A flow method takes {FLOW_FORMS}.")
    try:
        canonical = network_from_spec(text).spec
        for N in sizes:
            net = network_from_spec(canonical, size=N)
            if not isinstance(net, Network):
                raise NetworkError(f"{type(net).__name__} has no mirror_map() and dual_scale; a flow method "
                                   "needs a network (dlnlab.networks.base.Network).")
            if getattr(net, "size", N) != N:
                raise NetworkError(f"it has {net.size} coordinates, the problem N = {N}; give one entry per "
                                   "coordinate for every N of [problem], or a scalar.")
    except NetworkError as exc:
        raise SweepConfigError(f"{where}: {text!r}: {exc} (`dlnlab networks` lists the families.)") from None
    return canonical


def _unknown(raw: dict, allowed: set, where: str):
    extra = sorted(set(raw) - allowed)
    if extra:
        raise SweepConfigError(f"{where}: unknown key(s) {extra}; allowed: {sorted(allowed)}.")


def _as_list(value, where: str):
    items = value if isinstance(value, list) else [value]
    if not items:
        raise SweepConfigError(f"{where}: an empty list gives an empty grid; give at least one value.")
    return items


def _integer(value, name, where, lo):
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise SweepConfigError(f"{where}: {name} must be an integer >= {lo}; got {value!r}.")
    return int(value)


def _real(value, name, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SweepConfigError(f"{where}: {name} must be a finite number; got {value!r}.")
    return float(value)
