"""Tabulate the explore campaign (bench/explore_campaign.sh): defect → draws, wall time, faults.

Reads reports/explore-campaign/<defect>.json and explore-<defect>/summary.json; prints Markdown
and writes reports/explore-campaign/table.md.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "reports" / "explore-campaign"


def main() -> None:
    rows = [
        "| defect | found | invariant | draws needed | shrink drills | faults (first → minimal) "
        "| wall | drill CPU | `vibedrill run` reproduces |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(OUT.glob("*.json")):
        c = json.loads(p.read_text())
        d = c["defect"]
        s = json.loads((OUT / f"explore-{d}" / "summary.json").read_text())
        v = s.get("violation")
        rerun = "—"
        log = OUT / f"{d}.run.log"
        if v and log.exists():
            text = log.read_text()
            rerun = (
                "yes"
                if c["vibedrill_run_rc"] == "1" and re.search(v["invariant"][:20], text)
                else "NO"
            )
        rows.append(
            f"| {d} | {'yes' if v else 'no'} | {v['invariant'] if v else '—'} "
            f"| {v['found_at_draw'] if v else s['draws']} | {v['shrink_drills'] if v else '—'} "
            f"| {(str(v['faults_first']) + ' → ' + str(v['faults_minimal'])) if v else '—'} "
            f"| {c['wall_s']:.0f}s | {s['drill_cpu_s']:.0f}s | {rerun} |"
        )
    text = "\n".join(rows) + "\n"
    (OUT / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
