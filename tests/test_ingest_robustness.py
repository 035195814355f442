"""Ingest robustness through the real CLI: bad files, size limits, re-ingest, crashes, errors.

Every test gets its own data directory under ``tmp_path`` and ingests with ``--embedder none``
(lexical search only), so nothing here loads an embedding model.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from reportlab.pdfgen import canvas

from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.ingest import Outcome, Source, ingest_file
from siyada.knowledge.store import DEFAULT_TENANT, SQLiteStore
from tests.cli import ENV, siyada

COLLECTION = "docs"
# A wide terminal keeps Typer's error boxes from wrapping words across lines.
RUNNING_AS_ROOT = os.geteuid() == 0
WORDS = [
    "river",
    "mountain",
    "village",
    "market",
    "bread",
    "olive",
    "tea",
    "window",
    "garden",
    "school",
    "letter",
    "road",
    "harbour",
    "lantern",
    "copper",
    "saffron",
    "desert",
    "caravan",
    "courtyard",
    "fountain",
]


def siyada_together(data_dir: Path, *commands: list[str]) -> list[subprocess.CompletedProcess[str]]:
    """Several independent commands run side by side (each start-up costs most of a second)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "siyada", "--data-dir", str(data_dir), *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=ENV,
        )
        for command in commands
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def ingest_args(*paths: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return [
        "ingest", *map(str, paths), "-c", COLLECTION, "--embedder", "none", "--json", *extra,
    ]  # fmt: skip


def ingest(
    data_dir: Path, *paths: Path, extra: tuple[str, ...] = (), timeout: float = 120
) -> tuple[int, dict[str, Any]]:
    """Run ``siyada ingest --json``: its exit code and its summary."""
    result = siyada(data_dir, *ingest_args(*paths, extra=extra), timeout=timeout)
    assert result.stdout.strip(), f"no summary (exit {result.returncode}): {result.stderr}"
    summary: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, summary


def search(data_dir: Path, queries: list[str], k: int = 1) -> list[dict[str, Any]]:
    """One ``siyada search --json`` call answering every query from stdin, one row per line."""
    result = siyada(
        data_dir,
        "search",
        "-c",
        COLLECTION,
        "--json",
        "-k",
        str(k),
        stdin="\n".join(queries) + "\n",
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(queries)
    return rows


def found_documents(data_dir: Path, *queries: str) -> dict[str, list[str]]:
    """The documents each query finds (top 10), all queries answered by one CLI call."""
    rows = search(data_dir, list(queries), k=10)
    return {row["query"]: [hit["document"] for hit in row["results"]] for row in rows}


def documents(data_dir: Path) -> list[dict[str, Any]]:
    result = siyada(data_dir, "collections", "show", COLLECTION, "--json")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def failures(summary: dict[str, Any]) -> dict[str, str]:
    return {failure["document"]: failure["reason"] for failure in summary["failures"]}


def prose(seed: int, paragraphs: int, marker: str | None = None) -> str:
    """Deterministic English-looking paragraphs; ``marker`` goes into the fourth one."""
    rnd = random.Random(seed)
    parts = [
        " ".join(
            " ".join(rnd.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(8)
        )
        for _ in range(paragraphs)
    ]
    if marker is not None:
        parts.insert(min(3, len(parts)), f"The unique marker of this file is {marker} here.")
    return "\n\n".join(parts) + "\n"


def pdf_with_text(path: Path, text: str, *, encrypt: str | None = None) -> None:
    page = canvas.Canvas(str(path), encrypt=encrypt)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()


# 1. A folder mixing good files with every kind of bad one.


def test_bad_files_fail_with_a_reason_and_the_good_ones_are_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + random.Random(1).randbytes(4000))
    pdf_with_text(folder / "encrypted.pdf", "cipheredword inside", encrypt="secret")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "blank.md").write_bytes(b"   \n\t\n  \n")
    image_only = canvas.Canvas(str(folder / "image_only.pdf"))
    image_only.rect(100, 100, 200, 200, fill=1)
    image_only.showPage()
    image_only.save()
    (folder / "text_named.pdf").write_text("pretendpdfword is plain text, not a PDF.\n")
    (folder / "not_a_zip.docx").write_text("notazipword is plain text, not a Word file.\n")
    (folder / "binary.txt").write_bytes(b"binaryword\x00\x01\x02\xff" * 200)
    locked = folder / "locked.txt"
    locked.write_text("lockedword is in a file nobody may read.\n")
    locked.chmod(0)
    (folder / "good_one.txt").write_text("The first good file talks about goodalpha tea.\n")
    (folder / "good_two.md").write_text("# Notes\n\nThe second good file mentions goodbeta.\n")

    expected_reasons = {
        "corrupt.pdf": "corrupt",
        "encrypted.pdf": "encrypted",
        "empty.txt": "empty",
        "blank.md": "empty",
        "image_only.pdf": "no text layer",
        "text_named.pdf": "not a valid pdf",
        "not_a_zip.docx": "not a valid docx",
        "binary.txt": "binary",
    }
    good = {"good_one.txt", "good_two.md"}
    if RUNNING_AS_ROOT:
        good.add("locked.txt")  # root reads every file: nothing to check there
    else:
        expected_reasons["locked.txt"] = "permission"

    data = tmp_path / "data"
    code, summary = ingest(data, folder)

    assert code == 1
    assert summary["added"] == len(good)
    assert summary["failed"] == len(expected_reasons)
    reasons = failures(summary)
    assert set(reasons) == {str(folder / name) for name in expected_reasons}
    for name, expected in expected_reasons.items():
        assert expected in reasons[str(folder / name)].lower(), (name, reasons[str(folder / name)])
    stored = {record["name"] for record in documents(data)}
    assert stored == {str(folder / name) for name in good}
    found = found_documents(
        data, "goodalpha", "goodbeta", "cipheredword", "pretendpdfword", "notazipword", "binaryword"
    )
    assert found == {
        "goodalpha": [str(folder / "good_one.txt")],
        "goodbeta": [str(folder / "good_two.md")],
        "cipheredword": [],
        "pretendpdfword": [],
        "notazipword": [],
        "binaryword": [],
    }


# 2. Size limit.


def test_a_file_over_max_file_mb_is_skipped_without_being_read(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    big = prose(7, 1, marker="bigfileword")
    (folder / "big.txt").write_text(big * (2 * 2**20 // len(big) + 1))
    # 64 GiB of holes: reading it into memory would fail or take minutes.
    with (folder / "huge.txt").open("wb") as handle:
        handle.truncate(64 * 2**30)
    (folder / "small.txt").write_text(prose(8, 4, marker="smallfileword"))

    data = tmp_path / "data"
    started = time.monotonic()
    code, summary = ingest(data, folder, extra=("--max-file-mb", "1"))

    assert time.monotonic() - started < 30
    assert code == 1
    assert summary["added"] == 1
    reasons = failures(summary)
    assert set(reasons) == {str(folder / "big.txt"), str(folder / "huge.txt")}
    assert "too large" in reasons[str(folder / "big.txt")]
    assert "2 MB" in reasons[str(folder / "big.txt")]
    assert "limit 1 MB" in reasons[str(folder / "big.txt")]
    assert "too large" in reasons[str(folder / "huge.txt")]
    assert [record["name"] for record in documents(data)] == [str(folder / "small.txt")]
    assert found_documents(data, "bigfileword", "smallfileword") == {
        "bigfileword": [],
        "smallfileword": [str(folder / "small.txt")],
    }


def test_too_large_reason_states_a_size_above_the_limit(tmp_path: Path) -> None:
    """1.3 MB over a 1 MB limit must not read "too large (1 MB, limit 1 MB)"."""
    path = tmp_path / "slightly_big.txt"
    text = prose(9, 1)
    path.write_text((text * (int(1.3 * 2**20) // len(text) + 1))[: int(1.3 * 2**20)])

    code, summary = ingest(tmp_path / "data", path, extra=("--max-file-mb", "1"))

    assert code == 1
    reason = failures(summary)[str(path)]
    match = re.search(r"too large \(([\d.]+) MB, limit ([\d.]+) MB", reason)
    assert match is not None, reason
    assert float(match[1]) > float(match[2]), reason


# 3. Re-ingest: unchanged, changed, pruned.


def test_reingest_reports_unchanged_then_updated(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text(prose(1, 3, marker="alphaword"))
    (folder / "b.md").write_text("# B\n\n" + prose(2, 3, marker="oldbetaword"))
    (folder / "c.txt").write_text(prose(3, 3, marker="gammaword"))
    data = tmp_path / "data"
    queries = ["alphaword", "oldbetaword", "gammaword"]

    code, first = ingest(data, folder)
    assert (code, first["added"], first["failed"]) == (0, 3, 0)
    before = search(data, queries)
    ids_before = [[hit["chunk_id"] for hit in row["results"]] for row in before]
    assert all(len(ids) == 1 for ids in ids_before)

    code, second = ingest(data, folder)
    assert code == 0
    assert (second["unchanged"], second["added"], second["updated"]) == (3, 0, 0)
    assert second["chunks"] == 0
    after = search(data, queries)
    assert [[hit["chunk_id"] for hit in row["results"]] for row in after] == ids_before
    assert [row["results"][0]["document"] for row in after] == [
        str(folder / name) for name in ("a.txt", "b.md", "c.txt")
    ]

    (folder / "b.md").write_text("# B\n\n" + prose(2, 3, marker="newbetaword"))
    code, third = ingest(data, folder)
    assert code == 0
    assert (third["updated"], third["unchanged"], third["added"]) == (1, 2, 0)
    assert found_documents(data, "oldbetaword", "newbetaword") == {
        "oldbetaword": [],
        "newbetaword": [str(folder / "b.md")],
    }
    assert len(documents(data)) == 3


def test_prune_removes_documents_whose_files_are_gone(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "keep.txt").write_text(prose(4, 2, marker="keepword"))
    (folder / "gone.txt").write_text(prose(5, 2, marker="goneword"))
    data = tmp_path / "data"
    assert ingest(data, folder)[0] == 0
    (folder / "gone.txt").unlink()

    code, without_prune = ingest(data, folder)
    assert code == 0
    assert (without_prune["pruned"], without_prune["unchanged"]) == (0, 1)
    assert found_documents(data, "goneword")["goneword"] == [str(folder / "gone.txt")]

    code, pruned = ingest(data, folder, extra=("--prune",))
    assert code == 0
    assert (pruned["pruned"], pruned["unchanged"]) == (1, 1)
    assert found_documents(data, "goneword", "keepword") == {
        "goneword": [],
        "keepword": [str(folder / "keep.txt")],
    }
    assert [record["name"] for record in documents(data)] == [str(folder / "keep.txt")]


# 4. kill -9 in the middle of an ingest.

KILL_FILES = 150


def committed_documents(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
    except sqlite3.Error:  # not created yet, or no tables yet
        return 0


def test_kill_9_mid_ingest_then_rerun_matches_a_clean_ingest(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    tokens = [f"token{i:04d}" for i in range(KILL_FILES)]
    for i, token in enumerate(tokens):
        (folder / f"f{i:04d}.txt").write_text(prose(i, 30, marker=token))
    expected = [str(folder / f"f{i:04d}.txt") for i in range(KILL_FILES)]

    # The reference: a clean ingest into a fresh data directory (in process, to save a start-up).
    clean = KnowledgeBase(Settings(data_dir=tmp_path / "clean", embedder="none"))
    try:
        report = clean.ingest(DEFAULT_TENANT, COLLECTION, [folder])
        assert report.count(Outcome.ADDED) == KILL_FILES
        records = clean.store.documents(clean.collection(DEFAULT_TENANT, COLLECTION))
        clean_chunks = {record.name: record.chunks for record in records}
    finally:
        clean.close()

    data = tmp_path / "data"
    database = data / "siyada.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "siyada", "--data-dir", str(data), *ingest_args(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if committed_documents(database) >= 5:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    survived = committed_documents(database)
    assert 5 <= survived < KILL_FILES

    code, rerun = ingest(data, folder)
    assert code == 0
    assert rerun["failed"] == 0
    assert rerun["unchanged"] == survived  # every committed document was complete
    assert rerun["added"] == KILL_FILES - survived

    stored = documents(data)
    names = [record["name"] for record in stored]
    assert len(names) == len(set(names)) == KILL_FILES
    assert {record["name"]: record["chunks"] for record in stored} == clean_chunks
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute(
            "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)"
        ).fetchone()[0]
        assert orphans == 0
        total = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert total == sum(clean_chunks.values())

    rows = search(data, tokens, k=1)
    for token, path, row in zip(tokens, expected, rows, strict=True):
        assert row["query"] == token
        assert len(row["results"]) == 1, token
        assert row["results"][0]["document"] == path
        assert token in row["results"][0]["text"]


# 5. A file that vanishes between discovery and reading.


def test_a_vanished_file_fails_with_a_reason(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "data" / "siyada.db")
    try:
        collection = store.create_collection(DEFAULT_TENANT, COLLECTION, "none")
        missing = tmp_path / "docs" / "vanished.txt"
        result = ingest_file(
            store, collection, Source(missing, "docs/vanished.txt"), {}, None, 2**20
        )
        assert result.outcome is Outcome.FAILED
        assert result.name == "docs/vanished.txt"
        assert result.reason is not None and "vanished" in result.reason
        assert result.chunks == 0
        assert store.documents(collection) == []
    finally:
        store.close()


# 6. Search errors and batch input.


def test_search_errors_and_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Olive harvest notes mention searchword twice: searchword.\n")
    data = tmp_path / "data"
    assert ingest(data, path)[0] == 0

    unknown, zero, since, until = siyada_together(
        data,
        ["search", "-c", "nosuchcollection", "searchword"],
        ["search", "-c", COLLECTION, "-k", "0", "searchword"],
        ["search", "-c", COLLECTION, "--since", "notadate", "searchword"],
        ["search", "-c", COLLECTION, "--until", "2024-13-45", "searchword"],
    )
    assert unknown.returncode == 2
    assert "nosuchcollection" in unknown.stderr
    assert zero.returncode == 2
    assert "-k" in zero.stderr or "--top" in zero.stderr
    assert since.returncode == 2
    assert "notadate" in since.stderr
    assert until.returncode == 2
    assert "2024-13-45" in until.stderr
    assert [result.stdout for result in (unknown, zero, since, until)] == [""] * 4

    lines = ["searchword", "", "olive harvest", "   ", ""]
    batch = siyada(
        data, "search", "-c", COLLECTION, "--json", "-k", "3", stdin="\n".join(lines) + "\n"
    )
    assert batch.returncode == 0, batch.stderr
    rows = [json.loads(line) for line in batch.stdout.splitlines()]
    assert len(rows) == len(lines)
    for line, row in zip(lines, rows, strict=True):
        if line.strip():
            assert row["query"] == line
            assert [hit["document"] for hit in row["results"]] == [str(path)]
        else:
            assert row["query"] == ""
            assert row["results"] == []


# 7. Special files inside a folder.


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_in_a_folder_does_not_hang_the_ingest(tmp_path: Path) -> None:
    """Named directly, a FIFO is refused as "not a regular file"; inside a folder it must be too."""
    folder = tmp_path / "docs"
    folder.mkdir()
    os.mkfifo(folder / "pipe.txt")
    (folder / "good.txt").write_text(prose(6, 2, marker="pipeneighbourword"))
    data = tmp_path / "data"

    try:
        code, summary = ingest(data, folder, timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("ingesting a folder holding a named pipe blocked until killed")
    assert code == 1
    assert summary["added"] == 1
    assert "not a regular file" in failures(summary)[str(folder / "pipe.txt")]
    assert found_documents(data, "pipeneighbourword") == {
        "pipeneighbourword": [str(folder / "good.txt")]
    }
