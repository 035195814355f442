"""The bundled example collection, as the README's main job ingests and searches it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import siyada

REPO = Path(__file__).resolve().parents[1]
FOLDERS = [str(REPO / "examples" / name) for name in ("fr", "ar", "zgh")]
EXPECTED = {
    "kifach njded lbita9a lwatania": {"تجديد-البطاقة-الوطنية.md"},
    "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ": {"tamazight-takarda.txt"},
    "how do I get a birth certificate": {"extrait-acte-de-naissance.md", "عقد-الازدياد.txt"},
    "شنو هوما الوراق ديال التسجيل فالتأمين الإجباري عن المرض": {
        "التأمين-الإجباري-عن-المرض.pdf",
        "amo-inscription.md",
    },
    "permis de construire délai commune": {"autorisation-de-construire.docx"},
    "dwa3m dyal ssqi goutte à goutte l lfellah": {"دعم-الري.html", "tamazight-aman.txt"},
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("examples-home")
    ingest = siyada(data, "ingest", *FOLDERS, "--collection", "examples", "--json", timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    summary = json.loads(ingest.stdout)
    assert summary["failed"] == 0 and summary["added"] == 10
    return data


def test_every_example_is_ingested_with_chunks(home: Path) -> None:
    shown = siyada(home, "collections", "show", "examples", "--json")
    records = [json.loads(line) for line in shown.stdout.splitlines()]
    assert len(records) == 10
    assert all(record["chunks"] > 0 for record in records)
    formats = {record["format"] for record in records}
    assert formats == {"markdown", "html", "text", "pdf", "docx"}


def test_demo_queries_find_their_documents(home: Path) -> None:
    queries = list(EXPECTED)
    answer = siyada(home, "search", "-c", "examples", "--json", "-k", "2", stdin="\n".join(queries))
    assert answer.returncode == 0, answer.stderr
    for query, line in zip(queries, answer.stdout.splitlines(), strict=True):
        results = json.loads(line)["results"]
        top_two = {Path(result["document"]).name for result in results}
        assert top_two & EXPECTED[query], (query, top_two)


def test_the_arabic_pdf_reads_in_reading_order(home: Path) -> None:
    answer = siyada(
        home, "search", "الوثائق المطلوبة للتأمين", "-c", "examples", "--json", "-k", "5"
    )
    texts = [
        r["text"] for r in json.loads(answer.stdout)["results"] if r["document"].endswith(".pdf")
    ]
    assert any("نسخة من البطاقة الوطنية للتعريف الإلكترونية" in text for text in texts)
    assert all("www.cnss.ma" in text for text in texts if "cnss" in text)


def test_filters_and_collection_commands(home: Path) -> None:
    listed = siyada(home, "collections", "--json")
    [summary] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (summary["name"], summary["documents"], summary["embedder"]) == ("examples", 10, "e5")
    query = "البطاقة الوطنية carte nationale"
    french = siyada(home, "search", query, "-c", "examples", "--json", "--language", "fra_Latn")
    languages = {result["language"] for result in json.loads(french.stdout)["results"]}
    assert languages == {"fra_Latn"}
    one = siyada(
        home, "search", query, "-c", "examples", "--json", "--document", "amo-inscription.md"
    )
    names = {Path(result["document"]).name for result in json.loads(one.stdout)["results"]}
    assert names == {"amo-inscription.md"}
    bad_label = siyada(home, "search", query, "-c", "examples", "--language", "xx")
    assert bad_label.returncode == 2 and "unknown language label" in bad_label.stderr


def test_deleting_a_collection(tmp_path: Path) -> None:
    assert siyada(tmp_path, "ingest", FOLDERS[0], "-c", "tmp", "--embedder", "none").returncode == 0
    assert siyada(tmp_path, "collections", "delete", "tmp").returncode == 0
    gone = siyada(tmp_path, "search", "carte", "-c", "tmp")
    assert gone.returncode == 2 and "no collection named 'tmp'" in gone.stderr
    again = siyada(tmp_path, "collections", "delete", "tmp")
    assert again.returncode == 2
