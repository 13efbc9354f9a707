"""dlnlab: exact, fast and reproducible implicit regularization of diagonal linear networks."""

from .errors import (ConvergenceError, DLNError, NetworkError, NotBPSolutionError, NotInRangeError,
                     ProblemError, SolverError)
from .limits import LimitResult, flow_limit
from .mirror import HyperbolicMap, MirrorMap, PowerBarrierMap
from .networks import SymmetricDLN
from .problems import (FIXTURES, Problem, gaussian_problem, kink_problem, line_problem, plane_problem,
                       random_problem)

__version__ = "0.1.0"
