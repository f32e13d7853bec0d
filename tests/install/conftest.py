"""The session's installed vibedrill (see ``_installed.py``)."""

from __future__ import annotations

import pytest
from _installed import InstalledVibedrill, install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> InstalledVibedrill:
    """vibedrill installed from its built wheel into a fresh venv outside the checkout."""
    return install(tmp_path_factory.mktemp("installed"))
