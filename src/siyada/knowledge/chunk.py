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
_SENTENCE = re.compile(r"\S.*?(?:[.!?؟۔…](?=\s)|$)", re.DOTALL)
"""A sentence: from a non-space character to the next sentence mark followed by a space."""
_NON_SPACE = re.compile(r"\S+")
HEADING_CHARS = 200
"""Headings longer than this are cut in heading paths (they are repeated in every chunk)."""


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


Span = tuple[int, int]


def _pack(spans: Iterable[Span], limit: int) -> Iterator[Span]:
    """Consecutive spans of a text merged into spans at most ``limit`` characters long."""
    current: Span | None = None
    for start, end in spans:
        if current is not None and end - current[0] > limit:
            yield current
            current = None
        current = (start, end) if current is None else (current[0], end)
    if current is not None:
        yield current


def _pieces(text: str, limit: int) -> Iterator[Span]:
    """Spans of ``text`` cut at sentence ends (or spaces, for a sentence too long), <= limit."""
    if len(text) <= limit:
        return iter([(0, len(text))])
    sentences = [match.span() for match in _SENTENCE.finditer(text)]
    parts = (
        part
        for start, end in sentences
        for part in (
            _pack(
                (
                    (start + m.start(), start + m.end())
                    for m in _NON_SPACE.finditer(text[start:end])
                ),
                limit,
            )
            if end - start > limit
            else [(start, end)]
        )
    )
    return _pack(parts, limit)


def sentence_spans(text: str) -> list[Span]:
    """Spans of the sentences of ``text``; a line (a list item, a table row) ends one too."""
    spans: list[Span] = []
    line_start = 0
    for line in text.split("\n"):
        spans.extend(
            (line_start + start, line_start + end)
            for start, end in (match.span() for match in _SENTENCE.finditer(line))
        )
        line_start += len(line) + 1
    return spans


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
    whole = document_text(blocks)
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
            # The document's own text between the pieces: its spacing and block separators.
            text = whole[start:end]
            path = tuple(title for _, title in headings)
            chunks.append(Chunk(len(chunks), text, path, page, start, end))
            parts.clear()
        page = None

    def add(piece: str, offset: int, block_page: int | None) -> None:
        nonlocal page
        if parts and offset + len(piece) - parts[0][1] > TARGET_CHARS:
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
            headings.append((block.level, block.text[:HEADING_CHARS]))
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
            for start, end in _pieces(block.text, MAX_CHARS):
                add(block.text[start:end], offset + start, block.page)
        offset += len(block.text) + len(BLOCK_SEPARATOR)
    flush()
    return chunks
