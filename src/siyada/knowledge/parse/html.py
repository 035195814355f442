"""HTML with selectolax (lexbor): the blocks of the page, without scripts, styles and navigation."""

from __future__ import annotations

from datetime import datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument
from siyada.knowledge.parse.text import decode_text, text_blocks

_DROPPED = "script, style, noscript, template, nav, svg, iframe, form, button"
_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, dt, dd, table, pre, blockquote, figcaption, address"
_DATE_META = (
    'meta[name="date"]',
    'meta[property="article:published_time"]',
    'meta[name="dcterms.date"]',
    'meta[name="DC.date"]',
)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _table_text(table: LexborNode) -> str:
    rows = []
    for row in table.css("tr"):
        cells = [_clean(cell.text(separator=" ")) for cell in row.css("th, td")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _has_block_ancestor(node: LexborNode, chosen: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in chosen:
            return True
        parent = parent.parent
    return False


def _block(node: LexborNode) -> Block | None:
    tag = node.tag or ""
    if tag == "table":
        text = _table_text(node)
        return Block(BlockKind.TABLE, text) if text else None
    text = _clean(node.text(separator=" "))
    if not text:
        return None
    if len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
        return Block(BlockKind.HEADING, text, level=int(tag[1]))
    if tag == "li":
        return Block(BlockKind.LIST_ITEM, text)
    if tag == "pre":
        return Block(BlockKind.CODE, node.text().rstrip())
    return Block(BlockKind.PARAGRAPH, text)


def _date(tree: LexborHTMLParser) -> datetime | None:
    for selector in _DATE_META:
        node = tree.css_first(selector)
        content = node.attributes.get("content") if node is not None else None
        if content:
            try:
                return datetime.fromisoformat(content.strip().replace("Z", "+00:00"))
            except ValueError:
                continue
    return None


def parse_html(data: bytes) -> ParsedDocument:
    tree = LexborHTMLParser(decode_text(data))
    title_node = tree.css_first("title")
    title = _clean(title_node.text()) if title_node is not None else None
    root = tree.body or tree.root
    if root is None:
        return ParsedDocument([], title=title)
    for node in root.css(_DROPPED):
        node.decompose()
    nodes = root.css(_BLOCKS)
    chosen = {node.mem_id for node in nodes}
    blocks = [
        block
        for node in nodes
        if not _has_block_ancestor(node, chosen) and (block := _block(node)) is not None
    ]
    if not blocks:
        blocks = text_blocks(root.text(separator="\n"))
    return ParsedDocument(blocks, title=title or None, date=_date(tree))
