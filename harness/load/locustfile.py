"""The Locust side of ``vibedrill load``, run in a child process: ``python -m harness.load.locustfile``.

Wall-clock time (``time.time``, ``time.sleep``) is deliberate here: a load test drives real
servers over real sockets, so it is not a virtual-time drill and promises no timeline hash.

Importing Locust monkey-patches the standard library with gevent, which does not mix with the
asyncio servers and clients of the rest of vibedrill; so Locust runs here, in its own process,
as a library (``Environment``, ``LocalRunner``, ``stats``), headless. The parent
(:mod:`harness.load`) writes a JSON config, starts this module, and reads the JSON result:

- config: ``host`` (the platform's base URL), ``users``, ``spawn_rate``, ``run_time_s``,
  ``max_requests`` (a hard cap on requests to the platform), ``jobs_per_account`` (a cap on the
  jobs submitted for one account, to stay within the platforms' daily post limits), ``seed``,
  ``targets`` (client id, platform, account id), ``reply_platforms``, ``wait_s`` ([min, max]),
  ``key_prefix`` (every job's idempotency key starts with it: the parent finds this run's jobs
  by it, including one whose answer was cut off when Locust stopped).
- result: ``stats`` (per request name and in total), ``submitted`` (every job the users
  submitted, with its spec: the load test's intent), ``stopped_by`` and ``wall_s``.

Each simulated user acts for one target account: it submits publish jobs, replies to posts it
published earlier (on the platforms of ``reply_platforms``), and polls its jobs until they settle.

Distributed (``vibedrill load --workers N``): Locust's own master/worker mode on loopback. One
process runs ``--master --expect-workers N --port-file F`` (a :class:`~locust.runners.MasterRunner`
bound to 127.0.0.1 on a free port, written to ``F``; it starts the users once N workers are
ready, aggregates their stats, stops them all after ``run_time_s`` and writes the result), and N
processes run ``--worker --master-port P --index I --workers N`` (a
:class:`~locust.runners.WorkerRunner`; each writes its ``submitted`` jobs to its own result).
Worker ``I`` acts only for ``targets[I::N]`` and keys its jobs ``key_prefix + "w{I}-…"``, so the
per-account job cap and unique idempotency keys hold across workers; it sends at most its share
of ``max_requests`` and tells the master when it has (the master stops once all have).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "INTAKE",
    "POLL",
    "SETTLED_STATES",
    "main",
    "run_locust",
    "run_master",
    "run_worker",
    "stats_json",
]

#: the job states after which a job will not change on its own
SETTLED_STATES: frozenset[str] = frozenset(
    {
        "succeeded",
        "failed",
        "dead_letter",
        "cancelled",
        "needs_human_confirm",
        "awaiting_approval",
        "blocked",
    }
)
#: Locust's request name of job intake, and of a job poll
INTAKE, POLL = "POST /jobs", "GET /jobs/{id}"
#: how long a master waits for its workers to connect (seconds)
EXPECT_WORKERS_TIMEOUT_S = 60.0
#: the message a worker sends its master when it has sent its share of ``max_requests``
CAPPED = "vibedrill_capped"


def stats_json(stats: Any) -> dict[str, Any]:
    """Locust's ``RequestStats`` as JSON: per request name and in total, with percentiles."""

    def entry(e: Any) -> dict[str, Any]:
        pct = {
            f"p{int(q * 100)}_ms": (e.get_response_time_percentile(q) if e.num_requests else None)
            for q in (0.5, 0.95, 0.99)
        }
        return {
            "requests": e.num_requests,
            "failures": e.num_failures,
            "avg_ms": round(e.avg_response_time, 2) if e.num_requests else None,
            "max_ms": round(e.max_response_time, 2) if e.num_requests else None,
            **pct,
        }

    by_name = {
        f"{name}" if method in name else f"{method} {name}": entry(e)
        for (name, method), e in sorted(stats.entries.items())
    }
    errors = [
        {"name": e.name, "method": e.method, "error": str(e.error), "occurrences": e.occurrences}
        for e in stats.errors.values()
    ]
    return {"total": entry(stats.total), "by_name": by_name, "errors": errors[:20]}


def _user_class(cfg: dict[str, Any], state: dict[str, Any]) -> Any:
    """Locust's user class for ``cfg``; its jobs go to ``state["submitted"]``.

    ``state["capped"]`` set: the users send nothing more (a worker's share of ``max_requests``).
    """
    from locust import HttpUser, between, task

    targets: list[dict[str, str]] = list(cfg["targets"])
    reply_platforms = set(cfg.get("reply_platforms") or ())
    jobs_per_account = int(cfg["jobs_per_account"])
    wait_lo, wait_hi = (float(x) for x in cfg.get("wait_s", (0.5, 1.5)))
    submitted: list[dict[str, Any]] = state["submitted"]
    per_account: dict[str, int] = {}
    counter = {"users": 0, "jobs": 0}

    class PlatformUser(HttpUser):
        """One agency operator hammering the platform's job intake for one account."""

        host = cfg["host"]
        wait_time = between(wait_lo, wait_hi)

        def on_start(self) -> None:
            """Pick this user's account (round robin over the targets)."""
            self.target = targets[counter["users"] % len(targets)]
            self.n = counter["users"]
            counter["users"] += 1
            self.pending: list[str] = []
            self.posts: list[str] = []

        def _submit(self, kind: str, payload: dict[str, Any]) -> None:
            acc = self.target["account_id"]
            if per_account.get(acc, 0) >= jobs_per_account:
                self.poll()
                return
            per_account[acc] = per_account.get(acc, 0) + 1
            counter["jobs"] += 1
            spec = {
                "kind": kind,
                "client_id": self.target["client_id"],
                "platform": self.target["platform"],
                "account_id": acc,
                "payload": payload,
                "idempotency_key": f"{cfg['key_prefix']}{counter['jobs']:06d}",
            }
            with self.client.post("/jobs", json=spec, name=INTAKE, catch_response=True) as r:
                if r.status_code != 201:
                    r.failure(f"job intake answered {r.status_code}: {r.text[:200]}")
                    return
                job = r.json()
                self.pending.append(job["id"])
                submitted.append(
                    {
                        "job_id": job["id"],
                        "kind": kind,
                        "client_id": spec["client_id"],
                        "platform": spec["platform"],
                        "account_id": acc,
                        "idempotency_key": spec["idempotency_key"],
                        "submitted_at": time.time(),
                    }
                )

        @task(3)
        def publish(self) -> None:
            """Submit a publish job with text unique to this run."""
            if state["capped"]:
                return
            n = counter["jobs"] + 1
            text = f"{self.target['client_id']} load post #{n} by user {self.n} ({cfg['seed']}/{time.time_ns():x})"
            self._submit("publish", {"text": text})

        @task(1)
        def reply(self) -> None:
            """Reply once to one of this user's published posts (a publish when there is none)."""
            if state["capped"]:
                return
            if self.target["platform"] not in reply_platforms or not self.posts:
                self.publish()
                return
            target = self.posts.pop(0)  # one reply per post: a second one is a duplicate
            text = f"thanks for reading! ({self.n}/{time.time_ns():x})"
            self._submit("reply", {"text": text, "target_id": target})

        @task(6)
        def poll(self) -> None:
            """Poll this user's oldest unsettled job; remember the posts it published."""
            if state["capped"] or not self.pending:
                return
            job_id = self.pending.pop(0)
            with self.client.get(f"/jobs/{job_id}", name=POLL, catch_response=True) as r:
                if r.status_code != 200:
                    r.failure(f"job lookup answered {r.status_code}: {r.text[:200]}")
                    return
                job = r.json()
            if job["state"] not in SETTLED_STATES:
                self.pending.append(job_id)
            elif job["state"] == "succeeded" and job["spec"]["kind"] == "publish":
                rid = (job.get("result") or {}).get("resource_id")
                if rid:
                    self.posts.append(str(rid))

    return PlatformUser


def run_locust(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the load test described by ``cfg`` in this process (see the module docstring)."""
    import gevent
    from locust.env import Environment

    state: dict[str, Any] = {"submitted": [], "capped": False}
    PlatformUser = _user_class(cfg, state)
    max_requests = int(cfg["max_requests"])
    env = Environment(user_classes=[PlatformUser], host=cfg["host"], catch_exceptions=True)
    runner = env.create_local_runner()
    stopped_by = {"why": "run_time"}

    def on_request(**_: Any) -> None:
        if env.stats.total.num_requests >= max_requests and stopped_by["why"] == "run_time":
            stopped_by["why"] = "max_requests"
            gevent.spawn(runner.quit)

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    t0 = time.perf_counter()
    runner.start(int(cfg["users"]), spawn_rate=float(cfg["spawn_rate"]))
    timer = gevent.spawn_later(float(cfg["run_time_s"]), runner.quit)
    try:
        runner.greenlet.join()
    finally:
        timer.kill()
    return {
        "stats": stats_json(env.stats),
        "submitted": state["submitted"],
        "stopped_by": stopped_by["why"],
        "wall_s": round(time.perf_counter() - t0, 3),
        "users": int(cfg["users"]),
    }


def worker_config(cfg: dict[str, Any], index: int, workers: int) -> dict[str, Any]:
    """Worker ``index`` of ``workers``: its targets, its job keys and its share of the cap."""
    if not 0 <= index < workers:
        raise ValueError(f"worker index {index} is out of range 0..{workers - 1}")
    targets = list(cfg["targets"])[index::workers]
    if not targets:
        raise ValueError(
            f"worker {index} of {workers} has no target account ({len(cfg['targets'])} in all)"
        )
    share, extra = divmod(int(cfg["max_requests"]), workers)
    return {
        **cfg,
        "targets": targets,
        "key_prefix": f"{cfg['key_prefix']}w{index}-",
        "max_requests": share + (1 if index < extra else 0),
    }


def run_master(cfg: dict[str, Any], workers: int, port_file: Path) -> dict[str, Any]:
    """Locust's master on 127.0.0.1 (a free port, written to ``port_file``): wait for
    ``workers`` workers, run the users on them for ``run_time_s``, return the aggregated result.
    """
    import gevent
    from locust.env import Environment

    user = _user_class(cfg, {"submitted": [], "capped": False})
    env = Environment(user_classes=[user], host=cfg["host"], catch_exceptions=True)
    runner = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=0)
    capped: set[int] = set()
    stopped_by = {"why": "run_time"}

    def on_capped(environment: Any, msg: Any, **_: Any) -> None:
        capped.add(int(msg.data))
        if len(capped) >= workers and stopped_by["why"] == "run_time":
            stopped_by["why"] = "max_requests"
            gevent.spawn(runner.quit)

    runner.register_message(CAPPED, on_capped)
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(str(runner.server.port))
    tmp.replace(port_file)
    deadline = time.monotonic() + EXPECT_WORKERS_TIMEOUT_S
    while runner.worker_count < workers:
        if time.monotonic() > deadline:
            runner.quit()
            raise TimeoutError(
                f"{runner.worker_count} of {workers} Locust workers connected within "
                f"{EXPECT_WORKERS_TIMEOUT_S:g}s"
            )
        gevent.sleep(0.05)
    t0 = time.perf_counter()
    runner.start(int(cfg["users"]), spawn_rate=float(cfg["spawn_rate"]))
    timer = gevent.spawn_later(float(cfg["run_time_s"]), runner.quit)
    try:
        runner.greenlet.join()
    finally:
        timer.kill()
    return {
        "stats": stats_json(env.stats),
        "submitted": [],  # the workers' results hold them
        "stopped_by": stopped_by["why"],
        "wall_s": round(time.perf_counter() - t0, 3),
        "users": int(cfg["users"]),
        "workers": workers,
    }


def run_worker(cfg: dict[str, Any], master_port: int, index: int, workers: int) -> dict[str, Any]:
    """Locust's worker ``index`` of ``workers``, connected to the master on 127.0.0.1; it runs
    until the master quits; returns the jobs its users submitted."""
    import gevent
    from locust.env import Environment

    mine = worker_config(cfg, index, workers)
    state: dict[str, Any] = {"submitted": [], "capped": False}
    env = Environment(
        user_classes=[_user_class(mine, state)], host=cfg["host"], catch_exceptions=True
    )
    runner = env.create_worker_runner(master_host="127.0.0.1", master_port=master_port)
    cap = int(mine["max_requests"])
    sent = {"n": 0}

    def on_request(**_: Any) -> None:
        sent["n"] += 1
        if sent["n"] >= cap and not state["capped"]:
            state["capped"] = True
            gevent.spawn(runner.send_message, CAPPED, index)

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    runner.greenlet.join()
    return {
        "submitted": state["submitted"],
        "stopped_by": "max_requests" if state["capped"] else "master",
        "index": index,
        "requests": sent["n"],
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness.load.locustfile",
        description="Run vibedrill's Locust load test: in one process, or as Locust's master "
        "or one of its workers (on 127.0.0.1).",
    )
    p.add_argument("config", type=Path, help="the load test's JSON config")
    p.add_argument("result", type=Path, help="where the JSON result goes")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true", help="run Locust's master")
    role.add_argument("--worker", action="store_true", help="run one of Locust's workers")
    p.add_argument("--expect-workers", type=int, help="(master) workers to wait for")
    p.add_argument("--port-file", type=Path, help="(master) where its port is written")
    p.add_argument("--master-port", type=int, help="(worker) the master's port on 127.0.0.1")
    p.add_argument("--index", type=int, help="(worker) this worker's index, 0..workers-1")
    p.add_argument("--workers", type=int, help="(worker) how many workers there are")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.load.locustfile [--master …|--worker …] CONFIG.json RESULT.json``:
    run, write the result, exit 0 (2 on bad usage, 3 when the master's workers never came)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.master and (not args.expect_workers or args.expect_workers < 1 or not args.port_file):
        parser.error("--master needs --expect-workers N (≥ 1) and --port-file")
    if args.worker and None in (args.master_port, args.index, args.workers):
        parser.error("--worker needs --master-port, --index and --workers")
    cfg = json.loads(args.config.read_text())
    try:
        if args.master:
            result = run_master(cfg, args.expect_workers, args.port_file)
        elif args.worker:
            result = run_worker(cfg, args.master_port, args.index, args.workers)
        else:
            result = run_locust(cfg)
    except KeyboardInterrupt:
        return 130
    except (TimeoutError, ValueError) as e:
        print(f"locust: {e}", file=sys.stderr)
        return 3
    out = args.result
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
