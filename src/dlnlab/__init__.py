"""dlnlab: exact, fast and reproducible implicit regularization of diagonal linear networks."""

from .errors import (ConvergenceError, DLNError, NetworkError, NotBPSolutionError, NotInRangeError,
                     ProblemError, SolverError)
from .limits import LimitResult, flow_limit
from .mirror import HyperbolicMap, MirrorMap, PowerBarrierMap
from .networks import SymmetricDLN
from .problems import (FIXTURES, Problem, gaussian_problem, kink_problem, line_problem, plane_problem,
                       random_problem)
from .l1 import (BPFace, BPResult, CertificateConstant, Selection, basis_pursuit, bp_face, certificate_constant,
                 selected_minimizer)
from .nsp import NSPConstant, nsp_constant
from .errors import TimeGridError
from .dynamics import Trajectory, flow_trajectory, rescaled_time
from .twolayer import TwoLayerDLN
from .layered import LayeredDLN
from .gd import GDResult, gradient_descent
from .saddle import Plateau, SaddleResult, saddle_to_saddle
from .errors import InfeasibleLPError, NotStrictlyFeasibleError, UnboundedLPError
from .nonnegative import EntropicMap, NonNegativeDLN
from .lp import LPResult, basis_pursuit_lp, descend, entropic_lp, solve_lp
from .ot import OTResult, sinkhorn, solve_ot
from .rates import RateStudy, deviation_from_bp, rate_study
from .sweep import BatchLimitResult, batch_flow_limit, load_config, run_sweep, weak_threshold

__version__ = "0.1.0"
