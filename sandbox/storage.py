"""SQLite persistence of jobs, the audit log and the controls (a platform survives a restart).

In-process drills keep everything in memory; a served platform attaches a :class:`SqliteStore`
to its :class:`~sandbox.jobs.JobStore` and :class:`~sandbox.audit.AuditLog`: every job state
change is upserted and every audit event appended, in the same thread as the change (SQLite is
fast enough for a served platform's rates and the write is durable before the next await).
On start, :meth:`SqliteStore.load` puts jobs and events back; a job caught ``running`` by the
restart goes back to ``queued`` so it is retried (its idempotency key guards the side effect).
The control state (kill switches, modes, pauses, caps, budgets, locks, routing, and the change
log) is written after every change and put back before the runner starts: a platform restarted
in the middle of an incident keeps the kill switches it was given.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from pathlib import Path
from typing import Any

from .audit import AuditLog
from .contract import AuditEvent, JobSpec
from .controls import Controls
from .jobs import JobRecord, JobStore

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, seq INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS controls (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL);
"""
_JOB_FIELDS = tuple(f.name for f in fields(JobRecord))


def _job_doc(rec: JobRecord) -> str:
    doc: dict[str, Any] = {}
    for name in _JOB_FIELDS:
        v = getattr(rec, name)
        doc[name] = v.model_dump(mode="json") if name == "spec" else v
    return json.dumps(doc, separators=(",", ":"), default=str)


def _job_of(doc: str) -> JobRecord:
    d = json.loads(doc)
    d["spec"] = JobSpec.model_validate(d["spec"])
    return JobRecord(**{k: d[k] for k in _JOB_FIELDS if k in d})


class SqliteStore:
    """Jobs and audit events in one SQLite file (WAL journal)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    # writing ---------------------------------------------------------------------------------
    def save_job(self, rec: JobRecord, _old: str | None = None) -> None:
        """Upsert one job (a :attr:`JobStore.on_change` listener)."""
        self.db.execute(
            "INSERT INTO jobs (id, seq, doc) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            (rec.id, rec.seq, _job_doc(rec)),
        )

    def append_event(self, ev: AuditEvent) -> None:
        """Append one audit event (an :attr:`AuditLog.on_append` listener)."""
        self.db.execute(
            "INSERT OR REPLACE INTO audit (seq, doc) VALUES (?, ?)", (ev.seq, ev.model_dump_json())
        )

    def save_controls(self, controls: Controls) -> None:
        """Write the whole control state (after every change: a few kB, rarely)."""
        self.db.execute(
            "INSERT INTO controls (id, doc) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
            (json.dumps(controls.state(), separators=(",", ":")),),
        )

    def save_holds(self, holds: dict[str, Any]) -> None:
        """Write the platform's rate-limit holds (after every new one): the Retry-After of a 429
        still holds after a restart, as the platform that received it promised."""
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('holds', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (json.dumps(holds, separators=(",", ":")),),
        )

    def next_boot(self) -> int:
        """Count one more platform process started on this store; its number (1 for the first)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'boots'").fetchone()
        boot = (0 if row is None else int(row[0])) + 1
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES ('boots', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(boot),),
        )
        return boot

    # reading ---------------------------------------------------------------------------------
    def holds(self) -> dict[str, Any]:
        """The stored rate-limit holds (empty when none were stored)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'holds'").fetchone()
        return {} if row is None else dict(json.loads(row[0]))

    def controls_state(self) -> dict[str, Any] | None:
        """The stored control state, if any was stored."""
        row = self.db.execute("SELECT doc FROM controls WHERE id = 1").fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def jobs(self) -> list[JobRecord]:
        """Every stored job, in intake order."""
        return [_job_of(doc) for (doc,) in self.db.execute("SELECT doc FROM jobs ORDER BY seq")]

    def events(self) -> list[AuditEvent]:
        """Every stored audit event, in order."""
        return [
            AuditEvent.model_validate_json(doc)
            for (doc,) in self.db.execute("SELECT doc FROM audit ORDER BY seq")
        ]

    def counts(self) -> dict[str, int]:
        """Rows per table (health)."""
        (j,) = self.db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        (a,) = self.db.execute("SELECT COUNT(*) FROM audit").fetchone()
        return {"jobs": int(j), "audit": int(a)}

    # attaching -------------------------------------------------------------------------------
    def load(
        self, jobs: JobStore, audit: AuditLog, controls: Controls | None = None
    ) -> dict[str, int]:
        """Restore stored jobs, events and controls into empty stores; returns what was restored."""
        n_jobs = n_events = n_changes = 0
        if controls is not None:
            state = self.controls_state()
            if state is not None:
                controls.restore(state)
                n_changes = len(controls.changes)
        for ev in self.events():
            audit.restore(ev)
            n_events += 1
        for rec in self.jobs():
            if rec.state == "running":
                rec.state = "queued"
                rec.last_error = "interrupted by a platform restart"
            jobs.restore(rec)
            n_jobs += 1
        out = {"jobs": n_jobs, "audit": n_events}
        if controls is not None:
            out["control_changes"] = n_changes
        return out

    def attach(
        self, jobs: JobStore, audit: AuditLog, controls: Controls | None = None
    ) -> dict[str, int]:
        """Load what is stored, then persist every later change; returns what was restored."""
        restored = self.load(jobs, audit, controls)
        jobs.on_change.append(self.save_job)
        jobs.on_note.append(self.save_job)
        audit.on_append.append(self.append_event)
        if controls is not None:
            controls.listeners.append(lambda _change: self.save_controls(controls))
        return restored
