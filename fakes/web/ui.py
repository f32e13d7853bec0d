"""HTML of the fakes' web UI: the normal look (v1) and the drifted one (v2), plus overlays.

v1 has stable ``data-testid``s, real labels and accessible names. v2 (``web.selector_drift``) is a
new UI release: test ids and classes renamed, the publish button moved into an overflow menu,
and — the trap — a different control ("Delete latest post") now sits where the publish button
was, with its old classes. With ``reword_labels`` the labels and accessible names change too, so
no v1 locator matches anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

__all__ = [
    "Look",
    "WebInbound",
    "WebPost",
    "blocked_banner",
    "captcha_page",
    "home_body",
    "inbox_body",
    "interstitial",
    "login_page",
    "look_for",
    "page",
    "post_body",
]


@dataclass(frozen=True)
class WebPost:
    """A post as the UI shows it."""

    id: str
    account_id: str
    author: str
    text: str
    created_at: float
    #: the platform's public permalink (x.com / instagram.com)
    permalink: str


@dataclass(frozen=True)
class WebInbound:
    """A comment or DM in the inbox."""

    id: str
    kind: str
    author: str
    #: what the UI's reply or DM form posts back as the recipient
    author_id: str
    text: str
    at: float
    post_id: str | None = None


@dataclass(frozen=True)
class Look:
    """Names a page uses: test ids, classes and words, per UI version."""

    version: str
    tid: dict[str, str]
    cls: dict[str, str]
    words: dict[str, str]


_V1_TID = {
    k: k
    for k in (
        "account-handle", "composer", "composer-text", "publish-button", "timeline", "post",
        "permalink", "post-text", "permalink-url", "like-button", "delete-button", "inbox",
        "inbound", "reply-text", "reply-button", "dm-to", "dm-text", "dm-send", "action-blocked",
        "login-username", "login-password", "login-submit", "notice",
    )
}  # fmt: skip
_V2_TID = {k: f"rtv2-{i:02d}" for i, k in enumerate(sorted(_V1_TID))}
_V1_CLS = {
    "publish": "btn-primary composer-submit",
    "composer": "composer",
    "textarea": "composer-input",
}
_V2_CLS = {"publish": "rtv2-menu-item", "composer": "rtv2-card", "textarea": "rtv2-field"}


def look_for(drifted: bool, reword: bool, composer_label: str, publish_label: str) -> Look:
    """The look of a page: v1, v2 with the old words, or v2 with reworded words."""
    words = {
        "composer": composer_label,
        "publish": publish_label,
        "more": "More actions",
        "reply": "Reply",
        "reply_to": "Reply to",
        "dm_to": "Recipient",
        "dm_text": "Message",
        "dm_send": "Send",
        "like": "Like",
        "delete": "Delete",
        "signed_in": "Signed in as",
    }
    if drifted and reword:
        words.update(
            composer="Say something to your followers",
            publish="Ship it",
            more="Options",
            reply="Respond",
            reply_to="Respond to",
            dm_to="Send to",
            dm_text="Your note",
            dm_send="Deliver",
            like="Appreciate",
            delete="Remove",
        )
    if drifted:
        return Look("v2", dict(_V2_TID), dict(_V2_CLS), words)
    return Look("v1", dict(_V1_TID), dict(_V1_CLS), words)


_STYLE = """
body{font-family:sans-serif;margin:0;background:#f5f6f8;color:#111}
header{display:flex;justify-content:space-between;padding:10px 16px;background:#fff;border-bottom:1px solid #ddd}
main{max-width:640px;margin:16px auto;padding:0 12px}
section,article{background:#fff;border:1px solid #ddd;border-radius:8px;padding:12px;margin:0 0 12px}
textarea,input[type=text],input[type=password]{width:100%;box-sizing:border-box;margin:4px 0 8px}
.btn-primary{background:#1d9bf0;color:#fff;border:0;border-radius:16px;padding:6px 14px}
.rtv2-menu-item{display:block;width:100%;text-align:left}
[role=menu]{border:1px solid #ccc;background:#fff;padding:4px;margin-top:4px}
.banner{background:#fde8e8;border:1px solid #e0a0a0;padding:8px;margin-bottom:12px}
.backdrop{position:fixed;inset:0;background:rgba(0,0,0,.55);z-index:10;display:flex;align-items:center;justify-content:center}
.backdrop [role=dialog]{background:#fff;padding:20px;border-radius:8px}
"""


def page(
    title: str,
    brand: str,
    body: str,
    *,
    look: Look,
    handle: str | None = None,
    slow_ms: float = 0.0,
    overlay: str = "",
) -> str:
    """A whole HTML document; ``slow_ms`` defers the main content by that many milliseconds."""
    head = (
        f'<span data-testid="{look.tid["account-handle"]}" aria-label="{look.words["signed_in"]}">'
        f"{escape(handle)}</span>"
        if handle
        else ""
    )
    if slow_ms > 0:
        main = (
            '<main id="app" aria-busy="true"><p>Loading…</p></main>'
            f'<template id="late">{body}{overlay}</template>'
            "<script>setTimeout(function(){var m=document.getElementById('app');"
            "m.innerHTML=document.getElementById('late').innerHTML;m.removeAttribute('aria-busy');}"
            f",{int(slow_ms)});</script>"
        )
    else:
        main = f"<main>{body}</main>{overlay}"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · {escape(brand)}</title><style>{_STYLE}</style></head>"
        f'<body data-ui-version="{look.version}"><header role="banner"><strong>{escape(brand)}</strong>'
        f"{head}</header>{main}</body></html>"
    )


def login_page(brand: str, look: Look, *, message: str | None = None) -> str:
    """The login form (username + password)."""
    t = look.tid
    note = (
        f'<p role="alert" class="banner" data-testid="{t["notice"]}">{escape(message)}</p>'
        if message
        else ""
    )
    body = (
        f'<section aria-label="Log in"><h1>Log in to {escape(brand)}</h1>{note}'
        '<form method="post" action="login">'
        '<label for="username">Username</label>'
        f'<input type="text" id="username" name="username" autocomplete="username" data-testid="{t["login-username"]}">'
        '<label for="password">Password</label>'
        f'<input type="password" id="password" name="password" autocomplete="current-password" data-testid="{t["login-password"]}">'
        f'<button type="submit" data-testid="{t["login-submit"]}">Log in</button></form></section>'
    )
    return page("Log in", brand, body, look=look)


def blocked_banner(look: Look) -> str:
    """The "we restrict certain activity" banner (``web.action_blocked``)."""
    return (
        f'<div role="alert" class="banner" data-testid="{look.tid["action-blocked"]}">'
        "<strong>Action blocked.</strong> We restrict certain activity to protect our community. "
        "Tell us if you think we made a mistake.</div>"
    )


def interstitial() -> str:
    """A modal that covers the page until dismissed (``web.interstitial``)."""
    return (
        '<div class="backdrop" data-testid="interstitial">'
        '<div role="dialog" aria-modal="true" aria-labelledby="ist-title">'
        '<h2 id="ist-title">Turn on notifications?</h2>'
        "<p>Stay up to date with what is happening.</p>"
        '<button type="button" data-testid="interstitial-dismiss" '
        "onclick=\"this.closest('.backdrop').remove()\">Not now</button></div></div>"
    )


def captcha_page(brand: str, look: Look) -> str:
    """A challenge the platform's automation must not try to solve (``web.captcha``)."""
    body = (
        '<section data-testid="captcha" aria-label="Security check">'
        "<h1>Confirm you are human</h1><p>We noticed unusual activity from your account.</p>"
        '<form method="post" action="challenge"><label><input type="checkbox" name="human"> '
        'I\'m not a robot</label><button type="submit">Verify</button></form></section>'
    )
    return page("Security check", brand, body, look=look)


def _post_article(p: WebPost, look: Look) -> str:
    return (
        f'<article data-testid="{look.tid["post"]}" data-post-id="{escape(p.id)}">'
        f"<p>{escape(p.text)}</p>"
        f'<a href="post/{escape(p.id)}">Open post</a></article>'
    )


def home_body(
    posts: list[WebPost], look: Look, *, banner: str = "", notice: str | None = None
) -> str:
    """The composer and the account's own posts."""
    t, c, w = look.tid, look.cls, look.words
    note = f'<p role="status" data-testid="{t["notice"]}">{escape(notice)}</p>' if notice else ""
    latest = posts[0] if posts else None
    if look.version == "v1":
        actions = f'<button type="submit" class="{c["publish"]}" data-testid="{t["publish-button"]}">{escape(w["publish"])}</button>'
        decoy_form = ""
    else:
        if latest is not None:
            decoy = f'<button type="submit" form="rtv2-quick" class="btn-primary composer-submit">{escape(w["delete"])} latest post</button>'
            decoy_form = (
                '<form id="rtv2-quick" method="post" action="delete">'
                f'<input type="hidden" name="post_id" value="{escape(latest.id)}"></form>'
            )
        else:
            decoy = (
                '<button type="reset" class="btn-primary composer-submit">Discard draft</button>'
            )
            decoy_form = ""
        actions = (
            f"{decoy}"
            '<span class="rtv2-more">'
            f'<button type="button" aria-haspopup="menu" aria-expanded="false" aria-controls="rtv2-menu" data-testid="{t["composer"]}-more" '
            "onclick=\"var m=document.getElementById('rtv2-menu');m.hidden=!m.hidden;"
            "this.setAttribute('aria-expanded',String(!m.hidden));\">"
            f"{escape(w['more'])}</button>"
            '<div role="menu" id="rtv2-menu" hidden>'
            f'<button type="submit" role="menuitem" class="{c["publish"]}" data-testid="{t["publish-button"]}">{escape(w["publish"])}</button>'
            '<button type="button" role="menuitem" class="rtv2-menu-item">Schedule for later</button>'
            "</div></span>"
        )
    composer = (
        f'<section aria-label="Composer" data-testid="{t["composer"]}" class="{c["composer"]}">'
        '<form method="post" action="compose">'
        f'<label for="composer-{look.version}">{escape(w["composer"])}</label>'
        f'<textarea id="composer-{look.version}" name="text" rows="3" class="{c["textarea"]}" data-testid="{t["composer-text"]}"></textarea>'
        f'<div class="composer-actions">{actions}</div></form>{decoy_form}</section>'
    )
    timeline = (
        f'<section aria-label="Your posts" data-testid="{t["timeline"]}"><h2>Your posts</h2>'
        + "".join(_post_article(p, look) for p in posts[:20])
        + "</section>"
    )
    return banner + note + composer + timeline


def post_body(p: WebPost, look: Look, *, own: bool, banner: str = "") -> str:
    """The permalink page of one post: the proof that it is live."""
    t, w = look.tid, look.words
    actions = (
        '<form method="post" action="../like" class="inline">'
        f'<input type="hidden" name="post_id" value="{escape(p.id)}">'
        f'<button type="submit" data-testid="{t["like-button"]}">{escape(w["like"])}</button></form>'
    )
    if own:
        actions += (
            '<form method="post" action="../delete" class="inline">'
            f'<input type="hidden" name="post_id" value="{escape(p.id)}">'
            f'<button type="submit" data-testid="{t["delete-button"]}">{escape(w["delete"])}</button></form>'
        )
    return (
        banner
        + f'<article aria-label="Post" data-testid="{t["permalink"]}" data-post-id="{escape(p.id)}" data-author="{escape(p.author)}">'
        f"<p><strong>{escape(p.author)}</strong></p>"
        f'<p data-testid="{t["post-text"]}">{escape(p.text)}</p>'
        f'<p><a data-testid="{t["permalink-url"]}" href="{escape(p.permalink)}">{escape(p.permalink)}</a></p>'
        f"{actions}</article>"
    )


def inbox_body(items: list[WebInbound], look: Look, *, banner: str = "") -> str:
    """Comments and DMs addressed to the account, each with a reply form, and a new-DM form."""
    t, w = look.tid, look.words

    def one(i: WebInbound) -> str:
        fid = f"reply-{escape(i.id)}"
        action = "reply" if i.kind == "comment" else "dm"
        hidden = (
            f'<input type="hidden" name="target_id" value="{escape(i.id)}">'
            if i.kind == "comment"
            else f'<input type="hidden" name="to" value="{escape(i.author_id)}">'
        )
        return (
            f'<article data-testid="{t["inbound"]}" data-inbound-id="{escape(i.id)}" data-kind="{i.kind}" '
            f'data-author="{escape(i.author)}" data-author-id="{escape(i.author_id)}" '
            f'data-post-id="{escape(i.post_id or "")}" data-at="{i.at:.3f}">'
            f"<p><strong>{escape(i.author)}</strong>: <span>{escape(i.text)}</span></p>"
            f'<form method="post" action="{action}">{hidden}'
            f'<label for="{fid}">{escape(w["reply_to"])} {escape(i.author)}</label>'
            f'<textarea id="{fid}" name="text" rows="2" data-testid="{t["reply-text"]}"></textarea>'
            f'<button type="submit" data-testid="{t["reply-button"]}">{escape(w["reply"])}</button></form></article>'
        )

    comments = [one(i) for i in items if i.kind == "comment"]
    dms = [one(i) for i in items if i.kind == "dm"]
    new_dm = (
        '<section aria-label="New message"><form method="post" action="dm">'
        f'<label for="dm-to">{escape(w["dm_to"])}</label>'
        f'<input type="text" id="dm-to" name="to" data-testid="{t["dm-to"]}">'
        f'<label for="dm-text">{escape(w["dm_text"])}</label>'
        f'<textarea id="dm-text" name="text" rows="2" data-testid="{t["dm-text"]}"></textarea>'
        f'<button type="submit" data-testid="{t["dm-send"]}">{escape(w["dm_send"])}</button></form></section>'
    )
    return (
        banner
        + f'<section aria-label="Comments" data-testid="{t["inbox"]}-comments"><h2>Comments</h2>{"".join(comments)}</section>'
        f'<section aria-label="Messages" data-testid="{t["inbox"]}-messages"><h2>Messages</h2>{"".join(dms)}</section>'
        + new_dm
    )
