"""The embedded store: documents and chunks in the SQLite database (``siyada.database``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from siyada.database import SchemaError, connect, now_iso, transaction
from siyada.knowledge.store.base import (
    ChunkRecord,
    ChunkRewrite,
    Collection,
    CollectionSummary,
    DocumentRecord,
    IndexRow,
    NewChunk,
    NewDocument,
    StoreError,
)


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = connect(path)
        except SchemaError as error:
            raise StoreError(str(error)) from None

    def _transaction(self) -> AbstractContextManager[None]:
        return transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def collection(self, tenant: str, name: str) -> Collection | None:
        row = self._db.execute(
            "SELECT id, tenant, name, embedder, generation, pii_redaction FROM collections"
            " WHERE tenant = ? AND name = ?",
            (tenant, name),
        ).fetchone()
        return Collection(*row) if row else None

    def create_collection(
        self, tenant: str, name: str, embedder: str, pii_redaction: str = "keep"
    ) -> Collection:
        self._db.execute(
            "INSERT OR IGNORE INTO collections (tenant, name, embedder, pii_redaction, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (tenant, name, embedder, pii_redaction, now_iso()),
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
                    date.isoformat() if date else None, date.toordinal() if date else 0, now_iso(),
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

    def find_document(self, tenant: str, document_id: int) -> tuple[Collection, DocumentRecord]:
        row = self._db.execute(
            "SELECT c.name FROM documents d JOIN collections c ON d.collection_id = c.id"
            " WHERE d.id = ? AND c.tenant = ?",
            (document_id, tenant),
        ).fetchone()
        collection = self.collection(tenant, row[0]) if row else None
        if collection is None:
            raise StoreError(f"tenant {tenant!r} has no document {document_id}")
        found = [d for d in self.documents(collection) if d.id == document_id]
        return collection, found[0]

    def chunk_texts(self, collection: Collection) -> Iterator[ChunkRecord]:
        self._owned(collection)
        cursor = self._db.execute(
            """
            SELECT k.id, d.name, d.path, k.page, k.heading_path, k.text, k.language,
                   k.start_char, k.end_char
            FROM chunks k JOIN documents d ON k.document_id = d.id
            WHERE d.collection_id = ? ORDER BY k.id
            """,
            (collection.id,),
        )
        yield from (ChunkRecord(*row) for row in cursor.fetchall())

    def rewrite_chunks(self, collection: Collection, rewrites: Sequence[ChunkRewrite]) -> None:
        with self._transaction():
            self._owned(collection)
            self._db.executemany(
                "UPDATE chunks SET text = ?, heading_path = ?, keys = ?, embedding = ?"
                " WHERE id = ? AND document_id IN"
                " (SELECT id FROM documents WHERE collection_id = ?)",
                [
                    (row.text, row.heading_path, row.keys, row.embedding, row.id, collection.id)
                    for row in rewrites
                ],
            )
            if rewrites:
                self._bump(collection)

    def relabel_documents(self, collection: Collection, relabel: Callable[[str], str]) -> list[int]:
        changed: list[int] = []
        with self._transaction():
            self._owned(collection)
            rows = self._db.execute(
                "SELECT id, path, name, title FROM documents WHERE collection_id = ?",
                (collection.id,),
            ).fetchall()
            for document_id, path, name, title in rows:
                new = (relabel(path), relabel(name), relabel(title) if title else title)
                if new != (path, name, title):
                    self._db.execute(
                        "UPDATE documents SET path = ?, name = ?, title = ? WHERE id = ?",
                        (*new, document_id),
                    )
                    changed.append(document_id)
        return changed
