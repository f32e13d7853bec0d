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
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["INTAKE", "POLL", "SETTLED_STATES", "main", "run_locust", "stats_json"]

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


def run_locust(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run the load test described by ``cfg`` (see the module docstring); return the result."""
    import gevent
    from locust import HttpUser, between, task
    from locust.env import Environment

    targets: list[dict[str, str]] = list(cfg["targets"])
    reply_platforms = set(cfg.get("reply_platforms") or ())
    jobs_per_account = int(cfg["jobs_per_account"])
    max_requests = int(cfg["max_requests"])
    wait_lo, wait_hi = (float(x) for x in cfg.get("wait_s", (0.5, 1.5)))
    submitted: list[dict[str, Any]] = []
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
            n = counter["jobs"] + 1
            text = f"{self.target['client_id']} load post #{n} by user {self.n} ({cfg['seed']}/{time.time_ns():x})"
            self._submit("publish", {"text": text})

        @task(1)
        def reply(self) -> None:
            """Reply once to one of this user's published posts (a publish when there is none)."""
            if self.target["platform"] not in reply_platforms or not self.posts:
                self.publish()
                return
            target = self.posts.pop(0)  # one reply per post: a second one is a duplicate
            text = f"thanks for reading! ({self.n}/{time.time_ns():x})"
            self._submit("reply", {"text": text, "target_id": target})

        @task(6)
        def poll(self) -> None:
            """Poll this user's oldest unsettled job; remember the posts it published."""
            if not self.pending:
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
        "submitted": submitted,
        "stopped_by": stopped_by["why"],
        "wall_s": round(time.perf_counter() - t0, 3),
        "users": int(cfg["users"]),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.load.locustfile CONFIG.json RESULT.json``: run, write the result, exit 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        print("usage: python -m harness.load.locustfile CONFIG.json RESULT.json", file=sys.stderr)
        return 2
    cfg = json.loads(Path(args[0]).read_text())
    try:
        result = run_locust(cfg)
    except KeyboardInterrupt:
        return 130
    out = Path(args[1])
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
