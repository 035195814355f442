"""Arabic PDFs come out in reading order, whichever way the generator drew them."""

from __future__ import annotations

from pathlib import Path

import pytest

from siyada.knowledge.parse import BlockKind, ParseError, parse
from siyada.lang import normalize
from tests.pdfs import Line, write_pdf

TITLE = "تجديد البطاقة الوطنية للتعريف الإلكترونية"
BODY = [
    "يجب تقديم طلب عبر الموقع www.cnie.ma قبل 30 يوما من انتهاء الصلاحية",
    "الرسوم: 75 درهما (تدفع إلكترونيا)",
    "تسحب البطاقة من مفوضية الشرطة بعد عشرة أيام",
]
FRENCH = "Renouvellement de la carte nationale (CNIE) : 75 dirhams."


def _page() -> list[Line]:
    return [Line(TITLE, size=18), *(Line(text) for text in BODY), Line(FRENCH, arabic=False)]


def _text(path: Path) -> str:
    document = parse(path.name, path.read_bytes())
    return "\n".join(block.text for block in document.blocks)


@pytest.mark.parametrize("visual", [True, False], ids=["display-order", "reading-order"])
def test_arabic_lines_come_out_in_reading_order(tmp_path: Path, visual: bool) -> None:
    path = write_pdf(tmp_path / "cnie.pdf", [_page()], visual=visual)
    text = normalize(_text(path))
    for expected in [TITLE, *BODY, FRENCH]:
        assert normalize(expected) in text


def test_reversed_text_is_not_what_comes_out(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "cnie.pdf", [_page()], visual=True)
    text = normalize(_text(path))
    assert normalize(TITLE)[::-1] not in text
    assert "www.cnie.ma" in text and "ma.cnie.www" not in text


def test_headings_pages_and_paragraphs(tmp_path: Path) -> None:
    pages = [_page(), [Line("الصفحة الثانية", size=18), Line("نص الصفحة الثانية عن الموعد")]]
    path = write_pdf(tmp_path / "two.pdf", pages, visual=True)
    document = parse(path.name, path.read_bytes())
    assert document.pages == 2
    headings = [block for block in document.blocks if block.kind is BlockKind.HEADING]
    assert [normalize(block.text) for block in headings] == [
        normalize(TITLE),
        normalize("الصفحة الثانية"),
    ]
    assert [block.page for block in headings] == [1, 2]
    second_page = [block for block in document.blocks if block.page == 2]
    assert normalize("نص الصفحة الثانية عن الموعد") in normalize(second_page[-1].text)


def test_french_only_pdf_is_untouched(tmp_path: Path) -> None:
    lines = [Line("Procédure de renouvellement", size=18, arabic=False), Line(FRENCH, arabic=False)]
    path = write_pdf(tmp_path / "fr.pdf", [lines], visual=True)
    assert _text(path).splitlines() == ["Procédure de renouvellement", FRENCH]


def test_image_only_pdf_says_there_is_no_text_layer(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [[]], visual=True)
    with pytest.raises(ParseError, match="no text layer"):
        parse(path.name, path.read_bytes())


def test_corrupt_pdf_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="corrupt"):
        parse("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100)
