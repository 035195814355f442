"""Every format becomes typed blocks: headings, paragraphs, list items, tables."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
from odf.opendocument import OpenDocumentText
from odf.table import Table, TableCell, TableRow
from odf.text import H, List, ListItem, P

from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.ingest import Outcome
from siyada.knowledge.parse import Block, BlockKind, ParseError, detect_format, parse
from siyada.knowledge.parse.text import decode_text
from siyada.knowledge.store import DEFAULT_TENANT


def _kinds(blocks: list[Block]) -> list[tuple[BlockKind, str]]:
    return [(block.kind, block.text) for block in blocks]


def test_markdown_structure_without_markup() -> None:
    source = (
        "# Carte nationale\n\nIntro **importante** avec [un lien](http://x.ma).\n\n"
        "## Pièces\n\n- photo\n- acte de naissance\n\n"
        "| frais | délai |\n|---|---|\n| 75 DH | 10 jours |\n"
    )
    document = parse("guide.md", source.encode())
    assert _kinds(document.blocks) == [
        (BlockKind.HEADING, "Carte nationale"),
        (BlockKind.PARAGRAPH, "Intro importante avec un lien."),
        (BlockKind.HEADING, "Pièces"),
        (BlockKind.LIST_ITEM, "photo"),
        (BlockKind.LIST_ITEM, "acte de naissance"),
        (BlockKind.TABLE, "frais | délai\n75 DH | 10 jours"),
    ]
    assert [block.level for block in document.blocks[:3]] == [1, 0, 2]
    assert document.title == "Carte nationale"


def test_html_drops_scripts_and_navigation_and_keeps_tables() -> None:
    page = """<html lang="ar" dir="rtl"><head><title>دعم الري</title>
    <meta name="date" content="2025-03-01"><style>p{}</style></head><body>
    <nav><a href="/">الرئيسية</a></nav><h1>دعم الري الموضعي</h1>
    <p>يستفيد الفلاح من <b>دعم</b> مالي.</p><script>var x = 1;</script>
    <ul><li><p>نسخة من البطاقة</p></li><li>شهادة الملكية</li></ul>
    <table><tr><th>المساحة</th><th>النسبة</th></tr>
    <tr><td>أقل من 5 هكتارات</td><td>100%</td></tr></table>
    </body></html>"""
    document = parse("page.html", page.encode())
    assert _kinds(document.blocks) == [
        (BlockKind.HEADING, "دعم الري الموضعي"),
        (BlockKind.PARAGRAPH, "يستفيد الفلاح من دعم مالي."),
        (BlockKind.LIST_ITEM, "نسخة من البطاقة"),
        (BlockKind.LIST_ITEM, "شهادة الملكية"),
        (BlockKind.TABLE, "المساحة | النسبة\nأقل من 5 هكتارات | 100%"),
    ]
    assert document.title == "دعم الري"
    assert document.date is not None and document.date.year == 2025


def test_docx_headings_lists_and_tables_in_order() -> None:
    word = docx.Document()
    word.core_properties.title = "AMO"
    word.add_heading("Inscription à l'AMO", level=1)
    word.add_paragraph("Les salariés sont inscrits par leur employeur.")
    word.add_paragraph("carte CNIE", style="List Bullet")
    table = word.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "statut", "cotisation"
    table.cell(1, 0).text, table.cell(1, 1).text = "indépendant", "forfait"
    word.add_heading("Délais", level=2)
    buffer = io.BytesIO()
    word.save(buffer)
    document = parse("amo.docx", buffer.getvalue())
    assert _kinds(document.blocks) == [
        (BlockKind.HEADING, "Inscription à l'AMO"),
        (BlockKind.PARAGRAPH, "Les salariés sont inscrits par leur employeur."),
        (BlockKind.LIST_ITEM, "carte CNIE"),
        (BlockKind.TABLE, "statut | cotisation\nindépendant | forfait"),
        (BlockKind.HEADING, "Délais"),
    ]
    assert document.title == "AMO"


def test_odt_headings_lists_and_tables() -> None:
    odt = OpenDocumentText()
    odt.text.addElement(H(outlinelevel=1, text="ⵜⴰⴽⴰⵔⴹⴰ"))
    odt.text.addElement(P(text="Paragraphe un."))
    items = List()
    item = ListItem()
    item.addElement(P(text="premier point"))
    items.addElement(item)
    odt.text.addElement(items)
    table = Table()
    row = TableRow()
    for value in ("a", "b"):
        cell = TableCell()
        cell.addElement(P(text=value))
        row.addElement(cell)
    table.addElement(row)
    odt.text.addElement(table)
    buffer = io.BytesIO()
    odt.write(buffer)
    document = parse("note.odt", buffer.getvalue())
    assert _kinds(document.blocks) == [
        (BlockKind.HEADING, "ⵜⴰⴽⴰⵔⴹⴰ"),
        (BlockKind.PARAGRAPH, "Paragraphe un."),
        (BlockKind.LIST_ITEM, "premier point"),
        (BlockKind.TABLE, "a | b"),
    ]


@pytest.mark.parametrize(
    ("encoded", "expected"),
    [
        ("تجديد البطاقة".encode("utf-8-sig"), "تجديد البطاقة"),
        ("تجديد البطاقة".encode("utf-16"), "تجديد البطاقة"),
        ("Le délai est de dix jours pour la carte nationale.".encode("cp1252"), "délai"),
    ],
)
def test_text_encodings(encoded: bytes, expected: str) -> None:
    assert expected in decode_text(encoded)


def test_text_paragraphs_and_lists() -> None:
    document = parse("a.txt", b"Titre\nsuite du titre\n\n- un\n- deux\n\r\nfin")
    assert _kinds(document.blocks) == [
        (BlockKind.PARAGRAPH, "Titre suite du titre"),
        (BlockKind.LIST_ITEM, "- un"),
        (BlockKind.LIST_ITEM, "- deux"),
        (BlockKind.PARAGRAPH, "fin"),
    ]


def test_format_comes_from_content_before_extension(tmp_path: Path) -> None:
    assert detect_format("report.txt", b"%PDF-1.7 ...") == "pdf"
    assert detect_format("page", b"<!DOCTYPE html><html></html>") == "html"
    with pytest.raises(ParseError, match="not a valid PDF"):
        detect_format("report.pdf", b"just text")
    with pytest.raises(ParseError, match="not a valid DOCX"):
        detect_format("letter.docx", b"plain text, not a zip")
    with pytest.raises(ParseError, match="zip archive"):
        detect_format("letter.docx", _zip_with("other.xml"))


def _zip_with(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "<x/>")
    return buffer.getvalue()


@pytest.mark.parametrize("content", [b"", b"   \n\t ", b"\x00\x01\x02binary"])
def test_empty_and_binary_files_are_refused(content: bytes) -> None:
    with pytest.raises(ParseError):
        parse("file.txt", content)


def _docx_with_body(xml: str) -> bytes:
    word = docx.Document()
    source = io.BytesIO()
    word.save(source)
    target = io.BytesIO()
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as broken:
        for item in original.infolist():
            content = original.read(item.filename)
            broken.writestr(item, xml if item.filename == "word/document.xml" else content)
    return target.getvalue()


def test_broken_files_inside_valid_containers_are_parse_errors() -> None:

    with pytest.raises(ParseError, match="UTF-16"):
        parse("bom.txt", b"\xff\xfeA")
    assert _kinds(parse("empty-heading.md", b"#\n\nJust a paragraph.").blocks) == [
        (BlockKind.PARAGRAPH, "Just a paragraph.")
    ]


def test_any_parser_failure_is_a_failed_file_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.docx").write_bytes(_docx_with_body("<w:document><unclosed"))
    (tmp_path / "docs" / "b.txt").write_bytes(b"\xff\xfeA")
    (tmp_path / "docs" / "c.txt").write_text("la carte nationale", encoding="utf-8")
    base = KnowledgeBase(Settings(data_dir=tmp_path / "home", embedder="none"))
    report = base.ingest(DEFAULT_TENANT, "c", [tmp_path / "docs"])
    outcomes = {Path(r.name).name: (r.outcome, r.reason) for r in report.results}
    assert outcomes["c.txt"][0] is Outcome.ADDED
    assert outcomes["a.docx"][0] is Outcome.FAILED and "corrupt" in str(outcomes["a.docx"][1])
    assert outcomes["b.txt"][0] is Outcome.FAILED and "UTF-16" in str(outcomes["b.txt"][1])
    base.close()


def test_zip_bombs_are_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w/>" + " " * (200 * 2**20))
    with pytest.raises(ParseError, match="zip bomb"):
        parse("bomb.docx", buffer.getvalue())
