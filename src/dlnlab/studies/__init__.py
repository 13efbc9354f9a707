"""Studies: rates in the initialization scale, and the registry of the papers' experiments."""

from .rates import RateStudy, deviation_from_bp, rate_study

__all__ = ["RateStudy", "rate_study", "deviation_from_bp"]
