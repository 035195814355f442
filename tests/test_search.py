"""Chunking, cross-script keys, and search through the knowledge-base service."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from siyada.config import Settings
from siyada.knowledge import Filters, KnowledgeBase, SearchMode
from siyada.knowledge.chunk import MAX_CHARS, TARGET_CHARS, chunk_blocks, document_text
from siyada.knowledge.embed import EmbeddingError, OpenAIEmbedder, make_embedder
from siyada.knowledge.keys import query_keys, skeleton, text_keys
from siyada.knowledge.parse import Block, BlockKind
from siyada.knowledge.store import DEFAULT_TENANT, StoreError
from siyada.lang import Label

ARABIC_GUIDE = """# تجديد البطاقة الوطنية

## الوثائق المطلوبة

يجب تقديم نسخة من عقد الازدياد وصورتين شمسيتين عند تجديد البطاقة الوطنية للتعريف.

## الرسوم

تبلغ رسوم التجديد 75 درهما تدفع بطابع إلكتروني.
"""
FRENCH_GUIDE = """# Subvention à l'irrigation goutte à goutte

Les agriculteurs reçoivent une aide du Fonds de développement agricole pour l'irrigation localisée.

## Dossier

Le dossier est déposé à la direction provinciale de l'agriculture de Marrakech.
"""
TAMAZIGHT_NOTE = "takarḍa tanamurt : aselkem n tkarḍa deg 10 wussan.\n"


def test_chunks_follow_headings_and_keep_offsets() -> None:
    blocks = [
        Block(BlockKind.HEADING, "Guide", level=1),
        Block(BlockKind.PARAGRAPH, "Intro."),
        Block(BlockKind.HEADING, "Pièces", level=2),
        Block(BlockKind.LIST_ITEM, "photo"),
        Block(BlockKind.LIST_ITEM, "acte"),
        Block(BlockKind.HEADING, "Frais", level=2),
        Block(BlockKind.TABLE, "frais | délai\n75 | 10"),
    ]
    chunks = chunk_blocks(blocks)
    assert [(chunk.headings, chunk.text) for chunk in chunks] == [
        (("Guide",), "Intro."),
        (("Guide", "Pièces"), "photo\n\nacte"),
        (("Guide", "Frais"), "frais | délai\n75 | 10"),
    ]
    text = document_text(blocks)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text


def test_long_paragraphs_are_cut_at_sentences_within_the_limit() -> None:
    sentence = "La carte nationale se renouvelle tous les dix ans auprès de la police. "
    blocks = [Block(BlockKind.PARAGRAPH, (sentence * 80).strip(), page=3)]
    chunks = chunk_blocks(blocks)
    assert len(chunks) > 3
    assert all(len(chunk.text) <= MAX_CHARS for chunk in chunks)
    assert all(chunk.text.endswith(".") and chunk.page == 3 for chunk in chunks)
    assert max(len(chunk.text) for chunk in chunks) > TARGET_CHARS // 2
    text = document_text(blocks)
    assert all(text[chunk.start : chunk.end] == chunk.text for chunk in chunks)


def test_large_tables_repeat_their_header() -> None:
    rows = "\n".join(f"commune {n} | {n * 10} DH" for n in range(300))
    table = f"commune | frais\n{rows}"
    chunks = chunk_blocks([Block(BlockKind.TABLE, table)])
    assert len(chunks) > 1
    assert all(chunk.text.startswith("commune | frais\n") for chunk in chunks)
    assert all(len(chunk.text) <= MAX_CHARS for chunk in chunks)
    for chunk in chunks:
        own_rows = chunk.text.split("\n", 1)[1] if chunk.ordinal else chunk.text
        assert table[chunk.start : chunk.end] == own_rows
    assert chunks[-1].text.endswith("commune 299 | 2990 DH")


def test_keys_meet_across_scripts() -> None:
    def shared(query: str, label: Label, passage: str, passage_label: Label) -> set[str]:
        return set(query_keys(query, label)) & set(text_keys(passage, passage_label))

    assert {"a:بطاق", "a:وطن"} <= shared(
        "kifach njded lbita9a lwatania", Label.ARY_LATN, "تجديد البطاقة الوطنية", Label.ARB_ARAB
    )
    assert {"b:takarda", "b:tanamurt"} <= shared(
        "ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ", Label.ZGH_TFNG, "takarḍa tanamurt", Label.BER_LATN
    )
    assert "n:2026" in shared("عام ٢٠٢٦", Label.ARB_ARAB, "en 2026", Label.FRA_LATN)
    assert skeleton("Paris") == skeleton("باريس") == "brs"
    assert skeleton("Marrakech") == skeleton("مراكش")


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    tmp_path = tmp_path_factory.mktemp("knowledge")
    documents = tmp_path / "docs"
    documents.mkdir()
    (documents / "cnie.md").write_text(ARABIC_GUIDE, encoding="utf-8")
    (documents / "irrigation.md").write_text(FRENCH_GUIDE, encoding="utf-8")
    (documents / "takarda.txt").write_text(TAMAZIGHT_NOTE, encoding="utf-8")
    base = KnowledgeBase(Settings(data_dir=tmp_path / "home", embedder="e5"))
    report = base.ingest(DEFAULT_TENANT, "guides", [documents])
    assert not report.failed
    yield base
    base.close()


def _top_documents(base: KnowledgeBase, query: str, **options: object) -> list[str]:
    [results] = base.search(DEFAULT_TENANT, "guides", [query], **options)  # type: ignore[arg-type]
    return [Path(hit.chunk.document).name for hit in results.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kifach njded lbita9a lwatania", "cnie.md"),
        ("كيفاش نجدد البطاقة الوطنية", "cnie.md"),
        ("ⵜⴰⴽⴰⵔⴹⴰ ⵜⴰⵏⴰⵎⵓⵔⵜ", "takarda.txt"),
        ("subvention irrigation goutte à goutte", "irrigation.md"),
    ],
)
@pytest.mark.parametrize("mode", [SearchMode.FUSED, SearchMode.LEXICAL])
def test_queries_find_their_passage_in_any_script(
    knowledge: KnowledgeBase, query: str, expected: str, mode: SearchMode
) -> None:
    assert _top_documents(knowledge, query, k=3, mode=mode)[0] == expected


def test_english_finds_french_through_the_dense_side(knowledge: KnowledgeBase) -> None:
    query = "where do farmers apply for a drip irrigation grant"
    assert _top_documents(knowledge, query, k=1, mode=SearchMode.DENSE) == ["irrigation.md"]
    assert _top_documents(knowledge, query, k=1, mode=SearchMode.FUSED) == ["irrigation.md"]


def test_results_carry_heading_page_and_language(knowledge: KnowledgeBase) -> None:
    [results] = knowledge.search(DEFAULT_TENANT, "guides", ["رسوم التجديد 75 درهما"], k=1)
    [hit] = results.hits
    assert hit.chunk.heading_path == "تجديد البطاقة الوطنية > الرسوم"
    assert "75" in hit.chunk.text and hit.chunk.language in ("arb_Arab", "ary_Arab")
    assert hit.chunk.page is None


def test_filters(knowledge: KnowledgeBase) -> None:
    query = "البطاقة الوطنية irrigation takarḍa"
    only_french = _top_documents(knowledge, query, filters=Filters(language=Label.FRA_LATN))
    assert set(only_french) == {"irrigation.md"}
    only_one = _top_documents(knowledge, query, filters=Filters(documents=("cnie.md",)))
    assert set(only_one) == {"cnie.md"}
    long_ago = Filters(until=date(1990, 1, 1))
    assert _top_documents(knowledge, query, filters=long_ago) == []


def test_dense_is_refused_without_embeddings_and_lexical_still_works(tmp_path: Path) -> None:
    documents = tmp_path / "docs"
    documents.mkdir()
    (documents / "cnie.md").write_text(ARABIC_GUIDE, encoding="utf-8")
    base = KnowledgeBase(Settings(data_dir=tmp_path / "home", embedder="none"))
    base.ingest(DEFAULT_TENANT, "plain", [documents])
    [results] = base.search(DEFAULT_TENANT, "plain", ["lbita9a lwatania"])
    assert [Path(hit.chunk.document).name for hit in results.hits][:1] == ["cnie.md"]
    with pytest.raises(StoreError, match="no embeddings"):
        base.search(DEFAULT_TENANT, "plain", ["x"], mode=SearchMode.DENSE)
    with pytest.raises(StoreError, match="no collection named 'other'"):
        base.search(DEFAULT_TENANT, "other", ["x"])
    base.close()


def test_index_follows_changes_across_processes(tmp_path: Path) -> None:
    documents = tmp_path / "docs"
    documents.mkdir()
    note = documents / "note.txt"
    note.write_text("le guichet unique ouvre à huit heures", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "home", embedder="none")
    reader = KnowledgeBase(settings)
    writer = KnowledgeBase(settings)
    writer.ingest(DEFAULT_TENANT, "c", [documents])
    [before] = reader.search(DEFAULT_TENANT, "c", ["guichet"])
    assert len(before.hits) == 1
    note.write_text("la permanence ferme à midi", encoding="utf-8")
    writer.ingest(DEFAULT_TENANT, "c", [documents])
    [after] = reader.search(DEFAULT_TENANT, "c", ["guichet"])
    assert after.hits == []
    [found] = reader.search(DEFAULT_TENANT, "c", ["permanence"])
    assert len(found.hits) == 1
    reader.close()
    writer.close()


class _FakeEmbeddings(BaseHTTPRequestHandler):
    """Speaks OpenAI's /v1/embeddings: a vector of letter counts, so similar texts are close."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/embeddings":
            self.send_error(404)
            return
        data = []
        for index, text in enumerate(body["input"]):
            vector = [text.lower().count(letter) + 0.01 for letter in "abcdefghijklmnopqrstuvwxyz"]
            data.append({"object": "embedding", "index": index, "embedding": vector})
        payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def embedding_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_openai_compatible_embedder(embedding_server: str, tmp_path: Path) -> None:
    embedder = OpenAIEmbedder(embedding_server, "letters")
    assert embedder.dim == 26
    vectors = embedder.embed_passages(["aaa", "zzz"])
    assert vectors.shape == (2, 26)
    assert np.argmax(vectors[0]) == 0 and np.argmax(vectors[1]) == 25
    documents = tmp_path / "docs"
    documents.mkdir()
    (documents / "a.txt").write_text("zzzz zzz buzz", encoding="utf-8")
    (documents / "b.txt").write_text("aaaa banana", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "home", embedder=f"openai:{embedding_server}#letters")
    base = KnowledgeBase(settings)
    base.ingest(DEFAULT_TENANT, "remote", [documents])
    [results] = base.search(DEFAULT_TENANT, "remote", ["jazz fizz"], mode=SearchMode.DENSE)
    assert Path(results.hits[0].chunk.document).name == "a.txt"
    base.close()


def test_embedder_errors_are_clear() -> None:
    with pytest.raises(EmbeddingError, match="openai:URL#MODEL"):
        make_embedder("openai:http://127.0.0.1:9")
    with pytest.raises(EmbeddingError, match="unknown embedder"):
        make_embedder("word2vec")
    with pytest.raises(EmbeddingError, match="failed"):
        OpenAIEmbedder("http://127.0.0.1:9", "m", timeout=2)


def test_overlong_tokens_are_not_keys() -> None:
    blob = "QmFzZTY0" * 500
    assert text_keys(f"carte {blob} nationale", Label.FRA_LATN) == [
        "l:cart", "s:krt", "l:national", "s:ntnl",
    ]  # fmt: skip


def test_offsets_hold_with_repeated_whitespace() -> None:
    long_sentence = " ".join(f"mot{n}  x\t" for n in range(600))
    blocks = [
        Block(BlockKind.PARAGRAPH, "Intro."),
        Block(BlockKind.PARAGRAPH, long_sentence),
        Block(BlockKind.CODE, "ligne  un\n    ligne deux"),
    ]
    chunks = chunk_blocks(blocks)
    text = document_text(blocks)
    assert len(chunks) > 3
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= MAX_CHARS


def test_a_collection_never_records_an_embedder_that_cannot_load(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("la carte", encoding="utf-8")
    base = KnowledgeBase(Settings(data_dir=tmp_path / "home", embedder="bogus"))
    with pytest.raises(EmbeddingError):
        base.ingest(DEFAULT_TENANT, "c", [tmp_path / "a.txt"])
    assert base.collections(DEFAULT_TENANT) == []
    base.close()


def test_lexical_search_needs_no_embedder(
    embedding_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("la carte nationale", encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "home", embedder=f"openai:{embedding_server}#letters")
    writer = KnowledgeBase(settings)
    writer.ingest(DEFAULT_TENANT, "remote", [tmp_path / "a.txt"])
    writer.close()
    shutil.rmtree(settings.index_dir)  # the next search rebuilds the index

    def unreachable(self: KnowledgeBase, spec: str) -> None:
        raise EmbeddingError(f"{spec} is down")

    monkeypatch.setattr(KnowledgeBase, "embedder", unreachable)
    reader = KnowledgeBase(settings)
    [found] = reader.search(DEFAULT_TENANT, "remote", ["carte"], mode=SearchMode.LEXICAL)
    assert len(found.hits) == 1
    with pytest.raises(EmbeddingError, match="is down"):
        reader.search(DEFAULT_TENANT, "remote", ["carte"], mode=SearchMode.FUSED)
    reader.close()
