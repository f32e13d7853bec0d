"""The published OpenAPI document of the fakes' admin API: in step with the routes, and
schemathesis (all checks) against a served world finds no server error and no failed check."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakes import FakeWorld, World
from fakes.admin_openapi import admin_openapi, main, render

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "fakes-admin-openapi.json"


def test_the_published_document_is_what_the_routes_generate() -> None:
    assert DOC.read_text() == render(), (
        "run: python -m fakes.admin_openapi > docs/fakes-admin-openapi.json"
    )
    assert main(["--check", str(DOC)]) == 0


def test_every_admin_route_and_method_is_in_the_document_and_described() -> None:
    doc = admin_openapi()
    fw = FakeWorld(World(seed=0))
    for r in fw.admin.routes:
        for m in r.methods or ():  # type: ignore[attr-defined]
            if m == "HEAD":
                continue
            op = doc["paths"][f"/_fake{r.path}"][m.lower()]  # type: ignore[attr-defined]
            assert "not described yet" not in op["summary"], (m, r.path)  # type: ignore[attr-defined]
            if m in ("POST", "PUT", "DELETE"):
                assert any(p["name"] == "x-vibedrill-admin" for p in op["parameters"])
                assert "403" in op["responses"]


def test_a_stale_document_is_reported(tmp_path: Path) -> None:
    stale = tmp_path / "doc.json"
    stale.write_text(json.dumps({"openapi": "3.1.0"}))
    assert main(["--check", str(stale)]) == 1
    assert main(["--check", str(tmp_path / "missing.json")]) == 2


#: operations run separately: a PUT /roster changes the accounts POST /inbound may name, and
#: POST /faults is run without ``positive_data_acceptance`` — JSON Schema counts 1.0 as an
#: integer, the server (strict) refuses 1.0 for ``first_n``/``every_nth`` (docs/contracts.md)
PASSES = (
    ("--exclude-operation-id", "put_roster", "--exclude-operation-id", "post_faults"),
    ("--include-operation-id", "put_roster"),
    ("--include-operation-id", "post_faults", "--exclude-checks", "positive_data_acceptance"),
)


@pytest.mark.slow
@pytest.mark.served
@pytest.mark.timeout(180)
def test_schemathesis_with_all_checks_passes_on_the_served_admin_api(tmp_path: Path) -> None:
    from fakes.serve import ServedFakes

    started = time.monotonic()
    for sel in PASSES:
        with ServedFakes() as served:  # a fresh world per pass
            r = subprocess.run(
                [
                    sys.executable, "-m", "schemathesis.cli", "run", str(DOC),
                    "--url", served["base"], "--checks", "all", "--max-examples", "10",
                    "--phases", "fuzzing", "--generation-deterministic", "--no-color", *sel,
                ],
                capture_output=True, text=True, timeout=150, cwd=tmp_path,  # not the checkout
            )  # fmt: skip
        assert r.returncode == 0, f"{sel}:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
        assert " passed" in r.stdout and "Server error" not in r.stdout
    assert time.monotonic() - started < 90
