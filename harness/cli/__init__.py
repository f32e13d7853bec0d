"""The ``vibedrill`` command line: one Typer app with the ``load`` and ``platform`` groups."""

from .main import app, main

__all__ = ["app", "main"]
