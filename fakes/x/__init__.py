"""The X (Twitter) API v2 fake: posts, replies, mentions, DMs, likes, OAuth 2.0 refresh, rate limits."""

from ._options import XOptions
from ._service import create

__all__ = ["XOptions", "create"]
