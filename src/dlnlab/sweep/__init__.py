"""Sweeps at scale: parameter grids run in parallel into a resumable SQLite result store.

- `config`: TOML configuration -> validated grid, deterministic seeds and tasks;
- `tasks`: what one grid point computes (basis pursuit, or the flow limit of any network
  named by its spec, `dlnlab.networks.spec`; the recovery error);
- `batch`: `batch_flow_limit`, the vectorized dual Newton over problems of equal size;
- `store`: `ResultStore`, the SQLite store (one row per point, resumable);
- `runner`: `run_sweep` on local processes or a Dask cluster;
- `phase`, `phase_figure`: the Donoho-Tanner phase diagram (empirical 50% points; the figure);
  its theory curve is `dlnlab.theory.weak_threshold`.
"""

from .batch import BatchLimitResult, batch_flow_limit
from .config import Chunk, Point, SweepConfig, load_config, parse_config
from ..theory import weak_threshold
from .phase import Transition, transitions
from .phase_figure import plot_phase
from .runner import SweepSummary, run_sweep
from .store import ResultStore

__all__ = ["BatchLimitResult", "batch_flow_limit", "Chunk", "Point", "SweepConfig", "load_config", "parse_config",
           "Transition", "plot_phase", "transitions", "weak_threshold", "SweepSummary", "run_sweep", "ResultStore"]
