"""vibedrill's fake outside world: social APIs, LLM and media providers, the MCP tool gateway."""

from .app import FAKE_NAMES, HOSTS, FakeWorld, build_services
from .core.admin_guard import admin_headers
from .core.world import World

__all__ = ["FAKE_NAMES", "HOSTS", "FakeWorld", "World", "admin_headers", "build_services"]
