"""Inbound traffic: comments and DMs that the outside world sends to the platform's accounts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .clock import Now

__all__ = ["Inbound", "InboundItem"]

InboundKind = Literal["comment", "dm"]


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
        item = InboundItem(
            id=f"{fake[:2]}c{self._n:07d}",
            fake=fake,
            kind=kind,
            account_id=account_id,
            text=text,
            author=author,
            at=self.now() if at is None else at,
            post_id=post_id,
            echo_of=echo_of,
        )
        self.items.append(item)
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
        return [
            i
            for i in self.items
            if i.fake == fake
            and i.at <= t
            and (account_id is None or i.account_id == account_id)
            and (post_id is None or self.post_of(i) == post_id)
            and (kind is None or i.kind == kind)
        ]

    def get(self, item_id: str) -> InboundItem | None:
        """One item by id, arrived or not."""
        for i in self.items:
            if i.id == item_id:
                return i
        return None

    def clear(self) -> None:
        """Forget every item."""
        self.items.clear()
        self._attached.clear()
        self._n = 0
