"""The embedded llama.cpp backend, on a tiny random-weight GGUF written by the test: the same
backend code users run, in process and through ``siyada ask``."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.models import ChatRequest, Message, ModelError, ModelTimeout
from siyada.models.base import complete
from siyada.models.llama import LlamaCppChatModel, validate_gguf
from tests.cli import siyada
from tests.tiny_gguf import truncate_copy, write_tiny_llama

EXAMPLES = Path(__file__).parent.parent / "examples"
REQUEST = ChatRequest(
    (Message("system", "Answer from the sources."), Message("user", "salam, chhal?")),
    max_tokens=12,
    temperature=0.0,
)


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="module")
def model(gguf: Path) -> LlamaCppChatModel:
    return LlamaCppChatModel("tiny", gguf, context=512, threads=1)


def test_generates_tokens_in_process(model: LlamaCppChatModel) -> None:
    deltas = list(model.stream(REQUEST))
    *pieces, last = deltas
    assert pieces and all(delta.text for delta in pieces)
    assert last.text == "" and last.finish_reason == "length"
    assert last.usage is not None and last.usage.completion_tokens == 12
    assert last.usage.prompt_tokens > 0
    # Greedy decoding is repeatable: the same backend gives the same answer.
    assert complete(model, REQUEST)[0] == "".join(delta.text for delta in pieces)


def test_counts_tokens_with_the_models_tokenizer(model: LlamaCppChatModel) -> None:
    assert model.count_tokens("salam") < model.count_tokens("salam " * 20)
    # Byte tokens: Tifinagh costs about three tokens per letter in such vocabularies.
    assert model.count_tokens("ⵜⴰⵎⴰⵣⵉⵖⵜ") >= 3 * len("ⵜⴰⵎⴰⵣⵉⵖⵜ") - 3


def test_concurrent_requests_queue_on_one_model(model: LlamaCppChatModel) -> None:
    answers: list[str] = []

    def generate() -> None:
        answers.append(complete(model, REQUEST)[0])

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == 3 and len(set(answers)) == 1


def test_generation_stops_at_the_timeout(model: LlamaCppChatModel) -> None:
    slow = ChatRequest(REQUEST.messages, max_tokens=400, timeout=0.0)
    with pytest.raises(ModelTimeout, match="did not finish within"):
        complete(model, slow)


def test_prompt_longer_than_the_context_is_a_clear_error(model: LlamaCppChatModel) -> None:
    huge = ChatRequest((Message("user", "salam " * 2000),), max_tokens=4)
    with pytest.raises(ModelError, match="context"):
        complete(model, huge)


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_gguf_is_refused(gguf: Path, tmp_path: Path, keep: float) -> None:
    damaged = truncate_copy(gguf, tmp_path / "cut.gguf", keep)
    with pytest.raises(ModelError, match=r"truncated|damaged"):
        validate_gguf(damaged)
    with pytest.raises(ModelError, match=r"truncated|damaged"):
        LlamaCppChatModel("cut", damaged)


def test_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "model.gguf"
    other.write_bytes(b"PK\x03\x04" + bytes(1000))
    with pytest.raises(ModelError, match="not a GGUF"):
        LlamaCppChatModel("zip", other)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("home")
    base = KnowledgeBase(Settings(data_dir=data_dir, embedder="none"))
    base.ingest(DEFAULT_TENANT, "examples", [EXAMPLES / "fr", EXAMPLES / "zgh"])
    base.close()
    return data_dir


def test_ask_through_a_registered_gguf(home: Path, gguf: Path, tmp_path: Path) -> None:
    local = tmp_path / "tiny.gguf"
    local.write_bytes(gguf.read_bytes())
    added = siyada(home, "models", "add", "tiny", "--backend", "llama", "--path", str(local),
                   "--context", "2048", "--license", "MIT", "--language", "fr")  # fmt: skip
    assert added.returncode == 0, added.stderr
    (record,) = [
        row
        for row in map(json.loads, siyada(home, "models", "list", "--json").stdout.splitlines())
        if row["name"] == "tiny"
    ]
    assert record["backend"] == "llama" and len(record["sha256"]) == 64
    assert record["card"] == {"license": "MIT", "languages": ["fr"], "source": "",
                              "description": ""}  # fmt: skip

    asked = siyada(home, "ask", "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ?", "-c", "examples", "-m", "tiny",
                   "--json", "--max-tokens", "8", "--temperature", "0")  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["model"] == "tiny" and answer["usage"]["completion_tokens"] == 8
    assert answer["answer"] and answer["script"] == "Tfng"
    # The tiny model's byte-level vocabulary fills its context quickly: only the sources that
    # fit next to the instructions and the answer are given.
    assert 1 <= len(answer["sources"]) < 5

    # A file changed after registration is refused before llama.cpp loads it.
    local.write_bytes(write_tiny_llama(tmp_path / "other.gguf", seed=7).read_bytes())
    time.sleep(0.01)
    refused = siyada(home, "ask", "salam", "-c", "examples", "-m", "tiny")
    assert refused.returncode == 2
    assert "does not match its registered SHA-256" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_add_refuses_a_wrong_checksum(home: Path, gguf: Path) -> None:
    result = siyada(home, "models", "add", "bad", "--backend", "llama", "--path", str(gguf),
                    "--sha256", "0" * 64)  # fmt: skip
    assert result.returncode == 2 and "checksum mismatch" in result.stderr
    names = [
        json.loads(line)["name"] for line in siyada(home, "models", "--json").stdout.splitlines()
    ]
    assert "bad" not in names


def test_a_context_too_small_for_any_source_is_a_clear_error(home: Path, gguf: Path) -> None:
    added = siyada(home, "models", "add", "cramped", "--backend", "llama", "--path", str(gguf),
                   "--context", "512")  # fmt: skip
    assert added.returncode == 0, added.stderr
    result = siyada(home, "ask", "salam, kifach njded lbita9a?", "-c", "examples", "-m", "cramped")
    assert result.returncode == 2 and "leave no room for sources" in result.stderr
    assert "--context" in result.stderr and "Traceback" not in result.stderr


def test_a_queued_request_times_out_while_the_model_is_busy(model: LlamaCppChatModel) -> None:
    busy = model._lock
    busy.acquire()
    try:
        started = time.monotonic()
        with pytest.raises(ModelTimeout, match="busy"):
            complete(model, ChatRequest(REQUEST.messages, max_tokens=4, timeout=0.5))
        assert time.monotonic() - started < 2
    finally:
        busy.release()


def test_a_file_changed_in_place_is_hashed_again(home: Path, gguf: Path, tmp_path: Path) -> None:
    """Restoring the modification time (touch -r) does not hide a change from the check."""
    local = tmp_path / "same-size.gguf"
    local.write_bytes(gguf.read_bytes())
    added = siyada(home, "models", "add", "stamped", "--backend", "llama", "--path", str(local))
    assert added.returncode == 0, added.stderr
    before = local.stat()
    data = bytearray(local.read_bytes())
    data[-4:] = bytes(4 - i for i in range(4))
    local.write_bytes(bytes(data))
    os.utime(local, ns=(before.st_atime_ns, before.st_mtime_ns))
    checked = siyada(home, "models", "show", "stamped", "--check")
    assert checked.returncode == 2 and "does not match its registered SHA-256" in checked.stderr
