"""vibedrill's drill engine: scenarios, faults, runbooks, invariants, judging, reports, CLI."""
