"""Ingest files into a collection: find, read once, hash, parse, chunk, key, embed, store.

Each document is written in one store transaction, so an interrupted run (even ``kill -9``)
leaves every document either as it was or fully replaced; rerunning finishes the job.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

import numpy as np

from siyada.governance.pii import mask
from siyada.knowledge.chunk import Chunk, chunk_blocks
from siyada.knowledge.embed import EMBED_BATCH, Embedder
from siyada.knowledge.keys import text_keys
from siyada.knowledge.parse import EXTENSIONS, ParseError, detect_format, parse
from siyada.knowledge.store import Collection, NewChunk, NewDocument, Store
from siyada.lang import identify_batch
from siyada.lang.translit.tifinagh import in_latin_letters


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    PRUNED = "pruned"


@dataclass(frozen=True)
class FileResult:
    name: str
    outcome: Outcome
    reason: str | None = None
    pages: int = 0
    chunks: int = 0


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(result.outcome is outcome for result in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.results if result.outcome is Outcome.FAILED]

    @property
    def pages(self) -> int:
        return sum(result.pages for result in self.results)


@dataclass(frozen=True)
class Source:
    path: Path
    """Absolute path."""
    name: str
    """As the user named it (the argument, or the argument joined with the path below it)."""


def _hidden(name: str) -> bool:
    return name.startswith(".")


def discover(arguments: Sequence[Path]) -> tuple[list[Source], list[FileResult]]:
    """Files to ingest under ``arguments`` (folders recursively, supported extensions only)."""
    sources: list[Source] = []
    missing: list[FileResult] = []
    for argument in arguments:
        if argument.is_dir():
            for folder, subfolders, files in os.walk(argument):
                subfolders[:] = sorted(name for name in subfolders if not _hidden(name))
                for file_name in sorted(files):
                    if _hidden(file_name) or Path(file_name).suffix.lower() not in EXTENSIONS:
                        continue
                    path = Path(folder) / file_name
                    if path.is_file():
                        sources.append(Source(path.resolve(), str(path)))
                    else:
                        missing.append(FileResult(str(path), Outcome.FAILED, _not_a_file(path)))
        elif argument.is_file():
            sources.append(Source(argument.resolve(), str(argument)))
        else:
            missing.append(FileResult(str(argument), Outcome.FAILED, _not_a_file(argument)))
    unique = list({source.path: source for source in sources}.values())
    return unique, missing


def _not_a_file(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link"
    if not path.exists():
        return "no such file or folder"
    return "not a regular file (a pipe, socket or device)"


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0")


def _read(source: Source, max_bytes: int) -> bytes:
    try:
        # Non-blocking open: a pipe put in place of the file must not hang the ingest.
        descriptor = os.open(source.path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise ParseError("not a regular file (a pipe, socket or device)")
            if status.st_size > max_bytes:
                raise ParseError(
                    f"too large ({_megabytes(status.st_size)} MB, limit"
                    f" {_megabytes(max_bytes)} MB; raise it with --max-file-mb)"
                )
            os.set_blocking(handle.fileno(), True)
            return handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ParseError("the file vanished before it could be read") from None
    except PermissionError:
        raise ParseError("permission denied: Siyada cannot read this file") from None
    except IsADirectoryError:
        raise ParseError("a folder, not a file") from None
    except OSError as error:
        raise ParseError(f"cannot read it ({error.strerror or error})") from None


def prepare_chunks(chunks: list[Chunk], embedder: Embedder | None) -> list[NewChunk]:
    """Chunks with their language, lexical keys and embedding, ready to store."""
    indexed_texts = [f"{chunk.heading_path}\n{chunk.text}".strip() for chunk in chunks]
    labels = identify_batch([chunk.text for chunk in chunks])
    vectors: list[bytes | None] = [None] * len(chunks)
    if embedder is not None:
        embedded_texts = [in_latin_letters(text) for text in indexed_texts]
        for start in range(0, len(chunks), EMBED_BATCH):
            batch = embedder.embed_passages(embedded_texts[start : start + EMBED_BATCH])
            for offset, vector in enumerate(np.asarray(batch, dtype=np.float32)):
                vectors[start + offset] = vector.tobytes()
    return [
        NewChunk(
            ordinal=chunk.ordinal,
            text=chunk.text,
            heading_path=chunk.heading_path,
            page=chunk.page,
            start=chunk.start,
            end=chunk.end,
            language=found.label.value,
            script=found.script.value,
            keys=" ".join(text_keys(indexed, found.label)),
            embedding=vector,
        )
        for chunk, found, indexed, vector in zip(
            chunks, labels, indexed_texts, vectors, strict=True
        )
    ]


def redacted(chunk: Chunk) -> Chunk:
    """The chunk with personal identifiers masked (``[CIN]``, ``[PHONE]``...)."""
    return replace(
        chunk, text=mask(chunk.text), headings=tuple(mask(heading) for heading in chunk.headings)
    )


def ingest_file(
    store: Store,
    collection: Collection,
    source: Source,
    known_hashes: dict[str, str],
    embedder: Embedder | None,
    max_bytes: int,
) -> FileResult:
    previous = known_hashes.get(str(source.path))
    try:
        data = _read(source, max_bytes)
        content_hash = hashlib.sha256(data).hexdigest()
        if previous == content_hash:
            return FileResult(source.name, Outcome.UNCHANGED)
        file_format = detect_format(source.name, data)
        parsed = parse(source.name, data)
        if not parsed.has_text:
            raise ParseError("no text found in it")
        chunked = chunk_blocks(parsed.blocks)
        if collection.pii_redaction == "mask":
            chunked = [redacted(chunk) for chunk in chunked]
        chunks = prepare_chunks(chunked, embedder)
    except ParseError as error:
        kept = "; its previous version stays searchable" if previous is not None else ""
        return FileResult(source.name, Outcome.FAILED, f"{error}{kept}")
    except RecursionError:
        return FileResult(source.name, Outcome.FAILED, "too deeply nested to parse")
    except Exception as error:
        reason = f"corrupt or unreadable ({type(error).__name__}: {error})"
        return FileResult(source.name, Outcome.FAILED, reason[:300])
    document = NewDocument(
        path=str(source.path),
        name=mask(source.name) if collection.pii_redaction == "mask" else source.name,
        content_hash=content_hash,
        size=len(data),
        pages=parsed.pages,
        title=mask(parsed.title)
        if parsed.title and collection.pii_redaction == "mask"
        else parsed.title,
        date=parsed.date,
        format=file_format,
    )
    store.replace_document(collection, document, chunks)
    known_hashes[str(source.path)] = content_hash
    outcome = Outcome.ADDED if previous is None else Outcome.UPDATED
    return FileResult(source.name, outcome, pages=parsed.pages, chunks=len(chunks))


def ingest(
    store: Store,
    collection: Collection,
    arguments: Sequence[Path],
    *,
    embedder: Embedder | None,
    max_bytes: int,
    prune: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    relative_to: Path | None = None,
) -> IngestReport:
    """Ingest the files under ``arguments``; documents are named as the arguments name them,
    or relative to ``relative_to`` (uploads, whose folder on the server is nobody's business)."""
    sources, missing = discover(arguments)
    if relative_to is not None:
        base = relative_to.resolve()
        sources = [
            Source(source.path, str(source.path.relative_to(base)))
            if source.path.is_relative_to(base)
            else source
            for source in sources
        ]
    report = IngestReport(list(missing))
    if on_start is not None:
        on_start(len(sources))
    known_hashes = {record.path: record.content_hash for record in store.documents(collection)}
    for source in sources:
        result = ingest_file(store, collection, source, known_hashes, embedder, max_bytes)
        report.results.append(result)
        if on_file is not None:
            on_file(result)
    if prune:
        report.results.extend(_prune(store, collection, arguments, sources))
    return report


def _prune(
    store: Store, collection: Collection, arguments: Sequence[Path], sources: list[Source]
) -> list[FileResult]:
    """Documents under the ingested folders whose files are gone."""
    roots = [argument.resolve() for argument in arguments]
    seen = {str(source.path) for source in sources}
    gone = [
        record
        for record in store.documents(collection)
        if record.path not in seen
        and any(Path(record.path).is_relative_to(root) for root in roots)
        and not Path(record.path).exists()
    ]
    store.delete_documents(collection, [record.path for record in gone])
    return [FileResult(record.name, Outcome.PRUNED) for record in gone]
