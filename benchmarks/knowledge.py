"""Knowledge-base benchmark: retrieval quality across languages and scripts; ingest, search speed.

    make bench-knowledge   # or: .venv/bin/python benchmarks/knowledge.py --data ../shared/data

Quality (dense embeddings by the default in-process embedder):
- collection: the 40 hand-written French/Arabic procedure documents of benchmarks/data/knowledge
  and 200 queries, 25 in each of the eight labels; recall@5 and MRR@10 at document level, for
  lexical, dense and fused search.
- parallel: 150 general-domain sentences, each a one-sentence file in French and in Standard
  Arabic (300 files), queried in Darija (Arabic script), Tamazight (Tifinagh), Kabyle (Latin) and
  English through `siyada search --json` on stdin, as the held-out check does; a hit is either
  language version of the query's sentence.
Speed (this machine's 2 cores):
- ingest of text PDFs, dense embeddings off and on;
- search p50/p95 at 10k and 100k chunks (synthetic chunks from the shared data pack, random
  unit vectors for the dense side: its cost does not depend on the content); query embedding
  reported separately; database size per 1,000 chunks.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from siyada.config import Settings
from siyada.eval.metrics import recall_at_k, reciprocal_rank
from siyada.knowledge import KnowledgeBase, SearchMode
from siyada.knowledge.keys import text_keys
from siyada.knowledge.search import embed_queries, prepare_queries, rank
from siyada.knowledge.store import DEFAULT_TENANT, NewChunk, NewDocument
from siyada.lang import Label

REPO = Path(__file__).resolve().parents[1]
GOLD = REPO / "benchmarks" / "data" / "knowledge"
MODES = (SearchMode.LEXICAL, SearchMode.DENSE, SearchMode.FUSED)
PARALLEL_QUERY_LABELS = ("ary_Arab", "zgh_Tfng", "ber_Latn", "eng_Latn")
SYNTHETIC_LABELS = ("fra_Latn", "arb_Arab", "ary_Arab", "ber_Latn", "eng_Latn")


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _score_table(
    title: str,
    per_label: dict[str, list[tuple[float, float]]],
) -> dict[str, dict[str, float]]:
    print(f"\n{title}")
    print(f"  {'label':10} {'n':>4} {'recall@5':>9} {'MRR@10':>7}")
    table = {}
    everything = [pair for pairs in per_label.values() for pair in pairs]
    for label, pairs in [*sorted(per_label.items()), ("all", everything)]:
        recall = statistics.mean(pair[0] for pair in pairs)
        mrr = statistics.mean(pair[1] for pair in pairs)
        table[label] = {"recall@5": round(recall, 3), "mrr@10": round(mrr, 3), "n": len(pairs)}
        print(f"  {label:10} {len(pairs):4} {recall:9.3f} {mrr:7.3f}")
    return table


def collection_quality(workdir: Path) -> dict[str, object]:
    settings = Settings(data_dir=workdir / "collection")
    knowledge = KnowledgeBase(settings)
    knowledge.ingest(DEFAULT_TENANT, "bench", [GOLD / "docs"])
    queries = _read_tsv(GOLD / "queries.tsv")
    figures: dict[str, object] = {}
    for mode in MODES:
        found = knowledge.search(
            DEFAULT_TENANT, "bench", [row["query"] for row in queries], k=10, mode=mode
        )
        per_label: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for row, results in zip(queries, found, strict=True):
            ranked = list(dict.fromkeys(Path(hit.chunk.document).name for hit in results.hits))
            relevant = {name.strip() for name in row["relevant"].split(",")}
            per_label[row["label"]].append(
                (recall_at_k(ranked, relevant, 5), reciprocal_rank(ranked, relevant, 10))
            )
        figures[mode.value] = _score_table(f"collection, {mode.value}", per_label)
    knowledge.close()
    return figures


def parallel_quality(workdir: Path) -> dict[str, object]:
    rows = _read_tsv(GOLD / "parallel.tsv")
    documents = workdir / "parallel-docs"
    documents.mkdir()
    for row in rows:
        for label in ("fra_Latn", "arb_Arab"):
            (documents / f"{row['id']}.{label}.txt").write_text(row[label], encoding="utf-8")
    home = workdir / "parallel-home"
    command = [sys.executable, "-m", "siyada", "--data-dir", str(home)]
    subprocess.run(
        [*command, "ingest", str(documents), "-c", "parallel", "--json"],
        check=True,
        capture_output=True,
    )
    queries = [(row["id"], label, row[label]) for label in PARALLEL_QUERY_LABELS for row in rows]
    figures: dict[str, object] = {}
    for mode in MODES:
        started = time.perf_counter()
        answer = subprocess.run(
            [*command, "search", "-c", "parallel", "--json", "-k", "10", "--mode", mode.value],
            input="\n".join(text for _, _, text in queries) + "\n",
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.perf_counter() - started
        per_label: dict[str, list[tuple[float, float]]] = defaultdict(list)
        lines = answer.stdout.splitlines()
        for (row_id, label, _), line in zip(queries, lines, strict=True):
            ranked = [
                Path(hit["document"]).name.split(".")[0] for hit in json.loads(line)["results"]
            ]
            per_label[label].append(
                (recall_at_k(ranked, {row_id}, 5), reciprocal_rank(ranked, {row_id}, 10))
            )
        figures[mode.value] = _score_table(
            f"parallel sentences, {mode.value}"
            f" ({len(queries)} queries in {seconds:.1f} s via the CLI)",
            per_label,
        )
    return figures


def _write_pdfs(folder: Path, lines: Sequence[str], count: int) -> int:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    rng = random.Random(7)
    for number in range(count):
        story = []
        for section in range(20):
            story.append(Paragraph(f"Section {section + 1} : procédure", styles["Heading2"]))
            for _ in range(4):
                text = " ".join(rng.choice(lines) for _ in range(6))
                story.append(
                    Paragraph(text.replace("&", "et").replace("<", " "), styles["BodyText"])
                )
        SimpleDocTemplate(str(folder / f"guide-{number:03}.pdf"), pagesize=A4).build(story)
    import pypdfium2

    return sum(len(pypdfium2.PdfDocument(path)) for path in folder.glob("*.pdf"))


def ingest_speed(workdir: Path, french: Sequence[str]) -> dict[str, object]:
    folder = workdir / "pdfs"
    folder.mkdir()
    pages = _write_pdfs(folder, french, 12)
    figures: dict[str, object] = {"pages": pages}
    print(f"\ningest of {pages} text-PDF pages ({len(list(folder.iterdir()))} files)")
    for embedder in ("none", "e5"):
        settings = Settings(data_dir=workdir / f"ingest-{embedder}", embedder=embedder)
        knowledge = KnowledgeBase(settings)
        knowledge.embedder(embedder)  # load the model before the clock starts
        started = time.perf_counter()
        report = knowledge.ingest(DEFAULT_TENANT, "speed", [folder])
        seconds = time.perf_counter() - started
        chunks = sum(result.chunks for result in report.results)
        knowledge.close()
        figures[embedder] = {
            "pages_per_s": round(pages / seconds, 1),
            "chunks_per_s": round(chunks / seconds, 1),
        }
        print(
            f"  embeddings {embedder:4}: {pages / seconds:7.1f} pages/s,"
            f" {chunks / seconds:7.1f} chunks/s ({chunks} chunks, {seconds:.1f} s)"
        )
    return figures


def _synthetic_collection(
    knowledge: KnowledgeBase, size: int, pool: dict[str, list[str]], dim: int
) -> None:
    collection = knowledge.store.create_collection(DEFAULT_TENANT, f"synthetic-{size}", "e5")
    rng = random.Random(size)
    per_document = 100
    for document_number in range(size // per_document):
        label = SYNTHETIC_LABELS[document_number % len(SYNTHETIC_LABELS)]
        chunks = []
        vectors = rng_vectors(np.random.default_rng(document_number), per_document, dim)
        for ordinal in range(per_document):
            text = " ".join(rng.choice(pool[label]) for _ in range(4))
            chunks.append(
                NewChunk(
                    ordinal=ordinal, text=text, heading_path="", page=None, start=0,
                    end=len(text), language=label, script=label.split("_")[1],
                    keys=" ".join(text_keys(text, Label(label))),
                    embedding=vectors[ordinal].tobytes(),
                )
            )  # fmt: skip
        document = NewDocument(
            path=f"/synthetic/{size}/{document_number}.txt", name=f"{document_number}.txt",
            content_hash=str(document_number), size=0, pages=0, title=None,
            date=datetime(2025, 1, 1), format="text",
        )  # fmt: skip
        knowledge.store.replace_document(collection, document, chunks)


def rng_vectors(rng: np.random.Generator, count: int, dim: int) -> npt.NDArray[np.float32]:
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    unit: npt.NDArray[np.float32] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


def _percentiles(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    p50 = ordered[len(ordered) // 2] * 1000
    p95 = ordered[int(len(ordered) * 0.95)] * 1000
    return f"p50 {p50:6.2f} ms  p95 {p95:6.2f} ms"


def search_speed(
    workdir: Path, pool: dict[str, list[str]], sizes: Sequence[int]
) -> dict[str, object]:
    settings = Settings(data_dir=workdir / "speed")
    knowledge = KnowledgeBase(settings)
    embedder = knowledge.embedder("e5")
    assert embedder is not None
    queries = [row["query"] for row in _read_tsv(GOLD / "queries.tsv")]
    figures: dict[str, object] = {}
    for size in sizes:
        started = time.perf_counter()
        _synthetic_collection(knowledge, size, pool, embedder.dim)
        filled = time.perf_counter() - started
        collection = knowledge.collection(DEFAULT_TENANT, f"synthetic-{size}")
        started = time.perf_counter()
        index = knowledge.index(collection)
        built = time.perf_counter() - started
        prepared_all = prepare_queries(queries)
        embed_times = []
        for query in prepared_all[:60]:
            started = time.perf_counter()
            embed_queries(embedder, [query])
            embed_times.append(time.perf_counter() - started)
        vectors = embed_queries(embedder, prepared_all)
        print(
            f"\nsearch at {size} chunks"
            f" (store filled in {filled:.0f} s, index built in {built:.1f} s)"
        )
        row: dict[str, object] = {"index_build_s": round(built, 2)}
        for mode in MODES:
            times = []
            for text, vector in zip(queries, vectors, strict=True):
                started = time.perf_counter()
                [query] = prepare_queries([text])
                ranking = rank(index, query, vector, mode, None, 10)
                knowledge.store.chunks(collection, [int(index.chunk_ids[r]) for r, _ in ranking])
                times.append(time.perf_counter() - started)
            print(f"  {mode.value:8} {_percentiles(times)}")
            ordered = sorted(times)
            row[mode.value] = {
                "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2),
                "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2),
            }
        print(f"  query embedding {_percentiles(embed_times)}")
        figures[str(size)] = row
    knowledge.close()
    database = settings.database_path
    total_chunks = sum(sizes)
    size_bytes = sum(
        path.stat().st_size for path in database.parent.glob(database.name + "*") if path.is_file()
    )
    per_thousand = size_bytes / 2**20 / (total_chunks / 1000)
    print(
        f"\ndatabase: {per_thousand:.2f} MiB per 1,000 chunks (text, keys, 384-d float32 vectors)"
    )
    figures["db_mib_per_1k_chunks"] = round(per_thousand, 2)
    return figures


def _pool(data: Path) -> dict[str, list[str]]:
    pool = {}
    for label in SYNTHETIC_LABELS:
        path = data / "lid" / "train" / f"{label}.txt"
        pool[label] = path.read_text(encoding="utf-8").splitlines()[:20000]
    return pool


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--only", choices=["quality", "speed"], default=None)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    arguments = parser.parse_args()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        if arguments.only in (None, "quality"):
            figures["collection"] = collection_quality(workdir)
            figures["parallel"] = parallel_quality(workdir)
        if arguments.only in (None, "speed"):
            pool = _pool(arguments.data)
            figures["ingest"] = ingest_speed(workdir, pool["fra_Latn"])
            figures["search"] = search_speed(workdir, pool, arguments.sizes)
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
