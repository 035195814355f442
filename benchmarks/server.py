"""Server benchmark: throughput and latency of `siyada serve`, and the latency its proxy adds.

    .venv/bin/python benchmarks/server.py [--seconds 5] [--requests 200]

Everything runs on this machine: the load generator (this process), `siyada serve` (one uvicorn
process) and a fake OpenAI-compatible backend (tests/openai_server.py, in a process of its own,
so that none of the three shares a GIL with another) compete for the same cores.

- Language identification: `POST /v1/lang/identify` with one short text a request, rotating
  through Darija (Arabic script and Arabizi), Tamazight (Tifinagh) and French sentences.
- Grounded chat that generates nothing: `extractive` chat completions (non-streaming) on the
  examples/ collection, ingested lexical-only, so that the cost is the server, the search and
  the extraction, not a query embedding (extractive answers do not count against the limit of
  answers generated at once, `serve --generations`).
  Both are measured at 1, 16 and 64 concurrent clients for a bounded time each: N worker
  coroutines on one event loop, each with its own httpx.AsyncClient (a pool of N connections
  shared by all costs the load generator more CPU per request the larger N is); requests/s
  and the latencies count the 200s only, any other status or a failed connection is an error;
  the CPU used by the load generator and by the server while measuring (100% = one core)
  shows which side is the bottleneck.
- Proxy overhead: a chat completion to the fake backend directly, then through Siyada (the
  backend registered as a remote model; no grounding), one request at a time after a warm-up:
  whole-response latency of non-streaming requests (the fake backend always answers in SSE:
  "direct" is the time to read the whole stream) and time to the first content chunk of
  streaming ones. The goal is at most 2 ms added at p50.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = [REPO / "examples" / name for name in ("fr", "ar", "zgh")]
COLLECTION = "examples"
REMOTE = "fake-remote"
LEVELS = (1, 16, 64)
REPLY = (
    "Le renouvellement de la CNIE se fait au commissariat [1]. Munissez-vous de l'ancienne carte."
)

TEXTS = (
    "wach nta mzyan? ana bikhir l7amdulillah",
    "بغيت نجدد البطاقة الوطنية ديالي",
    "ⴰⵣⵓⵍ ⴼⵍⵍⴰⵡⵏ, ⵎⴰⵏⵣⴰⴽⵉⵏ?",
    "Je voudrais renouveler ma carte d'identité.",
    "fin kayn l9ism dyal l7alat lmadaniya?",
    "شحال كتخلص باش تاخد عقد الازدياد؟",
    "ⵜⴰⴽⴰⵕⴹⴰ ⵏ ⵜⵏⴰⵖⵓⵔⵉ ⵜⴻⵜⵜⵓⵙⵙⴰⵍⴻⴰ",
    "Quels documents faut-il pour l'inscription à l'AMO ?",
    "3afak chno khassni bach nakhod rokhsat lbni?",
    "واش خاصني نمشي للمقاطعة ولا نقدر ندير كلشي فالأنترنيت؟",
)

QUESTIONS = (
    "Quels documents faut-il pour renouveler la CNIE ?",
    "كيفاش نجدد البطاقة الوطنية؟",
    "chno khassni bach nakhod extrait d'acte de naissance?",
    "Comment s'inscrire à l'AMO ?",
    "ما هي وثائق عقد الازدياد؟",
    "ⵎⴰⵎⴽ ⴰⴷ ⵙⵙⵏⴼⵍⵖ ⵜⴰⴽⴰⵕⴹⴰ?",
    "Quelle est la procédure pour une autorisation de construire ?",
    "wach kayn da3m dyal sa9y?",
)

BACKEND = f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from tests.openai_server import Script, openai_server
with openai_server(Script(reply={REPLY!r})) as (url, _):
    print(url, flush=True)
    while True:
        time.sleep(3600)
"""


def _percentile(ordered: Sequence[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _siyada(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "siyada", "--data-dir", str(data_dir), *args]


def _start_backend() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", BACKEND], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        _stop(process)
        raise RuntimeError(f"the fake backend did not start (it printed {url!r})")
    return process, url


def _start_server(
    data_dir: Path, port: int, generations: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        process = subprocess.Popen(
            _siyada(data_dir, "serve", "--port", str(port), "--generations", str(generations)),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"siyada serve exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    _stop(process)
    raise RuntimeError(f"siyada serve did not answer /healthz:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[Any] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# Load: N clients on one event loop for a bounded time.


@dataclass
class Load:
    clients: int
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0
    server_cpu: float | None = None
    """CPU seconds of the load generator and of the server while measuring."""


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU time of a process (Linux), None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(
    url: str,
    bodies: Sequence[dict[str, Any]],
    clients: int,
    seconds: float,
    warmup: float,
    server_pid: int,
    headers: dict[str, str],
) -> Load:
    result = Load(clients)
    turn = itertools.count()

    async def worker(client: httpx.AsyncClient, until: float, record: bool) -> None:
        while time.perf_counter() < until:
            body = bodies[next(turn) % len(bodies)]
            start = time.perf_counter()
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as error:
                if record:
                    result.errors[type(error).__name__] += 1
                continue
            took = (time.perf_counter() - start) * 1000
            if not record:
                continue
            if response.status_code == 200:
                result.latencies.append(took)
            else:
                result.errors[str(response.status_code)] += 1

    # A client (one keep-alive connection) per worker: one shared pool of N connections costs
    # the load generator more CPU per request the larger N is.
    pool = [httpx.AsyncClient(timeout=60, headers=headers) for _ in range(clients)]
    try:
        # Warm-up opens the connections and the server's worker threads.
        until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(client, until, False) for client in pool))
        cpu, server_cpu = time.process_time(), _cpu_seconds(server_pid)
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(worker(client, until, True) for client in pool))
        result.elapsed = time.perf_counter() - start
        result.client_cpu = time.process_time() - cpu
        server_after = _cpu_seconds(server_pid)
        if server_cpu is not None and server_after is not None:
            result.server_cpu = server_after - server_cpu
    finally:
        for client in pool:
            await client.aclose()
    return result


def _load_table(title: str, rows: Sequence[Load]) -> None:
    print(f"\n{title}")
    print(
        f"  {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'ok':>7} {'errors':>7} {'client cpu':>10} {'server cpu':>10}  error detail"
    )
    for row in rows:
        ordered = sorted(row.latencies)
        errors = sum(row.errors.values())
        detail = ", ".join(f"{kind}: {count}" for kind, count in row.errors.most_common())
        if ordered:
            figures = (
                f"{len(ordered) / row.elapsed:8.1f} {statistics.median(ordered):8.1f} "
                f"{_percentile(ordered, 0.95):8.1f} {_percentile(ordered, 0.99):8.1f}"
            )
        else:
            figures = f"{0.0:8.1f} {'-':>8} {'-':>8} {'-':>8}"
        client = f"{100 * row.client_cpu / row.elapsed:9.0f}%"
        server = "-" if row.server_cpu is None else f"{100 * row.server_cpu / row.elapsed:.0f}%"
        print(
            f"  {row.clients:>7} {figures} {len(ordered):>7} {errors:>7} {client} {server:>10}"
            f"  {detail}"
        )


def load_levels(
    title: str,
    url: str,
    bodies: Sequence[dict[str, Any]],
    seconds: float,
    warmup: float,
    server_pid: int,
    headers: dict[str, str],
) -> None:
    rows = [
        asyncio.run(_load(url, bodies, clients, seconds, warmup, server_pid, headers))
        for clients in LEVELS
    ]
    _load_table(title, rows)


# Proxy overhead: one request at a time.


def _chat_body(model: str, question: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": question}], "stream": stream}


def _whole(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    response = client.post(url, json=body)
    response.read()
    took = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
    return took


def _first_content(client: httpx.Client, url: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    first: float | None = None
    with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            response.read()
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
        for line in response.iter_lines():
            if first is not None or not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[len("data: ") :]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                first = (time.perf_counter() - start) * 1000
    if first is None:
        raise RuntimeError(f"{url} streamed no content")
    return first


def _sequential(
    measure: Callable[[httpx.Client, str, dict[str, Any]], float],
    url: str,
    body: dict[str, Any],
    requests: int,
    headers: dict[str, str],
) -> list[float]:
    with httpx.Client(timeout=60, headers=headers) as client:
        for _ in range(max(10, requests // 10)):
            measure(client, url, body)
        return sorted(measure(client, url, body) for _ in range(requests))


def proxy_overhead(backend: str, siyada: str, requests: int, headers: dict[str, str]) -> None:
    question = "Comment renouveler la CNIE ?"
    print(f"\nProxy overhead: {requests} sequential requests each, after a warm-up (ms)")
    print(f"  {'':31} {'direct':>15}  {'through Siyada':>15}  {'added':>15}")
    print(f"  {'':31}" + f"  {'p50':>6} {'p95':>7}" * 3)
    for label, measure, stream in (
        ("non-streaming, whole response", _whole, False),
        ("streaming, first content chunk", _first_content, True),
    ):
        direct = _sequential(measure, backend, _chat_body("tiny", question, stream), requests, {})
        proxied = _sequential(
            measure, siyada, _chat_body(REMOTE, question, stream), requests, headers
        )
        p50s = statistics.median(direct), statistics.median(proxied)
        p95s = _percentile(direct, 0.95), _percentile(proxied, 0.95)
        added = p50s[1] - p50s[0]
        verdict = "met" if added <= 2.0 else "missed"
        print(
            f"  {label:<31} {p50s[0]:7.2f} {p95s[0]:7.2f}  {p50s[1]:7.2f} {p95s[1]:7.2f}  "
            f"{added:7.2f} {p95s[1] - p95s[0]:7.2f}   (goal <= 2 ms at p50: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="Per concurrency level.")
    parser.add_argument("--warmup", type=float, default=1.0, help="Seconds before each level.")
    parser.add_argument(
        "--requests", type=int, default=200, help="Sequential requests per proxy measurement."
    )
    parser.add_argument(
        "--generations",
        type=int,
        default=8,
        help="The server's answers at once (serve --generations; 8 is its default).",
    )
    args = parser.parse_args()

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"Cores: {cores} (os.cpu_count() = {os.cpu_count()})")
    print(
        f"The load generator, `siyada serve` (one uvicorn process, --generations "
        f"{args.generations}) and the fake backend share this machine's {cores} cores."
    )

    backend: subprocess.Popen[str] | None = None
    server: subprocess.Popen[bytes] | None = None
    with tempfile.TemporaryDirectory(prefix="siyada-bench-server-") as tmp:
        data_dir = Path(tmp) / "data"
        try:
            backend, backend_url = _start_backend()
            subprocess.run(
                _siyada(data_dir, "ingest", *map(str, EXAMPLES), "-c", COLLECTION,
                        "--embedder", "none"),
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            subprocess.run(
                _siyada(data_dir, "models", "add", REMOTE, "--backend", "openai",
                        "--url", backend_url, "--model-id", "tiny"),
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            port = _free_port()
            server = _start_server(data_dir, port, args.generations, Path(tmp) / "serve.log")
            base = f"http://127.0.0.1:{port}/v1"
            # Every request is authenticated, counted against quotas and audited, as in use.
            key = (data_dir / "admin.key").read_text().strip()
            headers = {"Authorization": f"Bearer {key}"}

            load_levels(
                f"POST /v1/lang/identify, one text a request, {args.seconds:g} s a level",
                f"{base}/lang/identify",
                [{"texts": [text]} for text in TEXTS],
                args.seconds,
                args.warmup,
                server.pid,
                headers,
            )
            grounded = [
                {
                    "model": "extractive",
                    "messages": [{"role": "user", "content": question}],
                    "siyada": {"collections": [COLLECTION]},
                }
                for question in QUESTIONS
            ]
            load_levels(
                f"POST /v1/chat/completions, extractive on {COLLECTION!r} (lexical), "
                f"non-streaming, {args.seconds:g} s a level",
                f"{base}/chat/completions",
                grounded,
                args.seconds,
                args.warmup,
                server.pid,
                headers,
            )
            proxy_overhead(
                f"{backend_url}/chat/completions",
                f"{base}/chat/completions",
                args.requests,
                headers,
            )
        finally:
            _stop(server)
            _stop(backend)


if __name__ == "__main__":
    main()
