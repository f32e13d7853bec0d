"""Fixtures of the browser tests: served fakes and one Chromium per module (see browser_rig)."""

from browser_rig import _no_faults_left, rig, served

__all__ = ["_no_faults_left", "rig", "served"]
