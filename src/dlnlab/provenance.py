"""Where an output came from: versions, commit, platform, date, seeds and threads.

`provenance` builds the one dictionary that ``meta.json``, ``summary.json``, ``report.html``
and every ``--json`` payload carry, so that a number can be traced to the code and the
machine that computed it:

- ``dlnlab``, ``python``, ``numpy``, ``scipy``: versions;
- ``git_commit``: ``git rev-parse HEAD`` in the package's folder (absent when dlnlab is not
  run from a git checkout, or git is missing);
- ``platform``: ``platform.platform()``; ``date``: UTC, ISO 8601 to the second;
- ``seeds``: the seeds the caller passes (absent when none was used);
- ``threads``: one entry per thread pool (BLAS, OpenMP) from threadpoolctl:
  ``{"user_api", "internal_api", "num_threads", "version"}``.

>>> p = provenance(seeds={"seed": 0})
>>> sorted(k for k in p if k != "git_commit")
['date', 'dlnlab', 'numpy', 'platform', 'python', 'scipy', 'seeds', 'threads']
"""

from __future__ import annotations

import datetime
import functools
import platform
import subprocess
from pathlib import Path

import numpy as np
import scipy


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the checkout dlnlab runs from, or None (not a checkout, no git)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) >= 7 else None


def thread_info() -> list[dict]:
    """The thread pools loaded in this process (threadpoolctl), summarized; [] if unavailable."""
    try:
        from threadpoolctl import threadpool_info
        pools = threadpool_info()
    except Exception:  # threadpoolctl inspects native libraries; never let it break an output
        return []
    keys = ("user_api", "internal_api", "num_threads", "version")
    return [{k: pool.get(k) for k in keys} for pool in pools]


def provenance(seeds: dict | None = None) -> dict:
    """The provenance dictionary (see the module docstring); ``seeds``: e.g. ``{"seed": 0}``."""
    from . import __version__

    out = {"dlnlab": __version__}
    commit = git_commit()
    if commit is not None:
        out["git_commit"] = commit
    out.update(python=platform.python_version(), numpy=np.__version__, scipy=scipy.__version__,
               platform=platform.platform(),
               date=datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat())
    if seeds:
        out["seeds"] = dict(seeds)
    out["threads"] = thread_info()
    return out


def seeds_of(params: dict) -> dict:
    """The entries of ``params`` whose name says they are a seed (``seed``, ``seeds``, ``data_seed``...)."""
    return {k: v for k, v in params.items() if "seed" in str(k).lower()}
