"""What every test of the suite shares: the environment of a plain ``pytest`` run.

The suite runs on pytest-xdist workers (``-n auto`` in ``pyproject.toml``). A worker process
starts with ``COLUMNS=80`` and ``LINES=24`` in its environment, which a plain run does not have;
the CLI sizes its tables from ``COLUMNS`` when it is imported (``harness.cli.common``), so under
xdist scenario ids and invariant names were cut short and tests reading the CLI's tables failed.
A worker drops both, so the CLI sees what it sees in a single-process run.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)
