"""Score a mutmut campaign: ``reports/mutation/score.json`` and ``survivors.txt``.

Reads the results mutmut keeps in ``mutants/**/*.py.meta`` (exit code per mutant), takes out the
mutants ``tests/mutation/equivalent.toml`` marks equivalent, and writes per module: killed,
survived, timed out, not reached by any drill, not checked (not run in this campaign),
equivalent, and the score = (killed + timed out) / (killed + timed out + survived + not reached).
Every survivor is listed with its diff (``mutmut show``) in ``reports/mutation/survivors.txt``::

    python -m tests.mutation.score [--no-diffs] [--rechecked bugs.json]

``--rechecked`` takes the bug runner's report of survivors re-checked on a later tree
(``tests.mutation.recheck``): those the drills now catch count as killed, and the document
names them (``rechecked``) with the commit they were re-checked on.

See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"
OUT_DIR = ROOT / "reports" / "mutation"

#: mutmut's exit codes (mutmut.stats.status_by_exit_code) → our buckets
_STATUS = {
    1: "killed",
    3: "killed",
    37: "killed",
    0: "survived",
    5: "not_reached",
    33: "not_reached",
    36: "timeout",
    24: "timeout",
    -24: "timeout",
    152: "timeout",
    255: "timeout",
    None: "not_checked",
    2: "not_checked",
    34: "not_checked",
}


class EquivalentFileError(ValueError):
    """equivalent.toml is malformed (names the entry and the key)."""


def load_equivalent(path: Path = EQUIVALENT) -> dict[str, str]:
    """Mutant name → one-line reason, from ``[[equivalent]]`` entries (``mutant``, ``reason``)."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise EquivalentFileError(f"{path}: not TOML: {e}") from None
    out: dict[str, str] = {}
    for i, entry in enumerate(data.get("equivalent", [])):
        where = f"{path.name}: equivalent[{i}]"
        if not isinstance(entry, dict):
            raise EquivalentFileError(f"{where}: must be a table with 'mutant' and 'reason'")
        mutant, reason = entry.get("mutant"), entry.get("reason")
        if not isinstance(mutant, str) or "__mutmut_" not in mutant:
            raise EquivalentFileError(f"{where}.mutant: {mutant!r} is not a mutmut mutant name")
        if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
            raise EquivalentFileError(f"{where}.reason: a one-line reason is required")
        if mutant in out:
            raise EquivalentFileError(f"{where}.mutant: {mutant!r} is listed twice")
        out[mutant] = reason.strip()
    unknown = set(data) - {"equivalent"}
    if unknown:
        raise EquivalentFileError(f"{path.name}: unknown keys {sorted(unknown)}; valid: equivalent")
    return out


def module_of(mutant: str) -> str:
    """``sandbox.scope.xǁJobScopeǁcheck__mutmut_3`` → ``sandbox.scope``."""
    head = mutant.split("__mutmut_")[0]
    parts = head.split(".")
    return ".".join(p for p in parts[:-1]) if parts[-1].startswith("x") else head


def function_of(mutant: str) -> str:
    """``sandbox.scope.xǁJobScopeǁcheck__mutmut_3`` → ``JobScope.check``."""
    last = mutant.split("__mutmut_")[0].split(".")[-1]
    return last[2:] if last.startswith("x_") else last[1:].replace("ǁ", ".").strip(".")


def read_results(mutants_dir: Path) -> dict[str, int | None]:
    """Mutant name → mutmut exit code (None: not checked), from every ``*.meta`` file."""
    out: dict[str, int | None] = {}
    for meta in sorted(mutants_dir.rglob("*.meta")):
        data = json.loads(meta.read_text())
        out.update(data.get("exit_code_by_key", {}))
    return out


def sample(results: dict[str, int | None], per_module: int, seed: int = 0) -> list[str]:
    """Up to ``per_module`` mutants of each module, drawn with a seeded RNG (a stratified sample
    for a campaign that cannot afford every mutant); mutants already checked are kept out."""
    import random

    rng = random.Random(seed)
    by_module: dict[str, list[str]] = {}
    for name, code in sorted(results.items()):
        if code is None:
            by_module.setdefault(module_of(name), []).append(name)
    out: list[str] = []
    for names in by_module.values():
        out += sorted(rng.sample(names, min(per_module, len(names))))
    return out


def rechecked_kills(report_path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """Survivors a re-check caught: mutant → the drill that caught it, and the re-check's facts
    (from a ``tests.mutation.bugs`` report over ``tests.mutation.recheck`` patches)."""
    from tests.mutation.recheck import mutant_of

    report = json.loads(report_path.read_text())
    folder = Path(str(report.get("patches") or ""))
    kills: dict[str, str] = {}
    for bug in report.get("bugs", []):
        patch = folder / f"{bug.get('bug')}.patch"
        mutant = mutant_of(patch) if patch.is_file() else None
        if mutant and bug.get("status") == "caught":
            kills[mutant] = str(bug.get("detail") or "")
    facts = {k: report.get(k) for k in ("commit", "command", "tree", "complete")}
    return kills, facts


def score(
    results: dict[str, int | None],
    equivalent: dict[str, str],
    rechecked: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The score document (per module and overall); ``rechecked`` survivors count as killed."""
    per: dict[str, Counter[str]] = {}
    survivors: list[str] = []
    rechecked = {n: by for n, by in (rechecked or {}).items() if results.get(n) == 0}
    for name, code in sorted(results.items()):
        bucket = "equivalent" if name in equivalent else _STATUS.get(code, "suspicious")
        if bucket == "survived" and name in rechecked:
            bucket = "killed"
        per.setdefault(module_of(name), Counter())[bucket] += 1
        if bucket in ("survived", "not_reached", "suspicious"):
            survivors.append(name)

    def doc(c: Counter[str]) -> dict[str, Any]:
        dead = c["killed"] + c["timeout"]
        judged = dead + c["survived"] + c["not_reached"] + c["suspicious"]
        return {
            "killed": c["killed"],
            "timeout": c["timeout"],
            "survived": c["survived"],
            "not_reached": c["not_reached"],
            "suspicious": c["suspicious"],
            "equivalent": c["equivalent"],
            "not_checked": c["not_checked"],
            "checked": judged,
            "score": round(dead / judged, 4) if judged else None,
        }

    total: Counter[str] = Counter()
    for c in per.values():
        total.update(c)
    stale = sorted(set(equivalent) - set(results))
    return {
        "tool": "mutmut",
        "suite": "tests/mutation/drill_cases.py (one test per API-lane drill)",
        "overall": doc(total),
        "modules": {m: doc(c) for m, c in sorted(per.items())},
        "survivors": survivors,
        "rechecked": rechecked,
        "equivalent_unknown": stale,
    }


def show(mutant: str, where: Path = ROOT) -> str:
    """``mutmut show`` of one mutant (its diff; ``where`` holds the campaign's mutants/)."""
    r = subprocess.run(
        [os.path.abspath(sys.executable), "-m", "mutmut", "show", mutant],
        cwd=where,
        capture_output=True,
        text=True,
    )
    return (r.stdout or r.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--no-diffs", action="store_true", help="list survivors without diffs")
    ap.add_argument("--extra", type=Path, help="JSON merged into score.json (campaign facts)")
    ap.add_argument(
        "--rechecked",
        type=Path,
        help="a bugs.json of survivors re-checked as patches (tests.mutation.recheck)",
    )
    ap.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="print N unchecked mutant names per module (seeded) instead of scoring",
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of --sample")
    a = ap.parse_args(argv)
    if a.sample is not None:
        print("\n".join(sample(read_results(a.mutants), a.sample, a.seed)))
        return 0
    try:
        equivalent = load_equivalent()
    except EquivalentFileError as e:
        print(e, file=sys.stderr)
        return 2
    results = read_results(a.mutants)
    if not results:
        print(f"no mutmut results under {a.mutants}; run `nox -s mutation` first", file=sys.stderr)
        return 2
    kills: dict[str, str] = {}
    if a.rechecked is not None:
        if not a.rechecked.is_file():
            print(f"--rechecked: {a.rechecked}: no such file", file=sys.stderr)
            return 2
        kills, facts = rechecked_kills(a.rechecked)
    doc = score(results, equivalent, kills)
    if a.rechecked is not None:
        doc["recheck"] = facts
    if a.extra and a.extra.is_file():
        doc.update(json.loads(a.extra.read_text()))
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "score.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    lines = []
    for name in doc["survivors"]:
        status = _STATUS.get(results[name], "suspicious")
        lines.append(f"## {name}  [{status}]  ({module_of(name)}: {function_of(name)})")
        if not a.no_diffs:
            lines.append(show(name, a.mutants.resolve().parent))
        lines.append("")
    (a.out / "survivors.txt").write_text("\n".join(lines) + "\n")
    o = doc["overall"]
    print(
        f"{'module':32} {'killed':>6} {'t/o':>4} {'surv':>5} {'unreach':>7} {'equiv':>5} {'unrun':>6} score"
    )
    for m, d in [*doc["modules"].items(), ("overall", o)]:
        sc = "-" if d["score"] is None else f"{100 * d['score']:.1f} %"
        print(
            f"{m:32} {d['killed']:6} {d['timeout']:4} {d['survived']:5} {d['not_reached']:7} "
            f"{d['equivalent']:5} {d['not_checked']:6} {sc}"
        )
    print(f"-> {a.out / 'score.json'}, {a.out / 'survivors.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
