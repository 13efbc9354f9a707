"""Independent oracles the tests compare dlnlab against (not used by the solvers).

- `full_network`: the networks' gradient flows on their weights, integrated by Radau;
- `extended`: flow limits and BP solutions in mpmath (extended precision);
- `highs`: basis pursuit and its certificate constant by one plain HiGHS LP each.
"""
