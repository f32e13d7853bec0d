"""Re-check mutmut's survivors on a later tree, as patches the bug runner applies.

A mutmut campaign's results belong to the commit it ran on. When the judge gets sharper, the
survivors are re-checked on the current tree without a new campaign (generating mutants and
re-collecting which drills reach which function costs most of an hour on 2 cores): each
survivor's diff (``mutmut show``, a function-level diff with the function dedented) is
located in today's source and written as an ordinary patch with a bug header, then run like
any realistic bug (``python -m tests.mutation.bugs --patches DIR``). ``python -m
tests.mutation.score --rechecked bugs.json`` counts the ones the drills now catch as killed::

    python -m tests.mutation.recheck --mutants ../old-campaign/mutants --out /tmp/survivors
    python -m tests.mutation.bugs --patches /tmp/survivors --fail-fast --out reports/mutation/recheck.json
    python -m tests.mutation.score --mutants ../old-campaign/mutants --rechecked reports/mutation/recheck.json

See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.mutation.score import ROOT, function_of, load_equivalent, module_of, read_results

#: how a re-check patch names its mutant (``tests.mutation.score`` reads it back)
MUTANT_LINE = "# What a developer did: mutmut mutant "


class NotLocated(ValueError):
    """A mutant's diff could not be placed in today's source (the function changed or moved)."""


def _function_span(source: str, mutant: str) -> tuple[int, int]:
    """0-based [start, end) line span of the mutant's function in ``source``."""
    qual = function_of(mutant).split(".")
    cls, func = (qual[0], qual[-1]) if len(qual) > 1 else (None, qual[0])
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = node.body if isinstance(node, ast.ClassDef) and node.name == cls else None
        if cls is None and isinstance(node, ast.Module):
            body = node.body
        for n in body or ():
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == func:
                return n.lineno - 1, int(n.end_lineno or n.lineno)
    raise NotLocated(f"{mutant}: no function {'.'.join(qual)}")


def survivor_patch(mutant: str, mutmut_diff: str, root: Path = ROOT) -> str:
    """The unified diff (``a/``/``b/`` paths) that applies ``mutmut_diff`` to ``root``'s source.

    mutmut shows the mutated function dedented to column 0, with few context lines: the removed
    lines are found (ignoring indentation) inside the function in today's file, exactly once,
    and the added lines re-indented to where they go.
    """
    lines = mutmut_diff.splitlines()
    path = next((ln[4:].strip() for ln in lines if ln.startswith("--- ")), None)
    if path is None:
        raise NotLocated(f"{mutant}: not a diff")
    path = path.removeprefix("a/")
    body = [ln for ln in lines if ln[:1] in "+- " and not ln.startswith(("---", "+++"))]
    old = [ln[1:] for ln in body if ln.startswith("-")]
    new = [ln[1:] for ln in body if ln.startswith("+")]
    if not old:
        raise NotLocated(f"{mutant}: the diff removes no line")
    f = root / path
    src = f.read_text()
    start, end = _function_span(src, mutant)
    have = src.splitlines(keepends=True)
    seg = [ln.strip() for ln in have[start:end]]
    want = [ln.strip() for ln in old]
    hits = [i for i in range(len(seg) - len(want) + 1) if seg[i : i + len(want)] == want]
    if len(hits) != 1:
        raise NotLocated(f"{mutant}: its lines occur {len(hits)} times in {path}")
    at = start + hits[0]
    indent = re.match(r"\s*", have[at]).group(0)  # type: ignore[union-attr]
    base = len(re.match(r"\s*", old[0]).group(0))  # type: ignore[union-attr]
    repl = [indent + ln[base:].rstrip("\n") + "\n" if ln.strip() else "\n" for ln in new]
    patched = have[:at] + repl + have[at + len(want) :]
    diff = difflib.unified_diff(have, patched, f"a/{path}", f"b/{path}", n=3)
    return "".join(diff)


def export(mutants_dir: Path, out: Path, root: Path = ROOT) -> tuple[list[Path], list[str]]:
    """Write every survivor not marked equivalent as ``out/NN_<name>.patch``; return the files
    and the mutants that could not be placed in today's source (with why)."""
    equivalent = load_equivalent()
    survivors = [n for n, c in sorted(read_results(mutants_dir).items()) if c == 0]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    skipped: list[str] = []
    for name in (n for n in survivors if n not in equivalent):
        shown = subprocess.run(
            [os.path.abspath(sys.executable), "-m", "mutmut", "show", name],
            cwd=mutants_dir.parent,
            capture_output=True,
            text=True,
        )
        diff = shown.stdout[shown.stdout.find("--- ") :] if "--- " in shown.stdout else ""
        try:
            body = survivor_patch(name, diff, root)
        except NotLocated as e:
            skipped.append(str(e))
            continue
        n = len(written) + 1
        where = f"{module_of(name).rsplit('.', 1)[-1]}_{function_of(name)}"
        short = re.sub(r"[^A-Za-z0-9_]", "_", where) + "_" + name.rsplit("_", 1)[-1]
        p = out / f"{n:02d}_{short}.patch"
        p.write_text(
            f"# bug {n:02d} {short}\n"
            f"{MUTANT_LINE}{name}\n"
            "# What the platform then does wrong: a survivor of the mutmut campaign, "
            "re-checked on this tree\n"
            "# A mutant of mutmut (not a defect, not a realistic slip); see docs/mutation.md.\n"
            + body
        )
        written.append(p)
    return written, skipped


def mutant_of(patch: Path) -> str | None:
    """The mutant a re-check patch was made from (its header), or None."""
    for line in patch.read_text().splitlines()[:6]:
        if line.startswith(MUTANT_LINE):
            return line[len(MUTANT_LINE) :].strip()
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=Path, required=True, help="the campaign's mutants/ folder")
    ap.add_argument("--out", type=Path, required=True, help="folder for the patches")
    a = ap.parse_args(argv)
    if not a.mutants.is_dir():
        print(f"--mutants: {a.mutants}: no such folder", file=sys.stderr)
        return 2
    written, skipped = export(a.mutants, a.out)
    for s in skipped:
        print(f"not placed: {s}", file=sys.stderr)
    print(f"{len(written)} survivor patches -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
