"""The social fakes' web UI: sessions, pages in a normal and a drifted look, and shared routes."""

from .accounts import WebAccounts
from .routes import ROUTES, Refused, WebBackend, install_web, record_web
from .sessions import WebSession, WebSessions
from .ui import Look, WebInbound, WebPost, look_for

__all__ = [
    "ROUTES",
    "Look",
    "Refused",
    "WebAccounts",
    "WebBackend",
    "WebInbound",
    "WebPost",
    "WebSession",
    "WebSessions",
    "install_web",
    "look_for",
    "record_web",
]
