"""The X fake's web UI (x.com as a browser sees it), on the same state and ledger as the API.

Posts made here are the posts ``GET /2/tweets`` finds; every side effect is written to the
ledger with ``channel="web"``. The pages and the ``web.*`` faults live in :mod:`fakes.web`.
"""

from __future__ import annotations

from ..core.http import Call, FakeService
from ..web import (
    Refused,
    WebAccounts,
    WebInbound,
    WebPost,
    WebSession,
    WebSessions,
    install_web,
    record_web,
)
from . import _wire as wire
from ._core import XCore
from ._posts import echo_reply
from ._state import Dm, Tweet

__all__ = ["XWeb", "install"]


class XWeb(WebAccounts):
    """What the web UI needs from the X fake."""

    fake = "x"
    brand = "X"
    composer_label = "What's happening?"
    publish_label = "Post"

    def __init__(self, x: XCore) -> None:
        super().__init__(x.world, likes=x.state.likes)
        self.x = x

    # reading --------------------------------------------------------------------------------
    def _post(self, t: Tweet) -> WebPost:
        author = "@" + self.x.username(t.account_id) if t.account_id else "@someone"
        return WebPost(
            t.id, t.account_id, author, t.text, t.created_at,
            f"https://x.com/{author.lstrip('@')}/status/{t.id}",
        )  # fmt: skip

    def own_posts(self, account_id: str) -> list[WebPost]:
        """The account's visible top-level posts, newest first."""
        mine = [
            t
            for t in self.x.state.tweets.values()
            if t.account_id == account_id and t.in_reply_to is None and self.x.find(t.id)
        ]
        return [self._post(t) for t in sorted(mine, key=lambda t: t.created_at, reverse=True)]

    def find(self, post_id: str) -> WebPost | None:
        """A post as lookups see it."""
        t = self.x.find(post_id)
        return None if t is None else self._post(t)

    def inbox(self, account_id: str) -> list[WebInbound]:
        """Mentions and DMs to the account."""
        items = self.world.inbound.visible("x", account_id=account_id)
        return [
            WebInbound(i.id, i.kind, i.author, wire.user_id_of(i.author), i.text, i.at, i.post_id)
            for i in sorted(items, key=lambda i: (i.at, i.id))
        ]

    # side effects ---------------------------------------------------------------------------
    def publish(self, call: Call, s: WebSession, text: str) -> str:
        """A post, as ``POST /2/tweets`` makes it (duplicates refused, invisibility applied)."""
        w, x, acc = self.world, self.x, s.account_id
        now = w.now()
        for t in x.state.tweets.values():
            if (
                t.account_id == acc
                and not t.deleted
                and t.text == text
                and now - t.created_at < x.opts.duplicate_window_s
            ):
                raise Refused("Whoops! You already said that.")
        tid = wire.snowflake(now, w.next_id("x.tweet"))
        tweet = Tweet(tid, acc, x.user_id(acc), text, now, tid)
        detail = None
        fired = call.fire(w, "x.post_invisible")
        if fired is not None:
            for_s: float | None = getattr(fired.params, "for_s", None)
            tweet.visible_from = float("inf") if for_s is None else now + for_s
            detail = "invisible" if for_s is None else f"invisible_for={for_s:g}s"
        x.state.tweets[tid] = tweet
        record_web(
            w, "x", call, s, "post.created", tid, text, detail=detail,
            permalink=x.permalink(acc, tid),
        )  # fmt: skip
        return tid

    def reply(self, call: Call, s: WebSession, target_id: str, text: str) -> str:
        """A reply to a visible post or mention."""
        w, x, acc = self.world, self.x, s.account_id
        target = x.find(target_id)
        if target is None:
            raise Refused("That post is unavailable.")
        if not text.strip():
            raise Refused("Write something first.")
        now = w.now()
        tid = wire.snowflake(now, w.next_id("x.tweet"))
        x.state.tweets[tid] = Tweet(
            tid, acc, x.user_id(acc), text, now, target.conversation_id, target.id, target.author_id
        )
        record_web(
            w, "x", call, s, "reply.created", tid, text, in_reply_to=target.id,
            permalink=x.permalink(acc, tid),
        )  # fmt: skip
        echo_reply(x, call, acc, tid)
        return tid

    def dm(self, call: Call, s: WebSession, to: str, text: str) -> str:
        """A direct message to a user id."""
        w, x, acc = self.world, self.x, s.account_id
        if not to.isdigit() or not text:
            raise Refused("Choose a recipient and write a message.")
        eid = wire.snowflake(w.now(), w.next_id("x.dm"))
        x.state.dms.append(Dm(eid, acc, x.user_id(acc), to, text, w.now()))
        record_web(w, "x", call, s, "dm.sent", eid, text, detail=f"to={to}")
        return eid

    def likeable(self, post_id: str) -> bool:
        """Any post the API finds (the API's likes and these are one set)."""
        return self.x.find(post_id) is not None

    def delete(self, call: Call, s: WebSession, post_id: str) -> None:
        """Delete one of the account's posts."""
        t = self.x.state.tweets.get(post_id)
        if t is None or t.deleted or t.account_id != s.account_id:
            raise Refused("That post is unavailable.")
        t.deleted = True
        record_web(self.world, "x", call, s, "post.deleted", post_id, None)


def install(svc: FakeService, x: XCore) -> None:
    """Mount the web UI on the X fake's service."""
    install_web(svc, XWeb(x), WebSessions("x", x.world.seed))
