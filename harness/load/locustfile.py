"""The Locust side of ``vibedrill load``, run in a child process: ``python -m harness.load.locustfile``.

Wall-clock time (``time.time``, ``time.sleep``) is deliberate here: a load test drives real
servers over real sockets, so it is not a virtual-time drill and promises no timeline hash.

Importing Locust monkey-patches the standard library with gevent, which does not mix with the
asyncio servers and clients of the rest of vibedrill; so Locust runs here, in its own process,
as a library (``Environment``, ``LocalRunner``, ``stats``), headless. The parent
(:mod:`harness.load`) writes a JSON config, starts this module, and reads the JSON result:

- config: ``host`` (the platform's base URL), ``users``, ``spawn_rate``, ``run_time_s``,
  ``shape`` (a name of :data:`harness.load.shapes.SHAPES`, default ``steady``),
  ``max_requests`` (a hard cap on requests to the platform), ``jobs_per_account`` (a cap on the
  jobs submitted for one account, to stay within the platforms' daily post limits), ``seed``,
  ``targets`` (client id, platform, account id), ``reply_platforms``, ``wait_s`` ([min, max]),
  ``key_prefix`` (every job's idempotency key starts with it: the parent finds this run's jobs
  by it, including one whose answer was cut off when Locust stopped).
- result: ``stats`` (per request name and in total), ``submitted`` (every job the users
  submitted, with its spec: the load test's intent), ``samples`` (one a second: users, requests,
  failures, job intakes so far and the latency percentiles of the second's requests),
  ``started_at``, ``stopped_by`` and ``wall_s``.

Each simulated user acts for one target account: it submits publish jobs, replies to posts it
published earlier (on the platforms of ``reply_platforms``), and polls its jobs until they settle.
How many users act when is the run's load shape (:mod:`harness.load.locust_shapes`, Locust
``LoadTestShape`` subclasses ticked by Locust's runner).

Distributed (``vibedrill load --workers N`` / ``--expect-workers M``): Locust's own
master/worker mode. One process runs ``--master --expect-workers W --port-file F``
(a :class:`~locust.runners.MasterRunner` bound to ``--master-host``, default 127.0.0.1, on
``--master-port``, default a free one, written to ``F``). Workers run ``--worker --master-host H
--master-port P`` and need nothing else: when worker ``I`` connects (and says hello), the master sends it its
part of the config (:func:`worker_config`: ``targets[I::W]``, job keys ``key_prefix + "w{I}-…"``, its
share of ``max_requests``), so the per-account job cap and unique idempotency keys hold across
workers, local or on other machines (``vibedrill load-worker``). The master starts the users
(its load shape) once W workers are ready, aggregates their stats (and the jobs they submitted,
carried in their stats reports), stops them all after ``run_time_s`` and writes the result. A
worker that has sent its share of ``max_requests`` tells the master (which stops once all have).
"""

from __future__ import annotations

import argparse
import json
import math
import random
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
    "worker_config",
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
#: how long a master waits for its workers to connect (seconds), unless told otherwise
EXPECT_WORKERS_TIMEOUT_S = 60.0
#: the message a worker sends its master when it has sent its share of ``max_requests``
CAPPED = "vibedrill_capped"
#: a connected worker asks its master for its part of the config (once its handlers are
#: registered: a message that arrives before is dropped); the master answers with it, or refuses
HELLO, CONFIG, REFUSED = "vibedrill_hello", "vibedrill_config", "vibedrill_refused"
#: the key of a worker's stats report that carries the jobs submitted since the last report
SUBMITTED = "vibedrill_submitted"
#: seconds between two samples of the run (and between two stats reports of a worker)
SAMPLE_S = 1.0
#: the latency percentiles sampled and reported
PERCENTILES = (0.5, 0.95, 0.99)


def stats_json(stats: Any) -> dict[str, Any]:
    """Locust's ``RequestStats`` as JSON: per request name and in total, with percentiles."""

    def entry(e: Any) -> dict[str, Any]:
        pct = {
            f"p{int(q * 100)}_ms": (e.get_response_time_percentile(q) if e.num_requests else None)
            for q in PERCENTILES
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


def _user_class(state: dict[str, Any]) -> Any:
    """Locust's user class; it reads its config from ``state["cfg"]`` when a user starts (a
    worker gets its config from the master after the class exists); its jobs go to
    ``state["submitted"]`` (and ``state["unreported"]``, drained by a worker's stats reports).

    ``state["capped"]`` set: the users send nothing more (a worker's share of ``max_requests``).
    """
    from locust import HttpUser, task

    per_account: dict[str, int] = {}
    counter = {"users": 0, "jobs": 0}

    class PlatformUser(HttpUser):
        """One agency operator hammering the platform's job intake for one account."""

        host = (state.get("cfg") or {}).get("host")

        def wait_time(self) -> float:
            """Between tasks: uniform in the config's ``wait_s`` (seconds)."""
            lo, hi = (float(x) for x in state["cfg"].get("wait_s", (0.5, 1.5)))
            return random.uniform(lo, hi)

        def on_start(self) -> None:
            """Pick this user's account (round robin over the targets)."""
            targets = state["cfg"]["targets"]
            self.target = targets[counter["users"] % len(targets)]
            self.n = counter["users"]
            counter["users"] += 1
            self.pending: list[str] = []
            self.posts: list[str] = []

        def _submit(self, kind: str, payload: dict[str, Any]) -> None:
            cfg = state["cfg"]
            acc = self.target["account_id"]
            if per_account.get(acc, 0) >= int(cfg["jobs_per_account"]):
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
                row = {
                    "job_id": job["id"],
                    "kind": kind,
                    "client_id": spec["client_id"],
                    "platform": spec["platform"],
                    "account_id": acc,
                    "idempotency_key": spec["idempotency_key"],
                    "submitted_at": time.time(),
                }
                state["submitted"].append(row)
                state["unreported"].append(row)

        @task(3)
        def publish(self) -> None:
            """Submit a publish job with text unique to this run."""
            if state["capped"]:
                return
            n = counter["jobs"] + 1
            seed = state["cfg"]["seed"]
            text = f"{self.target['client_id']} load post #{n} by user {self.n} ({seed}/{time.time_ns():x})"
            self._submit("publish", {"text": text})

        @task(1)
        def reply(self) -> None:
            """Reply once to one of this user's published posts (a publish when there is none)."""
            if state["capped"]:
                return
            replies = set(state["cfg"].get("reply_platforms") or ())
            if self.target["platform"] not in replies or not self.posts:
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


def _new_state(cfg: dict[str, Any] | None) -> dict[str, Any]:
    return {"cfg": cfg, "submitted": [], "unreported": [], "capped": False}


def _shape(cfg: dict[str, Any]) -> Any:
    from .locust_shapes import make_shape

    return make_shape(
        str(cfg.get("shape") or "steady"),
        int(cfg["users"]),
        float(cfg["spawn_rate"]),
        float(cfg["run_time_s"]),
    )


class Sampler:
    """One sample of the run a second (local runner or master: the master's stats are the sum
    of its workers' reports): active users, requests, failures and job intakes so far, and the
    p50/p95/p99 of the requests answered since the previous sample (Locust's response-time
    histogram, differenced)."""

    def __init__(self, env: Any, runner: Any) -> None:
        self.env, self.runner = env, runner
        self.samples: list[dict[str, Any]] = []
        self._hist: dict[int, int] = {}

    def sample(self) -> None:
        """Take one sample now."""
        from locust.stats import calculate_response_time_percentile

        total = self.env.stats.total
        hist = dict(total.response_times)
        diff = {k: v - self._hist.get(k, 0) for k, v in hist.items() if v > self._hist.get(k, 0)}
        self._hist = hist
        n = sum(diff.values())
        intake = self.env.stats.entries.get((INTAKE, "POST"))
        self.samples.append(
            {
                "t": round(time.time(), 3),
                "users": int(self.runner.user_count),
                "requests": int(total.num_requests),
                "failures": int(total.num_failures),
                "intake": int(intake.num_requests) if intake is not None else 0,
                **{
                    f"p{int(q * 100)}_ms": (
                        calculate_response_time_percentile(diff, n, q) if n else None
                    )
                    for q in PERCENTILES
                },
            }
        )

    def run(self) -> None:
        """Sample every :data:`SAMPLE_S` seconds until killed."""
        import gevent

        while True:
            gevent.sleep(SAMPLE_S)
            self.sample()


def _drive(env: Any, runner: Any, cfg: dict[str, Any]) -> tuple[float, float, list[Any]]:
    """Run the shape on ``runner`` for ``run_time_s`` (then quit), sampling; (start, wall, samples)."""
    import gevent

    sampler = Sampler(env, runner)
    started_at, t0 = time.time(), time.perf_counter()
    sampler.sample()
    runner.start_shape()
    sampling = gevent.spawn(sampler.run)
    timer = gevent.spawn_later(float(cfg["run_time_s"]), runner.quit)
    try:
        runner.greenlet.join()
    finally:
        timer.kill()
        sampling.kill()
    sampler.sample()
    return started_at, round(time.perf_counter() - t0, 3), sampler.samples


def run_locust(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the load test described by ``cfg`` in this process (see the module docstring)."""
    import gevent
    from locust.env import Environment

    state = _new_state(cfg)
    env = Environment(
        user_classes=[_user_class(state)],
        host=cfg["host"],
        catch_exceptions=True,
        shape_class=_shape(cfg),
    )
    runner = env.create_local_runner()
    max_requests = int(cfg["max_requests"])
    stopped_by = {"why": "run_time"}

    def on_request(**_: Any) -> None:
        if env.stats.total.num_requests >= max_requests and stopped_by["why"] == "run_time":
            stopped_by["why"] = "max_requests"
            gevent.spawn(runner.quit)

    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    started_at, wall_s, samples = _drive(env, runner, cfg)
    return {
        "stats": stats_json(env.stats),
        "submitted": state["submitted"],
        "samples": samples,
        "shape": str(cfg.get("shape") or "steady"),
        "started_at": started_at,
        "stopped_by": stopped_by["why"],
        "wall_s": wall_s,
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


def run_master(
    cfg: dict[str, Any],
    workers: int,
    port_file: Path,
    *,
    bind_host: str = "127.0.0.1",
    bind_port: int = 0,
    timeout_s: float = EXPECT_WORKERS_TIMEOUT_S,
) -> dict[str, Any]:
    """Locust's master on ``bind_host:bind_port`` (0: a free port; the port is written to
    ``port_file``): wait for ``workers`` workers (at most ``timeout_s``), send each its part of
    the config, run the load shape on them for ``run_time_s``, return the aggregated result.
    """
    import gevent
    from locust.env import Environment

    env = Environment(
        user_classes=[_user_class(_new_state(cfg))],
        host=cfg["host"],
        catch_exceptions=True,
        shape_class=_shape(cfg),
    )
    runner = env.create_master_runner(master_bind_host=bind_host, master_bind_port=bind_port)
    capped: set[int] = set()
    stopped_by = {"why": "run_time"}
    indexes: dict[str, int] = {}
    configured: set[str] = set()
    submitted: dict[str, dict[str, Any]] = {}

    def on_capped(environment: Any, msg: Any, **_: Any) -> None:
        capped.add(int(msg.data))
        if len(capped) >= workers and stopped_by["why"] == "run_time":
            stopped_by["why"] = "max_requests"
            gevent.spawn(runner.quit)

    def on_hello(environment: Any, msg: Any, **_: Any) -> None:
        client_id = str(msg.node_id)
        index = indexes.setdefault(client_id, len(indexes))
        if index >= workers:
            why = f"the master expects {workers} workers and has them all"
            runner.send_message(REFUSED, {"why": why}, client_id=client_id)
            return
        mine = worker_config(cfg, index, workers)
        runner.send_message(CONFIG, {"cfg": mine, "index": index}, client_id=client_id)
        configured.add(client_id)

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        for row in data.get(SUBMITTED) or ():
            submitted[str(row["job_id"])] = row

    runner.register_message(CAPPED, on_capped)
    runner.register_message(HELLO, on_hello)
    env.events.worker_report.add_listener(on_report)  # type: ignore[no-untyped-call]
    tmp = port_file.with_name(port_file.name + ".tmp")
    tmp.write_text(str(runner.server.port))
    tmp.replace(port_file)
    deadline = time.monotonic() + timeout_s
    while runner.worker_count < workers or len(configured) < workers:
        if time.monotonic() > deadline:
            runner.quit()
            raise TimeoutError(
                f"{min(runner.worker_count, len(configured))} of {workers} Locust workers "
                f"connected within {timeout_s:g}s"
            )
        gevent.sleep(0.05)
    started_at, wall_s, samples = _drive(env, runner, cfg)
    return {
        "stats": stats_json(env.stats),
        "submitted": sorted(submitted.values(), key=lambda r: float(r["submitted_at"])),
        "samples": samples,
        "shape": str(cfg.get("shape") or "steady"),
        "started_at": started_at,
        "stopped_by": stopped_by["why"],
        "wall_s": wall_s,
        "users": int(cfg["users"]),
        "workers": workers,
    }


def run_worker(
    master_host: str, master_port: int, connect_timeout_s: float = 60.0
) -> dict[str, Any]:
    """One of Locust's workers, connected to the master at ``master_host:master_port``: it gets
    its part of the config from the master, runs until the master quits and returns what it did.

    Raises ``ConnectionError`` when no master answers within ``connect_timeout_s`` and
    ``ValueError`` when the master refuses it (it has all the workers it expects).
    """
    import gevent
    import locust.runners
    from locust.env import Environment

    # the master samples the run once a second: report to it as often (Locust's default is 3 s)
    locust.runners.WORKER_REPORT_INTERVAL = SAMPLE_S
    # Locust tries CONNECT_RETRY_COUNT + 1 times, CONNECT_TIMEOUT seconds each
    wait = max(1, min(5, math.ceil(connect_timeout_s)))
    locust.runners.CONNECT_TIMEOUT = wait
    locust.runners.CONNECT_RETRY_COUNT = max(0, math.ceil(connect_timeout_s / wait) - 1)
    state = _new_state(None)
    user = _user_class(state)
    env = Environment(user_classes=[user], catch_exceptions=True)
    try:
        runner = env.create_worker_runner(master_host=master_host, master_port=master_port)
    except ConnectionError:
        raise ConnectionError(
            f"no Locust master answered at {master_host}:{master_port} within "
            f"{connect_timeout_s:g}s (is `vibedrill load --expect-workers …` running there?)"
        ) from None
    sent = {"n": 0}
    refused: list[str] = []

    def on_config(environment: Any, msg: Any, **_: Any) -> None:
        state["cfg"] = dict(msg.data["cfg"])
        state["index"] = int(msg.data["index"])
        user.host = state["cfg"]["host"]

    def on_refused(environment: Any, msg: Any, **_: Any) -> None:
        refused.append(str(msg.data["why"]))
        gevent.spawn(runner.quit)

    def on_request(**_: Any) -> None:
        sent["n"] += 1
        cap = int(state["cfg"]["max_requests"])
        if sent["n"] >= cap and not state["capped"]:
            state["capped"] = True
            gevent.spawn(runner.send_message, CAPPED, state["index"])

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        data[SUBMITTED], state["unreported"] = state["unreported"], []

    runner.register_message(CONFIG, on_config)
    runner.register_message(REFUSED, on_refused)
    env.events.request.add_listener(on_request)  # type: ignore[no-untyped-call]
    env.events.report_to_master.add_listener(on_report)  # type: ignore[no-untyped-call]
    runner.send_message(HELLO)
    runner.greenlet.join()
    if refused:
        raise ValueError(f"the Locust master refused this worker: {refused[0]}")
    return {
        "submitted": state["submitted"],
        "stopped_by": "max_requests" if state["capped"] else "master",
        "index": state.get("index"),
        "requests": sent["n"],
    }


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m harness.load.locustfile",
        description="Run vibedrill's Locust load test: in one process, or as Locust's master "
        "or one of its workers.",
    )
    p.add_argument("config", type=Path, nargs="?", help="the load test's JSON config")
    p.add_argument("result", type=Path, nargs="?", help="where the JSON result goes")
    role = p.add_mutually_exclusive_group()
    role.add_argument("--master", action="store_true", help="run Locust's master")
    role.add_argument("--worker", action="store_true", help="run one of Locust's workers")
    p.add_argument("--expect-workers", type=int, help="(master) workers to wait for")
    p.add_argument("--expect-workers-timeout", type=float, default=EXPECT_WORKERS_TIMEOUT_S)
    p.add_argument("--port-file", type=Path, help="(master) where its port is written")
    p.add_argument(
        "--master-host",
        default="127.0.0.1",
        help="(master) the address it binds; (worker) the master's address",
    )
    p.add_argument(
        "--master-port", type=int, help="(master) the port it binds, 0: free; (worker) its port"
    )
    p.add_argument("--connect-timeout", type=float, default=60.0, help="(worker) seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.load.locustfile [--master …] CONFIG.json RESULT.json`` or
    ``… --worker --master-host H --master-port P [RESULT.json]``: run, write the result, exit 0
    (2 on bad usage, 3 when the master's workers never came or a worker found no master)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.master and (not args.expect_workers or args.expect_workers < 1 or not args.port_file):
        parser.error("--master needs --expect-workers N (≥ 1) and --port-file")
    if args.worker:
        if args.master_port is None:
            parser.error("--worker needs --master-port (and --master-host, default 127.0.0.1)")
        out = args.config  # a worker's one positional argument is its result file
    else:
        if args.config is None or args.result is None:
            parser.error("CONFIG and RESULT are required (except for --worker)")
        out = args.result
    from locust.exception import RPCError

    try:
        if args.worker:
            result = run_worker(args.master_host, args.master_port, args.connect_timeout)
        else:
            cfg = json.loads(args.config.read_text())
            if args.master:
                result = run_master(
                    cfg,
                    args.expect_workers,
                    args.port_file,
                    bind_host=args.master_host,
                    bind_port=args.master_port or 0,
                    timeout_s=args.expect_workers_timeout,
                )
            else:
                result = run_locust(cfg)
    except KeyboardInterrupt:
        return 130
    except (TimeoutError, ValueError, ConnectionError, RPCError) as e:
        print(f"locust: {e}", file=sys.stderr)
        return 3
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(out)
    else:
        print(
            f"locust worker {result['index']}: {result['requests']} requests, "
            f"{len(result['submitted'])} jobs submitted; stopped by {result['stopped_by']}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
