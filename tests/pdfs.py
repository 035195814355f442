"""PDFs written the way real generators write right-to-left text, for the parser tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import arabic_reshaper
import fontpkg_noto_sans_arabic
from bidi.algorithm import get_display
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

ARABIC_FONT = "NotoSansArabic"


def _register_font() -> None:
    if ARABIC_FONT not in pdfmetrics.getRegisteredFontNames():
        font_file = next((fontpkg_noto_sans_arabic.ROOT / "files").glob("*.ttf"))
        pdfmetrics.registerFont(TTFont(ARABIC_FONT, str(font_file)))


@dataclass(frozen=True)
class Line:
    text: str
    size: float = 12
    arabic: bool = True


def write_pdf(path: Path, pages: list[list[Line]], *, visual: bool) -> Path:
    """Right-aligned Arabic lines and left-aligned Latin ones.

    ``visual``: Arabic is shaped and drawn in display order (what Word, LibreOffice and
    browsers produce); otherwise the letters are drawn in reading order, unshaped, as naive
    generators do.
    """
    _register_font()
    page_canvas = canvas.Canvas(str(path))
    for lines in pages:
        y = 800.0
        for line in lines:
            if line.arabic:
                text = get_display(arabic_reshaper.reshape(line.text)) if visual else line.text
                page_canvas.setFont(ARABIC_FONT, line.size)
                page_canvas.drawRightString(550, y, text)
            else:
                page_canvas.setFont("Helvetica", line.size)
                page_canvas.drawString(40, y, line.text)
            y -= line.size * 2
        page_canvas.showPage()
    page_canvas.save()
    return path
