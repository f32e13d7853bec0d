"""The web UI's routes, shared by every social fake: login, home (composer), post, inbox, actions.

A fake supplies a :class:`WebBackend` (its own state: posts, inbox, how a publish or a reply is
made); this module registers the pages with the fake's :class:`~fakes.core.http.FakeService`, so
every page is journaled and fault-matchable like an API route (route names ``web.*``). Side
effects made through the UI are written to the same ledger as the API's, with ``channel="web"``.

The ``web.*`` fault kinds are applied here: ``web.session_expired`` (back to the login page),
``web.captcha`` (a challenge page instead of the content; nothing happens), ``web.action_blocked``
and ``<fake>.action_blocked`` (the "we restrict certain activity" banner; nothing happens),
``web.selector_drift`` (the v2 look), ``web.interstitial`` (a modal over the page) and
``web.slow_render`` (the content appears late).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote

from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..core.faults import CrossedParams
from ..core.http import Call, FakeService
from ..core.world import World
from .sessions import WebSession, WebSessions
from .ui import (
    Look,
    WebInbound,
    WebPost,
    blocked_banner,
    captcha_page,
    home_body,
    inbox_body,
    interstitial,
    login_page,
    look_for,
    page,
    post_body,
)

__all__ = ["ROUTES", "Refused", "WebBackend", "install_web", "record_web"]

#: every route name the web UI registers (fault rules match these)
ROUTES: tuple[str, ...] = (
    "web.login_form",
    "web.login",
    "web.logout",
    "web.home",
    "web.post",
    "web.inbox",
    "web.compose",
    "web.reply",
    "web.dm",
    "web.like",
    "web.delete",
)


class Refused(Exception):
    """The platform refused an action made through the UI; the message is shown to the user."""


class WebBackend(Protocol):
    """What a fake tells its web UI: words, state, and how each action is made."""

    fake: str
    brand: str
    composer_label: str
    publish_label: str

    def login(self, handle: str, password: str) -> str | None:
        """The account id these credentials log in as, or None."""
        ...

    def handle(self, account_id: str) -> str:
        """The account's handle, with the @."""
        ...

    def own_posts(self, account_id: str) -> list[WebPost]:
        """The account's visible posts, newest first."""
        ...

    def find(self, post_id: str) -> WebPost | None:
        """A post as a visitor sees it (None when missing, deleted or not visible)."""
        ...

    def inbox(self, account_id: str) -> list[WebInbound]:
        """Comments and DMs addressed to the account, oldest first."""
        ...

    def publish(self, call: Call, s: WebSession, text: str) -> str:
        """Publish ``text``; return the post id or raise :class:`Refused`."""
        ...

    def reply(self, call: Call, s: WebSession, target_id: str, text: str) -> str:
        """Reply to an inbound comment; return the reply id or raise :class:`Refused`."""
        ...

    def dm(self, call: Call, s: WebSession, to: str, text: str) -> str:
        """Send a DM; return its id or raise :class:`Refused`."""
        ...

    def like(self, call: Call, s: WebSession, post_id: str) -> None:
        """Like a post; raise :class:`Refused` when it cannot be liked."""
        ...

    def delete(self, call: Call, s: WebSession, post_id: str) -> None:
        """Delete one of the account's posts; raise :class:`Refused` otherwise."""
        ...


Handler = Callable[[Call], Awaitable[Response]]


def _root(call: Call) -> str:
    return str(call.request.scope.get("root_path", "")) + "/web"


async def _form(call: Call) -> dict[str, str]:
    raw = await call.request.body()
    return dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))


def _crossed(world: World, s: WebSession, fake: str, wanted: str | None) -> WebSession:
    """The session ``web.session_crossed`` serves instead of ``s``: ``wanted``'s, or the first
    account on ``fake`` of another client (``s`` itself when there is none)."""
    roster = world.roster
    owner = roster.owner(s.account_id).id
    others = [
        a
        for c in roster.clients
        if c.id not in (owner, "agency")
        for a in c.accounts
        if a.platform == fake
    ]
    if wanted is not None:
        others = [a for a in roster.accounts(fake) if a.id == wanted] or others
    if not others:
        return s
    other = others[0]
    return WebSession(other.id, other.credential.access_token, s.created_at)


def install_web(svc: FakeService, backend: WebBackend, sessions: WebSessions) -> None:
    """Register the web UI's routes (under ``/web/``) on ``svc``."""
    world = svc.world
    world.on_reset(sessions.clear)
    fake, brand = backend.fake, backend.brand

    def look(call: Call) -> Look:
        fired = call.fire(world, "web.selector_drift")
        reword = bool(getattr(fired.params, "reword_labels", True)) if fired else False
        return look_for(fired is not None, reword, backend.composer_label, backend.publish_label)

    def render(
        call: Call, title: str, body: str, lk: Look, s: WebSession, status: int = 200
    ) -> Response:
        slow = call.fire(world, "web.slow_render")
        slow_ms = float(getattr(slow.params, "delay_ms", 0.0)) if slow else 0.0
        overlay = interstitial() if call.fire(world, "web.interstitial") else ""
        html = page(
            title, brand, body, look=lk, handle=backend.handle(s.account_id), slow_ms=slow_ms,
            overlay=overlay,
        )  # fmt: skip
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def to_login(call: Call, expired: bool = False) -> Response:
        return RedirectResponse(f"{_root(call)}/login{'?expired=1' if expired else ''}", 303)

    #: cookie → the other user's session ``web.session_crossed`` serves under it, and until when
    crossed: dict[str, tuple[WebSession, float | None]] = {}
    world.on_reset(crossed.clear)

    def gate(call: Call) -> tuple[WebSession | None, Response | None]:
        value = call.request.cookies.get(sessions.cookie_name)
        s = sessions.get(value)
        if s is None:
            return None, to_login(call)
        call.account_id, call.credential = s.account_id, s.credential
        # a session store that hands this cookie another user's session: it does so from a page
        # load on (a GET), and for every request of the cookie until the fault's window ends
        held = crossed.get(str(value))
        if held is not None and (held[1] is None or world.now() < held[1]):
            s = held[0]
        else:
            crossed.pop(str(value), None)
            fired = (
                call.fire(world, "web.session_crossed") if call.request.method == "GET" else None
            )
            if fired is not None:
                s = _crossed(world, s, fake, fired.params_as(CrossedParams).as_account)
                crossed[str(value)] = (s, world.faults.rule_end(fired.rule_id))
        call.account_id, call.credential = s.account_id, s.credential
        if call.fire(world, "web.session_expired"):
            sessions.expire(str(value))
            return None, to_login(call, expired=True)
        if call.fire(world, "web.captcha"):
            lk = look_for(False, False, backend.composer_label, backend.publish_label)
            return None, HTMLResponse(
                captcha_page(brand, lk), headers={"cache-control": "no-store"}
            )
        return s, None

    def blocked(call: Call) -> bool:
        return bool(call.fire(world, ("web.action_blocked", f"{fake}.action_blocked")))

    def home(
        call: Call, s: WebSession, *, banner: str = "", notice: str | None = None, status: int = 200
    ) -> Response:
        lk = look(call)
        body = home_body(
            backend.own_posts(s.account_id), lk, banner=banner and blocked_banner(lk), notice=notice
        )
        return render(call, "Home", body, lk, s, status)

    def route(path: str, name: str, method: str) -> Callable[[Handler], Handler]:
        return svc.route(f"/web{path}", name, [method])

    @route("/login", "web.login_form", "GET")
    async def login_form(call: Call) -> Response:
        lk = look_for(False, False, backend.composer_label, backend.publish_label)
        expired = call.request.query_params.get("expired") == "1"
        msg = "Your session has expired. Log in again." if expired else None
        return HTMLResponse(
            login_page(brand, lk, message=msg), headers={"cache-control": "no-store"}
        )

    @route("/login", "web.login", "POST")
    async def login(call: Call) -> Response:
        form = await _form(call)
        password = form.get("password", "")
        acc = backend.login(form.get("username", ""), password)
        if acc is None:
            lk = look_for(False, False, backend.composer_label, backend.publish_label)
            return HTMLResponse(login_page(brand, lk, message="Wrong username or password."), 401)
        call.account_id, call.credential = acc, password
        value = sessions.open(acc, password, world.now())
        resp = RedirectResponse(f"{_root(call)}/home", 303)
        resp.set_cookie(
            sessions.cookie_name, value, path=_root(call), httponly=True, samesite="lax"
        )
        return resp

    @route("/logout", "web.logout", "POST")
    async def logout(call: Call) -> Response:
        value = call.request.cookies.get(sessions.cookie_name)
        if value:
            sessions.expire(value)
        resp = to_login(call)
        resp.delete_cookie(sessions.cookie_name, path=_root(call))
        return resp

    @route("/home", "web.home", "GET")
    async def home_page(call: Call) -> Response:
        s, stop = gate(call)
        if stop is not None or s is None:
            return stop or to_login(call)
        return home(call, s, notice=call.request.query_params.get("notice"))

    @route("/post/{post_id}", "web.post", "GET")
    async def post_page(call: Call) -> Response:
        s, stop = gate(call)
        if stop is not None or s is None:
            return stop or to_login(call)
        lk = look(call)
        p = backend.find(call.request.path_params["post_id"])
        if p is None:
            body = '<section role="alert"><h1>This post is unavailable.</h1></section>'
            return render(call, "Not found", body, lk, s, 404)
        return render(call, "Post", post_body(p, lk, own=p.account_id == s.account_id), lk, s)

    @route("/inbox", "web.inbox", "GET")
    async def inbox_page(call: Call) -> Response:
        s, stop = gate(call)
        if stop is not None or s is None:
            return stop or to_login(call)
        lk = look(call)
        sent = call.request.query_params.get("sent")
        note = f'<p role="status" data-sent-id="{quote(sent)}">Sent.</p>' if sent else ""
        return render(call, "Inbox", note + inbox_body(backend.inbox(s.account_id), lk), lk, s)

    def action(
        name: str, path: str, run: Callable[[Call, WebSession, dict[str, str]], str]
    ) -> None:
        @route(path, name, "POST")
        async def handler(call: Call) -> Response:
            s, stop = gate(call)
            if stop is not None or s is None:
                return stop or to_login(call)
            form = await _form(call)
            if blocked(call):
                return home(call, s, banner="blocked", status=403)
            try:
                target = run(call, s, form)
            except Refused as e:
                return home(call, s, notice=str(e), status=400)
            return RedirectResponse(f"{_root(call)}/{target}", 303)

    def compose(call: Call, s: WebSession, form: dict[str, str]) -> str:
        text = form.get("text", "")
        if not text.strip():
            raise Refused("Write something first.")
        return f"post/{quote(backend.publish(call, s, text))}"

    def reply(call: Call, s: WebSession, form: dict[str, str]) -> str:
        rid = backend.reply(call, s, form.get("target_id", ""), form.get("text", ""))
        return f"inbox?sent={quote(rid)}"

    def dm(call: Call, s: WebSession, form: dict[str, str]) -> str:
        mid = backend.dm(call, s, form.get("to", ""), form.get("text", ""))
        return f"inbox?sent={quote(mid)}"

    def like(call: Call, s: WebSession, form: dict[str, str]) -> str:
        pid = form.get("post_id", "")
        backend.like(call, s, pid)
        return f"post/{quote(pid)}?liked=1"

    def delete(call: Call, s: WebSession, form: dict[str, str]) -> str:
        pid = form.get("post_id", "")
        backend.delete(call, s, pid)
        return f"home?notice={quote('Post deleted.')}&deleted={quote(pid)}"

    action("web.compose", "/compose", compose)
    action("web.reply", "/reply", reply)
    action("web.dm", "/dm", dm)
    action("web.like", "/like", like)
    action("web.delete", "/delete", delete)


def record_web(
    world: World,
    fake: str,
    call: Call,
    s: WebSession,
    action: str,
    resource_id: str,
    content: str | None,
    **extra: Any,
) -> None:
    """Write a side effect made through the UI to the ledger (``channel="web"``), as the session's
    account and with the fingerprint of the credential it logged in with."""
    world.record(
        fake,
        action,
        account_id=s.account_id,
        credential=s.credential,
        request_id=call.request_id,
        resource_id=resource_id,
        content=content,
        channel="web",
        **extra,
    )
