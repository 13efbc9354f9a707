"""Shared fixtures: the independent oracles of `dlnlab.reference`, as the tests use them."""

import pytest

from dlnlab.reference import extended, full_network, highs


@pytest.fixture(scope="session")
def highs_oracle():
    """Basis pursuit and rho by one plain HiGHS LP each (`dlnlab.reference.highs`)."""
    return highs


@pytest.fixture(scope="session")
def mp_oracle():
    """Flow limits and BP solutions in mpmath (`dlnlab.reference.extended`)."""
    return extended


@pytest.fixture(scope="session")
def full_network_oracle():
    """The full networks' weight flows integrated by Radau (`dlnlab.reference.full_network`)."""
    return full_network
