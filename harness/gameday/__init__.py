"""Game day: people rehearse an incident together in a web console, timed, graded, written up.

``vibedrill gameday SCENARIO`` runs the in-process drill on scaled wall-clock time
(:func:`harness.clock.run_scaled`) with the automated Ops Lead silent, serves the console
(:mod:`.app`) on 127.0.0.1 from the drill's own loop, and writes the drill's report with a
"Rehearsal" section (:mod:`.grading`) comparing the people with the automated Ops Lead on the
same scenario and seed. ``--autopilot`` (:mod:`.autopilot`) plays the automated Ops Lead through
the console's own HTTP API.
"""

from .participants import ROLES
from .run import DEFAULT_SCALE, GamedayOptions, GamedayResult, Urls, run_gameday
from .state import GameDay

__all__ = [
    "DEFAULT_SCALE",
    "ROLES",
    "GameDay",
    "GamedayOptions",
    "GamedayResult",
    "Urls",
    "run_gameday",
]
