"""The HTTP API on a live server: the official OpenAI client, Siyada's own routes, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import BadRequestError, NotFoundError, OpenAI

from siyada.config import Settings
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.models import ModelCard, ModelRegistry
from siyada.server import Limits, create_app
from tests.cli import ENV
from tests.live_server import admin_headers, serving
from tests.openai_server import Script, openai_server

EXAMPLES = Path(__file__).parent.parent / "examples"
ARABIZI = "chhal kaytkhlles l'extrait d'acte de naissance?"
GROUNDED = {"siyada": {"collections": ["examples"]}}


def register_remote(home: Path, name: str, url: str) -> None:
    """Register the OpenAI-compatible server at ``url`` as model ``name``."""
    registry = ModelRegistry(home / "siyada.db")
    registry.add_openai(DEFAULT_TENANT, name, [url], model_id="tiny", card=ModelCard())
    registry.close()


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, Script]]:
    with openai_server(Script(reply="Salam, had l'extrait kaytkhlles 10 dirhams [1].")) as found:
        yield found


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, backend: tuple[str, Script]) -> Path:
    data_dir = tmp_path_factory.mktemp("server")
    base = KnowledgeBase(Settings(data_dir=data_dir, embedder="none"))
    base.ingest(DEFAULT_TENANT, "examples", [EXAMPLES / "fr", EXAMPLES / "ar", EXAMPLES / "zgh"])
    base.close()
    register_remote(data_dir, "remote", backend[0])
    return data_dir


@pytest.fixture(scope="module")
def base_url(home: Path) -> Iterator[str]:
    app = create_app(
        Settings(data_dir=home, embedder="none", answer_timeout=10),
        Limits(json_body_bytes=2**20, upload_bytes=4 * 2**20),
    )
    with serving(app) as (url, _):
        yield url


@pytest.fixture(scope="module")
def auth(home: Path) -> dict[str, str]:
    return admin_headers(home)


@pytest.fixture(scope="module")
def api(auth: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(headers=auth, timeout=30) as found:
        yield found


@pytest.fixture(scope="module")
def client(base_url: str, auth: dict[str, str]) -> OpenAI:
    key = auth["Authorization"].removeprefix("Bearer ")
    return OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0)


# --- OpenAI-compatible -------------------------------------------------------------------------


def test_models_lists_the_registry_and_the_embedder(client: OpenAI) -> None:
    ids = [model.id for model in client.models.list().data]
    assert ids[:1] == ["extractive"] and "remote" in ids and "e5" in ids


def test_grounded_answer_whole(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model="extractive", messages=[{"role": "user", "content": ARABIZI}], extra_body=GROUNDED
    )
    text = response.choices[0].message.content or ""
    assert "dirhams" in text and response.choices[0].finish_reason == "stop"
    siyada = (response.model_extra or {})["siyada"]
    assert siyada["question_language"] == "ary_Latn"
    cited = [source for source in siyada["sources"] if source["cited"]]
    assert cited and all(source["document"].endswith(".md") for source in cited)
    assert response.usage is not None and response.usage.completion_tokens > 0


def test_grounded_answer_streamed_with_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="extractive",
        messages=[{"role": "user", "content": "ⵎⴰⵏⵉⵎⴽ ⴰⴷ ⵙⵎⴰⵢⵏⵓⵖ ⵜⴰⴽⴰⵔⴹⴰ?"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body=GROUNDED,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "ⵜⴰⴽⴰⵔⴹⴰ" in text
    first, *_, last_choice, usage = chunks
    assert (first.model_extra or {})["siyada"]["notice"]
    assert last_choice.choices[0].finish_reason == "stop"
    assert (last_choice.model_extra or {})["siyada"]["script"] == "Tfng"
    assert usage.usage is not None and usage.usage.total_tokens > 0 and not usage.choices


def test_plain_proxy_to_a_remote_model(client: OpenAI, backend: tuple[str, Script]) -> None:
    _, script = backend
    before = len(script.requests)
    stream = client.chat.completions.create(
        model="remote",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "salam"}],
        stream=True,
        temperature=0.5,
        max_tokens=33,
        stop=["\n\n"],
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Salam, had l'extrait kaytkhlles 10 dirhams [1]."
    sent = script.requests[before]
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "salam"},
    ]
    assert (sent["temperature"], sent["max_tokens"], sent["stop"]) == (0.5, 33, ["\n\n"])


def test_client_gone_mid_stream_cancels_the_backend_request(api: httpx.Client, home: Path) -> None:
    with openai_server(Script(reply=" ".join(["kalima"] * 200), token_delay=0.05)) as (url, s):
        register_remote(home, "slowly", url)
        app = create_app(Settings(data_dir=home, embedder="none"))
        with serving(app) as (base, _):
            body = {
                "model": "slowly",
                "stream": True,
                "messages": [{"role": "user", "content": "salam"}],
            }
            with api.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
                for line in response.iter_lines():
                    if '"content": "kalima"' in line:
                        break  # the client goes away after its first word
            deadline = time.monotonic() + 10
            while s.cancelled == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert s.cancelled == 1
            assert api.get(f"{base}/healthz").json() == {"status": "ok"}


def test_graceful_shutdown_finishes_the_stream_in_flight(api: httpx.Client, home: Path) -> None:
    with openai_server(Script(reply=" ".join(["w"] * 30), token_delay=0.05)) as (url, _):
        register_remote(home, "steady", url)
        app = create_app(Settings(data_dir=home, embedder="none"))
        with serving(app) as (base, server):
            body = {
                "model": "steady",
                "stream": True,
                "messages": [{"role": "user", "content": "salam"}],
            }
            lines: list[str] = []
            with api.stream("POST", f"{base}/v1/chat/completions", json=body) as response:
                for line in response.iter_lines():
                    lines.append(line)
                    if len(lines) == 4:
                        server.should_exit = True  # Ctrl-C while answering
    assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]"
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"].get("content") or ""
        for line in lines
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )
    assert text == " ".join(["w"] * 30)


def test_embeddings_as_the_official_client_asks(client: OpenAI) -> None:
    found = client.embeddings.create(model="e5", input=["salam", "ⵜⴰⵎⴰⵣⵉⵖⵜ"])
    vectors = np.array([item.embedding for item in found.data])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-3)


# --- Siyada's own API ----------------------------------------------------------------------


def test_language_tools_in_batches(api: httpx.Client, base_url: str) -> None:
    identified = api.post(
        f"{base_url}/v1/lang/identify",
        json={"texts": ["wach 3ndk lwe9t?", "ⵜⴰⵎⴰⵣⵉⵖⵜ"], "spans": True},
    ).json()
    assert [r["label"] for r in identified["results"]] == ["ary_Latn", "zgh_Tfng"]
    assert identified["results"][0]["spans"][0]["label"] == "ary_Latn"
    converted = api.post(
        f"{base_url}/v1/lang/transliterate",
        json={"texts": ["ⴰⵣⵓⵍ"], "source": "zgh_Tfng", "target": "ber_Latn"},
    ).json()
    assert converted == {"results": ["azul"]}
    normalized = api.post(
        f"{base_url}/v1/lang/normalize", json={"texts": ["بزااااف"], "label": "ary_Arab"}
    ).json()
    assert normalized == {"results": ["بزاف"]}


def test_collections_documents_and_search(api: httpx.Client, base_url: str, home: Path) -> None:
    created = api.post(f"{base_url}/v1/collections", json={"name": "uploads"})
    assert created.status_code == 201, created.text
    note = "# Permis de pêche\n\nLe permis de pêche coûte 150 dirhams par an.\n"
    files = [
        ("files", ("peche.md", note.encode(), "text/markdown")),
        ("files", ("../../peche.md", b"# Autre\n\nUn autre texte.\n", "text/markdown")),
    ]
    accepted = api.post(f"{base_url}/v1/collections/uploads/documents", files=files)
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()["job"]
    for _ in range(200):
        status = api.get(f"{base_url}/v1/jobs/{job}").json()
        if status["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert status["status"] == "done"
    assert [f["outcome"] for f in status["files"]] == ["added", "added"]
    documents = api.get(f"{base_url}/v1/collections/uploads/documents").json()["data"]
    # Same names in one upload are both kept; a path in a file name goes nowhere else.
    assert sorted(d["name"] for d in documents) == ["peche-2.md", "peche.md"]
    assert not (home / "peche.md").exists()
    documents = [d for d in documents if d["name"] == "peche.md"]
    found = api.post(
        f"{base_url}/v1/search",
        json={"collection": "uploads", "queries": ["chhal lpermis dyal sid?"]},
    ).json()
    assert "150 dirhams" in found["data"][0]["results"][0]["text"]
    assert "path" not in documents[0]
    deleted = api.delete(f"{base_url}/v1/collections/uploads/documents/{documents[0]['id']}")
    assert deleted.status_code == 200
    assert not list((home / "uploads").rglob("peche.md"))
    left = api.get(f"{base_url}/v1/collections/uploads/documents").json()["data"]
    assert [d["name"] for d in left] == ["peche-2.md"]
    assert api.delete(f"{base_url}/v1/collections/uploads").status_code == 200
    assert not list((home / "uploads").rglob("*.md"))  # the uploads went with the collection
    names = [c["name"] for c in api.get(f"{base_url}/v1/collections").json()["data"]]
    assert "uploads" not in names and "examples" in names


def test_openapi_docs_health_and_web_app(api: httpx.Client, base_url: str) -> None:
    schema = api.get(f"{base_url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/lang/identify", "/v1/search"} <= set(schema["paths"])
    docs = api.get(f"{base_url}/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', docs.text):
        assert api.get(f"{base_url}{asset}").status_code == 200, asset
    assert api.get(f"{base_url}/readyz").json()["status"] == "ready"
    page = api.get(f"{base_url}/")
    assert page.status_code == 200 and "<html" in page.text.lower()


# --- bad input: 4xx JSON with a reason, never a 500, and the server stays up ----------------


def _error(response: httpx.Response) -> str:
    message: str = response.json()["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "phrase"),
    [
        (
            "POST",
            "/v1/chat/completions",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "not valid JSON",
        ),
        ("POST", "/v1/chat/completions", {"json": {"model": 5, "messages": "hi"}}, 400, "messages"),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "extractive", "messages": []}},
            400,
            "messages",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}},
            404,
            "no model named 'nope'",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "extractive", "messages": [{"role": "user", "content": "hi"}]}},
            400,
            "grounded",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {
                    "model": "extractive",
                    "messages": [{"role": "user", "content": "hi"}],
                    "siyada": {"collections": ["nope"]},
                }
            },
            404,
            "no collection named 'nope'",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {
                    "model": "extractive",
                    "messages": [{"role": "user", "content": "x" * 5000}],
                    "siyada": {"collections": ["examples"]},
                }
            },
            400,
            "the limit is 4000",
        ),
        ("POST", "/v1/lang/identify", {"json": {"texts": ["a"] * 1001}}, 400, "texts"),
        ("POST", "/v1/lang/identify", {"content": b"x" * (2**20 + 10)}, 413, "over the limit"),
        (
            "POST",
            "/v1/lang/transliterate",
            {"json": {"texts": ["a"], "source": "fra_Latn", "target": "ary_Arab"}},
            400,
            "cannot transliterate",
        ),
        (
            "POST",
            "/v1/collections/examples/documents",
            {"files": [("files", ("virus.exe", b"MZ", "application/octet-stream"))]},
            415,
            "unsupported file type",
        ),
        (
            "POST",
            "/v1/collections/nope/documents",
            {"files": [("files", ("a.md", b"# a", "text/markdown"))]},
            404,
            "no collection",
        ),
        ("POST", "/v1/search", {"json": {"collection": "examples", "queries": [""]}}, 400, "empty"),
        ("GET", "/v1/nowhere", {}, 404, "no route"),
        ("DELETE", "/v1/models", {}, 405, "not allowed"),
        (
            "POST",
            "/v1/embeddings",
            {"json": {"model": "ada", "input": "x"}},
            404,
            "no embedding model",
        ),
        ("GET", "/v1/jobs/unknown", {}, 404, "no ingest job"),
        ("POST", "/v1/collections", {"json": {"name": ".."}}, 400, "invalid collection name"),
        ("POST", "/v1/collections", {"json": {"name": "a\u0000b"}}, 400, "invalid collection name"),
        (
            "POST",
            "/v1/collections",
            {"json": {"name": "x", "embedder": "openai:http://10.0.0.1/internal#m"}},
            400,
            "embedder must be e5 or none",
        ),
        (
            "POST",
            "/v1/lang/identify",
            {
                "content": iter([b'{"texts": ["', b"a" * 2**20, b'"]}']),
                "headers": {"content-type": "application/json"},
            },
            413,
            "over the limit",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "remote", "n": 2, "messages": [{"role": "user", "content": "x"}]}},
            400,
            "only one choice",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {
                    "model": "remote",
                    "tools": [{"type": "function"}],
                    "messages": [{"role": "user", "content": "x"}],
                }
            },
            400,
            "tool calls",
        ),
    ],
)
def test_bad_requests(
    api: httpx.Client,
    base_url: str,
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    phrase: str,
) -> None:
    response = api.request(method, f"{base_url}{path}", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert phrase in _error(response)
    assert response.json()["error"]["type"]
    assert api.get(f"{base_url}/healthz").status_code == 200


def test_openai_client_sees_openai_errors(client: OpenAI) -> None:
    with pytest.raises(NotFoundError, match="no model named"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(BadRequestError, match="grounded"):
        client.chat.completions.create(
            model="extractive", messages=[{"role": "user", "content": "x"}]
        )


def test_too_many_generations_at_once_get_429(api: httpx.Client, home: Path) -> None:
    with openai_server(Script(reply="a b c", first_token_delay=1.0)) as (url, _):
        register_remote(home, "single", url)
        app = create_app(Settings(data_dir=home, embedder="none"), Limits(generations=1))
        with serving(app) as (base, _):
            body = {"model": "single", "messages": [{"role": "user", "content": "salam"}]}
            first: list[httpx.Response] = []
            worker = threading.Thread(
                target=lambda: first.append(api.post(f"{base}/v1/chat/completions", json=body))
            )
            worker.start()
            time.sleep(0.4)
            second = api.post(f"{base}/v1/chat/completions", json=body)
            worker.join()
    assert second.status_code == 429 and "too many" in _error(second)
    assert first[0].status_code == 200


def test_serve_command_prints_its_url_and_refuses_a_busy_port(home: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "siyada", "--data-dir", str(home), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    process.terminate()
    process.wait(timeout=30)
    with serving(create_app(Settings(data_dir=home, embedder="none"))) as (base, _):
        port = base.rsplit(":", 1)[1]
        busy = subprocess.run(
            [sys.executable, "-m", "siyada", "--data-dir", str(home), "serve", "--port", port],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
            check=False,
        )
    assert busy.returncode == 1 and "cannot listen on 127.0.0.1" in busy.stderr
    assert "Traceback" not in busy.stderr
