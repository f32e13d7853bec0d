"""Locust's distributed mode, each test with its own run: every worker gets its own accounts,
keys and share of the request cap; Ctrl-C stops the master and every worker; a master waiting
for a worker started by ``vibedrill load-worker`` runs with it; ``load-worker`` with no master
exits 3. The runs on a master with 2 workers that the one-process runs are compared with are in
``test_load.py``.
"""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from _loadkit import CLI, RUN, leftovers, marked_env


def _start(args: list[str], *, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    import signal

    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=marked_env(),
        # a process started with SIGINT ignored keeps it ignored (a pytest-xdist worker starts
        # its children so): Ctrl-C must still stop the run
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )


def _marked(word: str) -> list[int]:
    """Living processes of this module's runs whose command line has ``word``."""
    out = []
    for pid in leftovers():
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if word.encode() in cmd:
            out.append(pid)
    return out


@pytest.mark.slow
@pytest.mark.served
def test_ctrl_c_stops_the_master_and_every_worker(tmp_path: Path) -> None:
    import signal
    import time

    p = _start(
        [*RUN[:4], "--run-time", "2m", "--workers", "2", "--reports-dir", str(tmp_path)],
        sigint_ignored=True,
    )
    try:
        deadline = time.monotonic() + 90
        while len(_marked("--worker")) < 2 or not _marked("--master"):
            assert p.poll() is None, p.communicate()[0]
            assert time.monotonic() < deadline, "the master and 2 workers never ran"
            time.sleep(0.2)
        started = leftovers()
        assert len(started) >= 5  # the CLI, fakes, platform, master, 2 workers
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3, out
    assert "interrupted; every server and Locust stopped" in out
    assert not leftovers()


def test_each_worker_gets_its_own_accounts_keys_and_share_of_the_request_cap() -> None:
    from harness.load.locustfile import worker_config

    targets = [{"client_id": f"c{i}", "platform": "x", "account_id": f"a{i}"} for i in range(5)]
    cfg = {"targets": targets, "key_prefix": "load-0-ab-", "max_requests": 101, "users": 5}
    parts = [worker_config(cfg, i, 3) for i in range(3)]
    assert [[t["account_id"] for t in p["targets"]] for p in parts] == [
        ["a0", "a3"],
        ["a1", "a4"],
        ["a2"],
    ]
    assert [p["key_prefix"] for p in parts] == ["load-0-ab-w0-", "load-0-ab-w1-", "load-0-ab-w2-"]
    assert [p["max_requests"] for p in parts] == [34, 34, 33]
    assert sum(p["max_requests"] for p in parts) == cfg["max_requests"]
    assert cfg["targets"] == targets and cfg["key_prefix"] == "load-0-ab-"  # not changed
    with pytest.raises(ValueError, match="worker 5 of 6 has no target account"):
        worker_config(cfg, 5, 6)
    with pytest.raises(ValueError, match="out of range"):
        worker_config(cfg, 3, 3)


# workers on other machines: --expect-workers and vibedrill load-worker --------------------------


def _lines(p: subprocess.Popen[str]) -> queue.Queue[str]:
    q: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert p.stdout is not None
        for line in p.stdout:
            q.put(line)
        q.put("")

    threading.Thread(target=pump, daemon=True).start()
    return q


@pytest.mark.slow
@pytest.mark.served
def test_a_master_runs_with_a_worker_started_by_load_worker(tmp_path: Path) -> None:
    master = _start(
        [
            *RUN,
            *("--expect-workers", "1", "--master-port", "0", "--shape", "ramp"),
            *("--fault-probability", "0.6", "--reports-dir", str(tmp_path)),
        ]
    )
    worker: subprocess.Popen[str] | None = None
    out: list[str] = []
    try:
        lines = _lines(master)
        port = None
        while port is None:
            line = lines.get(timeout=90)
            assert line, "".join(out)
            out.append(line)
            m = re.search(
                r"vibedrill load-worker --master-host 127\.0\.0\.1 --master-port (\d+)", line
            )
            port = m and int(m.group(1))
        worker = subprocess.Popen(
            [*CLI[:-1], "load-worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=marked_env(),
        )
        wout, _ = worker.communicate(timeout=120)
        master.wait(120)
        while (line := lines.get(timeout=10)) != "":
            out.append(line)
    finally:
        for p in (master, worker):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    text = "".join(out)
    assert master.returncode == 0, text
    assert worker.returncode == 0, wout
    assert f"connecting to 127.0.0.1:{port}" in wout and "locust worker 0:" in wout
    rep = json.loads((tmp_path / "load-healthy" / "load.json").read_text())
    assert rep["verdict"] == "held" and rep["options"]["expect_workers"] == 1
    assert rep["options"]["workers"] == 0 and rep["options"]["shape"] == "ramp"
    assert rep["locust"]["total"]["requests"] > 0 and rep["jobs"]["submitted"] > 0
    keys = {w["idempotency_key"].rsplit("-", 2)[-2] for w in _rows(tmp_path, "workload")}
    assert keys == {"w0"}
    # the master learned every job from the worker's stats reports
    assert rep["jobs"]["answer_cut_off"] <= 5
    assert (tmp_path / "load-healthy" / "load.html").is_file()
    assert not leftovers()


def _rows(base: Path, name: str) -> list[dict[str, Any]]:
    text = (base / "load-healthy" / "evidence" / f"{name}.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.slow
def test_load_worker_without_a_master_gives_up_with_exit_3() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run(
        [
            *(*CLI[:-1], "load-worker", "--master-host", "127.0.0.1"),
            *("--master-port", str(port), "--connect-timeout", "2s"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert f"no Locust master answered at 127.0.0.1:{port} within 2s" in done.stderr
