"""Turn a file's bytes into typed blocks: PDF, Word, OpenDocument, HTML, Markdown or text."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import PurePath

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument, ParseError
from siyada.knowledge.parse.docx import parse_docx
from siyada.knowledge.parse.html import parse_html
from siyada.knowledge.parse.markdown import parse_markdown
from siyada.knowledge.parse.odt import parse_odt
from siyada.knowledge.parse.pdf import parse_pdf
from siyada.knowledge.parse.text import parse_text

Parser = Callable[[bytes], ParsedDocument]

PARSERS: dict[str, Parser] = {
    "pdf": parse_pdf,
    "docx": parse_docx,
    "odt": parse_odt,
    "html": parse_html,
    "markdown": parse_markdown,
    "text": parse_text,
}
EXTENSIONS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".odt": "odt",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
"""The files a folder ingest picks up."""

__all__ = [
    "EXTENSIONS",
    "Block",
    "BlockKind",
    "ParseError",
    "ParsedDocument",
    "detect_format",
    "parse",
]


MAX_EXPANSION = 40
"""A zip (DOCX, ODT) may unpack to at most this many times its size, plus EXPANSION_FLOOR."""
EXPANSION_FLOOR = 64 * 2**20


def _zip_format(data: bytes) -> str | None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_EXPANSION * len(data) + EXPANSION_FLOOR:
                raise ParseError(
                    f"refused: it would unpack to {unpacked / 2**20:.0f} MB (a zip bomb?)"
                )
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "mimetype" in names and archive.read("mimetype").startswith(
                b"application/vnd.oasis.opendocument.text"
            ):
                return "odt"
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def detect_format(name: str, data: bytes) -> str:
    """The format from the content first (a PDF named .txt is a PDF), the extension second."""
    expected = EXTENSIONS.get(PurePath(name).suffix.lower())
    if data.startswith(b"%PDF-") or (expected == "pdf" and b"%PDF-" in data[:1024]):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        found = _zip_format(data)
        if found is None:
            raise ParseError("a zip archive that is not a Word or OpenDocument text file")
        return found
    if expected in ("pdf", "docx", "odt"):
        raise ParseError(f"not a valid {expected.upper()} file (its content does not match)")
    if expected is None:
        head = data[:512].lstrip().lower()
        return "html" if head.startswith((b"<!doctype html", b"<html")) else "text"
    return expected


def parse(name: str, data: bytes) -> ParsedDocument:
    """Parse a file's content; ``name`` (its path) only hints at the format."""
    if not data.strip():
        raise ParseError("empty file")
    return PARSERS[detect_format(name, data)](data)
