"""Where scenarios come from: the built-in catalogue and the user's own folders.

The built-in scenarios ship inside the package (``harness/_scenarios``, a link to the
repository's ``scenarios/`` that the wheel build copies as package data) and are read through
:mod:`importlib.resources`, so an installed vibedrill carries its catalogue. Users add folders of
their own, in this order of precedence:

1. ``--scenarios DIR`` on the command line (repeatable; ``--drill-scenarios`` in pytest),
2. ``VIBEDRILL_SCENARIOS`` (folders separated by :data:`os.pathsep`, relative to the current folder),
3. ``[tool.vibedrill] scenarios = [...]`` in the ``pyproject.toml`` of the current folder or its
   nearest parent that has one (relative to that file's folder).

A user's file shadows a built-in scenario (or one from a later folder) of the same id; each
shadowing is reported through the ``notice`` callback (the CLI prints it on stderr). Scenario ids
are file stems (``load_scenario`` insists that ``id`` equals the stem); only the top level of each
folder is a catalogue (``found/`` under the built-ins ships too and is run by path).

Light on purpose: imports neither the drill, the judge nor the sandbox.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from .errors import BadInputError

__all__ = [
    "BUILTIN",
    "ENV_VAR",
    "Catalogue",
    "CatalogueEntry",
    "ScenarioSource",
    "ScenarioSourceError",
    "builtin_scenarios_dir",
    "load_catalogue",
    "pyproject_sources",
    "scenario_sources",
]

#: the origin of a scenario shipped with vibedrill
BUILTIN = "built-in"
#: folders of the user's own scenarios, separated by os.pathsep
ENV_VAR = "VIBEDRILL_SCENARIOS"
#: the keys ``[tool.vibedrill]`` may have
PYPROJECT_KEYS = ("scenarios",)


class ScenarioSourceError(BadInputError):
    """A scenario folder that cannot be used; the message names where it was given and why."""


@dataclass(frozen=True)
class ScenarioSource:
    """One folder of scenarios and how it was given (``built-in``, ``--scenarios`` …)."""

    path: Path
    given_by: str

    @property
    def builtin(self) -> bool:
        return self.given_by == BUILTIN


@dataclass(frozen=True)
class CatalogueEntry:
    """A scenario id, its file and where it came from; ``shadows`` the files it hides."""

    id: str
    path: Path
    source: ScenarioSource
    shadows: tuple[Path, ...] = ()

    @property
    def origin(self) -> str:
        """``built-in``, or the file's path (what ``vibedrill list`` shows)."""
        return BUILTIN if self.source.builtin else str(self.path)


@dataclass
class Catalogue:
    """Every scenario id the sources offer, the first source's file winning."""

    sources: list[ScenarioSource]
    entries: dict[str, CatalogueEntry] = field(default_factory=dict)

    def ids(self) -> list[str]:
        return sorted(self.entries)

    def paths(self) -> list[Path]:
        """Every scenario file, sorted by id (what ``--all`` runs)."""
        return [self.entries[i].path for i in self.ids()]

    def resolve(self, ref: str | Path) -> Path:
        """A YAML path as given, an id, or the unique id that ``ref`` begins; else an error naming the ids."""
        text = str(ref)
        path = Path(ref)
        if path.suffix in (".yaml", ".yml") or "/" in text or os.sep in text:
            if not path.is_file():
                raise ScenarioSourceError(f"{text}: no such scenario file")
            return path
        if text in self.entries:
            return self.entries[text].path
        prefixed = [i for i in self.ids() if i.startswith(text)]
        if len(prefixed) == 1:
            return self.entries[prefixed[0]].path
        from fakes.core.faults import did_you_mean

        raise ScenarioSourceError(
            f"{text!r} is not a scenario{did_you_mean(text, self.ids())}; "
            f"valid: {', '.join(self.ids())}; looked in: "
            + ", ".join(f"{s.path} ({s.given_by})" for s in self.sources)
        )

    def notices(self) -> list[str]:
        """One sentence per shadowed file."""
        out = []
        for i in self.ids():
            e = self.entries[i]
            for hidden in e.shadows:
                what = "built-in scenario" if _is_builtin_file(hidden, self.sources) else "file"
                out.append(
                    f"scenario {i}: {e.path} ({e.source.given_by}) shadows the {what} {hidden}"
                )
        return out


def _is_builtin_file(path: Path, sources: Iterable[ScenarioSource]) -> bool:
    return any(s.builtin and path.parent == s.path for s in sources)


@cache
def builtin_scenarios_dir() -> Path:
    """The folder of the scenarios shipped with vibedrill (read via importlib.resources)."""
    root: Traversable = resources.files("harness").joinpath("_scenarios")
    if isinstance(root, Path):
        return root
    # A zipped install: copy the files out once, so scenarios stay ordinary paths.
    target = Path(tempfile.mkdtemp(prefix="vibedrill-scenarios-"))
    _copy_tree(root, target)
    return target


def _copy_tree(src: Traversable, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        elif item.name.endswith((".yaml", ".yml")):
            (dst / item.name).write_bytes(item.read_bytes())


def _folder(raw: str | Path, base: Path, given_by: str) -> ScenarioSource:
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_dir():
        what = "no such folder" if not path.exists() else "not a folder"
        shown = "" if str(path) == str(raw) else f" ({path})"
        raise ScenarioSourceError(f"{given_by}: {str(raw)!r}: {what}{shown}")
    return ScenarioSource(path.resolve(), given_by)


def find_pyproject(start: Path) -> Path | None:
    """The ``pyproject.toml`` of ``start`` or its nearest parent that has one."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def pyproject_sources(start: Path) -> list[ScenarioSource]:
    """The folders named by ``[tool.vibedrill] scenarios`` of the nearest ``pyproject.toml``."""
    file = find_pyproject(start)
    if file is None:
        return []
    try:
        data = tomllib.loads(file.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ScenarioSourceError(f"{file}: cannot be read as TOML: {e}") from None
    tool = data.get("tool", {}).get("vibedrill")
    if tool is None:
        return []
    if not isinstance(tool, dict):
        raise ScenarioSourceError(f"{file}: tool.vibedrill: must be a table (got {tool!r})")
    unknown = sorted(set(tool) - set(PYPROJECT_KEYS))
    if unknown:
        raise ScenarioSourceError(
            f"{file}: tool.vibedrill.{unknown[0]}: unknown key; valid: {', '.join(PYPROJECT_KEYS)}"
        )
    folders = tool.get("scenarios", [])
    if isinstance(folders, str) or not isinstance(folders, list):
        raise ScenarioSourceError(
            f"{file}: tool.vibedrill.scenarios: must be a list of folders (got {folders!r})"
        )
    out = []
    for i, raw in enumerate(folders):
        where = f"{file}: tool.vibedrill.scenarios[{i}]"
        if not isinstance(raw, str) or not raw:
            raise ScenarioSourceError(f"{where}: must be a folder path (got {raw!r})")
        out.append(_folder(raw, file.parent, where))
    return out


def scenario_sources(
    extra: Sequence[str | Path] = (),
    *,
    extra_given_by: str = "--scenarios",
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[ScenarioSource]:
    """The folders to look in, highest precedence first, the built-ins last.

    ``extra`` are command-line folders (relative to ``cwd``); then ``VIBEDRILL_SCENARIOS``; then
    ``[tool.vibedrill] scenarios``. A folder given twice counts once, at its first place.
    ScenarioSourceError when a folder does not exist or the pyproject entry is malformed.
    """
    here = Path.cwd() if cwd is None else cwd
    env = os.environ if environ is None else environ
    found = [_folder(p, here, extra_given_by) for p in extra]
    for raw in (env.get(ENV_VAR) or "").split(os.pathsep):
        if raw.strip():
            found.append(_folder(raw.strip(), here, ENV_VAR))
    found += pyproject_sources(here)
    found.append(ScenarioSource(builtin_scenarios_dir(), BUILTIN))
    out: list[ScenarioSource] = []
    seen: set[Path] = set()
    for s in found:
        key = s.path.resolve()
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def load_catalogue(
    extra: Sequence[str | Path] = (),
    *,
    extra_given_by: str = "--scenarios",
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> Catalogue:
    """The scenario ids of every source (see :func:`scenario_sources`); shadowings go to ``notice``."""
    sources = scenario_sources(extra, extra_given_by=extra_given_by, cwd=cwd, environ=environ)
    cat = Catalogue(sources)
    for src in sources:
        for path in sorted(p for p in src.path.iterdir() if p.suffix in (".yaml", ".yml")):
            if not path.is_file():
                continue
            sid = path.stem
            first = cat.entries.get(sid)
            if first is None:
                cat.entries[sid] = CatalogueEntry(sid, path, src)
            else:
                cat.entries[sid] = CatalogueEntry(
                    sid, first.path, first.source, (*first.shadows, path)
                )
    if notice is not None:
        for line in cat.notices():
            notice(line)
    return cat
