"""X's OAuth 2.0 token endpoint: the refresh_token grant with single-use refresh tokens.

The roster's tokens were all issued to one app (the agency's): the client id of the first refresh
that succeeds is taken as that app's, and a refresh naming another client id is refused with
400 ``invalid_request`` as X refuses a token it will not redeem for that client."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response

from ..core.http import Call, json_response
from . import _wire as wire
from ._core import XCore

__all__ = ["token"]


async def token(x: XCore, call: Call) -> Response:
    """POST /2/oauth2/token: refresh_token grant; single-use refresh tokens, 2-hour access tokens."""
    w = x.world
    raw = (await call.request.body()).decode(errors="replace")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    client_id = form.get("client_id") or _basic_user(call.request.headers.get("authorization", ""))
    rt = form.get("refresh_token", "")
    rec = w.tokens.refresh.get(rt)
    if rec is not None:
        call.account_id = rec.account_id
    denied = x.count(call, f"app:{client_id or '-'}")
    if denied is not None:
        return denied
    grant = form.get("grant_type")
    if not grant:
        return wire.oauth_error("invalid_request", "Missing required parameter [grant_type].")
    if grant != "refresh_token":
        return wire.oauth_error(
            "unsupported_grant_type", f"Grant type [{grant}] is not supported by this fake."
        )
    if not client_id:
        return wire.oauth_error("invalid_request", "Missing required parameter [client_id].")
    if not rt:
        return wire.oauth_error("invalid_request", "Missing required parameter [refresh_token].")
    fired = call.fire(w, "x.refresh_failed")
    if fired is not None:
        return wire.oauth_error(
            getattr(fired.params, "error", "invalid_request"),
            wire.INVALID_TOKEN,
        )
    if x.state.app_client_id not in (None, client_id) and rt in w.tokens.refresh:
        # a refresh token is bound to the app that obtained it: another client id (a tenant's
        # id sent as the app's, a second app's) is refused the way X refuses a bad token
        return wire.oauth_error("invalid_request", wire.INVALID_TOKEN)
    got = w.tokens.redeem(rt, x.opts.access_ttl_s, "x")
    if got is None:
        return wire.oauth_error("invalid_request", wire.INVALID_TOKEN)
    if x.state.app_client_id is None:
        x.state.app_client_id = client_id
    account_id, access, refresh = got
    scopes = w.roster.account(account_id).credential.scopes
    out: dict[str, Any] = {
        "token_type": "bearer",
        "expires_in": int(x.opts.access_ttl_s),
        "access_token": access,
        "scope": " ".join(scopes),
    }
    if not scopes or "offline.access" in scopes:
        out["refresh_token"] = refresh
    return json_response(out)


def _basic_user(header: str) -> str | None:
    if header[:6].lower() != "basic ":
        return None
    try:
        user = base64.b64decode(header[6:].strip()).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user or None
