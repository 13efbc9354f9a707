"""Linear programs and optimal transport by non-negative networks."""

from .core import LPResult, basis_pursuit_lp, descend, entropic_lp, solve_lp
from .ot import OTResult, sinkhorn, solve_ot

__all__ = ["LPResult", "solve_lp", "entropic_lp", "descend", "basis_pursuit_lp", "OTResult", "solve_ot", "sinkhorn"]
