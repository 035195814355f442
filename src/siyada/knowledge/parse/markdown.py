"""Markdown with markdown-it-py: headings, paragraphs, list items, tables and code blocks."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.token import Token

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument
from siyada.knowledge.parse.text import decode_text

_PARSER = MarkdownIt("commonmark").enable("table")


def _inline_text(token: Token) -> str:
    """The words of an inline token, without markup (emphasis, links, images' syntax)."""
    parts = [
        child.content if child.type in ("text", "code_inline") else " "
        for child in token.children or []
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    ]
    return " ".join("".join(parts).split())


def parse_markdown(data: bytes) -> ParsedDocument:
    tokens = _PARSER.parse(decode_text(data))
    blocks: list[Block] = []
    list_depth = 0
    heading_level = 0
    table_rows: list[list[str]] | None = None
    for token in tokens:
        if token.type in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif token.type == "heading_open":
            heading_level = int(token.tag[1:])
        elif token.type == "heading_close":
            heading_level = 0
        elif token.type == "table_open":
            table_rows = []
        elif token.type == "tr_open" and table_rows is not None:
            table_rows.append([])
        elif token.type == "table_close" and table_rows is not None:
            rows = [" | ".join(cells) for cells in table_rows if any(cells)]
            blocks.append(Block(BlockKind.TABLE, "\n".join(rows)))
            table_rows = None
        elif token.type in ("fence", "code_block") and token.content.strip():
            blocks.append(Block(BlockKind.CODE, token.content.rstrip()))
        elif token.type == "inline":
            text = _inline_text(token)
            if table_rows is not None:
                table_rows[-1].append(text)
            elif not text:
                continue
            elif heading_level:
                blocks.append(Block(BlockKind.HEADING, text, level=heading_level))
                heading_level = 0
            elif list_depth:
                blocks.append(Block(BlockKind.LIST_ITEM, text))
            else:
                blocks.append(Block(BlockKind.PARAGRAPH, text))
    title = next((block.text for block in blocks if block.kind is BlockKind.HEADING), None)
    return ParsedDocument(blocks, title=title)
