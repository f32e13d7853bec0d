"""What every social fake's web UI does alike: sign in with a handle and a live access token,
show handles, and like a visible post once per account."""

from __future__ import annotations

from abc import ABC, abstractmethod

from ..core.http import Call
from ..core.world import World
from .routes import Refused, record_web
from .sessions import WebSession
from .ui import WebPost

__all__ = ["WebAccounts"]


class WebAccounts(ABC):
    """The shared part of a fake's web backend (:class:`~fakes.web.routes.WebBackend`).

    ``likes`` holds (account id, post id) of the likes made here; by default a set of this UI's
    own, emptied when the world is reset; a fake whose API keeps likes passes its own set.
    """

    fake: str

    def __init__(self, world: World, likes: set[tuple[str, str]] | None = None) -> None:
        self.world = world
        if likes is None:
            likes = set()
            world.on_reset(likes.clear)
        self.likes = likes

    def login(self, handle: str, password: str) -> str | None:
        """The account whose handle and live credential these are."""
        want = "@" + handle.strip().lstrip("@")
        for a in self.world.roster.accounts(self.fake):
            if a.handle == want:
                st = self.world.tokens.access.get(password)
                ok = st is not None and st.account_id == a.id and not st.revoked
                return a.id if ok else None
        return None

    def handle(self, account_id: str) -> str:
        """The account's handle."""
        return self.world.roster.account(account_id).handle

    @abstractmethod
    def find(self, post_id: str) -> WebPost | None:
        """A post as a visitor sees it (None: not there or not visible)."""

    def likeable(self, post_id: str) -> bool:
        """Whether the post may be liked: by default, whether a visitor sees it."""
        return self.find(post_id) is not None

    def like(self, call: Call, s: WebSession, post_id: str) -> None:
        """Like a post (once)."""
        if not self.likeable(post_id):
            raise Refused("That post is unavailable.")
        if (s.account_id, post_id) not in self.likes:
            self.likes.add((s.account_id, post_id))
            record_web(self.world, self.fake, call, s, "like.created", post_id, None)
