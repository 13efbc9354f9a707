"""What one grid point computes: the basis-pursuit solver of the sweep and the task rows."""

import numpy as np
import pytest
from scipy.optimize import linprog

import dlnlab as dl
from dlnlab.sweep import parse_config
from dlnlab.sweep.tasks import run_chunk, solve_bp


@pytest.mark.parametrize("k", [3, 8, 14])
def test_bp_task_solver_against_an_independent_highs_run(k):
    """solve_bp (presolve off, support polish) against linprog with default options on the
    same LP: the same optimal value (both to HiGHS' 1e-7 feasibility tolerance, so 1e-7
    relative) and, where BP recovers x_true, x_true itself to rounding."""
    P = dl.gaussian_problem(20, 40, k, seed=k, signs=True)
    x, gap, its, code, message = solve_bp(P)
    ref = linprog(np.ones(80), A_eq=np.hstack([P.A, -P.A]), b_eq=P.y, bounds=(0, None), method="highs")
    assert code == 0 and message == "" and gap < 1e-8 and P.relative_residual(x) < 1e-13
    assert abs(np.abs(x).sum() - ref.fun) <= 1e-7 * ref.fun
    if np.linalg.norm(ref.x[:40] - ref.x[40:] - P.x_true) < 1e-6:
        assert np.linalg.norm(x - P.x_true) < 1e-12


def test_rows_of_a_chunk_carry_their_evidence():
    cfg = parse_config('trials = 2\n[problem]\nN = 30\ndelta = 0.5\nrho = [0.2, 0.6]\n'
                       '[[methods]]\nmethod = "bp"\n[[methods]]\nmethod = "flow"\ndepth = 3\nscale = 1e-10')
    for chunk in cfg.chunks():
        rows = run_chunk(chunk)
        assert [r["point_id"] for r in rows] == [p.id for p in chunk.points]
        for p, r in zip(chunk.points, rows):
            P = dl.gaussian_problem(p.params["m"], p.params["N"], p.params["k"], seed=p.seed, signs=True)
            assert r["status"] == "converged" and r["residual"] < 1e-11 and r["seconds"] > 0
            assert r["success"] == (r["rel_error"] <= 1e-4)
            if p.params["method"] == "flow":
                ref = dl.flow_limit(P, dl.SymmetricDLN(depth=3, scale=1e-10))
                assert r["kkt"] <= 1e-9 and r["solver"] in ("batch", "flow_limit")
                # the row's error is that of flow_limit's x (1e-10 agreement of the limits)
                assert abs(r["rel_error"] - np.linalg.norm(ref.x - P.x_true) / np.linalg.norm(P.x_true)) < 1e-9
            else:
                assert r["duality_gap"] < 1e-8 and r["solver"] == "highs"
