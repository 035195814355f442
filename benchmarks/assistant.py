"""Assistant benchmark: extractive answer quality, pipeline overhead, streaming throughput.

    make bench-assistant   # or: .venv-bench/bin/python benchmarks/assistant.py

- Extractive quality: the 40 procedure documents of benchmarks/data/knowledge, and the 199
  questions of benchmarks/data/assistant/answers.tsv (eight labels) with the answer spans the
  relevant document holds. An answer is right when a quoted sentence contains one of the spans;
  we also report how often the cited source is the relevant document.
- Pipeline overhead, generation excluded: identify, search, prompt, citation and script
  handling around a model that answers instantly; p50/p95 in ms, and search alone for scale.
- Streaming: time to first token and tokens/s through Siyada against the same backend called
  directly, for embedded llama.cpp (a GGUF given with --gguf, else the tiny random-weight test
  model, whose ~5k tokens/s make per-token overhead as visible as it can be) and for the
  OpenAI-compatible client against a loopback server that streams as fast as it can.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from siyada.assistant import Answer, AnswerPiece, AskOptions, ask
from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.models import ChatModel, ChatRequest, Delta
from siyada.models.extractive import ExtractiveModel
from siyada.models.openai_http import OpenAIChatModel
from siyada.models.sse import sse_data

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.openai_server import Script, openai_server  # noqa: E402
from tests.tiny_gguf import write_tiny_llama  # noqa: E402

DOCS = REPO / "benchmarks" / "data" / "knowledge" / "docs"
QUERIES = REPO / "benchmarks" / "data" / "knowledge" / "queries.tsv"
ANSWERS = REPO / "benchmarks" / "data" / "assistant" / "answers.tsv"
COLLECTION = "procedures"


def _read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _percentiles(samples: Sequence[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"


def _answer(
    knowledge: KnowledgeBase, model: ChatModel, question: str, options: AskOptions
) -> tuple[Answer, list[float]]:
    """The answer and the times (perf_counter) its pieces arrived."""
    arrivals: list[float] = []
    for event in ask(knowledge, model, DEFAULT_TENANT, question, collections=[COLLECTION],
                     options=options):  # fmt: skip
        if isinstance(event, AnswerPiece):
            arrivals.append(time.perf_counter())
        elif isinstance(event, Answer):
            return event, arrivals
    raise RuntimeError("the pipeline ended without an answer")


def extractive_quality(knowledge: KnowledgeBase) -> None:
    queries = {row["id"]: row for row in _read_tsv(QUERIES)}
    right: dict[str, list[bool]] = defaultdict(list)
    cited_relevant: dict[str, list[bool]] = defaultdict(list)
    model = ExtractiveModel()
    for row in _read_tsv(ANSWERS):
        query = queries[row["id"]]
        spans = [span.strip().casefold() for span in row["answer"].split(" | ")]
        answer, _ = _answer(knowledge, model, query["query"], AskOptions())
        text = answer.answer.casefold()
        relevant = set(query["relevant"].split(","))
        right[query["label"]].append(any(span in text for span in spans))
        cited = [source for source in answer.sources if source.cited]
        cited_relevant[query["label"]].append(
            any(Path(source.document).name in relevant for source in cited)
        )
    print("\nExtractive answers (no model): share whose quoted sentences hold the answer")
    print(f"  {'label':<10} {'n':>4} {'answer':>7} {'cites relevant doc':>19}")
    for label in sorted(right):
        hits, docs = right[label], cited_relevant[label]
        share = sum(hits) / len(hits)
        print(f"  {label:<10} {len(hits):>4} {share:>7.2f} {sum(docs) / len(docs):>19.2f}")
    every = [hit for hits in right.values() for hit in hits]
    docs_all = [hit for hits in cited_relevant.values() for hit in hits]
    print(
        f"  {'all':<10} {len(every):>4} {sum(every) / len(every):>7.2f} "
        f"{sum(docs_all) / len(docs_all):>19.2f}"
    )


class InstantModel:
    """A generative model that answers at once: what remains is the pipeline's own cost."""

    name = "instant"
    generative = True
    context_tokens: int | None = None

    def count_tokens(self, text: str) -> int:
        return len(text)

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        yield Delta("La réponse est dans la source [1]. ")
        yield Delta("Voir aussi [2].")
        yield Delta("", "stop")

    def close(self) -> None:
        pass


def pipeline_overhead(knowledge: KnowledgeBase) -> None:
    questions = [row["query"] for row in _read_tsv(QUERIES)]
    model = InstantModel()
    _answer(knowledge, model, questions[0], AskOptions())  # load models and indexes
    totals, searches = [], []
    for question in questions:
        started = time.perf_counter()
        _answer(knowledge, model, question, AskOptions())
        totals.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        knowledge.search(DEFAULT_TENANT, COLLECTION, [question], k=5)
        searches.append((time.perf_counter() - started) * 1000)
    print(f"\nPipeline overhead, generation excluded ({len(questions)} questions, k=5)")
    print(f"  whole pipeline      {_percentiles(totals)}")
    print(f"  of which search     {_percentiles(searches)}")


def _rates(started: float, arrivals: Sequence[float]) -> tuple[float, float]:
    """A direct call: time to first token (ms) and tokens per second over the whole call."""
    return (arrivals[0] - started) * 1000, len(arrivals) / (arrivals[-1] - started)


def _pipeline_rates(answer: Answer) -> tuple[float, float]:
    """Through Siyada: time to first token (ms, retrieval included) and tokens per second from
    the model's call to the answer's end (the pipeline's streaming work included)."""
    assert answer.usage is not None
    generation = (answer.timings["total"] - answer.timings["retrieval"]) / 1000
    return answer.timings["first_token"], answer.usage.completion_tokens / generation


class Recorder:
    """Passes requests to a model and keeps the last one, to replay its prompt directly."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.name = model.name
        self.generative = model.generative
        self.context_tokens = model.context_tokens
        self.last: ChatRequest | None = None

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        self.last = request
        return self.model.stream(request)

    def close(self) -> None:
        self.model.close()


def llama_streaming(knowledge: KnowledgeBase, gguf: Path | None, tokens: int, runs: int) -> None:
    from llama_cpp import Llama

    from siyada.models.llama import LlamaCppChatModel

    with tempfile.TemporaryDirectory() as folder:
        path = gguf or write_tiny_llama(Path(folder) / "tiny.gguf")
        model = Recorder(LlamaCppChatModel("bench", path, context=2048))
        direct = Llama(model_path=str(path), n_ctx=2048, verbose=False)
        question = "Combien coûte le renouvellement de la carte nationale ?"
        options = AskOptions(max_tokens=tokens, temperature=0.0, seed=1)
        _answer(knowledge, model, question, options)
        assert model.last is not None
        prompt: Any = [{"role": m.role, "content": m.content} for m in model.last.messages]
        through, straight = [], []
        for _ in range(runs):
            answer, _ = _answer(knowledge, model, question, options)
            through.append(_pipeline_rates(answer))
            started = time.perf_counter()
            arrivals = []
            chunks: Any = direct.create_chat_completion(
                messages=prompt, stream=True, max_tokens=tokens, temperature=0.0, seed=1
            )
            for chunk in chunks:
                if chunk["choices"][0]["delta"].get("content"):
                    arrivals.append(time.perf_counter())
            straight.append(_rates(started, arrivals))
    name = "tiny test model" if gguf is None else path.name
    _report(f"embedded llama.cpp ({name})", through, straight,
            note="Siyada's first token includes identification and retrieval")  # fmt: skip


def http_streaming(knowledge: KnowledgeBase, tokens: int, runs: int) -> None:
    reply = " ".join(f"w{i}" for i in range(tokens))
    with openai_server(Script(reply=reply)) as (url, _):
        model = OpenAIChatModel("bench", [url], model_id="tiny")
        question = "Combien coûte le renouvellement de la carte nationale ?"
        options = AskOptions(max_tokens=tokens)
        body: dict[str, Any] = {"model": "tiny", "stream": True, "max_tokens": tokens,
                                "messages": [{"role": "user", "content": question}]}  # fmt: skip
        through, straight = [], []
        with httpx.Client() as client:
            for _ in range(runs):
                answer, _ = _answer(knowledge, model, question, options)
                through.append(_pipeline_rates(answer))
                started = time.perf_counter()
                arrivals = []
                with client.stream("POST", f"{url}/chat/completions", json=body) as response:
                    for data in sse_data(response.iter_lines()):
                        if data != "[DONE]" and json.loads(data)["choices"]:
                            arrivals.append(time.perf_counter())
                straight.append(_rates(started, arrivals[:-1]))
    _report("OpenAI-compatible HTTP, loopback server streaming flat out", through, straight,
            note="direct = httpx and JSON decoding of each event")  # fmt: skip


def _report(
    title: str,
    through: Sequence[tuple[float, float]],
    direct: Sequence[tuple[float, float]],
    note: str,
) -> None:
    def median(values: Sequence[tuple[float, float]], index: int) -> float:
        return statistics.median(value[index] for value in values)

    ratio = median(through, 1) / median(direct, 1)
    print(f"\nStreaming: {title} ({len(through)} runs, medians)")
    print(f"  through Siyada   first token {median(through, 0):8.1f} ms   "
          f"{median(through, 1):9.0f} tokens/s")  # fmt: skip
    print(f"  called directly  first token {median(direct, 0):8.1f} ms   "
          f"{median(direct, 1):9.0f} tokens/s")  # fmt: skip
    per_token = 1e6 * (1 / median(through, 1) - 1 / median(direct, 1))
    print(f"  ratio of tokens/s: {ratio:.3f} (goal >= 0.95); Siyada adds {per_token:.0f} µs "
          f"per token; {note}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path, help="A GGUF model for the streaming comparison.")
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--embedder", default="e5", help="e5 (default) or none (lexical only).")
    parser.add_argument("--skip-llama", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        knowledge = KnowledgeBase(Settings(data_dir=Path(home), embedder=args.embedder))
        started = time.perf_counter()
        knowledge.ingest(DEFAULT_TENANT, COLLECTION, [DOCS])
        print(f"ingested {DOCS.relative_to(REPO)} in {time.perf_counter() - started:.1f} s "
              f"(embedder {args.embedder})")  # fmt: skip
        extractive_quality(knowledge)
        pipeline_overhead(knowledge)
        if not args.skip_llama:
            llama_streaming(knowledge, args.gguf, args.tokens, args.runs)
        http_streaming(knowledge, args.tokens, args.runs)
        knowledge.close()


if __name__ == "__main__":
    main()
