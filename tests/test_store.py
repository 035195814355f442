"""The Store contract, run against every implementation (SQLite today)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from siyada.knowledge.store import NewChunk, NewDocument, SQLiteStore, Store, StoreError

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["sqlite"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[Store] = []

    def factory() -> Store:
        store = SQLiteStore(tmp_path / "siyada.db")
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def _document(path: str, content_hash: str = "h1") -> NewDocument:
    return NewDocument(
        path=path, name=Path(path).name, content_hash=content_hash, size=10, pages=1,
        title=None, date=datetime(2025, 1, 2), format="text",
    )  # fmt: skip


def _chunks(*texts: str) -> list[NewChunk]:
    return [
        NewChunk(
            ordinal=number, text=text, heading_path="", page=1, start=0, end=len(text),
            language="fra_Latn", script="Latn", keys=f"l:{text}", embedding=None,
        )
        for number, text in enumerate(texts)
    ]  # fmt: skip


def test_collections_belong_to_one_tenant(open_store: StoreFactory) -> None:
    store = open_store()
    mine = store.create_collection("ministry", "guides", "none")
    store.replace_document(mine, _document("/d/a.txt"), _chunks("alpha"))
    assert store.collection("hospital", "guides") is None
    assert [summary.name for summary in store.collections("hospital")] == []
    theirs = store.create_collection("hospital", "guides", "none")
    assert theirs.id != mine.id
    chunk_id = next(iter(store.index_rows(mine))).chunk_id
    assert store.chunks(theirs, [chunk_id]) == []
    assert [record.text for record in store.chunks(mine, [chunk_id])] == ["alpha"]
    assert store.delete_collection("hospital", "guides")
    assert store.collection("ministry", "guides") is not None


def test_replacing_a_document_swaps_all_its_chunks(open_store: StoreFactory) -> None:
    store = open_store()
    collection = store.create_collection("t", "c", "none")
    store.replace_document(collection, _document("/d/a.txt"), _chunks("one", "two"))
    first = store.generation(collection)
    store.replace_document(collection, _document("/d/a.txt", "h2"), _chunks("three"))
    assert store.generation(collection) > first
    assert [row.keys for row in store.index_rows(collection)] == ["l:three"]
    [record] = store.documents(collection)
    assert (record.content_hash, record.chunks, record.date) == ("h2", 1, "2025-01-02")


def test_a_failed_replacement_leaves_the_old_chunks(open_store: StoreFactory) -> None:
    store = open_store()
    collection = store.create_collection("t", "c", "none")
    store.replace_document(collection, _document("/d/a.txt"), _chunks("one", "two"))
    duplicate_ordinals = _chunks("x", "y")
    duplicate_ordinals[1] = duplicate_ordinals[0]
    with pytest.raises(sqlite3.IntegrityError):
        store.replace_document(collection, _document("/d/a.txt", "h2"), duplicate_ordinals)
    assert [row.keys for row in store.index_rows(collection)] == ["l:one", "l:two"]


def test_deleting_documents_and_collections_removes_their_chunks(open_store: StoreFactory) -> None:
    store = open_store()
    collection = store.create_collection("t", "c", "none")
    store.replace_document(collection, _document("/d/a.txt"), _chunks("one"))
    store.replace_document(collection, _document("/d/b.txt"), _chunks("two"))
    assert store.delete_documents(collection, ["/d/a.txt", "/d/missing.txt"]) == 1
    assert [row.keys for row in store.index_rows(collection)] == ["l:two"]
    assert store.document_ids(collection, ["b.txt"]) == [store.documents(collection)[0].id]
    store.delete_collection("t", "c")
    with pytest.raises(StoreError):
        list(store.index_rows(collection))
    with pytest.raises(StoreError):
        store.generation(collection)


def test_schema_is_migrated_once_and_newer_schemas_are_refused(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db").close()
    SQLiteStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer Siyada"):
        SQLiteStore(tmp_path / "s.db")


def test_collection_ids_are_never_reused(open_store: StoreFactory) -> None:
    store = open_store()
    first = store.create_collection("t", "c", "none")
    store.delete_collection("t", "c")
    second = store.create_collection("t", "c", "none")
    assert second.id != first.id


def test_document_filter_names_are_not_patterns(open_store: StoreFactory) -> None:
    store = open_store()
    collection = store.create_collection("t", "c", "none")
    store.replace_document(collection, _document("/d/a_1.txt"), _chunks("one"))
    store.replace_document(collection, _document("/d/ab1.txt"), _chunks("two"))
    [only] = store.document_ids(collection, ["a_1.txt"])
    assert [r.id for r in store.documents(collection) if r.name == "a_1.txt"] == [only]
    assert store.document_ids(collection, ["%.txt"]) == []


def test_a_forged_collection_of_another_tenant_is_refused(open_store: StoreFactory) -> None:
    store = open_store()
    theirs = store.create_collection("hospital", "records", "none")
    store.replace_document(theirs, _document("/d/secret.txt"), _chunks("secret"))
    forged = replace(theirs, tenant="ministry")
    chunk_id = next(iter(store.index_rows(theirs))).chunk_id
    for attempt in (
        lambda: store.chunks(forged, [chunk_id]),
        lambda: list(store.index_rows(forged)),
        lambda: store.documents(forged),
        lambda: store.generation(forged),
        lambda: store.replace_document(forged, _document("/d/x.txt"), _chunks("x")),
        lambda: store.delete_documents(forged, ["/d/secret.txt"]),
    ):
        with pytest.raises(StoreError):
            attempt()
    assert [row.keys for row in store.index_rows(theirs)] == ["l:secret"]


def test_chunk_ids_are_never_reused(open_store: StoreFactory) -> None:
    store = open_store()
    collection = store.create_collection("t", "c", "none")
    store.replace_document(collection, _document("/d/a.txt"), _chunks("one"))
    store.replace_document(collection, _document("/d/b.txt"), _chunks("two"))
    last = max(row.chunk_id for row in store.index_rows(collection))
    store.delete_documents(collection, ["/d/b.txt"])
    store.replace_document(collection, _document("/d/c.txt"), _chunks("three"))
    assert min(row.chunk_id for row in store.index_rows(collection) if row.keys == "l:three") > last
