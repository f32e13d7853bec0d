"""What a user of an SDK sees when the connection drops, independent of the SDK's version.

SDKs disagree, and change between releases, about how a transport failure surfaces: anthropic
2.10–2.16 let the HTTP client's ``RemoteProtocolError`` through a mid-stream cut, 2.17 wraps it as
its documented ``APIConnectionError``; the MCP client raises it inside an exception group. A test
of a fake asserts the user-visible fact — "the SDK raised a connection error" — not the class the
SDK happens to use this month, so a release of the SDK cannot turn the gate red.
"""

from __future__ import annotations

from collections.abc import Iterator

#: exception class names that the HTTP clients under the SDKs (httpx, httpx2, httpcore) use for a
#: connection that failed or dropped; matched by name and module so no client's internals are imported
_TRANSPORT_NAMES = frozenset(
    {"TransportError", "NetworkError", "ProtocolError", "RemoteProtocolError", "ReadError"}
)
_TRANSPORT_MODULES = ("httpx", "httpcore", "h11", "anyio")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the ones in its groups, and their causes and contexts, each once."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        if isinstance(e, BaseExceptionGroup):
            todo.extend(e.exceptions)
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)


def _is_transport_error(exc: BaseException) -> bool:
    return any(
        cls.__name__ in _TRANSPORT_NAMES and cls.__module__.startswith(_TRANSPORT_MODULES)
        for cls in type(exc).__mro__
    )


def connection_error(exc: BaseException, *documented: type[BaseException]) -> BaseException | None:
    """The connection error a user would see in ``exc``, or None.

    ``documented`` are the SDK's own documented connection errors (``openai.APIConnectionError``,
    ``anthropic.APIConnectionError``); a transport error of the HTTP client underneath counts too.
    """
    for e in _chain(exc):
        if isinstance(e, documented) or _is_transport_error(e):
            return e
    return None
