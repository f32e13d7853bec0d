"""The engagement engine: keyword-triggered replies to comments and DMs, bounded by design.

Each poll reads every account's inbound comments and DMs through its lane (``list_inbound``),
and for each item decides — in this order — whether to answer it:

1. never answer ourselves (the author is the account's own user id or handle);
2. a **dedupe key** per inbound item (``<platform>:<account>:<item id>``): an item delivered
   twice (``<f>.duplicate_inbound``) is answered once;
3. a blueprint of the client for that platform must be enabled and one of its keywords must
   appear in the text; keyword triggers must not be locked for the client;
4. **conversation state**: the conversation is the platform's conversation id, or — followed
   through our own replies — the conversation of the item we answered, so a bot commenting on
   each of our replies (``<f>.reply_echo``) stays in one conversation; each conversation gets at
   most ``max_replies_per_conversation`` replies, ``cooldown_s`` apart;
5. kill switches and modes: a covering kill switch or a non-auto mode stops the reply.

A reply that passes is submitted as a ``reply`` (comment) or ``dm`` job with the dedupe key as
its idempotency key, so the runner's gates (checked again immediately before sending), pacing
and audit apply. Defects: ``engagement_dedupe_off`` skips 1, 2 and 4 — the runaway loop of
RB-10 — and ``kill_switch_ignored_by_engagement`` skips 5 (and asks the runner to skip it too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .contract import JobSpec
from .defects import Defect
from .errors import AuthFailed, Deferred, Fatal, JobInterrupt, RateLimited
from .jobs import JobRecord
from .lanes.base import Credential, InboundMessage, SendResult
from .settings import AccountSettings, Blueprint, ClientSettings

if TYPE_CHECKING:
    from .platform import Platform

__all__ = [
    "Conversation",
    "Decision",
    "EngagementComponent",
    "EngagementEngine",
    "EngagementPolicy",
    "install",
]


class EngagementDedupeOff(Defect, name="engagement_dedupe_off", runbook="RB-10"):
    """The engagement engine keeps no dedupe keys and no conversation state: it answers inbound
    items delivered twice, answers its own echoes and has no per-conversation cap or cooldown, so
    a reply echo becomes a runaway loop (RB-10 Diagnosis: dedupe/idempotency missing)."""


@dataclass(frozen=True)
class EngagementPolicy:
    """Hard limits of the engine (RB-10 Fix: hard caps and cooldowns)."""

    max_replies_per_conversation: int = 3
    cooldown_s: float = 60.0
    #: replies one poll may start, across all accounts (a brake on bursts)
    max_replies_per_poll: int = 200


@dataclass
class Conversation:
    """What the engine remembers about one conversation."""

    key: str
    replies: int = 0
    last_reply_at: float | None = None
    #: when the newest reply of the conversation went out (or was let go to go out): replies
    #: decided a cooldown apart may still be sent together (all approved at once)
    last_sent_at: float | None = None


@dataclass(frozen=True)
class Decision:
    """Why an inbound item was or was not answered (kept for tests and the evidence bundle)."""

    item_id: str
    account_id: str
    action: str  # "reply" | "dm" | "skip"
    reason: str
    job_id: str | None = None


class _Controls(Protocol):
    def is_killed(
        self,
        client_id: str | None,
        platform: str | None,
        action: str | None,
        account_id: str | None = None,
    ) -> Any: ...
    def mode_for(self, client_id: str | None, platform: str | None) -> str: ...
    def blueprint_enabled(self, blueprint_id: str) -> bool: ...
    def triggers_locked(self, client_id: str) -> bool: ...


Submit = Callable[[JobSpec], Awaitable[Any]]
ListInbound = Callable[
    [ClientSettings, AccountSettings], Awaitable[tuple[Credential | None, Sequence[InboundMessage]]]
]


@dataclass
class EngagementEngine:
    """Decides which inbound items to answer and submits the reply jobs.

    ``list_inbound(client, account)`` reads an account's inbound items (through its lane);
    ``submit(spec)`` hands a reply job to the runner; ``defect(name)`` asks the defect registry.
    """

    clients: Sequence[ClientSettings]
    blueprints: Sequence[Blueprint]
    controls: _Controls
    list_inbound: ListInbound
    submit: Submit
    defect: Callable[[str], bool]
    now: Callable[[], float]
    policy: EngagementPolicy = field(default_factory=EngagementPolicy)
    #: dedupe keys of inbound items already answered (or decided not to answer, for good)
    seen: set[str] = field(default_factory=set)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    #: our reply's resource id → the conversation it belongs to (echo chains stay in one)
    reply_conversation: dict[str, str] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    polls: int = 0
    #: account id → posts with comments a control held back (kill switch, mode, cooldown): read
    #: on the next poll even when newer posts push them out of the lane's newest few
    held_posts: dict[str, set[str]] = field(default_factory=dict)
    #: told when ``held_posts`` changes (the platform's storage keeps them across a restart)
    on_held: list[Callable[[], None]] = field(default_factory=list)
    #: account id → items read but left unconsidered when a poll's reply budget ran out: the
    #: next poll considers them first (a lane need not list them again)
    backlog: dict[str, list[InboundMessage]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        #: posts of items held back while the current account is being read
        self._held: set[str] = set()

    def _blueprint(self, client_id: str, platform: str, text: str) -> Blueprint | None:
        low = text.lower()
        for bp in self.blueprints:
            if bp.client_id != client_id or bp.platform != platform:
                continue
            if not self.controls.blueprint_enabled(bp.id):
                continue
            if any(k.lower() in low for k in bp.keywords):
                return bp
        return None

    def _conversation_key(self, account: AccountSettings, item: InboundMessage) -> str:
        if item.post_id is not None and item.post_id in self.reply_conversation:
            return self.reply_conversation[item.post_id]
        if item.kind == "dm":
            return f"{account.account_id}:dm:{item.conversation_id or item.author_id}"
        return f"{account.account_id}:c:{item.conversation_id or item.post_id or item.id}"

    def remember_reply(self, conversation_key: str, resource_id: str | None) -> None:
        """Record that our reply ``resource_id`` belongs to ``conversation_key`` (called after
        sending), and that the conversation's cooldown runs from now: a reply that waited in the
        queue (a kill switch, a slow API) went out later than it was decided, and the next one
        must keep its distance from when the person got this one."""
        if resource_id:
            self.reply_conversation[resource_id] = conversation_key
        conv = self.conversations.get(conversation_key)
        if conv is not None:
            conv.last_reply_at = max(conv.last_reply_at or 0.0, self.now())
            conv.last_sent_at = max(conv.last_sent_at or 0.0, self.now())

    def send_wait(self, conversation_key: str) -> float:
        """Seconds a decided reply of ``conversation_key`` must still wait to keep the cooldown
        from the conversation's last reply sent (0: it may go now, and the next one waits for
        it). Replies decided a cooldown apart can meet at the send — a person approving a batch,
        a kill switch released — and must not land together."""
        conv = self.conversations.get(conversation_key)
        if conv is None or self.defect("engagement_dedupe_off"):  # the defect: no cooldown
            return 0.0
        now = self.now()
        if conv.last_sent_at is not None and now - conv.last_sent_at < self.policy.cooldown_s:
            return conv.last_sent_at + self.policy.cooldown_s - now
        conv.last_sent_at = now
        return 0.0

    def _hold(self, item: InboundMessage) -> None:
        """Remember the post of an item held back for later (read again until decided)."""
        if item.kind == "comment" and item.post_id:
            self._held.add(item.post_id)

    def _skip(self, item: InboundMessage, account: AccountSettings, reason: str) -> None:
        self.decisions.append(Decision(item.id, account.account_id, "skip", reason))

    async def poll(self) -> list[Decision]:
        """Read every account's inbound items once and submit the replies due; returns decisions."""
        self.polls += 1
        start = len(self.decisions)
        budget = self.policy.max_replies_per_poll
        for client in self.clients:
            for account in client.accounts:
                if budget <= 0:
                    break
                _cred, fresh = await self.list_inbound(client, account)
                # what the last poll read and had no budget left for comes first
                waiting = self.backlog.pop(account.account_id, [])
                ids = {i.id for i in waiting}
                items = [*waiting, *(i for i in fresh if i.id not in ids)]
                held, self._held = self._held, set()
                done = True
                for n, item in enumerate(items):
                    if budget <= 0:
                        done = False
                        self.backlog[account.account_id] = items[n:]
                        break
                    if await self._consider(client, account, item):
                        budget -= 1
                # an account read only in part keeps the posts it held before, too
                prev = self.held_posts.get(account.account_id, set())
                self.held_posts[account.account_id] = self._held | (set() if done else prev)
                if self.held_posts[account.account_id] != prev:
                    for fn in self.on_held:
                        fn()
                self._held = held
        return self.decisions[start:]

    async def _consider(
        self, client: ClientSettings, account: AccountSettings, item: InboundMessage
    ) -> bool:
        """Decide one item; submit its reply job if due. Returns True if a reply was submitted."""
        careless = self.defect("engagement_dedupe_off")
        key = f"{account.platform}:{account.account_id}:{item.id}"
        if not careless:
            if key in self.seen:
                return False
            own = item.author_id == account.platform_user_id or (
                item.author_handle is not None
                and item.author_handle.lstrip("@").lower() == account.handle.lstrip("@").lower()
            )
            if own:
                self.seen.add(key)
                self._skip(item, account, "own message")
                return False
        bp = self._blueprint(client.client_id, account.platform, item.text)
        if bp is None:
            self.seen.add(key)
            self._skip(item, account, "no enabled blueprint keyword")
            return False
        if self.controls.triggers_locked(client.client_id):
            self.seen.add(key)
            self._skip(item, account, "keyword triggers locked")
            return False
        action = "dm" if item.kind == "dm" else "reply"
        if not self.defect("kill_switch_ignored_by_engagement"):
            killed = self.controls.is_killed(
                client.client_id, account.platform, action, account.account_id
            )
            if killed is not None:
                # not marked seen: once the switch is released the item may still be answered
                self._hold(item)
                self._skip(item, account, f"kill switch engaged: {killed}")
                return False
            mode = self.controls.mode_for(client.client_id, account.platform)
            if mode in ("read_only", "manual_only"):
                self._hold(item)
                self._skip(item, account, f"mode {mode}")
                return False
        conv_key = self._conversation_key(account, item)
        conv = self.conversations.setdefault(conv_key, Conversation(conv_key))
        t = self.now()
        if not careless:
            if conv.replies >= self.policy.max_replies_per_conversation:
                self.seen.add(key)
                self._skip(
                    item,
                    account,
                    f"conversation cap of {self.policy.max_replies_per_conversation} reached",
                )
                return False
            if conv.last_reply_at is not None and t - conv.last_reply_at < self.policy.cooldown_s:
                # not seen: the item may be answered after the cooldown
                self._hold(item)
                self._skip(
                    item, account, f"conversation cooling down ({self.policy.cooldown_s:g} s)"
                )
                return False
        self.seen.add(key)
        conv.replies += 1
        conv.last_reply_at = t
        text = _render(bp.reply_template, item)
        payload: dict[str, Any] = {
            "text": text,
            "inbound_id": item.id,
            "conversation": conv_key,
            "author_id": item.author_id,
        }
        if action == "dm":
            payload["recipient_id"] = item.author_id
        else:
            payload["target_id"] = item.id
        spec = JobSpec(
            kind=action,
            client_id=client.client_id,
            platform=account.platform,
            account_id=account.account_id,
            payload=payload,
            idempotency_key=None if careless else f"eng:{key}",
            blueprint_id=bp.id,
        )
        job = await self.submit(spec)
        job_id = getattr(job, "id", None)
        self.decisions.append(
            Decision(item.id, account.account_id, action, f"blueprint {bp.id}", job_id)
        )
        return True


def _render(template: str, item: InboundMessage) -> str:
    """The reply text: the blueprint's template with ``{author}`` filled in (unknown fields kept)."""
    author = item.author_handle or item.author_id
    if author and not author.startswith("@") and item.author_handle:
        author = f"@{author}"
    try:
        return template.format(author=author, text=item.text)
    except (KeyError, IndexError, ValueError):
        return template


# --- wiring into a platform --------------------------------------------------------------------

#: job states in which an engagement poll counts as still pending
_POLL_PENDING = frozenset({"queued", "scheduled", "retry_wait", "running"})


class EngagementComponent:
    """The engine wired into a platform: poll jobs, reply/dm handlers and the poll loop.

    Every ``poll_interval_s`` (platform time) an ``engagement_poll`` job is submitted unless one
    is pending, so pausing the engagement queue also pauses polling.
    """

    def __init__(
        self,
        platform: Platform,
        poll_interval_s: float = 30.0,
        policy: EngagementPolicy | None = None,
    ) -> None:
        p = self.p = platform
        self.poll_interval_s = poll_interval_s
        self.engine = EngagementEngine(
            clients=p.settings.clients,
            blueprints=p.settings.blueprints,
            controls=p.controls,
            list_inbound=self._list_inbound,
            submit=self._submit,
            defect=p.defects.on,
            now=p.now,
            policy=policy or EngagementPolicy(),
        )
        self._job: JobRecord | None = None
        self._task: asyncio.Task[None] | None = None
        self._polls = 0
        self._pending_polls: set[str] = set()
        p.jobs.on_change.append(self._track_poll)
        p.runner.register("engagement_poll", self.poll_job)
        p.runner.register("reply", self.reply_job)
        p.runner.register("dm", self.reply_job)

    # loop -----------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the poll loop (if an interval is set)."""
        polls = [j for j in self.p.jobs.all() if j.kind == "engagement_poll"]
        self._pending_polls = {j.id for j in polls if j.state in _POLL_PENDING}  # restored
        # a platform restarted on its storage counts on from its last poll: ``poll:N`` again
        # would be the old job's idempotency key, and no poll would run until N was passed
        # (found by ``ctl_restart_mid_incident``: engagement silently stopped after a restart)
        done = (j.idempotency_key.partition(":")[2] for j in polls)
        self._polls = max([self._polls, *(int(n) for n in done if n.isdigit())])
        self._restore_conversations()
        if self.poll_interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="vibedrill-engagement")

    def _restore_conversations(self) -> None:
        """A platform started on its storage knows its conversations again from the reply and
        DM jobs it holds: each counts towards its conversation's cap (as when it was decided),
        the cooldown runs from the newest, its inbound item is decided, and its reply belongs to
        the conversation. A process that forgot them answered a thread its cap had closed."""
        eng = self.engine
        if eng.conversations:
            return
        for j in sorted(self.p.jobs.all(), key=lambda j: j.seq):
            if j.kind not in ("reply", "dm"):
                continue
            conv_key = j.spec.payload.get("conversation")
            if not isinstance(conv_key, str):
                continue
            conv = eng.conversations.setdefault(conv_key, Conversation(conv_key))
            conv.replies += 1
            at = j.updated_at if j.state == "succeeded" else j.created_at
            conv.last_reply_at = max(conv.last_reply_at or 0.0, at)
            if j.state == "succeeded":
                conv.last_sent_at = max(conv.last_sent_at or 0.0, j.updated_at)
            key = j.idempotency_key
            if key.startswith("eng:"):
                eng.seen.add(key[4:])
            rid = j.result.get("resource_id")
            if isinstance(rid, str) and rid:
                eng.reply_conversation[rid] = conv_key

    async def stop(self) -> None:
        """Stop the poll loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            self.submit_poll()

    def submit_poll(self) -> JobRecord | None:
        """Submit one ``engagement_poll`` job unless one is still waiting or running."""
        if self._pending_polls:
            return None
        self._polls += 1
        return self.p.submit(
            JobSpec(
                kind="engagement_poll", client_id="agency", idempotency_key=f"poll:{self._polls}"
            )
        )

    def _track_poll(self, job: JobRecord, old: str | None) -> None:
        # the poll jobs waiting or running, kept up to date instead of scanning every job per poll
        if job.kind == "engagement_poll":
            if job.state in _POLL_PENDING:
                self._pending_polls.add(job.id)
            else:
                self._pending_polls.discard(job.id)

    # engine hooks ---------------------------------------------------------------------------
    async def _submit(self, spec: JobSpec) -> JobRecord:
        return self.p.submit(spec)

    async def _list_inbound(
        self, client: ClientSettings, account: AccountSettings
    ) -> tuple[Credential | None, Sequence[InboundMessage]]:
        p, job = self.p, self._job
        if job is None:
            return None, ()
        try:
            lane = p.lane_for(account.platform)
            cred = p.keyring.resolve(client.client_id, account)
            if p.keyring.needs_refresh(cred):
                cred = await p.keyring.refresh(cred)
            scope = p.scope(
                job, service=account.platform, account_id=account.account_id, lane=lane.name
            )
            held = self.engine.held_posts.get(account.account_id, ())
            return cred, await lane.list_inbound(cred, scope, also=sorted(held))
        except JobInterrupt as e:
            # one account's inbox failing must not stop the others; the next poll tries again.
            # A throttle or a refused token has its alert of its own (rate_limited,
            # auth_failing): an inbox page for it sends responders after an outage that is not
            # there
            refused = isinstance(e, AuthFailed) or e.error.startswith(
                f"{account.platform}.unauthorized"  # a fresh token refused too: retried later
            )
            if not isinstance(e, RateLimited) and not refused:
                p.telemetry.mark(f"engagement_poll_failed:{account.platform}")
            job.result.setdefault("errors", []).append(f"{account.account_id}: {e.error}")
            return None, ()

    # handlers -------------------------------------------------------------------------------
    async def poll_job(self, job: JobRecord) -> dict[str, Any]:
        """Handler of ``engagement_poll``: one pass of the engine over every account."""
        self._job = job
        try:
            decisions = await self.engine.poll()
        finally:
            self._job = None
        r = self.p.alert_rules
        n = self.p.telemetry.window("engagement_reply", r.window_s)
        if n >= r.engagement_replies_min:
            self.p.alerts.fire(
                "engagement_rate_high", f"{n} engagement replies in the last {r.window_s:g}s"
            )
        replies = [d for d in decisions if d.action != "skip"]
        return {"replies": len(replies), "skipped": len(decisions) - len(replies)}

    async def reply_job(self, job: JobRecord) -> dict[str, Any]:
        """Handler of ``reply`` and ``dm``: send through the lane (gated, paced, audited), once."""
        payload = job.spec.payload
        text = str(payload.get("text") or "")
        target = payload.get("recipient_id" if job.kind == "dm" else "target_id")
        if not text or not target:
            need = "recipient_id" if job.kind == "dm" else "target_id"
            raise Fatal(
                f"payload: a {job.kind} job needs 'text' and {need!r}; got keys {sorted(payload)}"
            )
        action = "dm.send" if job.kind == "dm" else "reply.create"
        conv = payload.get("conversation")
        if not job.result.get("resource_id") and isinstance(conv, str):
            wait = self.engine.send_wait(conv)
            if wait > 0:
                raise Deferred(
                    f"engagement.cooldown: conversation {conv} was answered "
                    f"{self.engine.policy.cooldown_s - wait:g}s ago; sending in {wait:g}s",
                    run_at=self.p.now() + wait,
                )
        lane, cred, scope = await self.p.publishing.prepare(job)
        rid = job.result.get("resource_id")
        if rid:
            res = SendResult(str(rid), job.result.get("permalink"), job.result.get("request_id"))
        elif job.kind == "dm":
            res = await lane.dm(cred, str(target), text, scope)
        else:
            res = await lane.reply(cred, str(target), text, scope)
        proof = {
            "resource_id": res.resource_id,
            "permalink": res.permalink,
            "request_id": res.request_id,
        }
        scope.outcome(
            action, "success", proof=proof, detail={"inbound_id": payload.get("inbound_id")}
        )
        self.p.telemetry.mark("engagement_reply")
        if isinstance(conv, str):
            self.engine.remember_reply(conv, res.resource_id)
        return proof


def install(platform: Platform) -> EngagementComponent:
    """Wire the engagement engine into ``platform`` (called by the platform at construction)."""
    return EngagementComponent(platform)
