"""The `DLNError` hierarchy: every failure says what was wrong and what to do."""


class DLNError(Exception):
    """Base class of every error raised by dlnlab."""


class ProblemError(DLNError, ValueError):
    """The data (A, y) are not a valid problem: shape, finiteness, m >= N."""


class NotInRangeError(ProblemError):
    """`y` is not in the range of `A`, so no interpolating solution exists."""


class NetworkError(DLNError, ValueError):
    """A network was specified with invalid parameters (depth, scale, alpha)."""


class ConvergenceError(DLNError, RuntimeError):
    """A solver stopped before its stopping criterion was met.

    The partial result is attached as ``.result`` so that nothing computed is lost.
    """

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


class NotSeparableError(ProblemError):
    """Classification data that no linear predictor through the origin separates strictly."""


class SolverError(DLNError, RuntimeError):
    """An external solver (HiGHS, an ODE integrator) failed or returned an unverifiable answer."""


class NotBPSolutionError(DLNError, ValueError):
    """A vector passed as a basis-pursuit solution is not one."""


class SweepConfigError(DLNError, ValueError):
    """A sweep configuration (TOML) is invalid: unknown key, wrong type, empty grid."""


class StoreMismatchError(DLNError, RuntimeError):
    """A sweep result store was created by a different configuration than the one given."""


class OptionalDependencyError(DLNError, ImportError):
    """A feature needs an optional package (dask, pyarrow) that is not installed."""


class TimeGridError(DLNError, ValueError):
    """Output times (or an integrator option) are invalid: negative, unsorted, non-finite, empty."""


class InfeasibleLPError(DLNError, ValueError):
    """A linear program ``A x = b, x >= 0`` has no feasible point (HiGHS phase-1 certified)."""


class UnboundedLPError(DLNError, ValueError):
    """A linear program's objective is unbounded below on its feasible set."""


class NotStrictlyFeasibleError(DLNError, ValueError):
    """``A x = b, x >= 0`` is feasible but has no point with ``x > 0``: no entropic/DLN limit exists."""


class ExperimentError(DLNError, ValueError):
    """An experiment name is unknown or registered twice, or a record/check is malformed."""


class OptionError(DLNError, ValueError):
    """A solver option (tolerance, iteration or stage limit) is out of its range."""


class DLNWarning(UserWarning):
    """Base class of every warning emitted by dlnlab."""


class InconsistentTruthWarning(DLNWarning):
    """A problem's ``x_true`` does not satisfy ``A x_true = y`` (noisy data, or a mix-up of the arrays)."""


class OutputError(DLNError, OSError):
    """A file or folder could not be written or read (a path that is a file, no permission, a full disk)."""
