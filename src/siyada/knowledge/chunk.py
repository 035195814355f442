"""Cut a parsed document into chunks that follow its structure.

A chunk never crosses a heading; paragraphs and list items are packed together up to a target
size; a table small enough stays whole; a block too long is cut at sentence ends. Every chunk
knows its heading path, its page, and its character offsets in the document's text (its blocks
joined by blank lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from siyada.knowledge.parse import Block, BlockKind

TARGET_CHARS = 900
"""Chunks grow up to about this many characters (a few paragraphs; ~200-250 tokens)."""
MAX_CHARS = 1600
"""No chunk is longer than this, except that a single word is never split."""
BLOCK_SEPARATOR = "\n\n"
_SENTENCE_END = re.compile(r"(?<=[.!?؟۔…])\s+")


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    text: str
    headings: tuple[str, ...]
    page: int | None
    start: int
    end: int
    """Character offsets of ``text`` in the document text."""

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)


def _pack(parts: Iterable[str], limit: int) -> Iterator[str]:
    """Consecutive ``parts`` joined by spaces into pieces of at most ``limit`` characters."""
    piece = ""
    for part in parts:
        if piece and len(piece) + 1 + len(part) > limit:
            yield piece
            piece = part
        else:
            piece = f"{piece} {part}" if piece else part
    if piece:
        yield piece


def _pieces(text: str, limit: int) -> Iterator[str]:
    """``text`` cut at sentence ends (or spaces, for a sentence too long) into pieces <= limit."""
    if len(text) <= limit:
        return iter([text])
    parts = (
        part
        for sentence in _SENTENCE_END.split(text)
        for part in (_pack(sentence.split(), limit) if len(sentence) > limit else [sentence])
    )
    return _pack(parts, limit)


def _table_pieces(text: str, limit: int) -> Iterator[str]:
    """A table too big for one chunk, cut between rows, each piece repeating the header row."""
    header, *rows = text.split("\n")
    piece = header
    for row in rows:
        if len(piece) + 1 + len(row) > limit and piece != header:
            yield piece
            piece = header
        piece = f"{piece}\n{row}"
    yield piece


def document_text(blocks: list[Block]) -> str:
    return BLOCK_SEPARATOR.join(block.text for block in blocks)


def chunk_blocks(blocks: list[Block]) -> list[Chunk]:
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    parts: list[tuple[str, int]] = []
    """Pieces of the chunk being filled, with their offset in the document text."""
    page: int | None = None

    def flush() -> None:
        nonlocal page
        if parts:
            start = parts[0][1]
            end = parts[-1][1] + len(parts[-1][0])
            text = BLOCK_SEPARATOR.join(piece for piece, _ in parts)
            path = tuple(title for _, title in headings)
            chunks.append(Chunk(len(chunks), text, path, page, start, end))
            parts.clear()
        page = None

    def add(piece: str, offset: int, block_page: int | None) -> None:
        nonlocal page
        size = sum(len(text) + len(BLOCK_SEPARATOR) for text, _ in parts)
        if parts and size + len(piece) > TARGET_CHARS:
            flush()
        if not parts:
            page = block_page
        parts.append((piece, offset))

    offset = 0
    for block in blocks:
        if block.kind is BlockKind.HEADING:
            flush()
            while headings and headings[-1][0] >= block.level:
                headings.pop()
            headings.append((block.level, block.text))
        elif block.kind is BlockKind.TABLE:
            flush()
            rows_from = 0
            for number, piece in enumerate(_table_pieces(block.text, MAX_CHARS)):
                # Pieces after the first repeat the header: their offsets span their own rows.
                body = piece if number == 0 else piece.split("\n", 1)[1]
                rows_from = block.text.find(body, rows_from)
                start = offset + rows_from
                path = tuple(title for _, title in headings)
                chunks.append(Chunk(len(chunks), piece, path, block.page, start, start + len(body)))
        else:
            position = offset
            for piece in _pieces(block.text, MAX_CHARS):
                position = block.text.find(piece[:40], position - offset) + offset
                add(piece, position, block.page)
        offset += len(block.text) + len(BLOCK_SEPARATOR)
    flush()
    return chunks
