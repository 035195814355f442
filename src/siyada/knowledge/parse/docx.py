"""Word documents with python-docx: body paragraphs and tables in document order."""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument, ParseError

_HEADING_STYLE = re.compile(r"^(?:heading|titre|título|عنوان)\s*(\d)$", re.IGNORECASE)


def _paragraph_block(paragraph: Paragraph) -> Block | None:
    text = " ".join(paragraph.text.split())
    if not text:
        return None
    style = paragraph.style.name if paragraph.style is not None else ""
    style = style or ""
    if style == "Title":
        return Block(BlockKind.HEADING, text, level=1)
    heading = _HEADING_STYLE.match(style)
    if heading:
        return Block(BlockKind.HEADING, text, level=int(heading.group(1)))
    properties = paragraph._p.pPr
    numbered = properties is not None and properties.find(qn("w:numPr")) is not None
    if numbered or style.lower().startswith("list"):
        return Block(BlockKind.LIST_ITEM, text)
    return Block(BlockKind.PARAGRAPH, text)


def _table_block(table: Table) -> Block | None:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            # Merged cells repeat themselves once per grid column.
            if not cells or cells[-1] != text:
                cells.append(text)
        if any(cells):
            rows.append(" | ".join(cells))
    return Block(BlockKind.TABLE, "\n".join(rows)) if rows else None


def _blocks(document: Document) -> list[Block]:
    blocks = []
    for child in document.element.body.iterchildren():
        if child.tag == qn("w:p"):
            block = _paragraph_block(Paragraph(child, document))
        elif child.tag == qn("w:tbl"):
            block = _table_block(Table(child, document))
        else:
            continue
        if block is not None:
            blocks.append(block)
    return blocks


def parse_docx(data: bytes) -> ParsedDocument:
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ParseError(f"corrupt Word document ({error})") from None
    properties = document.core_properties
    return ParsedDocument(
        _blocks(document),
        title=properties.title or None,
        date=properties.modified or properties.created,
    )
