"""Assemble the X fake: route table over the gate and the handlers."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..core.http import FakeService
from ..core.world import World
from . import _inbox, _oauth, _posts, _search, web
from . import _wire as wire
from ._core import XCore
from ._options import XOptions

__all__ = ["create"]


def create(world: World, options: XOptions | None = None, **overrides: Any) -> FakeService:
    """Build the X fake on ``world``; ``overrides`` replace fields of ``options`` (see XOptions)."""
    opts = (options or XOptions()).with_(**overrides) if overrides else (options or XOptions())
    x = XCore(world, opts)
    svc = FakeService(
        world,
        "x",
        outage_body=wire.outage,
        error_body=wire.route_error,
        error_code_of=wire.error_code,
    )

    def add(path: str, name: str, method: str, handler: Any, scope: str | None = None) -> None:
        svc.route(path, name, [method], json_body=method == "POST")(
            x.gated(partial(handler, x), scope)
        )

    add("/2/tweets", "tweets.create", "POST", _posts.create_tweet, "tweet.write")
    add("/2/tweets", "tweets.lookup", "GET", _posts.lookup_tweets, "tweet.read")
    add("/2/tweets/{id}", "tweets.get", "GET", _posts.get_tweet, "tweet.read")
    add("/2/tweets/{id}", "tweets.delete", "DELETE", _posts.delete_tweet, "tweet.write")
    svc.route("/2/oauth2/token", "oauth2.token", ["POST"])(partial(_oauth.token, x))
    add("/2/tweets/search/recent", "tweets.search", "GET", _search.search_recent, "tweet.read")
    add("/2/users/me", "users.me", "GET", _inbox.me, "users.read")
    add(
        "/2/users/by/username/{username}",
        "users.by_username",
        "GET",
        _search.user_by_username,
        "users.read",
    )
    add("/2/users/{id}", "users.get", "GET", _search.user_get, "users.read")
    add("/2/users/{id}/tweets", "users.tweets", "GET", _search.user_tweets, "tweet.read")
    add("/2/users/{id}/mentions", "users.mentions", "GET", _inbox.mentions, "tweet.read")
    add("/2/dm_events", "dm_events.list", "GET", _inbox.dm_events)
    add(
        "/2/dm_conversations/with/{participant_id}/dm_events",
        "dm_events.with",
        "GET",
        _inbox.dm_events,
    )
    add("/2/dm_conversations/with/{participant_id}/messages", "dm.send", "POST", _inbox.send_dm)
    add("/2/users/{id}/likes", "likes.create", "POST", _inbox.like)
    web.install(svc, x)
    return svc
