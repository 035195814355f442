"""A local GGUF model run in process by llama.cpp (the ``siyada[llama]`` extra).

In process rather than a managed ``llama-server``: no port, no child process to supervise,
and streaming costs nothing over llama.cpp's own loop (``benchmarks/assistant.py`` measures
it). One model instance serves one generation at a time; concurrent requests queue.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from gguf import GGUFReader

from siyada.models.base import (
    ChatRequest,
    Delta,
    ModelDamaged,
    ModelError,
    ModelTimeout,
    ModelUnavailable,
    Usage,
)

GGUF_MAGIC = b"GGUF"
INSTALL_HINT = "install the llama.cpp backend with: pip install 'siyada[llama]'"


def require_gguf_reader() -> type[GGUFReader]:
    try:
        from gguf import GGUFReader
    except ImportError:
        raise ModelUnavailable(f"cannot read GGUF files: {INSTALL_HINT}") from None
    return GGUFReader


def validate_gguf(path: Path) -> None:
    """Refuse a file that is not a complete GGUF model before llama.cpp sees it."""
    reader_class = require_gguf_reader()
    with path.open("rb") as stream:
        magic = stream.read(4)
    if magic != GGUF_MAGIC:
        raise ModelDamaged(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    try:
        reader = reader_class(path)
    except Exception as error:  # the reader raises many types on damaged files
        raise ModelDamaged(f"{path} is a damaged or truncated GGUF file ({error})") from None
    size = path.stat().st_size
    end = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if not reader.tensors or end > size:
        raise ModelDamaged(
            f"{path} is truncated: its tensors need {end} bytes, the file has {size}; "
            "download it again"
        )


class LlamaCppChatModel:
    generative = True

    def __init__(
        self, name: str, path: Path, *, context: int = 4096, threads: int | None = None
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelUnavailable(f"model {name!r} needs llama.cpp: {INSTALL_HINT}") from None
        validate_gguf(path)
        self.name = name
        self.path = path
        self.context_tokens: int | None = context
        try:
            self._llm = Llama(
                model_path=str(path),
                n_ctx=context,
                n_threads=threads or max(os.cpu_count() or 1, 1),
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise ModelUnavailable(f"llama.cpp could not load {path}: {error}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._llm.close()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, request: ChatRequest) -> Iterator[Delta]:
        deadline = time.monotonic() + request.timeout
        arguments: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop) or None,
        }
        if request.seed is not None:
            arguments["seed"] = request.seed
        # One generation at a time: a request queues, but not past its own deadline.
        if not self._lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
            raise ModelTimeout(
                f"model {self.name!r} was busy with other requests for {request.timeout:g} s"
            )
        try:
            try:
                # Typed as a union of streaming and whole responses: streaming is asked for.
                chunks = cast(
                    Iterator[dict[str, Any]], self._llm.create_chat_completion(**arguments)
                )
                finish = "stop"
                produced = 0
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content")
                    if text:
                        produced += 1
                        yield Delta(text)
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
                    if time.monotonic() > deadline:
                        raise ModelTimeout(
                            f"model {self.name!r} did not finish within {request.timeout:g} s"
                        )
            except ValueError as error:  # e.g. the prompt does not fit the context
                raise ModelError(f"model {self.name!r}: {error}") from None
            prompt = max(int(self._llm.n_tokens) - produced, 0)
        finally:
            self._lock.release()
        yield Delta("", "length" if finish == "length" else "stop", Usage(prompt, produced))
