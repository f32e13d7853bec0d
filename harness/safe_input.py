"""Reading untrusted YAML and JSON: size caps, an alias budget, duplicate keys and encodings refused.

A scenario file is input from people and from other tools (``vibedrill explore`` writes them, CI
checks them out). PyYAML's ``safe_load`` is safe from code execution but not from a "billion
laughs" file — nested anchors and aliases that expand to billions of nodes — and it keeps the
last of two duplicate keys silently. Here the document is composed to a node graph first, which
costs no more than the file's size, and its expanded size is counted over that graph (memoised
per node, so counting a bomb is as cheap as reading it) before anything is constructed.
Every refusal is a :class:`UnsafeInput` whose message names the file and, where there is one,
the line, and is cut to stay short.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "UnsafeInput",
    "clip",
    "load_json_file",
    "load_yaml_file",
    "short_repr",
]

#: the largest scenario or replay file read (the catalogue's largest is under 4 KiB)
MAX_BYTES = 512 * 1024
#: the most nodes a document may expand to, aliases counted at every use
MAX_NODES = 50_000
#: the deepest nesting of mappings and sequences accepted
MAX_DEPTH = 64
#: the longest message an error carries
MAX_MESSAGE = 1_500


class UnsafeInput(ValueError):
    """A file that cannot be read safely: too large, not UTF-8, a bomb, a duplicate key, bad syntax."""


def short_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)``, cut in the middle with an ellipsis when longer than ``limit``."""
    text = repr(value)
    if len(text) <= limit:
        return text
    keep = (limit - 1) // 2
    return f"{text[:keep]}…{text[-keep:]}"


def clip(message: str, limit: int = MAX_MESSAGE) -> str:
    """A message cut to ``limit`` characters with an ellipsis, so no value floods a terminal."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _read_text(path: Path, shown: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UnsafeInput(f"{shown}: file is {size:,} bytes; the limit is {MAX_BYTES:,}")
        data = path.read_bytes()
    except OSError as e:
        raise UnsafeInput(f"{shown}: cannot read: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UnsafeInput(
            f"{shown}: not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start} "
            f"({e.reason}); save the file as UTF-8"
        ) from None


class _NoDuplicateKeys(yaml.constructor.SafeConstructor):
    """Refuses a duplicate key, naming the key and both lines."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; the base class reports it
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {short_repr(key)} (first at line {first}, again at line {line})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-untyped-call, no-any-return]


class _Loader(_NoDuplicateKeys, yaml.SafeLoader):
    """PyYAML's own parser, whose messages every refusal quotes."""


#: libyaml's parser when PyYAML was built with it: the same documents, about five times faster
#: (a drill, a CLI run and a test session each read the whole catalogue)
_FastLoader: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(_NoDuplicateKeys, yaml.CSafeLoader):
        """libyaml's parser with the same constructor; an error is told by :class:`_Loader`."""

    _FastLoader = _CLoader


def _expanded_size(root: yaml.Node, shown: str) -> int:
    """Nodes the document expands to (each alias counted at every use); refuses bombs and depth."""
    sizes: dict[int, int] = {}
    # iterative post-order so a deep document cannot exhaust Python's stack
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise UnsafeInput(
                f"{shown}:{node.start_mark.line + 1}: nesting deeper than {MAX_DEPTH} levels"
            )
        key = id(node)
        if key in sizes and not done:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if not done:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 1) for c in children)
        if total > MAX_NODES:
            raise UnsafeInput(
                f"{shown}:{node.start_mark.line + 1}: the document expands to more than "
                f"{MAX_NODES:,} nodes (nested anchors and aliases?); refused"
            )
        sizes[key] = total
    return sizes.get(id(root), 0)


def load_yaml_file(path: Path, shown: str | None = None) -> Any:
    """Parse a YAML file safely; :class:`UnsafeInput` with a short, located message otherwise.

    Parsed with libyaml where PyYAML has it; a document libyaml refuses is parsed again by
    PyYAML's own parser, so the message (and what is accepted) never depends on how PyYAML was
    built."""
    shown = shown or str(path)
    text = _read_text(path, shown)
    if _FastLoader is not None:
        try:
            return _load(_FastLoader, text, shown)
        except yaml.YAMLError:
            pass
    try:
        return _load(_Loader, text, shown)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        what = (
            "YAML error"
            if isinstance(e, yaml.constructor.ConstructorError)
            else "YAML syntax error"
        )
        raise UnsafeInput(clip(f"{shown}{where}: {what}: {e.problem or e.context}")) from None
    except yaml.YAMLError as e:
        raise UnsafeInput(clip(f"{shown}: YAML syntax error: {e}")) from None


def _load(loader_class: type[Any], text: str, shown: str) -> Any:
    """Compose ``text``, refuse a bomb or too deep a document, then construct it."""
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, shown)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {short_repr(key)}")
        out[key] = value
    return out


def load_json_file(path: Path, shown: str | None = None) -> Any:
    """Parse a JSON file safely (size cap, UTF-8, no duplicate keys, bounded depth)."""
    shown = shown or str(path)
    text = _read_text(path, shown)
    depth = 0
    deepest = 0
    in_string = escaped = False
    for ch in text:  # bracket depth outside strings, so a deep document never reaches the parser
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                raise UnsafeInput(f"{shown}: nesting deeper than {MAX_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as e:
        raise UnsafeInput(f"{shown}:{e.lineno}:{e.colno}: JSON error: {e.msg}") from None
    except ValueError as e:
        raise UnsafeInput(clip(f"{shown}: JSON error: {e}")) from None
