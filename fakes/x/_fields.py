"""X v2 field selection: ``tweet.fields``, ``user.fields`` and ``expansions`` with ``includes``.

Every field X documents is accepted (a client asking for one the fake does not model gets the
post without it, as X omits fields a post does not have); a name X does not know is X's 400.
Expansions put the referenced users and posts in ``includes``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..core.http import Call
from . import _wire as wire
from ._state import Tweet

__all__ = ["EXPANSIONS", "TWEET_FIELDS_ALL", "USER_FIELDS", "Selection", "select"]

#: every ``tweet.fields`` value of the X API v2 reference (Post object)
TWEET_FIELDS_ALL: tuple[str, ...] = (
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
)
#: every ``user.fields`` value of the X API v2 reference (User object)
USER_FIELDS: tuple[str, ...] = (
    "affiliation",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "location",
    "most_recent_tweet_id",
    "name",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_type",
    "withheld",
)
#: the expansions a Post can take
EXPANSIONS: tuple[str, ...] = (
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
)
_USER_DEFAULT = frozenset({"id", "name", "username"})
_TWEET_DEFAULT = frozenset({"id", "text", "edit_history_tweet_ids"})
#: when roster accounts and inbound authors "joined" X (a fixed, plausible date)
_JOINED = "2019-03-01T12:00:00.000Z"


class Selection:
    """What one request asked for."""

    def __init__(
        self, tweet: frozenset[str], user: frozenset[str], expansions: frozenset[str]
    ) -> None:
        self.tweet = tweet
        self.user = user
        self.expansions = expansions


def _parse(call: Call, name: str, valid: tuple[str, ...]) -> frozenset[str] | Response:
    raw = call.request.query_params.get(name)
    if not raw:
        return frozenset()
    asked = [f.strip() for f in raw.split(",") if f.strip()]
    for f in asked:
        if f not in valid:
            return wire.invalid_request(
                f"The `{name}` query parameter value [{f}] is not one of [{','.join(valid)}]",
                name,
                f,
            )
    return frozenset(asked)


def select(call: Call, always: frozenset[str] = frozenset()) -> Selection | Response:
    """The request's ``tweet.fields``/``user.fields``/``expansions``, or X's 400 naming a bad value."""
    tweet = _parse(call, "tweet.fields", TWEET_FIELDS_ALL)
    if isinstance(tweet, Response):
        return tweet
    user = _parse(call, "user.fields", USER_FIELDS)
    if isinstance(user, Response):
        return user
    exp = _parse(call, "expansions", EXPANSIONS)
    if isinstance(exp, Response):
        return exp
    return Selection(_TWEET_DEFAULT | always | tweet, _USER_DEFAULT | user, exp)


def render_tweet(t: Tweet, fields: frozenset[str], metrics: dict[str, int]) -> dict[str, Any]:
    """A post with the fields asked for (those the fake models; X omits what a post lacks)."""
    out: dict[str, Any] = {"id": t.id, "text": t.text, "edit_history_tweet_ids": [t.id]}
    if "author_id" in fields:
        out["author_id"] = t.author_id
    if "conversation_id" in fields:
        out["conversation_id"] = t.conversation_id
    if "created_at" in fields:
        out["created_at"] = wire.iso(t.created_at)
    if t.in_reply_to is not None:
        if "in_reply_to_user_id" in fields and t.in_reply_to_user_id:
            out["in_reply_to_user_id"] = t.in_reply_to_user_id
        if "referenced_tweets" in fields:
            out["referenced_tweets"] = [{"type": "replied_to", "id": t.in_reply_to}]
    if "lang" in fields:
        out["lang"] = "en"
    if "possibly_sensitive" in fields:
        out["possibly_sensitive"] = False
    if "reply_settings" in fields:
        out["reply_settings"] = "everyone"
    if "edit_controls" in fields:
        out["edit_controls"] = {
            "edits_remaining": 5,
            "is_edit_eligible": t.in_reply_to is None,
            "editable_until": wire.iso(t.created_at + 3600),
        }
    if "public_metrics" in fields:
        out["public_metrics"] = {
            "retweet_count": 0,
            "reply_count": metrics.get("reply_count", 0),
            "like_count": metrics.get("like_count", 0),
            "quote_count": 0,
            "bookmark_count": 0,
            "impression_count": 0,
        }
    return out


def render_user(
    user_id: str, username: str, name: str, fields: frozenset[str], tweet_count: int
) -> dict[str, Any]:
    """A user with the fields asked for."""
    out: dict[str, Any] = {"id": user_id, "name": name, "username": username}
    if "created_at" in fields:
        out["created_at"] = _JOINED
    if "description" in fields:
        out["description"] = ""
    if "protected" in fields:
        out["protected"] = False
    if "verified" in fields:
        out["verified"] = False
    if "verified_type" in fields:
        out["verified_type"] = "none"
    if "url" in fields:
        out["url"] = ""
    if "profile_image_url" in fields:
        out["profile_image_url"] = "https://pbs.twimg.com/profile_images/default_profile_normal.png"
    if "public_metrics" in fields:
        out["public_metrics"] = {
            "followers_count": 0,
            "following_count": 0,
            "tweet_count": tweet_count,
            "listed_count": 0,
            "like_count": 0,
            "media_count": 0,
        }
    return out
