"""Studies: rates in the initialization scale, and the registry of the papers' experiments.

- `deviation`: ``x_inf - x*`` below float64 resolution (`deviation_from_bp`);
- `rates`: rate studies over scale grids (`rate_study`), with fitted slopes;
- `experiments`: the registry of the papers' experiments.
"""

from .deviation import Deviation, deviation_from_bp
from .rates import RateStudy, rate_study

__all__ = ["RateStudy", "rate_study", "Deviation", "deviation_from_bp"]
