"""The architecture's import boundaries, read from the source with ``ast`` (imports inside
functions and under ``TYPE_CHECKING`` count too):

- ``sandbox`` and ``fakes`` never import ``harness`` or each other;
- ``harness`` reaches the sandbox only through the contract (``sandbox.contract``,
  ``sandbox.client``) and one adapter, :mod:`harness.platform_adapter`;
- no module of ``harness`` imports another in a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "sandbox": ("harness", "fakes"),
    "fakes": ("harness", "sandbox"),
}

#: the sandbox modules any harness module may import: the platform contract
CONTRACT = ("sandbox.contract", "sandbox.client")
#: the one harness module that may import the sandbox's implementation
ADAPTER = "harness/platform_adapter.py"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
    return out


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports (absolute or relative, at any depth)."""
    files = {_module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                graph[mod].update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in files:
                        graph[mod].add(sub)
                    elif target in files:
                        graph[mod].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules in order, the first repeated), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)) is not None:
            return found
    return None


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_across_its_boundary(package: str) -> None:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in _imports(path):
            if name.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not bad, f"{package} must not import {FORBIDDEN[package]}:\n" + "\n".join(bad)


def test_boundary_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_text("import os\nfrom harness.judge import judge\n")
    assert (2, "harness.judge") in _imports(p)


def test_harness_reaches_the_sandbox_only_through_the_contract_and_the_adapter() -> None:
    bad = []
    for path in sorted((ROOT / "harness").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, name in _imports(path):
            if name.split(".")[0] != "sandbox" or rel == ADAPTER:
                continue
            if not any(name == c or name.startswith(c + ".") for c in CONTRACT):
                bad.append(f"{rel}:{line}: imports {name}")
    assert not bad, (
        f"harness may import only {', '.join(CONTRACT)} of the sandbox ({ADAPTER} builds the "
        "in-process platform):\n" + "\n".join(bad)
    )


def test_the_allow_list_check_catches_a_function_level_import_of_sandbox_internals(
    tmp_path: Path,
) -> None:
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from sandbox.platform import Platform\n    return Platform\n")
    assert (2, "sandbox.platform") in _imports(p)


def test_no_module_of_harness_imports_another_in_a_circle() -> None:
    cycle = find_cycle(import_graph(ROOT, "harness"))
    assert cycle is None, "import circle in harness: " + " → ".join(cycle or [])


def test_the_circle_check_sees_relative_and_function_level_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import x\n    return x\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]
    (pkg / "c.py").write_text("x = 1\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None
