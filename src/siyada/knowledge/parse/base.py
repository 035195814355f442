"""What every parser returns: the document as a sequence of typed blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class BlockKind(StrEnum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST_ITEM = "list_item"
    TABLE = "table"
    CODE = "code"


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    page: int | None = None
    """1-based page number for paginated formats (PDF), None otherwise."""
    level: int = 0
    """Heading level (1 is the top) for headings, 0 for other blocks."""


@dataclass(frozen=True)
class ParsedDocument:
    blocks: list[Block]
    pages: int = 0
    title: str | None = None
    date: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return any(block.text.strip() for block in self.blocks)


class ParseError(Exception):
    """The file cannot be read as a document; the message says why, for the ingest summary."""
