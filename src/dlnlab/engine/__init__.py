"""The dual engine: the one solver of ``A X(A^T lam) = y`` for every network.

The limit of a mirror flow ``x(t) = X(A^T lam(t))`` is ``x_inf = X(A^T lam*)`` with ``lam*``
the minimizer of the smooth convex dual (docs/theory.md section 3)

    Phi(lam) = sum_i F((A^T lam)_i) - <lam, y>,     F' = X.

The engine minimizes it by damped Newton on the orthonormal-row form of the problem
(``A -> Q^T``, ``y -> z``), with dual points kept boundary-relative
(`dlnlab.networks.base`); it reaches small scales by continuation in ``log(scale)``, with a
predictor linear in the small parameter ``eps(scale)`` (docs/theory.md section 4), exact
face snapping, a KKT check computed from ``x`` alone, the float64 floor of the dual
coordinates, and a final polish. Its modules, one job each:

- `steps`: the damped Newton loop and the step rules every loop shares;
- `linalg`: weighted Gram matrices and PSD solves, for one problem or a stack, and the BLAS
  threading chosen by problem size (`blas_threads`);
- `scales`: the continuation in scale; `faces`: exact l1 faces;
- `checks`: the KKT error of a returned point;
- `kernel`: symmetric networks at scales far above the data, in primal units;
- `batch`: the batch axis, the same steps on a stack of equal-size problems.
"""

from .batch import DualStack, continuation_stack, newton_stack
from .checks import KKT_TOL, kkt_error
from .scales import (INTERMEDIATE_TOL, MIN_EPS_RATIO, continuation, continuation_path, data_size, predict,
                     rescale_dual, start_network)
from .faces import face_projector, face_tolerance, snap_to_face
from .linalg import SINGLE_THREAD_WORK, HessianCache, blas_threads, solve_psd, solve_psd_stack, weighted_gram, weighted_gram_stack
from .steps import DualState, Local, damped_newton, newton, polish, residual_check, rounding_floor, step_to

__all__ = ["DualState", "DualStack", "Local", "damped_newton", "newton", "polish", "residual_check",
           "rounding_floor", "step_to", "solve_psd", "solve_psd_stack", "weighted_gram", "weighted_gram_stack",
           "continuation", "continuation_path", "data_size", "predict", "rescale_dual", "start_network",
           "INTERMEDIATE_TOL", "MIN_EPS_RATIO", "snap_to_face", "face_projector", "face_tolerance", "kkt_error", "KKT_TOL",
           "newton_stack", "continuation_stack", "blas_threads", "SINGLE_THREAD_WORK", "HessianCache"]
