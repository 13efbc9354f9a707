"""Independent oracles the tests compare dlnlab against (not used by the solvers)."""
