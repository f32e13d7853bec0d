"""``junit.xml``: one testcase per invariant, reached check and expectation of a drill."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from ..judge.verdict import Verdict

__all__ = ["render_junit"]


def _suite(v: Verdict) -> ET.Element:
    suite = ET.Element("testsuite", name=f"vibedrill.{v.scenario}", hostname="vibedrill")
    cls = f"vibedrill.{v.scenario}"
    failures = errors = skipped = 0
    cases: list[ET.Element] = []
    if v.verdict == "error":
        case = ET.Element("testcase", classname=cls, name="drill")
        ET.SubElement(
            case, "error", message=v.error or "harness error", type="HarnessError"
        ).text = v.error
        cases.append(case)
        errors += 1
    for r in v.invariants:
        case = ET.Element("testcase", classname=cls, name=f"invariant {r.name}")
        if r.verdict == "violated":
            ET.SubElement(
                case, "failure", message=r.detail, type="InvariantViolated"
            ).text = f"{r.detail}\nfirst violation: {r.first_violation}"
            failures += 1
        else:
            ET.SubElement(case, "system-out").text = f"{r.verdict}: {r.detail}"
        cases.append(case)
    for c in v.reached:
        case = ET.Element("testcase", classname=cls, name=f"reached {c.name}")
        if not c.hit:
            msg = f"{c.name}: count {c.count}, needed {c.min}; the drill is vacuous"
            ET.SubElement(case, "failure", message=msg, type="Vacuous").text = msg
            failures += 1
        cases.append(case)
    for e in v.expectations:
        case = ET.Element("testcase", classname=cls, name=f"expect {e.name}")
        if not e.met:
            ET.SubElement(
                case, "failure", message=e.detail, type="ExpectationMissed"
            ).text = e.detail
            failures += 1
        cases.append(case)
    suite.extend(cases)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    props = ET.SubElement(suite, "properties")
    for k, val in (
        ("drill_id", v.drill_id),
        ("seed", str(v.seed)),
        ("verdict", v.verdict),
        ("timeline_sha256", v.timeline_sha256),
        ("defects", ",".join(v.defects)),
    ):
        ET.SubElement(props, "property", name=k, value=val)
    return suite


def render_junit(verdicts: Verdict | Iterable[Verdict]) -> str:
    """JUnit XML for one drill or many (one testsuite per drill)."""
    items = [verdicts] if isinstance(verdicts, Verdict) else list(verdicts)
    root = ET.Element("testsuites", name="vibedrill")
    for v in items:
        root.append(_suite(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
