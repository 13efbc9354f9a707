"""Training dynamics: trajectories of the flow, gradient descent, saddle-to-saddle."""

from .classification import LOSSES, ClassificationTrajectory
from .descent import GDResult, gradient_descent
from .sharpness import sharpness
from .stochastic import SGFResult, stochastic_flow
from .saddle import Plateau, SaddleResult, saddle_to_saddle
from .trajectory import Trajectory, flow_trajectory, rescaled_time

__all__ = ["Trajectory", "flow_trajectory", "rescaled_time", "ClassificationTrajectory", "LOSSES", "GDResult",
           "gradient_descent", "Plateau", "SaddleResult", "saddle_to_saddle", "sharpness", "SGFResult",
           "stochastic_flow"]
