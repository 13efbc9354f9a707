"""Linear programs and optimal transport by non-negative networks."""

from .certificate import LPResult
from .descent import descend
from .ot import OTResult, sinkhorn, solve_ot
from .solve import basis_pursuit_lp, entropic_lp, solve_lp

__all__ = ["LPResult", "solve_lp", "entropic_lp", "descend", "basis_pursuit_lp", "OTResult", "solve_ot", "sinkhorn"]
