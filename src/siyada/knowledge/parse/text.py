"""Plain text: decoding whatever encoding the file uses, paragraphs split on blank lines."""

from __future__ import annotations

import re

from charset_normalizer import from_bytes

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument, ParseError

_BLANK_LINES = re.compile(r"\n\s*\n")
_LIST_MARKER = re.compile(r"^\s*(?:[-*•◦▪–]|\d{1,3}[.)]|[a-z][.)])\s+")
_BINARY_SAMPLE = 8192


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else the most likely legacy encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise ParseError("broken UTF-16 text (truncated or corrupt)") from None
    if b"\x00" in data[:_BINARY_SAMPLE]:
        raise ParseError("binary content, not text (wrong extension?)")
    try:
        return data.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        guess = from_bytes(data).best()
        if guess is None:
            raise ParseError("not text in any known encoding") from None
        return str(guess).replace("\r\n", "\n")


def text_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    for paragraph in _BLANK_LINES.split(text.replace("\r", "\n")):
        lines = [line.strip() for line in paragraph.splitlines() if line.strip()]
        if not lines:
            continue
        if all(_LIST_MARKER.match(line) for line in lines):
            blocks.extend(Block(BlockKind.LIST_ITEM, line) for line in lines)
        else:
            blocks.append(Block(BlockKind.PARAGRAPH, " ".join(lines)))
    return blocks


def parse_text(data: bytes) -> ParsedDocument:
    return ParsedDocument(text_blocks(decode_text(data)))
