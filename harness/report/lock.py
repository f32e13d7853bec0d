"""One writer per report folder: a second run of the same drill id fails instead of mixing files.

Two runs that share a drill id (the same scenario, seed and options, into the same
``--reports-dir``) used to write one folder between them, and the path printed at the end then
showed the other run's verdict. :class:`ReportLock` holds an exclusive ``flock`` on
``<reports>/.<drill_id>.lock`` for the whole drill; the kernel releases it when the process dies,
so a crash or a double Ctrl-C never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

__all__ = ["ReportBusy", "ReportLock"]


class ReportBusy(RuntimeError):
    """Another process is writing the same report folder."""


class ReportLock:
    """Exclusive lock on one report folder, as a context manager."""

    def __init__(self, reports_dir: Path, drill_id: str) -> None:
        self.folder = reports_dir / drill_id
        self.path = reports_dir / f".{drill_id}.lock"
        self._fd: int | None = None

    def __enter__(self) -> ReportLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ReportBusy(
                f"{self.folder}: another vibedrill run (pid {holder}) is writing this report "
                "folder; wait for it, or give this run its own --reports-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            try:
                self.path.unlink(missing_ok=True)
            finally:
                os.close(self._fd)
                self._fd = None
