"""The l1 and studies results speak the shared vocabulary (dlnlab.results): status words, success,
message, iterations and a JSON-safe to_dict."""

import json

import numpy as np
import pytest

import dlnlab as dl
from dlnlab.results import STATUSES


def _results():
    P, L = dl.random_problem(), dl.line_problem()
    bp = dl.basis_pursuit(P)
    study = dl.rate_study(P, depths=(2,), log10_scales=np.arange(-20.0, -61.0, -20.0))
    res = dl.flow_limit(P, dl.SymmetricDLN(depth=2, scale=1e-40))
    return {
        "BPResult": bp, "BPFace": dl.bp_face(L), "Selection": dl.selected_minimizer(L, depth=3),
        "CertificateConstant": dl.certificate_constant(P, bp.x),
        "CertificateConstant-primal": dl.certificate_constant(P, bp.x, form="primal"),
        "NSPConstant": dl.nsp_constant(P.A, 2), "Deviation": dl.deviation_from_bp(P, res, bp.support, bp.x),
        "RateStudy": study,
    }


@pytest.mark.parametrize("name, result", list(_results().items()))
def test_vocabulary(name, result):
    assert isinstance(result, dl.Result)
    assert result.status in STATUSES and result.success and result.status == "converged"
    assert isinstance(result.message, str) and isinstance(result.iterations, int) and result.iterations >= 0
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["status"] == "converged" and payload["success"] is True
    assert "value" not in payload  # an objective value is called objective
    if hasattr(result, "objective"):
        assert payload["objective"] == pytest.approx(float(result.objective))


def test_unfinished_nsp_bound_is_unverified():
    """A bound interval is not an exact value: unverified unless it closes."""
    A = np.random.default_rng(7).standard_normal((12, 24))
    res = dl.nsp_constant(A, 4, method="bound")
    assert res.exact or (res.status == "unverified" and not res.success)
