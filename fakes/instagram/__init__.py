"""The Instagram Graph API fake: containers, publishing, media, comments, messages, usage headers."""

from ._options import InstagramOptions
from ._service import create

__all__ = ["InstagramOptions", "create"]
