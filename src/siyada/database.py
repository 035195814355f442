"""The embedded database: one SQLite file (WAL) under the data directory, shared by the
knowledge store, the model registry and conversations.

Schema migrations are code: ``MIGRATIONS[i]`` brings a database from ``user_version`` i to i + 1,
each in its own transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

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
    """
    CREATE TABLE models (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        backend TEXT NOT NULL,
        -- JSON: where the model is (GGUF path or endpoint URLs) and how to run it.
        location TEXT NOT NULL,
        sha256 TEXT,
        -- JSON: license, languages, source, description: the model card.
        card TEXT NOT NULL,
        -- "size:mtime_ns" of the file when its SHA-256 was last checked.
        verified_stat TEXT,
        is_default INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        UNIQUE (tenant, name)
    );
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (tenant, name)
    );
    CREATE TABLE turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX turns_conversation ON turns (conversation_id, id);
    """,
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        -- What the answer path does with personal data: pseudonymize, mask or refuse.
        pii_policy TEXT NOT NULL DEFAULT 'pseudonymize',
        requests_per_minute INTEGER,
        tokens_per_day INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
        -- The public part of the key, shown in lists and logs. The secret is kept only as a
        -- keyed hash (HMAC-SHA256 under the server's key-hashing secret).
        prefix TEXT NOT NULL UNIQUE,
        digest TEXT NOT NULL,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        requests_per_minute INTEGER,
        tokens_per_day INTEGER,
        expires_at TEXT,
        revoked_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE usage (
        -- 'key:<id>' or 'tenant:<name>': 'requests' per minute window, 'tokens' per day window.
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        window_start INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (subject, kind, window_start)
    ) WITHOUT ROWID;
    -- The operator's own tenant always exists.
    INSERT INTO tenants (name, created_at)
        VALUES ('default', strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'));
    -- What ingestion does with personal data found in a collection's documents: keep or mask.
    ALTER TABLE collections ADD COLUMN pii_redaction TEXT NOT NULL DEFAULT 'keep'
    """,
    """
    CREATE TABLE audit_records (
        -- The audit trail (siyada.governance.audit): append-only, hash-chained. Digests and
        -- pseudonyms only, never the texts or the identifiers themselves.
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        tenant TEXT NOT NULL,
        key_id TEXT,
        action TEXT NOT NULL,
        resource TEXT,
        request_id TEXT,
        outcome TEXT NOT NULL,
        -- JSON arrays of 'sha256:<hex>' digests.
        inputs TEXT NOT NULL,
        outputs TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        -- HMAC of the hash under a key derived from the audit signing key.
        mac TEXT NOT NULL
    );
    CREATE INDEX audit_records_tenant ON audit_records (tenant, seq);
    CREATE TABLE audit_checkpoints (
        -- Signed Merkle tree heads (Ed25519) over the first tree_size records.
        tree_size INTEGER PRIMARY KEY,
        root TEXT NOT NULL,
        head_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        signature TEXT NOT NULL
    );
    CREATE TABLE audit_state (
        -- The Merkle tree's right edge after 'size' records: roots stay O(log n) to compute.
        id INTEGER PRIMARY KEY CHECK (id = 1),
        size INTEGER NOT NULL,
        frontier TEXT NOT NULL
    );
    INSERT INTO audit_state (id, size, frontier) VALUES (1, 0, '[]')
    """,
)
BUSY_TIMEOUT_SECONDS = 30.0


class SchemaError(Exception):
    """The database was written by a newer Siyada."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the database at ``path``, in autocommit mode:
    every write opens its own explicit transaction with ``transaction``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not shared between threads: the server opens one connection per thread, but closes them
    # all from the thread that shuts it down.
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
    )
    _use_wal(db)
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    # Deleted content is overwritten, not left in free pages: erasure must really erase.
    db.execute("PRAGMA secure_delete = ON")
    try:
        if _version(db) != len(MIGRATIONS):
            _migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. On a new file, connections opening it at once (the server's threads,
    another process) may find it locked: that switch does not wait on the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _version(db: sqlite3.Connection) -> int:
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    return version


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations, one transaction each. The version is read again inside
    each write transaction: processes opening a new database at once migrate it one after
    another, each seeing what the one before did."""
    while True:
        with transaction(db):
            version = _version(db)
            if version == len(MIGRATIONS):
                return
            if version > len(MIGRATIONS):
                raise SchemaError(
                    f"{path} was written by a newer Siyada (schema {version}); upgrade Siyada"
                )
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {version + 1}")


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taken at once (no lock upgrade mid-way), rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
