"""The network text form FAMILY:KEY=VALUE,...: parsing, errors, exact round trip."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlnlab as dl
from dlnlab.networks.spec import families, register_family

POS = st.floats(min_value=1e-300, max_value=1e3, allow_nan=False, allow_infinity=False)
REAL = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)


def _same(a, b):
    """Rebuilt networks equal the original: same type, same spec, same defining arrays (exactly)."""
    assert type(a) is type(b) and a.spec == b.spec
    for attr in ("depth", "log_scale", "u0", "v0", "inits", "cost", "reg"):
        if hasattr(a, attr) and getattr(a, attr) is not None:
            np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_examples():
    net = dl.network_from_spec("symmetric:depth=3,scale=1e-6")
    assert net == dl.SymmetricDLN(depth=3, scale=1e-6)
    assert net.spec == "symmetric:depth=3,scale=1e-06"
    tl = dl.network_from_spec("twolayer:u0=0.1;0.2;0.3,v0=0")
    np.testing.assert_array_equal(tl.u0, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(tl.v0, [0.0, 0.0, 0.0])
    lay = dl.network_from_spec("layered:depth=3,alpha=0.1", size=2)
    np.testing.assert_allclose(lay.inits, [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]], rtol=1e-15)
    nn = dl.network_from_spec("nonnegative:u0=1e-3", size=4)
    assert nn.cost.shape == (4,)
    assert set(families()) >= {"symmetric", "twolayer", "layered", "nonnegative"}


@pytest.mark.parametrize("spec, words", [
    ("deep:depth=2", ["unknown network family", "symmetric", "twolayer", "layered", "nonnegative"]),
    ("symmetric:depth=2,size=1e-3", ["unknown key 'size'", "depth", "scale", "alpha"]),
    ("symmetric:depth=two,scale=1", ["not a real number"]),
    ("symmetric:depth=2", ["exactly one of scale"]),
    ("twolayer:u0=0.1;;0.2,v0=0", ["empty entry"]),
    ("twolayer:u0=0.1;0.2,v0=0", ["3 coordinates"]),
    ("symmetric:depth", ["not KEY=VALUE"]),
])
def test_errors(spec, words):
    with pytest.raises(dl.NetworkError) as err:
        dl.network_from_spec(spec, size=3)
    for w in words:
        assert w in str(err.value)


@settings(max_examples=60, deadline=None)
@given(depth=st.sampled_from([2.0, 2.5, 3.0, 4.0, 7.25]), scale=POS)
def test_symmetric_round_trip(depth, scale):
    net = dl.SymmetricDLN(depth=depth, scale=scale)
    back = dl.network_from_spec(net.spec)
    assert back == net


@settings(max_examples=30, deadline=None)
@given(depth=st.sampled_from([2.0, 3.0, 5.0]), log_scale=st.floats(-5000.0, -800.0))
def test_symmetric_round_trip_below_float_range(depth, log_scale):
    net = dl.SymmetricDLN.from_log_scale(depth, log_scale)
    assert "log_scale=" in net.spec
    assert dl.network_from_spec(net.spec) == net


@settings(max_examples=60, deadline=None)
@given(uv=st.lists(st.tuples(REAL, REAL).filter(lambda t: t != (0.0, 0.0)), min_size=1, max_size=6))
def test_twolayer_round_trip(uv):
    net = dl.TwoLayerDLN([a for a, _ in uv], [b for _, b in uv])
    _same(net, dl.network_from_spec(net.spec))


@settings(max_examples=60, deadline=None)
@given(cols=st.lists(st.lists(POS, min_size=3, max_size=3, unique=True), min_size=1, max_size=5))
def test_layered_round_trip(cols):
    net = dl.LayeredDLN(np.array(cols).T)
    _same(net, dl.network_from_spec(net.spec))


@settings(max_examples=60, deadline=None)
@given(u0=st.lists(POS, min_size=1, max_size=6), reg=POS)
def test_nonnegative_round_trip(u0, reg):
    net = dl.NonNegativeDLN(u0=u0, reg=reg)
    back = dl.network_from_spec(net.spec)
    _same(net, back)


def test_register_family_is_the_one_place():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Toy:
        width: float

        @property
        def spec(self):
            from dlnlab.networks.spec import spec_of
            return spec_of(self)

    register_family("toy", Toy, {"width": "a width"}, lambda p, size: Toy(p["width"]),
                    lambda net: {"width": net.width})
    try:
        assert dl.network_from_spec("toy:width=2.5") == Toy(2.5)
        assert Toy(0.5).spec == "toy:width=0.5"
    finally:
        from dlnlab.networks import spec as module
        module._FAMILIES.pop("toy")


@pytest.mark.parametrize("spec", ["symmetric:depth=3,scale=1e-06", "twolayer:u0=0.001,v0=0",
                                  "layered:depth=3,alpha=0.1", "nonnegative:u0=0.001"])
def test_limit_result_to_dict_shows_the_spec(spec):
    P = dl.line_problem()
    net = dl.network_from_spec(spec, size=P.A.shape[1])
    d = dl.flow_limit(P, net).to_dict()
    assert d["network"] == net.spec
    assert dl.network_from_spec(d["network"]).spec == net.spec
