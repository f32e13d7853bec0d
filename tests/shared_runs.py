"""Results too costly to compute twice in one test run, shared by the pytest-xdist workers.

The suite runs on xdist workers (``-n auto``): a session or module fixture is built once *per
worker*. For the mutation matrix and the browser drills that would mean running the same drills
on every worker, so :func:`once_per_run` keeps the result in a folder all workers of the run
share (the parent of each worker's temporary folder, the pattern of pytest-xdist's docs): the
first worker to need it computes it holding a lock, a worker that needs it meanwhile waits on the
lock, and every later one reads what was written. Without xdist the folder is the session's own.
pytest removes these folders with its other old temporary folders.
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")


def run_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``name`` under the folder every xdist worker of this run shares (the session's own
    temporary folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    folder.mkdir(exist_ok=True)
    return folder


def once_per_run(folder: Path, name: str, compute: Callable[[], T]) -> T:
    """``compute()`` run once per test run whichever worker asks first; the others read its
    result (pickled in ``folder``). A failing ``compute`` writes nothing: the next caller tries
    again, as an uncached call would."""
    done = folder / f"{name}.pickle"
    with (folder / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            part = folder / f"{name}.part"
            part.write_bytes(pickle.dumps(compute()))
            part.replace(done)
        result: T = pickle.loads(done.read_bytes())
    return result
