"""Inbound traffic: comments and DMs that the outside world sends to the platform's accounts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .clock import Now

__all__ = ["INBOUND_ID_BASE", "Inbound", "InboundItem", "inbound_id"]

InboundKind = Literal["comment", "dm"]

#: where each fake's inbound ids start: decimal strings of the width the platform serves
#: (Graph: 17-digit IG comment ids, prefix 181 apart from the fake's own 178–180; LinkedIn: 19-digit activity ids)
INBOUND_ID_BASE: dict[str, int] = {
    "instagram": 18_100_000_000_000_000,
    "linkedin": 7_420_000_000_000_000_000,
}


#: X's snowflake epoch (2010-11-04T01:42:54.657Z) in milliseconds
_TWEPOCH_MS = 1_288_834_974_657


def inbound_id(fake: str, n: int, at: float) -> str:
    """The ``n``-th inbound id of a world: a decimal string, as clients that ``int(id)`` expect.

    X's are snowflakes of their arrival time (ids order like time, so ``since_id`` works
    across posts and mentions), with bit 21 set so they never equal a post's id.
    """
    if fake == "x":
        ms = max(int(at * 1000) - _TWEPOCH_MS, 0)
        return str((ms << 22) | (1 << 21) | (n & 0x1FFFFF))
    return str(INBOUND_ID_BASE.get(fake, 1_000_000_000_000_000_000) + n)


@dataclass(frozen=True)
class InboundItem:
    """A comment on a post (or a reply thread) or a DM to an account, visible from ``at``."""

    id: str
    fake: str
    kind: InboundKind
    account_id: str
    text: str
    author: str
    at: float
    post_id: str | None = None
    #: the platform reply that drew this comment (reply echo), if any
    echo_of: str | None = None


@dataclass
class Inbound:
    """Scheduled inbound items, queried by the fakes as time passes."""

    now: Now
    items: list[InboundItem] = field(default_factory=list)
    _n: int = 0
    #: fake → ``(account_id, t) -> post id``: the post a comment scheduled without one lands on
    #: (Instagram and LinkedIn comments always hang off a post: the account's newest by then)
    resolvers: dict[str, Callable[[str, float], str | None]] = field(default_factory=dict)
    _attached: dict[str, str] = field(default_factory=dict)
    #: ``items`` by fake and by (fake, account), in the same order: :meth:`visible` is asked on
    #: every poll of every post and account and would otherwise scan every item of every fake
    _by_fake: dict[str, list[InboundItem]] = field(default_factory=dict)
    _by_account: dict[tuple[str, str], list[InboundItem]] = field(default_factory=dict)
    #: ``items`` by id (each id is made once: :func:`inbound_id` numbers them)
    _by_id: dict[str, InboundItem] = field(default_factory=dict)

    def post_of(self, item: InboundItem) -> str | None:
        """The post a comment is on: its own, or the one it landed on when it arrived."""
        if item.post_id is not None or item.kind != "comment":
            return item.post_id
        got = self._attached.get(item.id)
        fn = self.resolvers.get(item.fake)
        if got is None and fn is not None and item.at <= self.now():
            got = fn(item.account_id, item.at)
            if got is not None:
                self._attached[item.id] = got
        return got

    def schedule(
        self,
        fake: str,
        kind: InboundKind,
        account_id: str,
        text: str,
        author: str = "@fan",
        at: float | None = None,
        post_id: str | None = None,
        echo_of: str | None = None,
    ) -> InboundItem:
        """Schedule one item; ``at`` defaults to now."""
        self._n += 1
        when = self.now() if at is None else at
        item = InboundItem(
            id=inbound_id(fake, self._n, when),
            fake=fake,
            kind=kind,
            account_id=account_id,
            text=text,
            author=author,
            at=when,
            post_id=post_id,
            echo_of=echo_of,
        )
        self.items.append(item)
        self._by_fake.setdefault(fake, []).append(item)
        self._by_account.setdefault((fake, account_id), []).append(item)
        self._by_id.setdefault(item.id, item)
        return item

    def visible(
        self,
        fake: str,
        *,
        account_id: str | None = None,
        post_id: str | None = None,
        kind: InboundKind | None = None,
    ) -> list[InboundItem]:
        """Items of a fake that have arrived by now."""
        t = self.now()
        # the same items, in the same order, as filtering ``self.items`` by fake and account
        # (post_of, which may attach a comment to a post, is asked of the same items)
        if account_id is None:
            pool = self._by_fake.get(fake, ())
        else:
            pool = self._by_account.get((fake, account_id), ())
        return [
            i
            for i in pool
            if i.at <= t
            and (post_id is None or self.post_of(i) == post_id)
            and (kind is None or i.kind == kind)
        ]

    def get(self, item_id: str) -> InboundItem | None:
        """One item by id, arrived or not."""
        return self._by_id.get(item_id)

    def clear(self) -> None:
        """Forget every item."""
        self.items.clear()
        self._by_fake.clear()
        self._by_account.clear()
        self._by_id.clear()
        self._attached.clear()
        self._n = 0
