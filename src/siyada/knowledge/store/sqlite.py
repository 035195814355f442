"""The embedded store: one SQLite file (WAL) under the data directory.

Schema migrations are code: ``MIGRATIONS[i]`` brings a database from ``user_version`` i to i + 1,
each in its own transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from siyada.knowledge.store.base import (
    ChunkRecord,
    Collection,
    CollectionSummary,
    DocumentRecord,
    IndexRow,
    NewChunk,
    NewDocument,
    StoreError,
)

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE collections (
        -- Ids are never reused: index caches are keyed by collection id and generation.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        embedder TEXT NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (tenant, name)
    );
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        pages INTEGER NOT NULL,
        format TEXT NOT NULL,
        title TEXT,
        date TEXT,
        date_ordinal INTEGER NOT NULL DEFAULT 0,
        ingested_at TEXT NOT NULL,
        UNIQUE (collection_id, path)
    );
    CREATE INDEX documents_name ON documents (collection_id, name);
    CREATE TABLE chunks (
        -- Never reused: a search ranks ids from an index, then reads them back.
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
        ordinal INTEGER NOT NULL,
        text TEXT NOT NULL,
        heading_path TEXT NOT NULL,
        page INTEGER,
        start_char INTEGER NOT NULL,
        end_char INTEGER NOT NULL,
        language TEXT NOT NULL,
        script TEXT NOT NULL,
        keys TEXT NOT NULL,
        embedding BLOB,
        UNIQUE (document_id, ordinal)
    );
    """,
)
BUSY_TIMEOUT_SECONDS = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: every write below opens its own explicit transaction.
        self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer Siyada (schema {version}); upgrade Siyada"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {target}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (no lock upgrade mid-way), rolled back on error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def collection(self, tenant: str, name: str) -> Collection | None:
        row = self._db.execute(
            "SELECT id, tenant, name, embedder, generation FROM collections"
            " WHERE tenant = ? AND name = ?",
            (tenant, name),
        ).fetchone()
        return Collection(*row) if row else None

    def create_collection(self, tenant: str, name: str, embedder: str) -> Collection:
        self._db.execute(
            "INSERT OR IGNORE INTO collections (tenant, name, embedder, created_at)"
            " VALUES (?, ?, ?, ?)",
            (tenant, name, embedder, _now()),
        )
        created = self.collection(tenant, name)
        assert created is not None
        return created

    def collections(self, tenant: str) -> list[CollectionSummary]:
        rows = self._db.execute(
            """
            SELECT c.name,
                   (SELECT count(*) FROM documents d WHERE d.collection_id = c.id),
                   (SELECT count(*) FROM chunks k JOIN documents d ON k.document_id = d.id
                     WHERE d.collection_id = c.id),
                   c.embedder, c.created_at
            FROM collections c WHERE c.tenant = ? ORDER BY c.name
            """,
            (tenant,),
        ).fetchall()
        return [CollectionSummary(*row) for row in rows]

    def delete_collection(self, tenant: str, name: str) -> bool:
        cursor = self._db.execute(
            "DELETE FROM collections WHERE tenant = ? AND name = ?", (tenant, name)
        )
        return cursor.rowcount > 0

    def _owned(self, collection: Collection) -> None:
        """Refuse a collection that is not (or no longer) the tenant's own."""
        row = self._db.execute(
            "SELECT 1 FROM collections WHERE id = ? AND tenant = ?",
            (collection.id, collection.tenant),
        ).fetchone()
        if row is None:
            raise StoreError(
                f"collection {collection.name!r} does not exist for tenant {collection.tenant!r}"
            )

    def documents(self, collection: Collection) -> list[DocumentRecord]:
        self._owned(collection)
        rows = self._db.execute(
            """
            SELECT d.id, d.path, d.name, d.content_hash,
                   (SELECT count(*) FROM chunks k WHERE k.document_id = d.id),
                   d.pages, d.format, d.date, d.ingested_at
            FROM documents d WHERE d.collection_id = ? ORDER BY d.name
            """,
            (collection.id,),
        ).fetchall()
        return [DocumentRecord(*row) for row in rows]

    def replace_document(
        self, collection: Collection, document: NewDocument, chunks: Sequence[NewChunk]
    ) -> None:
        date = document.date.date() if document.date else None
        with self._transaction():
            self._owned(collection)
            self._db.execute(
                "DELETE FROM documents WHERE collection_id = ? AND path = ?",
                (collection.id, document.path),
            )
            cursor = self._db.execute(
                """
                INSERT INTO documents (collection_id, path, name, content_hash, size, pages,
                    format, title, date, date_ordinal, ingested_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    collection.id, document.path, document.name, document.content_hash,
                    document.size, document.pages, document.format, document.title,
                    date.isoformat() if date else None, date.toordinal() if date else 0, _now(),
                ),
            )  # fmt: skip
            document_id = cursor.lastrowid
            self._db.executemany(
                """
                INSERT INTO chunks (document_id, ordinal, text, heading_path, page, start_char,
                    end_char, language, script, keys, embedding)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    (document_id, chunk.ordinal, chunk.text, chunk.heading_path, chunk.page,
                     chunk.start, chunk.end, chunk.language, chunk.script, chunk.keys,
                     chunk.embedding)
                    for chunk in chunks
                ],
            )  # fmt: skip
            self._bump(collection)

    def _bump(self, collection: Collection) -> None:
        self._db.execute(
            "UPDATE collections SET generation = generation + 1 WHERE id = ?", (collection.id,)
        )

    def delete_documents(self, collection: Collection, paths: Sequence[str]) -> int:
        with self._transaction():
            self._owned(collection)
            deleted = 0
            for path in paths:
                deleted += self._db.execute(
                    "DELETE FROM documents WHERE collection_id = ? AND path = ?",
                    (collection.id, path),
                ).rowcount
            if deleted:
                self._bump(collection)
        return deleted

    def generation(self, collection: Collection) -> int:
        row = self._db.execute(
            "SELECT generation FROM collections WHERE id = ? AND tenant = ?",
            (collection.id, collection.tenant),
        ).fetchone()
        if row is None:
            raise StoreError(f"collection {collection.name!r} no longer exists")
        return int(row[0])

    def index_rows(self, collection: Collection) -> Iterator[IndexRow]:
        self._owned(collection)
        cursor = self._db.execute(
            """
            SELECT k.id, d.id, k.language, d.date_ordinal, k.keys, k.embedding
            FROM chunks k JOIN documents d ON k.document_id = d.id
            WHERE d.collection_id = ? ORDER BY k.id
            """,
            (collection.id,),
        )
        for row in cursor:
            yield IndexRow(*row)

    def chunks(self, collection: Collection, chunk_ids: Sequence[int]) -> list[ChunkRecord]:
        self._owned(collection)
        if not chunk_ids:
            return []
        marks = ",".join("?" * len(chunk_ids))
        rows = self._db.execute(
            f"""
            SELECT k.id, d.name, d.path, k.page, k.heading_path, k.text, k.language,
                   k.start_char, k.end_char
            FROM chunks k JOIN documents d ON k.document_id = d.id
            WHERE d.collection_id = ? AND k.id IN ({marks})
            """,
            (collection.id, *chunk_ids),
        ).fetchall()
        found = {row[0]: ChunkRecord(*row) for row in rows}
        return [found[chunk_id] for chunk_id in chunk_ids if chunk_id in found]

    def document_ids(self, collection: Collection, names: Sequence[str]) -> list[int]:
        self._owned(collection)
        ids: list[int] = []
        for name in names:
            tail = "%/" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._db.execute(
                "SELECT id FROM documents WHERE collection_id = ?"
                " AND (name = ? OR path = ? OR name LIKE ? ESCAPE '\\' OR path LIKE ? ESCAPE '\\')",
                (collection.id, name, name, tail, tail),
            ).fetchall()
            ids.extend(row[0] for row in rows)
        return ids
