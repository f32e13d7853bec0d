"""vibedrill's reference platform under test: a small but real Raize The Vibe core."""

from .client import InProcessPlatformClient
from .defects import DEFECTS, Defect, Defects
from .platform import COMPONENT_MODULES, Platform
from .settings import CredentialSecret, Settings

__all__ = [
    "COMPONENT_MODULES",
    "DEFECTS",
    "CredentialSecret",
    "Defect",
    "Defects",
    "InProcessPlatformClient",
    "Platform",
    "Settings",
]
