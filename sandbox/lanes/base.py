"""The lane seam: how the platform acts on a social platform (API today, a browser later).

A :class:`Lane` performs one kind of side effect per method and reports what the platform said.
It knows nothing about jobs, controls or audit: it receives a :class:`SideEffectScope` from the
data plane and enters ``scope.side_effect(action)`` around every mutating request, which paces,
checks the kill switches and modes *immediately before sending*, and writes the attempt audit
event. Read-only calls (verify, list_inbound) do not enter it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..settings import AccountSettings

__all__ = [
    "RECENT_POSTS_READ",
    "Credential",
    "InboundMessage",
    "Lane",
    "Lookup",
    "SendResult",
    "SideEffectScope",
]


#: how many of an account's newest posts an engagement poll reads the comments of (Instagram,
#: LinkedIn: one request per post; a new comment lands on a recent post)
RECENT_POSTS_READ = 10


@dataclass(frozen=True, slots=True)
class Credential:
    """A resolved credential: the account it is *meant* for and its current access token."""

    client_id: str
    account: AccountSettings
    credential_ref: str
    access_token: str = field(repr=False)
    #: the keyring's generation of this ref's secret when it was resolved (refresh bookkeeping)
    generation: int = 0

    @property
    def platform(self) -> str:
        """The social platform of the account."""
        return self.account.platform


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the platform answered to a side effect."""

    resource_id: str
    permalink: str | None = None
    request_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Lookup:
    """A visibility check: ``visible`` is None when the lookup itself failed."""

    visible: bool | None
    permalink: str | None = None
    error: str | None = None
    #: the platform refused the lookup (429): wait this long before asking again; "unknown",
    #: not "not visible"
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A comment, mention or DM addressed to one of our accounts."""

    id: str
    kind: str  # "comment" | "dm"
    text: str
    author_id: str
    author_handle: str | None = None
    #: the post commented on (comments) or None (DMs)
    post_id: str | None = None
    conversation_id: str | None = None
    created_at: float | None = None


class SideEffectScope(Protocol):
    """What the data plane gives a lane for one job: gates, pacing, audit, trace headers."""

    def side_effect(
        self, action: str, recheck: Callable[[], None] | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Pace, gate (kill switch / mode) and audit the attempt of one mutating request;
        ``recheck`` is the lane's own refusal, asked again once the pacer lets it go (a
        ``Blocked`` it raises is audited as a refusal)."""
        ...

    def refused(self, action: str, error: str) -> None:
        """Audit a refusal the lane made before the side effect (a ``blocked`` outcome)."""
        ...

    def check(self, action: str) -> None:
        """Gate only (no pacing): raises Blocked / Held if the side effect may not run; a Blocked
        refusal is audited as a ``blocked`` outcome."""
        ...

    def headers(self) -> dict[str, str]:
        """Headers for one outbound request: a fresh ``traceparent`` and the idempotency key."""
        ...

    def note(self, key: str, value: Any) -> None:
        """Remember a fact about this job across attempts (e.g. an Instagram container id)."""
        ...

    def recall(self, key: str) -> Any:
        """A fact remembered by :meth:`note` in an earlier attempt, or None."""
        ...


@runtime_checkable
class Lane(Protocol):
    """One way of acting on one social platform."""

    name: str
    platform: str

    async def publish(
        self, cred: Credential, text: str, scope: SideEffectScope, *, media_url: str | None = None
    ) -> SendResult:
        """Create a post; raise a :mod:`sandbox.errors` interrupt on failure."""
        ...

    async def verify(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> Lookup:
        """Look a post up: is it visible?"""
        ...

    async def find_published(
        self, cred: Credential, text: str, scope: SideEffectScope
    ) -> SendResult | None:
        """Find a post of ours with exactly ``text`` (idempotency after an ambiguous attempt).

        Returns None when the platform says there is none; raises ``Ambiguous`` when it cannot tell.
        """
        ...

    async def reply(
        self, cred: Credential, target_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """Reply to a comment or post."""
        ...

    async def dm(
        self, cred: Credential, recipient_id: str, text: str, scope: SideEffectScope
    ) -> SendResult:
        """Send a direct message."""
        ...

    async def like(self, cred: Credential, target_id: str, scope: SideEffectScope) -> SendResult:
        """Like a post or comment."""
        ...

    async def delete(self, cred: Credential, resource_id: str, scope: SideEffectScope) -> bool:
        """Delete a post of ours."""
        ...

    async def list_inbound(
        self,
        cred: Credential,
        scope: SideEffectScope,
        *,
        since: str | None = None,
        also: Collection[str] = (),
    ) -> list[InboundMessage]:
        """Comments on our posts and DMs to the account, newest last; ``also`` names posts whose
        comments to read besides the newest ones (conversations a control held back)."""
        ...
