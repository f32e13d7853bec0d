"""The Instagram fake's web UI (instagram.com as a browser sees it), on the API's state and ledger.

A post shared here is a media object ``GET /{media-id}`` finds; replies and DMs made here are the
API's replies and messages; every side effect is written to the ledger with ``channel="web"``.
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
from ._core import IgCore
from ._publishing import user_id_of
from ._state import Media, Reply

__all__ = ["InstagramWeb", "install"]


class InstagramWeb(WebAccounts):
    """What the web UI needs from the Instagram fake."""

    fake = "instagram"
    brand = "Instagram"
    composer_label = "Write a caption…"
    publish_label = "Share"

    def __init__(self, ig: IgCore) -> None:
        super().__init__(ig.world)
        self.ig = ig

    # reading --------------------------------------------------------------------------------
    def _visible(self, m: Media | None) -> bool:
        return m is not None and m.shown(self.world.now())

    def _post(self, m: Media) -> WebPost:
        return WebPost(
            m.id, m.account_id, self.handle(m.account_id), m.caption, m.created_at, m.permalink
        )

    def own_posts(self, account_id: str) -> list[WebPost]:
        """The account's visible media, newest first."""
        mine = [
            m
            for m in self.ig.state.media.values()
            if m.account_id == account_id and self._visible(m)
        ]
        return [self._post(m) for m in sorted(mine, key=lambda m: m.created_at, reverse=True)]

    def find(self, post_id: str) -> WebPost | None:
        """A media object as a visitor sees it."""
        m = self.ig.state.media.get(post_id)
        return self._post(m) if m is not None and self._visible(m) else None

    def inbox(self, account_id: str) -> list[WebInbound]:
        """Comments on the account's media and DMs to it."""
        items = self.world.inbound.visible("instagram", account_id=account_id)
        return [
            WebInbound(
                i.id, i.kind, i.author, user_id_of(i.author.lstrip("@")), i.text, i.at, i.post_id
            )
            for i in sorted(items, key=lambda i: (i.at, i.id))
        ]

    # side effects ---------------------------------------------------------------------------
    def publish(self, call: Call, s: WebSession, text: str) -> str:
        """Share a post (the web does container and publish in one step; the 24-hour cap applies)."""
        w, ig, acc = self.world, self.ig, s.account_id
        now = w.now()
        if ig.state.published_within(acc, now, ig.opts.publish_window_s) >= ig.opts.publish_limit:
            raise Refused("You've reached the maximum number of posts for today.")
        mid = ig.next_id("179")
        media = Media(mid, acc, "web", text, "IMAGE", now, wire.permalink(mid))
        detail = "web"
        fired = call.fire(w, "instagram.post_invisible")
        if fired is not None:
            for_s: float | None = getattr(fired.params, "for_s", None)
            media.visible_from = float("inf") if for_s is None else now + for_s
            detail += " invisible" if for_s is None else f" invisible_for={for_s:g}s"
        ig.state.media[mid] = media
        ig.state.published.setdefault(acc, []).append(now)
        record_web(
            w, "instagram", call, s, "post.created", mid, text, detail=detail,
            permalink=media.permalink,
        )  # fmt: skip
        return mid

    def reply(self, call: Call, s: WebSession, target_id: str, text: str) -> str:
        """A reply to an inbound comment on one of the account's posts."""
        w, ig, acc = self.world, self.ig, s.account_id
        item = w.inbound.get(target_id)
        if (
            item is None
            or item.fake != "instagram"
            or item.kind != "comment"
            or item.at > w.now()
            or item.account_id != acc
        ):
            raise Refused("That comment is unavailable.")
        if not text.strip():
            raise Refused("Write something first.")
        rid = ig.next_id("180")
        ig.state.replies[rid] = Reply(rid, acc, target_id, item.post_id, text, w.now())
        record_web(w, "instagram", call, s, "reply.created", rid, text, in_reply_to=target_id)
        return rid

    def dm(self, call: Call, s: WebSession, to: str, text: str) -> str:
        """A direct message."""
        if not to or not text:
            raise Refused("Choose a recipient and write a message.")
        mid = wire.message_id(self.world.next_id("instagram.message"))
        record_web(self.world, "instagram", call, s, "dm.sent", mid, text, detail=f"to={to}")
        return mid

    def delete(self, call: Call, s: WebSession, post_id: str) -> None:
        """Delete one of the account's posts."""
        m = self.ig.state.media.get(post_id)
        if m is None or m.account_id != s.account_id:
            raise Refused("That post is unavailable.")
        del self.ig.state.media[post_id]
        record_web(self.world, "instagram", call, s, "post.deleted", post_id, None)


def install(svc: FakeService, ig: IgCore) -> None:
    """Mount the web UI on the Instagram fake's service."""
    install_web(svc, InstagramWeb(ig), WebSessions("instagram", ig.world.seed))
