"""One text form for every network: ``FAMILY:KEY=VALUE,...``.

A value is a real number; a vector parameter takes a ``;``-separated list (one entry per
coordinate) or a scalar, broadcast over the coordinates; the layered network's ``inits``
takes ``|``-separated layers, each a list or a scalar. Examples::

    symmetric:depth=3,scale=1e-6       twolayer:u0=0.1,v0=0
    layered:inits=0.1|0.2|0.3          nonnegative:u0=1e-3
    twolayer:u0=0.1;0.2;0.3,v0=0       azulay:up=0.1,vp=0.1,um=0.2,vm=0

Every network's ``spec`` property prints this form back, exactly: floats are written with
Python's shortest round-trip ``repr``, so ``network_from_spec(net.spec).spec == net.spec``.
A new family is registered in one place with `register_family`.

>>> net = network_from_spec("symmetric:depth=3,scale=1e-6")
>>> net.spec
'symmetric:depth=3,scale=1e-06'
>>> network_from_spec("twolayer:u0=0.1,v0=0", size=3).u0.tolist()
[0.1, 0.1, 0.1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import NetworkError


@dataclass(frozen=True)
class Family:
    """A registered network family: its class, parameter descriptions, builder and printer.

    ``build(params, size)`` receives the parsed values (floats, or float arrays for the
    keys in ``vectors``/``matrices``) and returns the network; ``dump(net)`` returns the
    ``{key: value}`` that rebuilds it.
    """

    name: str
    cls: type
    params: dict
    build: Callable
    dump: Callable
    vectors: frozenset = frozenset()
    matrices: frozenset = frozenset()


_FAMILIES: dict[str, Family] = {}


def register_family(name: str, cls: type, params: dict, build: Callable, dump: Callable,
                    vectors=(), matrices=()) -> Family:
    """Register (or replace) family ``name`` for `network_from_spec` and `families`."""
    if not name.isidentifier() or name != name.lower():
        raise NetworkError(f"a family name must be a lower-case identifier like 'symmetric'; got {name!r}.")
    fam = Family(name, cls, dict(params), build, dump, frozenset(vectors), frozenset(matrices))
    _FAMILIES[name] = fam
    return fam


def families() -> dict[str, Family]:
    """The registered families, by name."""
    return dict(_FAMILIES)


def _fmt(v: float) -> str:
    v = float(v)
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def _fmt_vector(v) -> str:
    v = np.asarray(v, dtype=float).ravel()
    return ";".join(_fmt(t) for t in v)


def _parse_float(family: str, key: str, text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise NetworkError(f"{family}: {key}={text!r} is not a real number (write e.g. {key}=0.1 or {key}=1e-6).") \
            from None
    return v


def _parse_vector(family: str, key: str, text: str, size) -> np.ndarray:
    parts = text.split(";")
    if any(p.strip() == "" for p in parts):
        raise NetworkError(f"{family}: {key}={text!r} has an empty entry; write numbers separated by ';', "
                           f"e.g. {key}=0.1;0.2;0.3.")
    v = np.array([_parse_float(family, key, p) for p in parts])
    if size is not None:
        if v.size == 1:
            v = np.full(int(size), v[0])
        elif v.size != size:
            raise NetworkError(f"{family}: {key} has {v.size} entries but the problem has {size} coordinates; "
                               "give one entry per coordinate or a single scalar.")
    return v


def _parse_matrix(family: str, key: str, text: str, size) -> np.ndarray:
    rows = [_parse_vector(family, key, r, None) for r in text.split("|")]
    n = size if size is not None else max(r.size for r in rows)
    out = []
    for r in rows:
        if r.size == 1:
            r = np.full(int(n), r[0])
        elif r.size != n:
            raise NetworkError(f"{family}: the layers of {key} have {sorted({x.size for x in rows})} entries; "
                               f"each layer needs {n} entries (one per coordinate) or a single scalar.")
        out.append(r)
    return np.vstack(out)


def network_from_spec(spec: str, size: int | None = None):
    """The network written as ``FAMILY:KEY=VALUE,...`` (see the module docstring).

    ``size`` (the number of coordinates N) broadcasts scalar vector parameters to length N;
    without it a scalar stays a one-entry vector (which broadcasts in the maps).

    >>> network_from_spec("nonnegative:u0=1e-3").reg
    1.0
    """
    if isinstance(spec, (str,)) is False:
        raise NetworkError(f"a network spec is a string like 'symmetric:depth=2,scale=1e-6'; got {spec!r}.")
    text = spec.strip()
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name not in _FAMILIES:
        raise NetworkError(f"unknown network family {name!r} in {spec!r}; the families are "
                           f"{', '.join(sorted(_FAMILIES))} (write e.g. 'symmetric:depth=2,scale=1e-6').")
    fam = _FAMILIES[name]
    params = {}
    for item in (p for p in rest.split(",") if p.strip() != ""):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or value == "":
            raise NetworkError(f"{name}: {item!r} is not KEY=VALUE; write e.g. "
                               f"{next(iter(fam.params), 'key')}=0.1.")
        if key not in fam.params:
            raise NetworkError(f"{name}: unknown key {key!r}; the keys are {', '.join(fam.params)}.")
        if key in params:
            raise NetworkError(f"{name}: key {key!r} is given twice in {spec!r}.")
        if key in fam.matrices:
            params[key] = _parse_matrix(name, key, value, size)
        elif key in fam.vectors:
            params[key] = _parse_vector(name, key, value, size)
        else:
            params[key] = _parse_float(name, key, value)
    return fam.build(params, size)


def spec_of(net) -> str:
    """The text form of ``net`` (the ``spec`` property of every registered network)."""
    for fam in _FAMILIES.values():
        if type(net) is fam.cls:
            items = []
            for key, value in fam.dump(net).items():
                if key in fam.matrices:
                    items.append(f"{key}=" + "|".join(_fmt_vector(r) for r in np.asarray(value)))
                elif key in fam.vectors:
                    items.append(f"{key}={_fmt_vector(value)}")
                else:
                    items.append(f"{key}={_fmt(value)}")
            return f"{fam.name}:" + ",".join(items)
    raise NetworkError(f"{type(net).__name__} is not a registered network family; register it with "
                       "dlnlab.networks.spec.register_family.")


# ---- the built-in families ----------------------------------------------------------------

def _symmetric_build(p, size):
    from .symmetric import SymmetricDLN
    depth = p.get("depth", 2.0)
    if "log_scale" in p:
        if "scale" in p or "alpha" in p:
            raise NetworkError("symmetric: give one of scale=, alpha= or log_scale=.")
        return SymmetricDLN.from_log_scale(depth, p["log_scale"])
    return SymmetricDLN(depth=depth, scale=p.get("scale"), alpha=p.get("alpha"))


def _symmetric_dump(net):
    from .symmetric import SymmetricDLN
    if net.scale > 0 and math.isfinite(net.scale):
        # the shortest decimal scale that rebuilds the same log_scale (the scale is stored as exp(log a))
        for digits in range(1, 18):
            s = float(f"{net.scale:.{digits}g}")
            try:
                if SymmetricDLN(depth=net.depth, scale=s).log_scale == net.log_scale:
                    return {"depth": net.depth, "scale": s}
            except NetworkError:
                pass
    return {"depth": net.depth, "log_scale": net.log_scale}


def _twolayer_build(p, size):
    from .twolayer import TwoLayerDLN
    missing = [k for k in ("u0", "v0") if k not in p]
    if missing:
        raise NetworkError(f"twolayer: give {' and '.join(k + '=' for k in missing)} (e.g. twolayer:u0=0.1,v0=0).")
    u0, v0 = p["u0"], p["v0"]
    if u0.size != v0.size and 1 in (u0.size, v0.size):
        u0, v0 = np.broadcast_arrays(u0, v0)
    return TwoLayerDLN(np.array(u0), np.array(v0))


def _azulay_build(p, size):
    from .azulay import AzulayDLN
    missing = [k for k in ("up", "vp", "um", "vm") if k not in p]
    if missing:
        raise NetworkError(f"azulay: give {', '.join(k + '=' for k in missing)} (e.g. "
                           "azulay:up=0.1,vp=0.1,um=0.1,vm=0.1; a scalar is broadcast over the coordinates).")
    return AzulayDLN(p["up"], p["vp"], p["um"], p["vm"])


def _layered_build(p, size):
    from .layered import LayeredDLN
    if "inits" in p:
        if "depth" in p or "alpha" in p:
            raise NetworkError("layered: give inits= alone, or depth= with alpha=.")
        return LayeredDLN(p["inits"])
    if "depth" not in p or "alpha" not in p:
        raise NetworkError("layered: give inits=L1|L2|... (one value or list per layer) or depth=L,alpha=A "
                           "(layer j starts at j*A, j = 1..L).")
    L = p["depth"]
    if not (float(L).is_integer() and L >= 2):
        raise NetworkError(f"layered: depth must be an integer >= 2; got {_fmt(L)}.")
    n = 1 if size is None else int(size)
    return LayeredDLN(np.outer(np.arange(1, int(L) + 1), np.full(n, p["alpha"])))


def _nonnegative_build(p, size):
    from .nonnegative import NonNegativeDLN
    return NonNegativeDLN(u0=p.get("u0"), cost=p.get("cost"), reg=p.get("reg", 1.0))


def _register_builtins():
    from .azulay import AzulayDLN
    from .layered import LayeredDLN
    from .nonnegative import NonNegativeDLN
    from .symmetric import SymmetricDLN
    from .twolayer import TwoLayerDLN
    register_family("symmetric", SymmetricDLN, {
        "depth": "depth p >= 2 (default 2)",
        "scale": "effective scale a = alpha**p",
        "alpha": "weight scale, u(0) = v(0) = alpha",
        "log_scale": "log a (for scales below float range)",
    }, _symmetric_build, _symmetric_dump)
    register_family("twolayer", TwoLayerDLN, {
        "u0": "initial u (vector or scalar)",
        "v0": "initial v (vector or scalar)",
    }, _twolayer_build, lambda net: {"u0": net.u0, "v0": net.v0}, vectors=("u0", "v0"))
    register_family("azulay", AzulayDLN, {
        "up": "initial u+ of x = u+ v+ - u- v- (vector or scalar)",
        "vp": "initial v+ (vector or scalar)",
        "um": "initial u- (vector or scalar)",
        "vm": "initial v- (vector or scalar)",
    }, _azulay_build, lambda net: {"up": net.up, "vp": net.vp, "um": net.um, "vm": net.vm},
        vectors=("up", "vp", "um", "vm"))
    register_family("layered", LayeredDLN, {
        "inits": "initial layers L1|L2|..., each a vector or scalar",
        "depth": "number of layers L (with alpha)",
        "alpha": "layer j starts at j*alpha, j = 1..L (with depth)",
    }, _layered_build, lambda net: {"inits": net.inits}, matrices=("inits",))
    register_family("nonnegative", NonNegativeDLN, {
        "u0": "positive initial u (vector or scalar)",
        "cost": "LP costs, u0 = exp(-cost/(2 reg)) (vector or scalar)",
        "reg": "entropic regularization (default 1)",
    }, _nonnegative_build, lambda net: {"cost": net.cost, "reg": net.reg}, vectors=("u0", "cost"))


_register_builtins()
