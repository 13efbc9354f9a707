"""The result vocabulary every solver of dlnlab shares.

Every public result is a frozen dataclass deriving from `Result`. It carries

- ``status``: one word of `STATUSES` (the same words for every solver);
- ``success``: ``status == "converged"``, set only after the claim was recomputed from the
  returned point in the caller's units (residual, KKT error, certificate, bounds);
- ``message``: what happened, in words (empty when nothing needs saying);
- ``iterations``: the work done, under this one name (Newton steps, GD steps, pivots, ...);
- its evidence fields (residuals, certificates, gaps), named the same way across solvers;
- ``to_dict()``: a JSON-safe dictionary of all of the above, used by ``--json`` and by files.

>>> import dlnlab as dl
>>> res = dl.flow_limit(dl.line_problem(), dl.SymmetricDLN(depth=3, scale=1e-6))
>>> res.success, res.status in STATUSES
(True, True)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .errors import OptionError
from .files import plain

#: The status words, with what each one promises. A solver uses only these.
STATUSES = {
    "converged": "the result meets its tolerance, checked from the returned point (success is True)",
    "imprecise": "computed as far as float64 allows, which is short of the requested tolerance; the "
                 "evidence fields say how far",
    "max_iter": "an iteration, stage or time budget ran out before the tolerance was met",
    "diverged": "the iterates grew without bound (e.g. a step size above the stability threshold)",
    "failed": "the solver could not proceed (numerical breakdown); the message says where",
    "interrupted": "stopped by the user; finished work is kept",
    "unverified": "a value whose claim could not be checked (e.g. a bound instead of an exact value)",
}


def check_status(status: str) -> str:
    """``status`` itself if it is a word of `STATUSES` (a programming error otherwise)."""
    if status not in STATUSES:
        raise AssertionError(f"status {status!r} is not one of {sorted(STATUSES)}")
    return status


def check_tolerance(value, name: str = "rtol", solver: str = "this solver") -> float:
    """``value`` as a float if it is a usable relative tolerance, ``0 < value < 1``.

    A tolerance of 1 or more would let a solver call any point converged (a residual of 100%
    meets it), so it is refused rather than honoured.

    >>> check_tolerance(1e-12)
    1e-12
    """
    try:
        tol = float(value)
    except (TypeError, ValueError):
        tol = math.nan
    if not 0.0 < tol < 1.0:
        raise OptionError(f"{solver} needs 0 < {name} < 1 (a relative tolerance); got {name}={value!r}.")
    return tol


class Result:
    """Mixin for result dataclasses: ``success`` and ``to_dict()`` from the fields.

    Fields marked ``field(metadata={"dict": False})`` (large or internal: the network object,
    raw dual coordinates) are left out of `to_dict`.
    """

    @property
    def success(self) -> bool:
        return getattr(self, "status", None) == "converged"

    def to_dict(self) -> dict:
        """The result as JSON-safe Python: arrays as lists, non-finite floats as strings."""
        out = {}
        for f in dataclasses.fields(self):
            if not f.metadata.get("dict", True):
                continue
            out[f.name] = _plain_value(getattr(self, f.name))
        out["success"] = self.success
        return out


def _plain_value(value):
    if isinstance(value, Result):
        return value.to_dict()
    spec = getattr(value, "spec", None)
    if isinstance(spec, str) and not isinstance(value, type):  # a network (dataclass or not): its text form
        return spec
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, np.ndarray) or isinstance(value, (np.generic, bool, int, float, str)) or value is None:
        return plain(value)
    return repr(value)
