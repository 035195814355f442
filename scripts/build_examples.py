"""Write the example collection's PDF and Word files from their text sources.

    .venv/bin/python scripts/build_examples.py

The Arabic PDF is written the way Word and browsers write Arabic (shaped glyphs in display
order), which most PDF text extractors return reversed: it shows the knowledge base reading it in
reading order. Sources: scripts/example_sources/ (hand-written for Siyada, CC BY-SA 4.0).
"""

from __future__ import annotations

import sys
from pathlib import Path

import docx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.pdfs import Line, write_pdf  # noqa: E402

SOURCES = REPO / "scripts" / "example_sources"
EXAMPLES = REPO / "examples"


def _arabic_pdf() -> None:
    lines = []
    for row in (SOURCES / "ar-amo.txt").read_text(encoding="utf-8").splitlines():
        if row.startswith("# "):
            lines.append(Line(row[2:], size=18))
        elif row.startswith("## "):
            lines.append(Line(row[3:], size=15))
        elif row.strip():
            lines.append(Line(row.replace("- ", "• ", 1) if row.startswith("- ") else row, size=11))
    write_pdf(EXAMPLES / "ar" / "التأمين-الإجباري-عن-المرض.pdf", [lines], visual=True)


def _french_docx() -> None:
    document = docx.Document()
    for row in (SOURCES / "fr-permis-construire.txt").read_text(encoding="utf-8").splitlines():
        if row.startswith("# "):
            document.add_heading(row[2:], level=1)
        elif row.startswith("## "):
            document.add_heading(row[3:], level=2)
        elif row.startswith("- "):
            document.add_paragraph(row[2:], style="List Bullet")
        elif row.strip():
            document.add_paragraph(row)
    document.core_properties.title = "Autorisation de construire"
    document.save(str(EXAMPLES / "fr" / "autorisation-de-construire.docx"))


if __name__ == "__main__":
    _arabic_pdf()
    _french_docx()
