"""The LinkedIn fake's web UI (linkedin.com as a browser sees it), on the API's state and ledger.

A post made here is a post ``GET /rest/posts/{urn}`` finds; a reply here is a comment
``GET /rest/socialActions/{urn}/comments`` lists; every side effect is written to the ledger with
``channel="web"``. The pages and the ``web.*`` faults live in :mod:`fakes.web`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

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
from ._wire import permalink_of, person_urn_of

if TYPE_CHECKING:
    from ._service import _LinkedIn, _Post

__all__ = ["LinkedInWeb", "install"]


class LinkedInWeb(WebAccounts):
    """What the web UI needs from the LinkedIn fake."""

    fake = "linkedin"
    brand = "LinkedIn"
    composer_label = "Start a post"
    publish_label = "Post"

    def __init__(self, li: _LinkedIn) -> None:
        super().__init__(li.world)
        self.li = li

    # reading --------------------------------------------------------------------------------
    def _post(self, p: _Post) -> WebPost:
        return WebPost(
            p.urn, p.account_id, self.handle(p.account_id), p.commentary, p.created_at,
            permalink_of(p.urn),
        )  # fmt: skip

    def own_posts(self, account_id: str) -> list[WebPost]:
        """The member's visible posts, newest first."""
        urns = self.li.state.by_account.get(account_id, [])
        mine = [p for u in reversed(urns) if (p := self.li.visible_post(u)) is not None]
        return [self._post(p) for p in mine]

    def find(self, post_id: str) -> WebPost | None:
        """A post as a visitor sees it."""
        p = self.li.visible_post(post_id)
        return None if p is None else self._post(p)

    def inbox(self, account_id: str) -> list[WebInbound]:
        """Comments on the member's posts and messages to the member."""
        items = self.world.inbound.visible("linkedin", account_id=account_id)
        return [
            WebInbound(
                i.id,
                i.kind,
                i.author,
                person_urn_of(i.author, self.world.roster),
                i.text,
                i.at,
                i.post_id,
            )
            for i in sorted(items, key=lambda i: (i.at, i.id))
        ]

    # side effects ---------------------------------------------------------------------------
    def publish(self, call: Call, s: WebSession, text: str) -> str:
        """A post, as ``POST /rest/posts`` makes it (duplicates refused, invisibility applied)."""
        from ._service import _Post

        w, li, acc = self.world, self.li, s.account_id
        if not text.strip():
            raise Refused("Write something first.")
        now = w.now()
        prev_urn = li.state.by_text.get((acc, text))
        prev = li.state.posts.get(prev_urn) if prev_urn is not None else None
        if (
            prev is not None
            and not prev.gone(now)
            and now - prev.created_at < li.opts.duplicate_window_s
        ):
            raise Refused("You've already posted this. Try sharing something new.")
        urn = f"urn:li:share:{7_400_000_000_000_000_000 + w.next_id('linkedin.post')}"
        author = f"urn:li:person:{w.roster.account(acc).platform_user_id}"
        post = _Post(urn, acc, sys.intern(author), text, "PUBLIC", None, now)
        detail = None
        fired = call.fire(w, "linkedin.post_invisible")
        if fired is not None:
            for_s: float | None = getattr(fired.params, "for_s", None)
            post.visible_from = float("inf") if for_s is None else now + for_s
            detail = "invisible" if for_s is None else f"invisible_for={for_s:g}s"
        li.state.posts[urn] = post
        li.state.by_account.setdefault(acc, []).append(urn)
        li.state.by_text[(acc, text)] = urn
        record_web(
            w, "linkedin", call, s, "post.created", urn, text, detail=detail,
            permalink=permalink_of(urn),
        )  # fmt: skip
        return urn

    def reply(self, call: Call, s: WebSession, target_id: str, text: str) -> str:
        """A reply to an inbound comment on one of the member's posts."""
        from ._service import _Comment

        w, li, acc = self.world, self.li, s.account_id
        item = w.inbound.get(target_id)
        if (
            item is None
            or item.fake != "linkedin"
            or item.kind != "comment"
            or item.at > w.now()
            or item.account_id != acc
            or item.post_id is None
            or li.visible_post(item.post_id) is None
        ):
            raise Refused("That comment is unavailable.")
        if not text.strip():
            raise Refused("Write something first.")
        cid = str(7_410_000_000_000_000_000 + w.next_id("linkedin.comment"))
        actor = f"urn:li:person:{w.roster.account(acc).platform_user_id}"
        c = _Comment(
            f"urn:li:comment:({item.post_id},{cid})", cid, acc, actor, item.post_id, text,
            w.now(), target_id,
        )  # fmt: skip
        li.state.comments[c.urn] = c
        record_web(w, "linkedin", call, s, "reply.created", c.urn, text, in_reply_to=target_id)
        return c.urn

    def dm(self, call: Call, s: WebSession, to: str, text: str) -> str:
        """A message to a member."""
        if not to or not text:
            raise Refused("Choose a recipient and write a message.")
        mid = f"urn:li:message:{7_430_000_000_000_000_000 + self.world.next_id('linkedin.message')}"
        record_web(self.world, "linkedin", call, s, "dm.sent", mid, text, detail=f"to={to}")
        return mid

    def delete(self, call: Call, s: WebSession, post_id: str) -> None:
        """Delete one of the member's posts."""
        p = self.li.state.posts.get(post_id)
        if p is None or p.gone(self.world.now()) or p.account_id != s.account_id:
            raise Refused("That post is unavailable.")
        p.deleted = True
        record_web(self.world, "linkedin", call, s, "post.deleted", post_id, None)


def install(svc: FakeService, li: _LinkedIn) -> None:
    """Mount the web UI on the LinkedIn fake's service."""
    install_web(svc, LinkedInWeb(li), WebSessions("linkedin", li.world.seed))
