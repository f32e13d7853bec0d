"""Content publishing on the Instagram fake: containers, status, media_publish, the 24-hour cap, nodes."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from starlette.responses import Response

from ..core.faults import DeletedParams
from ..core.http import Call, json_response
from ..core.ledger import content_hash
from . import _wire as wire
from ._core import IgCore
from ._state import Container, Media

__all__ = [
    "create_container",
    "get_node",
    "list_media",
    "media_values",
    "publish",
    "publishing_limit",
]

_VERSION_NODE = re.compile(r"v\d+\.\d+")
MEDIA_TYPES = ("IMAGE", "VIDEO", "REELS", "STORIES", "CAROUSEL")
CONTAINER_FIELDS = ("id", "status_code", "status")
MEDIA_FIELDS = (
    "id",
    "alt_text",
    "caption",
    "children",
    "comments_count",
    "ig_id",
    "is_comment_enabled",
    "is_shared_to_feed",
    "like_count",
    "media_product_type",
    "media_type",
    "media_url",
    "owner",
    "permalink",
    "shortcode",
    "thumbnail_url",
    "timestamp",
    "username",
)
USER_FIELDS = (
    "id",
    "ig_id",
    "username",
    "name",
    "biography",
    "followers_count",
    "follows_count",
    "media_count",
    "profile_picture_url",
    "website",
)
COMMENT_FIELDS = ("id", "text", "timestamp", "username", "from", "like_count", "media", "parent_id")
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "ERROR": "Error: Media upload has failed with error code 2207026.",
    "EXPIRED": "Expired: Media was not published within 24 hours.",
    "PUBLISHED": "Published: Media has been published.",
}


def status_code(ig: IgCore, c: Container) -> str:
    """Where a container stands now, on the injected clock."""
    now = ig.world.now()
    if c.media_id is not None:
        return "PUBLISHED"
    if now >= c.created_at + ig.opts.container_ttl_s:
        return "EXPIRED"
    if now < c.ready_at:
        return "IN_PROGRESS"
    return "ERROR" if c.error else "FINISHED"


async def create_container(ig: IgCore, call: Call) -> Response:
    """POST /{ig-user-id}/media → a container id; processing finishes on the injected clock."""
    w = ig.world
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(w, uid, "post")
    p = ig.params(call)
    media_type = p.get("media_type", "IMAGE").upper()
    if media_type not in MEDIA_TYPES:
        return ig.err(
            400, f"(#100) Param media_type must be one of {{{', '.join(MEDIA_TYPES)}}}", 100
        )
    if media_type == "CAROUSEL":
        if not p.get("children"):
            return ig.missing("children")
    elif media_type in ("VIDEO", "REELS") or (media_type == "STORIES" and "video_url" in p):
        if not p.get("video_url"):
            return ig.missing("video_url")
    elif not p.get("image_url"):
        return ig.missing("image_url")
    if call.fire(w, "instagram.scope_revoked"):
        return ig.permission_denied()
    now = w.now()
    ready = now + ig.opts.processing_s
    stuck = call.fire(w, "instagram.container_stuck")
    if stuck is not None:
        for_s: float | None = getattr(stuck.params, "for_s", None)
        ready = float("inf") if for_s is None else max(ready, now + for_s)
    broken = call.fire(w, "instagram.container_error") is not None
    cid = ig.next_id("178")
    ig.state.containers[cid] = Container(
        cid,
        str(call.account_id),
        now,
        ready,
        media_type,
        p.get("caption", ""),
        broken,
        media_url=str(p.get("image_url") or p.get("video_url") or ""),
    )
    return json_response({"id": cid})


async def publish(ig: IgCore, call: Call) -> Response:
    """POST /{ig-user-id}/media_publish?creation_id= → a media id and ``post.created``."""
    w = ig.world
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(w, uid, "post")
    cid = ig.params(call).get("creation_id")
    if not cid:
        return ig.missing("creation_id")
    c = ig.state.containers.get(cid)
    if c is None or c.account_id != call.account_id:
        return wire.not_found(w, cid, "post")
    if call.fire(w, "instagram.scope_revoked"):
        return ig.permission_denied()
    if call.fire(w, "instagram.action_blocked"):
        return ig.err(
            400,
            "Application request limit reached",
            4,
            2207051,
            user_title="Action is blocked",
            user_msg="We restrict certain activity to protect our community. Tell us if you think we made a mistake.",
        )
    now = w.now()
    acc = str(call.account_id)
    if ig.state.published_within(acc, now, ig.opts.publish_window_s) >= ig.opts.publish_limit:
        return ig.err(
            400,
            "Application request limit reached",
            9,
            2207042,
            user_title="Maximum number of posts reached",
            user_msg="The maximum number of posts that were allowed to be published within 24 hours has been reached.",
        )
    if call.fire(w, "instagram.duplicate_rejected"):
        return ig.err(
            400,
            "(#506) Duplicate status message",
            506,
            user_title="Duplicate post",
            user_msg="This post is a duplicate.",
        )
    if status_code(ig, c) != "FINISHED":
        return ig.err(
            400,
            "The media is not ready for publishing, please wait for a moment",
            9007,
            2207027,
            user_title="Media ID is not available",
            user_msg="The media is not ready for publishing, please wait for a moment",
        )
    mid = ig.next_id("179")
    media = Media(mid, acc, cid, c.caption, c.media_type, now, wire.permalink(mid))
    detail = f"container={cid}"
    if c.media_url:  # which media went out (a hash, as of the caption)
        detail += f" media={content_hash(c.media_url)}"
    fired = call.fire(w, "instagram.post_invisible")
    if fired is not None:
        for_s: float | None = getattr(fired.params, "for_s", None)
        media.visible_from = float("inf") if for_s is None else now + for_s
        detail += " invisible" if for_s is None else f" invisible_for={for_s:g}s"
    deleted = call.fire(w, "instagram.post_deleted")
    if deleted is not None:
        p = deleted.params_as(DeletedParams)
        after = p.after_s
        media.deleted_at, media.listed_when_deleted = now + after, p.listed
        detail += f" deleted_by_member_after={after:g}s"
    c.media_id = mid
    ig.state.media[mid] = media
    ig.state.published.setdefault(acc, []).append(now)
    ig.record(call, "post.created", mid, c.caption, detail=detail, permalink=media.permalink)
    return json_response({"id": mid})


async def publishing_limit(ig: IgCore, call: Call) -> Response:
    """GET /{ig-user-id}/content_publishing_limit: quota used in the moving 24 h, and the config."""
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(ig.world, uid)
    asked = {f.strip() for f in ig.params(call).get("fields", "quota_usage").split(",")}
    row: dict[str, Any] = {}
    if "quota_usage" in asked:
        row["quota_usage"] = ig.state.published_within(
            str(call.account_id), ig.world.now(), ig.opts.publish_window_s
        )
    if asked & {"config", "rate_limit_settings"}:
        row["config"] = {
            "quota_total": ig.opts.publish_limit,
            "quota_duration": int(ig.opts.publish_window_s),
        }
    return json_response({"data": [row]})


async def get_node(ig: IgCore, call: Call) -> Response:
    """GET /{id}: a container's status, a media object, the user, or a comment — if the caller may see it.

    ``GET /v{n}?ids=a,b`` (several nodes at once) answers ``{id: node, …}``.
    """
    nid = call.request.path_params.get("node_id", "")
    ids = ig.params(call).get("ids")
    if ids is not None and (not nid or _VERSION_NODE.fullmatch(nid)):
        out: dict[str, Any] = {}
        for one in [i.strip() for i in ids.split(",") if i.strip()]:
            r = _node(ig, call, one)
            if r.status_code != 200:
                return r
            out[one] = json.loads(bytes(r.body))
        return json_response(out)
    return _node(ig, call, nid)


def _node(ig: IgCore, call: Call, nid: str) -> Response:
    w = ig.world
    acc = ig.account(call)
    values: dict[str, Any]
    c = ig.state.containers.get(nid)
    if c is not None and c.account_id == acc.id:
        fields = ig.fields(call, CONTAINER_FIELDS, "ShadowIGMediaBuilder")
        if isinstance(fields, Response):
            return fields
        code = status_code(ig, c)
        values = {"id": c.id, "status_code": code, "status": STATUS_TEXT[code]}
        return json_response({f: values[f] for f in fields if f in values})
    m = ig.state.media.get(nid)
    if m is not None and m.account_id == acc.id and m.shown(w.now()):
        fields = ig.fields(call, MEDIA_FIELDS, "ShadowIGMedia")
        if isinstance(fields, Response):
            return fields
        values = media_values(ig, m, fields)
        return json_response({f: values[f] for f in fields if f in values})
    if nid in (acc.platform_user_id, "me"):
        nid = acc.platform_user_id
        fields = ig.fields(call, USER_FIELDS, "IGUser")
        if isinstance(fields, Response):
            return fields
        published = sum(1 for x in ig.state.media.values() if x.account_id == acc.id)
        name = w.roster.owner(acc.id).name
        values = {
            "id": nid,
            "ig_id": int(nid) % 10**10,
            "username": acc.handle.lstrip("@"),
            "name": name,
            "biography": "",
            "followers_count": 0,
            "follows_count": 0,
            "media_count": published,
            "profile_picture_url": f"https://scontent.cdninstagram.com/v/{nid}_profile.jpg",
            "website": "",
        }
        return json_response({f: values[f] for f in fields if f in values})
    comment = comment_values(ig, nid, acc.id)
    if comment is not None:
        fields = ig.fields(call, COMMENT_FIELDS, "IGComment")
        if isinstance(fields, Response):
            return fields
        return json_response({f: comment[f] for f in fields if f in comment})
    from ._inbox import node

    found = node(ig, call, nid)
    return found if found is not None else wire.not_found(w, nid)


def media_values(
    ig: IgCore, m: Media, fields: Collection[str] = ("comments_count",)
) -> dict[str, Any]:
    """Every field of a published media object (its owner's view); ``comments_count`` (which
    counts the comments that have arrived) only when ``fields`` asks for it."""
    w = ig.world
    acc = w.roster.account(m.account_id)
    counted: dict[str, Any] = {}
    if "comments_count" in fields:
        counted["comments_count"] = len(
            w.inbound.visible("instagram", post_id=m.id, kind="comment")
        )
    return {
        "id": m.id,
        "caption": m.caption,
        **counted,
        "like_count": 0,
        "media_product_type": "REELS"
        if m.media_type == "REELS"
        else ("STORY" if m.media_type == "STORIES" else "FEED"),
        "media_type": "CAROUSEL_ALBUM"
        if m.media_type == "CAROUSEL"
        else ("VIDEO" if m.media_type in ("VIDEO", "REELS") else "IMAGE"),
        "media_url": f"https://scontent.cdninstagram.com/v/{m.id}.jpg",
        "ig_id": str(3_000_000_000_000_000_000 + int(m.id) % 10**15),
        "is_comment_enabled": True,
        "owner": {"id": acc.platform_user_id},
        "permalink": m.permalink,
        "shortcode": m.permalink.rstrip("/").rsplit("/", 1)[1],
        "timestamp": wire.iso(m.created_at),
        "username": acc.handle.lstrip("@"),
        **_type_fields(m),
    }


def _type_fields(m: Media) -> dict[str, Any]:
    """Fields Graph serves only for some media types (it omits them for the others)."""
    out: dict[str, Any] = {}
    if m.media_type in ("VIDEO", "REELS"):
        out["thumbnail_url"] = f"https://scontent.cdninstagram.com/v/{m.id}_thumb.jpg"
    if m.media_type == "REELS":
        out["is_shared_to_feed"] = True
    if m.media_type == "CAROUSEL":
        out["children"] = {"data": [{"id": m.id}]}
    return out


async def list_media(ig: IgCore, call: Call) -> Response:
    """GET /{ig-user-id}/media: the user's published media that lookups can see, newest first."""
    w = ig.world
    uid = call.request.path_params["ig_user_id"]
    if not ig.owns(call, uid):
        return wire.not_found(w, uid)
    fields = ig.fields(call, MEDIA_FIELDS, "ShadowIGMedia")
    if isinstance(fields, Response):
        return fields
    try:
        limit = max(1, min(100, int(ig.params(call).get("limit", "25"))))
    except ValueError:
        return ig.err(400, "(#100) Param limit must be an integer", 100)
    acc = ig.account(call)
    now = w.now()
    mine = [
        m
        for m in ig.state.media.values()
        if m.account_id == acc.id
        and (m.shown(now) or (m.listed_when_deleted and m.visible_from <= now))
    ]
    mine.sort(key=lambda m: (m.created_at, m.id), reverse=True)
    data = []
    for m in mine[:limit]:
        values = media_values(ig, m, fields)
        data.append({f: values[f] for f in fields if f in values})
    return json_response({"data": data})


def comment_values(ig: IgCore, comment_id: str, account_id: str) -> dict[str, Any] | None:
    """Every field of an inbound comment or of one of the account's replies, if it may see it."""
    w = ig.world
    item = w.inbound.get(comment_id)
    if (
        item is not None
        and item.fake == "instagram"
        and item.kind == "comment"
        and item.at <= w.now()
        and comment_id not in ig.state.deleted_comments
        and item.account_id == account_id
    ):
        username = item.author.lstrip("@")
        out: dict[str, Any] = {
            "id": item.id,
            "text": item.text,
            "timestamp": wire.iso(item.at),
            "username": username,
            "from": {"id": user_id_of(username), "username": username},
            "like_count": 0,
        }
        if item.post_id:
            out["media"] = {"id": item.post_id}
        return out
    r = ig.state.replies.get(comment_id)
    if r is not None and r.account_id == account_id:
        acc = w.roster.account(account_id)
        username = acc.handle.lstrip("@")
        out = {
            "id": r.id,
            "text": r.text,
            "timestamp": wire.iso(r.created_at),
            "username": username,
            "from": {"id": acc.platform_user_id, "username": username},
            "like_count": 0,
        }
        if r.comment_id != r.media_id:
            out["parent_id"] = r.comment_id
        if r.media_id:
            out["media"] = {"id": r.media_id}
        return out
    return None


def user_id_of(username: str) -> str:
    """A stable IG-scoped id for an inbound author (they are not in the roster)."""
    return str(
        17_841_400_000_000_000 + sum(ord(ch) * 131**i for i, ch in enumerate(username)) % 10**12
    )
