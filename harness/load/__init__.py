"""The load room: ``vibedrill load`` — a served world and platform under Locust traffic, judged."""

from .run import LoadError, LoadOptions, LoadResult, LoadUsageError, run_load

__all__ = ["LoadError", "LoadOptions", "LoadResult", "LoadUsageError", "run_load"]
