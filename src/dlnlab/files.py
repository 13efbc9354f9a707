"""Atomic file output: a file is either absent, the old version or complete (temp + os.replace).

Files get the mode an ordinary ``open(path, "w")`` would give, ``0o666 & ~umask`` (the
temporary file of `tempfile.mkstemp` is private, 0600, which would keep colleagues on a
shared machine from reading results).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    """The process umask (read by setting and restoring it; there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename;
    the file's mode is ``0o666 & ~umask``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


@contextmanager
def staged_files(folder):
    """A multi-file output that lands whole or not at all: yields a temporary folder inside
    ``folder``; when the block succeeds, each file written there replaces its namesake in
    ``folder`` (one rename each, after all are complete); when it raises, the temporary folder
    is removed and ``folder`` keeps every old file as it was.

    Files of ``folder`` that the new run does not write stay as they are.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with staged_files(out) as tmp:
    ...     _ = atomic_write_text(tmp / "a.txt", "new")
    >>> (out / "a.txt").read_text(), sorted(p.name for p in out.iterdir())
    ('new', ['a.txt'])
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder, prefix=".partial-"))
    try:
        yield tmp
        for item in sorted(tmp.iterdir()):
            target = folder / item.name
            if item.is_dir():
                if target.is_dir():
                    shutil.rmtree(target)
                os.replace(item, target)
                os.chmod(target, 0o777 & ~_umask())
            else:
                os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def plain(value):
    """numpy scalars/arrays, inf/nan and tuples as JSON-safe Python (non-finite floats as strings)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    return value


def atomic_write_json(path, payload) -> Path:
    return atomic_write_text(path, json.dumps(plain(payload), indent=2) + "\n")


def atomic_write_csv(path, header, rows) -> Path:
    """CSV with a header row; floats written with ``repr`` (round-trip exact)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    return atomic_write_text(path, buf.getvalue())
