"""OpenDocument text with odfpy: headings, paragraphs, list items and tables in order."""

from __future__ import annotations

import io
import zipfile
from typing import Any
from xml.parsers.expat import ExpatError

from odf import teletype
from odf.namespaces import TABLENS, TEXTNS
from odf.opendocument import load
from odf.table import TableRow

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument, ParseError


def _text(element: Any) -> str:
    return " ".join(teletype.extractText(element).split())


def _walk(element: Any, blocks: list[Block], in_list: bool) -> None:
    for child in element.childNodes:
        name = getattr(child, "qname", None)
        if name == (TEXTNS, "h"):
            level_text = str(child.getAttrNS(TEXTNS, "outline-level") or "1")
            level = int(level_text) if level_text.isdigit() else 1
            if text := _text(child):
                blocks.append(Block(BlockKind.HEADING, text, level=level))
        elif name == (TEXTNS, "p"):
            if text := _text(child):
                blocks.append(Block(BlockKind.LIST_ITEM if in_list else BlockKind.PARAGRAPH, text))
        elif name == (TEXTNS, "list"):
            _walk(child, blocks, in_list=True)
        elif name == (TABLENS, "table"):
            rows = []
            for row in child.getElementsByType(TableRow):
                cells = [_text(cell) for cell in row.childNodes]
                if any(cells):
                    rows.append(" | ".join(cells))
            if rows:
                blocks.append(Block(BlockKind.TABLE, "\n".join(rows)))
        elif getattr(child, "childNodes", None):
            _walk(child, blocks, in_list)


def parse_odt(data: bytes) -> ParsedDocument:
    try:
        document = load(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ExpatError, ValueError) as error:
        raise ParseError(f"corrupt OpenDocument file ({error})") from None
    if document.text is None:
        raise ParseError("corrupt OpenDocument file (no text body)")
    blocks: list[Block] = []
    _walk(document.text, blocks, in_list=False)
    return ParsedDocument(blocks)
