"""Erasure (law 09-08, right to deletion): a document, or every trace of one identifier.

An identifier (a CIN, a phone number, an RIB, an e-mail...) is found whatever its spacing,
separators or digit script, replaced by ``[ERASED]`` in every chunk and conversation turn of
the tenants named, and the changed chunks' keys and vectors are computed again, so that no
index still holds it. Deleted database pages are zeroed (``secure_delete``) and the write-ahead
log is truncated; uploaded copies of the documents it was in are deleted, and source files
outside the data directory are reported, since they are the operator's to handle.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siyada.assistant.conversations import Conversations
from siyada.database import connect
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.chunk import Chunk
from siyada.knowledge.ingest import prepare_chunks
from siyada.knowledge.store import ChunkRewrite

ERASED = "[ERASED]"
_SEPARATORS = r"[\s.\-/]*"
_DIGITS = {str(n): f"[{n}{chr(0x660 + n)}{chr(0x6F0 + n)}]" for n in range(10)}
_PHONE = re.compile(r"(?:\+?212|00212)?0?([5-8]\d{8})")
_IGNORED = re.compile(r"[\s.\-/()]")


class ErasureError(Exception):
    """The value cannot be erased as given; the message says why."""


@dataclass
class ErasureReport:
    chunks: int = 0
    documents: int = 0
    turns: int = 0
    collections: list[str] = field(default_factory=list)
    deleted_copies: list[str] = field(default_factory=list)
    source_files: list[str] = field(default_factory=list)
    """Files outside the data directory that held the content: the operator's to erase."""
    log_not_emptied: bool = False
    """A reader kept the write-ahead log (older page images) from being emptied."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks,
            "documents": self.documents,
            "conversation_turns": self.turns,
            "collections": self.collections,
            "deleted_copies": self.deleted_copies,
            "source_files": self.source_files,
            "log_not_emptied": self.log_not_emptied,
        }


def _western(text: str) -> str:
    return "".join(
        str(int(c)) if c.isdigit() and not c.isascii() and c.isdecimal() else c for c in text
    )


def identifier_pattern(value: str) -> re.Pattern[str]:
    """A pattern for ``value`` in any spacing, separators (space . - /), digit script or
    letter case; a phone number also in its +212 / 00212 / 0 forms."""
    compact = _IGNORED.sub("", _western(value.strip()))
    if len(compact) < 4:
        raise ErasureError(f"{value!r} is too short to erase safely (at least 4 letters or digits)")
    phone = _PHONE.fullmatch(compact)
    if phone:
        zero, country = _DIGITS["0"], "".join(_DIGITS[d] for d in "212")
        # +212 6.., 00212 6.., (+212) 6.., +212 (0)6.., +2120 6.., 212 6.. (wa.me), 06..
        international = rf"\(?\s*(?:\+|{zero}{zero})\s*{country}\s*\)?"
        prefix = (
            rf"(?:(?:{international}|{country})\s*(?:\(\s*{zero}\s*\)|{zero})?|{zero})"
            + _SEPARATORS
        )
        core = prefix + _SEPARATORS.join(_DIGITS[d] for d in phone.group(1))
    else:
        core = _SEPARATORS.join(_DIGITS[c] if c in _DIGITS else re.escape(c) for c in compact)
    # Not inside a longer number or word (12345 is not erased from 9123456), except a RIB
    # inside its IBAN (MA64 + the 24 digits).
    before = r"(?:(?<![\w@])|(?<=[Mm][Aa]\d\d))" if compact.isdigit() else r"(?<![\w@])"
    return re.compile(rf"{before}{core}(?![\w@])", re.IGNORECASE)


def _rewrite(
    knowledge: KnowledgeBase, tenant: str, name: str, pattern: re.Pattern[str]
) -> tuple[int, set[str]]:
    """Erase ``pattern`` from one collection; the number of chunks and the documents changed."""
    collection = knowledge.collection(tenant, name)
    changed: list[tuple[int, Chunk]] = []
    paths: set[str] = set()
    before = {document.id: document.path for document in knowledge.store.documents(collection)}
    relabeled = knowledge.store.relabel_documents(
        collection, lambda label: pattern.sub(ERASED, label)
    )
    paths |= {before[document_id] for document_id in relabeled}
    for chunk in knowledge.store.chunk_texts(collection):
        text, in_text = pattern.subn(ERASED, chunk.text)
        heading, in_heading = pattern.subn(ERASED, chunk.heading_path)
        if in_text or in_heading:
            changed.append(
                (chunk.id, Chunk(0, text, (heading,) if heading else (), chunk.page, 0, 0))
            )
            paths.add(chunk.document_path)
    if not changed:
        if relabeled:
            knowledge.index(collection)
        return 0, paths
    embedder = knowledge.embedder(collection.embedder)
    prepared = prepare_chunks([chunk for _, chunk in changed], embedder)
    knowledge.store.rewrite_chunks(
        collection,
        [
            ChunkRewrite(chunk_id, new.text, new.heading_path, new.keys, new.embedding)
            for (chunk_id, _), new in zip(changed, prepared, strict=True)
        ],
    )
    knowledge.index(collection)  # rebuilt now: the previous generation's files are removed
    return len(changed), paths


def _dispose(knowledge: KnowledgeBase, paths: set[str], report: ErasureReport) -> None:
    uploads = knowledge.uploads_root
    for path in sorted(paths):
        source = Path(path)
        if source.resolve().is_relative_to(uploads):
            if source.exists():
                source.unlink()
                report.deleted_copies.append(path)
        else:
            report.source_files.append(path)


def _purge_freed_pages(knowledge: KnowledgeBase, report: ErasureReport) -> None:
    """Copy the write-ahead log into the database and empty it, so that the erased pages are
    nowhere; a reader (a running server) can keep that from finishing: then say so."""
    db = connect(knowledge.settings.database_path)
    try:
        for _ in range(20):
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return
            time.sleep(0.05)
        report.log_not_emptied = True
    finally:
        db.close()


def erase_identifier(
    knowledge: KnowledgeBase,
    conversations: Conversations,
    value: str,
    tenants: Sequence[str],
) -> ErasureReport:
    """Erase every occurrence of ``value`` from the tenants' collections and conversations."""
    pattern = identifier_pattern(value)
    report = ErasureReport()
    paths: set[str] = set()
    for tenant in tenants:
        for summary in knowledge.collections(tenant):
            chunks, documents = _rewrite(knowledge, tenant, summary.name, pattern)
            if chunks or documents:
                report.chunks += chunks
                report.documents += len(documents)
                report.collections.append(f"{tenant}/{summary.name}")
                paths |= documents
        report.turns += conversations.erase(tenant, pattern, ERASED)
    _dispose(knowledge, paths, report)
    _purge_freed_pages(knowledge, report)
    return report


def erase_document(knowledge: KnowledgeBase, tenant: str, document_id: int) -> ErasureReport:
    """Delete one document, its chunks and its uploaded copy; rebuild its collection's index."""
    collection, document = knowledge.store.find_document(tenant, document_id)
    chunks = document.chunks
    knowledge.store.delete_documents(collection, [document.path])
    knowledge.index(collection)
    report = ErasureReport(chunks=chunks, documents=1, collections=[f"{tenant}/{collection.name}"])
    _dispose(knowledge, {document.path}, report)
    _purge_freed_pages(knowledge, report)
    return report
