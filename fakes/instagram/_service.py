"""Assemble the Instagram fake: every route with and without a ``/v{N}.0`` prefix."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from ..core.http import Call, FakeService
from ..core.world import World
from . import _batch, _engagement, _inbox, _publishing, web
from . import _wire as wire
from ._core import IgCore, credential_of
from ._options import InstagramOptions

__all__ = ["create"]


def create(world: World, options: InstagramOptions | None = None, **overrides: Any) -> FakeService:
    """Build the Instagram fake on ``world``; ``overrides`` replace fields of ``options``."""
    opts = (
        (options or InstagramOptions()).with_(**overrides)
        if overrides
        else (options or InstagramOptions())
    )
    ig = IgCore(world, opts)

    def outage(call: Call, status: int) -> Response:
        return wire.error(world, status, wire.TRANSIENT_MESSAGES[2], 2, transient=True)

    def route_error(status: int, message: str, request: Request) -> Response:
        # Graph answers an unknown path or an unsupported method with 400 and its error object
        path = request.url.path
        if status == 404:
            return wire.error(world, 400, f"Unknown path components: {path}", 2500)
        if status == 405:
            node = path.rstrip("/").rsplit("/", 1)[-1]
            return wire.error(
                world,
                400,
                f"Unsupported {request.method.lower()} request. Object with ID '{node}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this "
                "operation. Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api",
                100,
                33,
                type_="GraphMethodException",
            )
        return wire.error(world, status, f"(#100) {message}", 100)

    svc = FakeService(
        world,
        "instagram",
        credential_of=credential_of,
        outage_body=outage,
        error_body=route_error,
    )
    web.install(svc, ig)

    def add(path: str, name: str, method: str, handler: Any, scope: str | None = None) -> None:
        gated = ig.gated(partial(handler, ig), scope)
        # versioned first: '/v21.0/123' must not be taken for an unversioned '/{node}/{edge}'
        svc.route("/v{version}" + path, name, [method])(gated)
        svc.route(path, name, [method])(gated)

    publish_scope = "instagram_content_publish"
    add("/refresh_access_token", "token.refresh", "GET", _engagement.refresh_token)
    add("/{ig_user_id}/media", "media.create", "POST", _publishing.create_container, publish_scope)
    add("/{ig_user_id}/media", "media.list", "GET", _publishing.list_media)
    add("/{ig_user_id}/media_publish", "media.publish", "POST", _publishing.publish, publish_scope)
    add(
        "/{ig_user_id}/content_publishing_limit",
        "publishing_limit.get",
        "GET",
        _publishing.publishing_limit,
    )
    add("/{media_id}/comments", "comments.list", "GET", _engagement.list_comments)
    add(
        "/{comment_id}/replies",
        "comments.reply",
        "POST",
        _engagement.reply,
        "instagram_manage_comments",
    )
    add("/{ig_user_id}/messages", "messages.send", "POST", _engagement.send_message)
    add(
        "/{media_id}/comments",
        "comments.create",
        "POST",
        _inbox.create_comment,
        "instagram_manage_comments",
    )
    add("/{comment_id}/replies", "comments.replies", "GET", _inbox.list_replies)
    add("/{ig_user_id}/conversations", "conversations.list", "GET", _inbox.conversations)
    add("/{node_id}", "node.get", "GET", _publishing.get_node)
    add("/{node_id}", "node.delete", "DELETE", _inbox.delete_node, "instagram_manage_comments")
    apps: list[ASGIApp] = []

    async def run_batch(call: Call) -> Response:
        if not apps:
            apps.append(svc.asgi())
        return await _batch.batch(ig, apps[0], call)

    root_get = ig.gated(partial(_publishing.get_node, ig))
    svc.route("/v{version}/", "node.get", ["GET"])(root_get)  # ?ids=a,b (several nodes)
    svc.route("/v{version}/", "batch", ["POST"])(run_batch)
    svc.route("/", "batch", ["POST"])(run_batch)
    return svc
