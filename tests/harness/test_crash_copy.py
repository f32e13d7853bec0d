"""A crash-style restart copies what the platform's storage committed, and only that."""

from __future__ import annotations

from harness.platform_adapter import crash_copy, memory_store


def _ids(store: object) -> list[str]:
    return [r[0] for r in store.db.execute("SELECT id FROM jobs ORDER BY id")]  # type: ignore[attr-defined]


def test_a_crash_copy_keeps_what_was_committed_and_loses_an_open_transaction() -> None:
    # a platform that never commits holds its writes in an open transaction: a crash loses them
    # (and a copy taken under it would wait for its lock for ever), what it committed survives
    store = memory_store()
    store.db.execute("INSERT INTO jobs (id, seq, doc) VALUES ('j-1', 1, '{}')")
    store.db.execute("BEGIN")
    store.db.execute("INSERT INTO jobs (id, seq, doc) VALUES ('j-2', 2, '{}')")
    copy = crash_copy(store)
    assert _ids(copy) == ["j-1"]
    # the copy is a store of its own: what goes on in the original does not reach it
    store.db.execute("INSERT INTO jobs (id, seq, doc) VALUES ('j-3', 3, '{}')")
    assert _ids(copy) == ["j-1"]
