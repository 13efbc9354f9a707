"""dlnlab: exact, fast and reproducible implicit regularization of diagonal linear networks.

The public API, by layer: problems and networks (the inputs), the dual engine's limits,
the l1 geometry, training dynamics, linear programs, studies, and sweeps.
"""

from .errors import (ConvergenceError, DLNError, DLNWarning, ExperimentError, InconsistentTruthWarning,
                     InfeasibleLPError, NetworkError, NotBPSolutionError, NotInRangeError, NotSeparableError,
                     NotStrictlyFeasibleError,
                     OptionalDependencyError, OptionError, OutputError, ProblemError, SolverError, StoreMismatchError,
                     SweepConfigError, TimeGridError, UnboundedLPError)
from .results import STATUSES, Result
from .problems import (FIXTURES, Problem, gaussian_problem, kink_problem, line_problem, plane_problem,
                       random_problem)
from .networks import (AzulayDLN, EntropicMap, HyperbolicMap, LayeredDLN, MirrorMap, Network, NonNegativeDLN,
                       PowerBarrierMap, ScaleFamily, SymmetricDLN, TwoLayerDLN, network_from_spec)
from .limits import LimitPath, LimitResult, flow_limit, flow_limit_path
from .derivatives import LimitCotangent
from .condition import LimitConditionResult, limit_condition
from .l1 import (BPFace, BPResult, CertificateConstant, NSPConstant, Selection, basis_pursuit, bp_face,
                 certificate_constant, nsp_constant, selected_minimizer)
from .dynamics import (ClassificationTrajectory, GDResult, Plateau, SaddleResult, SGFResult, Trajectory,
                       flow_trajectory, gradient_descent, rescaled_time, saddle_to_saddle, sharpness,
                       stochastic_flow)
from .maxmargin import MaxMarginResult, max_margin
from .lp import LPResult, OTResult, basis_pursuit_lp, descend, entropic_lp, sinkhorn, solve_lp, solve_ot
from .studies import Deviation, RateStudy, deviation_from_bp, rate_study
from .sweep import BatchLimitResult, batch_flow_limit, load_config, run_sweep, weak_threshold

__version__ = "0.2.0"


def __getattr__(name):
    """``dl.DLNRegressor``, imported on first use: scikit-learn is an optional dependency."""
    if name == "DLNRegressor":
        try:
            from .estimator import DLNRegressor
        except ImportError as exc:
            if getattr(exc, "name", None) is None or not exc.name.startswith("sklearn"):
                raise
            raise OptionalDependencyError("dl.DLNRegressor needs scikit-learn: `pip install 'dlnlab[sklearn]'` "
                                          "(or `pip install scikit-learn`).") from None
        return DLNRegressor
    raise AttributeError(f"module 'dlnlab' has no attribute {name!r}")


__all__ = [
    # errors and results
    "DLNError", "ProblemError", "NotInRangeError", "NetworkError", "OptionError", "ConvergenceError", "SolverError",
    "NotBPSolutionError", "TimeGridError", "InfeasibleLPError", "UnboundedLPError", "NotStrictlyFeasibleError",
    "SweepConfigError", "StoreMismatchError", "OptionalDependencyError", "ExperimentError", "OutputError",
    "DLNWarning", "InconsistentTruthWarning", "STATUSES", "Result",
    # problems
    "Problem", "FIXTURES", "gaussian_problem", "line_problem", "plane_problem", "random_problem", "kink_problem",
    # networks
    "Network", "ScaleFamily", "MirrorMap", "SymmetricDLN", "HyperbolicMap", "PowerBarrierMap", "TwoLayerDLN",
    "AzulayDLN", "LayeredDLN", "NonNegativeDLN", "EntropicMap", "network_from_spec",
    # limits
    "LimitResult", "LimitCotangent", "flow_limit", "LimitPath", "flow_limit_path", "BatchLimitResult",
    "batch_flow_limit", "LimitConditionResult", "limit_condition",
    # l1 geometry
    "BPResult", "basis_pursuit", "BPFace", "bp_face", "Selection", "selected_minimizer", "CertificateConstant",
    "certificate_constant", "NSPConstant", "nsp_constant",
    # dynamics
    "Trajectory", "flow_trajectory", "rescaled_time", "GDResult", "gradient_descent", "Plateau", "SaddleResult",
    "saddle_to_saddle", "sharpness", "SGFResult", "stochastic_flow", "ClassificationTrajectory",
    "MaxMarginResult", "max_margin", "NotSeparableError",
    # linear programs and optimal transport
    "LPResult", "solve_lp", "entropic_lp", "descend", "basis_pursuit_lp", "OTResult", "solve_ot", "sinkhorn",
    # studies and sweeps
    "RateStudy", "rate_study", "Deviation", "deviation_from_bp", "load_config", "run_sweep", "weak_threshold",
]
# dl.DLNRegressor (module __getattr__) stays out of __all__: `from dlnlab import *` must not need scikit-learn.
