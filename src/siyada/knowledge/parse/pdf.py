"""PDF with PDFium (pypdfium2): lines in reading order, grouped into headings and paragraphs.

PDFium orders the characters of a right-to-left line itself, assuming the file drew them in
display order; files that drew Arabic in reading order come out reversed, and Latin runs inside
Arabic lines come out scrambled. So for every line holding Arabic the characters are put back in
display order from their positions on the page, and ``siyada.lang.direction`` decides which
reading of that drawing is Arabic.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import unicodedata
from dataclasses import dataclass
from datetime import datetime

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from siyada.knowledge.parse.base import Block, BlockKind, ParsedDocument, ParseError
from siyada.lang.direction import to_reading_order

_RIGHT_TO_LEFT = re.compile(r"[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFF]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
_PRESENTATION_FORMS = re.compile(r"[\uFB50-\uFDFF\uFE70-\uFEFF]")
_LIST_MARKER = re.compile(r"^(?:[-*•◦▪–]|\d{1,3}[.)]|[a-z][.)])\s")
_HEADING_SIZE_RATIO = 1.15
_HEADING_MAX_CHARS = 150
_PARAGRAPH_GAP_RATIO = 1.45
_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?")


@dataclass(frozen=True)
class _Line:
    text: str
    page: int
    baseline: float
    size: float


def _fold_presentation_forms(text: str) -> str:
    return _PRESENTATION_FORMS.sub(lambda match: unicodedata.normalize("NFKC", match[0]), text)


def _display_order(textpage: pdfium.PdfTextPage, start: int, line: str) -> str:
    """The characters of ``line`` (starting at char ``start``) sorted left to right on the page."""
    x, y = ctypes.c_double(), ctypes.c_double()
    positions: list[float | None] = []
    for offset in range(len(line)):
        index = start + offset
        placed = pdfium_c.FPDFText_IsGenerated(textpage.raw, index) != 1 and (
            pdfium_c.FPDFText_GetCharOrigin(textpage.raw, index, x, y)
        )
        positions.append(x.value if placed else None)
    known = [position for position in positions if position is not None]
    if not known:
        return line
    # A space PDFium inserted sits between its neighbours.
    filled: list[float] = []
    for offset, position in enumerate(positions):
        if position is not None:
            filled.append(position)
            continue
        before = next((p for p in reversed(positions[:offset]) if p is not None), None)
        after = next((p for p in positions[offset + 1 :] if p is not None), None)
        neighbours = [p for p in (before, after) if p is not None]
        filled.append(sum(neighbours) / len(neighbours))
    order = sorted(range(len(line)), key=filled.__getitem__)
    # A ligature (lam-alef) is one glyph that PDFium expands to its letters in reading order,
    # all at the glyph's position: in display order, right-to-left letters go the other way.
    groups = itertools.groupby(order, key=filled.__getitem__)
    display = []
    for _, group in groups:
        letters = [line[offset] for offset in group]
        if len(letters) > 1 and _RIGHT_TO_LEFT.match(letters[0]):
            letters.reverse()
        display.extend(letters)
    return "".join(display)


def _page_lines(textpage: pdfium.PdfTextPage, page_number: int) -> list[_Line]:
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count > 0 else ""
    positions_usable = len(text) == count
    right_to_left_page = len(_RIGHT_TO_LEFT.findall(text)) > len(_LATIN_LETTER.findall(text))
    x, y = ctypes.c_double(), ctypes.c_double()
    lines = []
    start = 0
    for raw_line in text.split("\r\n"):
        line_start, start = start, start + len(raw_line) + 2
        content = raw_line.strip()
        if not content:
            continue
        first = line_start + (len(raw_line) - len(raw_line.lstrip()))
        baseline = size = 0.0
        if positions_usable:
            if pdfium_c.FPDFText_GetCharOrigin(textpage.raw, first, x, y):
                baseline = y.value
            size = pdfium_c.FPDFText_GetFontSize(textpage.raw, first)
            if _RIGHT_TO_LEFT.search(raw_line):
                display = _display_order(textpage, line_start, raw_line)
                raw_line = to_reading_order(display, right_to_left_page)
        elif _RIGHT_TO_LEFT.search(raw_line):
            raw_line = to_reading_order(raw_line[::-1], right_to_left_page)
        text_line = " ".join(_fold_presentation_forms(raw_line).split())
        lines.append(_Line(text_line, page_number, baseline, size))
    return lines


def _document_date(pdf: pdfium.PdfDocument) -> datetime | None:
    metadata = pdf.get_metadata_dict(skip_empty=True)
    for key in ("ModDate", "CreationDate"):
        match = _PDF_DATE.match(metadata.get(key, ""))
        if match:
            try:
                return datetime(int(match[1]), int(match[2] or 1), int(match[3] or 1))
            except ValueError:
                continue
    return None


def _blocks(lines: list[_Line]) -> list[Block]:
    body_size = statistics.median(line.size for line in lines)
    heading_sizes = sorted(
        {round(line.size) for line in lines if line.size >= body_size * _HEADING_SIZE_RATIO},
        reverse=True,
    )
    gaps = [
        previous.baseline - line.baseline
        for previous, line in itertools.pairwise(lines)
        if previous.page == line.page and previous.baseline > line.baseline
    ]
    usual_gap = statistics.median(gaps) if gaps else 0.0
    blocks: list[Block] = []
    current: list[str] = []
    current_kind = BlockKind.PARAGRAPH
    current_page = 0

    def flush() -> None:
        if current:
            blocks.append(Block(current_kind, _join_lines(current), page=current_page))
            current.clear()

    previous: _Line | None = None
    for line in lines:
        is_heading = (
            line.size >= body_size * _HEADING_SIZE_RATIO and len(line.text) <= _HEADING_MAX_CHARS
        )
        if is_heading:
            flush()
            level = heading_sizes.index(round(line.size)) + 1
            blocks.append(Block(BlockKind.HEADING, line.text, page=line.page, level=level))
            previous = None
            continue
        starts_item = bool(_LIST_MARKER.match(line.text))
        breaks = (
            previous is None
            or previous.page != line.page
            or starts_item
            or (
                usual_gap > 0
                and previous.baseline - line.baseline > usual_gap * _PARAGRAPH_GAP_RATIO
            )
        )
        if breaks:
            flush()
            current_kind = BlockKind.LIST_ITEM if starts_item else BlockKind.PARAGRAPH
            current_page = line.page
        current.append(line.text)
        previous = line
    flush()
    return blocks


def _join_lines(lines: list[str]) -> str:
    text = lines[0]
    for line in lines[1:]:
        # A word cut by a hyphen at the end of a line is one word.
        if text.endswith("-") and len(text) > 1 and text[-2].isalpha() and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}"
    return text


def parse_pdf(data: bytes) -> ParsedDocument:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise ParseError("encrypted PDF: it needs a password, decrypt it first") from None
        raise ParseError(f"corrupt or unreadable PDF ({error})") from None
    try:
        lines: list[_Line] = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            lines.extend(_page_lines(textpage, index + 1))
            textpage.close()
            page.close()
        pages = len(pdf)
        date = _document_date(pdf)
    except pdfium.PdfiumError as error:
        raise ParseError(f"corrupt PDF page ({error})") from None
    finally:
        pdf.close()
    if not lines:
        raise ParseError(
            f"no text layer in {pages} page(s): image-only or scanned PDF"
            " (OCR is not supported yet)"
        )
    return ParsedDocument(_blocks(lines), pages=pages, date=date)
