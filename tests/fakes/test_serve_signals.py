"""``vibedrill serve`` stopped by a signal cleans up after itself: no stale ready file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.served


def _start(ready: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from harness.cli import main; main()",
            "serve",
            "--port",
            "0",
            "--ready-file",
            str(ready),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(proc: subprocess.Popen[bytes], ready: Path) -> dict[str, str]:
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the fakes did not write their ready file in 60 s"
        time.sleep(0.05)
    doc: dict[str, str] = json.loads(ready.read_text())
    return doc


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "codes"), [(signal.SIGTERM, (143,)), (signal.SIGINT, (0, 130))])
def test_serve_removes_its_ready_file_when_stopped_by_a_signal(
    tmp_path: Path, sig: signal.Signals, codes: tuple[int, ...]
) -> None:
    ready = tmp_path / "fakes.json"
    proc = _start(ready)
    try:
        doc = _wait_ready(proc, ready)
        assert httpx.get(doc["admin"] + "/health", timeout=10).status_code == 200
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code in codes
    assert not ready.exists()
