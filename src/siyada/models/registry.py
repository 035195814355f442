"""The model registry: which models a tenant may use, where they are, and their cards.

Local GGUF files are registered with their SHA-256 and checked against it before every load
(hashing again only when the file's size or modification time changed). The extractive model
is built in: it needs no weights, and answers when no other model is the default.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx

from siyada.database import connect, now_iso, transaction
from siyada.governance.egress import EgressPolicy, EgressRefused
from siyada.models.base import ChatModel, ModelCard, ModelError
from siyada.models.extractive import ExtractiveModel
from siyada.models.files import Progress, check_sha256, file_stamp, sha256_file
from siyada.models.openai_http import OpenAIChatModel, Strategy, base_url

EXTRACTIVE = "extractive"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


class Backend(StrEnum):
    LLAMA = "llama"
    """A local GGUF file run in process by llama.cpp (``pip install 'siyada[llama]'``)."""
    OPENAI = "openai"
    """OpenAI-compatible endpoints: vLLM, llama-server, Ollama."""
    EXTRACTIVE = "extractive"


@dataclass(frozen=True)
class ModelRecord:
    name: str
    backend: Backend
    location: dict[str, Any]
    card: ModelCard
    sha256: str | None = None
    default: bool = False
    created_at: str = ""
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        card = asdict(self.card)
        card["languages"] = list(self.card.languages)
        return {
            "name": self.name,
            "backend": self.backend.value,
            "location": self.location,
            "sha256": self.sha256,
            "default": self.default,
            "builtin": self.builtin,
            "created_at": self.created_at,
            "card": card,
        }


EXTRACTIVE_CARD = ModelCard(
    license="Apache-2.0 (part of Siyada)",
    languages=("ary", "arb", "zgh", "ber", "fra", "eng", "spa"),
    source="built in",
    description="No weights: quotes the retrieved sentences that best answer the question.",
)


DEFAULT_CONTEXT = 4096
MIN_CONTEXT = 128
MAX_CONTEXT = 1 << 20


def check_context(context: int) -> int:
    if not MIN_CONTEXT <= context <= MAX_CONTEXT:
        raise ModelError(f"context must be between {MIN_CONTEXT} and {MAX_CONTEXT} tokens")
    return context


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ModelError(
            f"invalid model name {name!r}: 1-64 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return name


class ModelRegistry:
    def __init__(self, database: Path, egress: EgressPolicy | None = None) -> None:
        self._db = connect(database)
        self._egress = egress or EgressPolicy()
        self._loaded: dict[tuple[str, str], ChatModel] = {}

    def close(self) -> None:
        for model in self._loaded.values():
            model.close()
        self._loaded.clear()
        self._db.close()

    def _builtin(self, tenant: str) -> ModelRecord:
        has_default = self._db.execute(
            "SELECT 1 FROM models WHERE tenant = ? AND is_default = 1", (tenant,)
        ).fetchone()
        return ModelRecord(
            EXTRACTIVE,
            Backend.EXTRACTIVE,
            {},
            EXTRACTIVE_CARD,
            default=has_default is None,
            builtin=True,
        )

    @staticmethod
    def _record(row: sqlite3.Row | tuple[Any, ...]) -> ModelRecord:
        name, backend, location, sha256, card, default, created_at = row
        card_fields = json.loads(card)
        card_fields["languages"] = tuple(card_fields.get("languages", ()))
        return ModelRecord(
            name,
            Backend(backend),
            json.loads(location),
            ModelCard(**card_fields),
            sha256,
            bool(default),
            created_at,
        )

    _COLUMNS = "name, backend, location, sha256, card, is_default, created_at"

    def list(self, tenant: str) -> list[ModelRecord]:
        rows = self._db.execute(
            f"SELECT {self._COLUMNS} FROM models WHERE tenant = ? ORDER BY name", (tenant,)
        ).fetchall()
        return [self._builtin(tenant), *map(self._record, rows)]

    def get(self, tenant: str, name: str) -> ModelRecord:
        if name == EXTRACTIVE:
            return self._builtin(tenant)
        row = self._db.execute(
            f"SELECT {self._COLUMNS} FROM models WHERE tenant = ? AND name = ?", (tenant, name)
        ).fetchone()
        if row is None:
            known = ", ".join(record.name for record in self.list(tenant))
            raise ModelError(
                f"no model named {name!r} (known: {known}); add one with siyada models add"
            )
        return self._record(row)

    def default(self, tenant: str) -> ModelRecord:
        row = self._db.execute(
            f"SELECT {self._COLUMNS} FROM models WHERE tenant = ? AND is_default = 1", (tenant,)
        ).fetchone()
        return self._record(row) if row else self._builtin(tenant)

    def check_new(self, tenant: str, name: str) -> None:
        """Refuse a name that is invalid, reserved or taken, before any slow work is done."""
        check_name(name)
        if name == EXTRACTIVE:
            raise ModelError(f"{EXTRACTIVE!r} is the built-in model; choose another name")
        taken = self._db.execute(
            "SELECT 1 FROM models WHERE tenant = ? AND name = ?", (tenant, name)
        ).fetchone()
        if taken:
            raise ModelError(
                f"a model named {name!r} exists already; remove it first "
                f"(siyada models remove {name})"
            )

    def add_llama(
        self,
        tenant: str,
        name: str,
        path: Path,
        *,
        sha256: str | None,
        card: ModelCard,
        context: int = DEFAULT_CONTEXT,
        threads: int | None = None,
        make_default: bool = False,
        on_progress: Progress | None = None,
        verified: bool = False,
    ) -> ModelRecord:
        """Register a local GGUF file; ``verified`` when its ``sha256`` was just checked (pull)."""
        from siyada.models.llama import validate_gguf

        self.check_new(tenant, name)
        check_context(context)
        expected = check_sha256(sha256) if sha256 is not None else None
        path = path.expanduser().resolve()
        if not path.is_file():
            raise ModelError(f"no such model file: {path}")
        validate_gguf(path)
        verified_now = verified and expected is not None
        actual = expected if verified_now else sha256_file(path, on_progress)
        if expected is not None and expected != actual:
            raise ModelError(f"checksum mismatch for {path}: expected {expected}, got {actual}")
        location = {"path": str(path), "context": context, "threads": threads}
        return self._insert(
            tenant, name, Backend.LLAMA, location, actual, card, make_default, file_stamp(path)
        )

    def add_openai(
        self,
        tenant: str,
        name: str,
        urls: Sequence[str],
        *,
        model_id: str,
        card: ModelCard,
        strategy: Strategy = Strategy.ROUND_ROBIN,
        api_key_env: str | None = None,
        context: int | None = None,
        make_default: bool = False,
    ) -> ModelRecord:
        if not urls:
            raise ModelError("give at least one endpoint with --url")
        try:
            endpoints = [base_url(url) for url in urls]
        except ValueError as error:
            raise ModelError(str(error)) from None
        if not model_id.strip():
            raise ModelError("give the model's name on the server with --model-id")
        if context is not None:
            check_context(context)
        self.check_new(tenant, name)
        try:
            for endpoint in endpoints:
                self._egress.check(httpx.URL(endpoint).host)
        except EgressRefused as error:
            raise ModelError(str(error)) from None
        location = {
            "urls": endpoints,
            "model_id": model_id.strip(),
            "strategy": strategy.value,
            "api_key_env": api_key_env,
            "context": context,
        }
        return self._insert(tenant, name, Backend.OPENAI, location, None, card, make_default, None)

    def _insert(
        self,
        tenant: str,
        name: str,
        backend: Backend,
        location: dict[str, Any],
        sha256: str | None,
        card: ModelCard,
        make_default: bool,
        stamp: str | None,
    ) -> ModelRecord:
        card_json = json.dumps({**asdict(card), "languages": list(card.languages)})
        with transaction(self._db):
            if make_default:
                self._db.execute("UPDATE models SET is_default = 0 WHERE tenant = ?", (tenant,))
            try:
                self._db.execute(
                    "INSERT INTO models (tenant, name, backend, location, sha256, card,"
                    " verified_stat, is_default, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        tenant,
                        name,
                        backend.value,
                        json.dumps(location),
                        sha256,
                        card_json,
                        stamp,
                        int(make_default),
                        now_iso(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise ModelError(
                    f"a model named {name!r} exists already; remove it first "
                    f"(siyada models remove {name})"
                ) from None
        return self.get(tenant, name)

    def set_default(self, tenant: str, name: str) -> ModelRecord:
        record = self.get(tenant, name)
        with transaction(self._db):
            self._db.execute("UPDATE models SET is_default = 0 WHERE tenant = ?", (tenant,))
            self._db.execute(
                "UPDATE models SET is_default = 1 WHERE tenant = ? AND name = ?", (tenant, name)
            )
        return record

    def remove(self, tenant: str, name: str) -> None:
        if name == EXTRACTIVE:
            raise ModelError(f"{EXTRACTIVE!r} is built in and cannot be removed")
        self.get(tenant, name)
        with transaction(self._db):
            self._db.execute("DELETE FROM models WHERE tenant = ? AND name = ?", (tenant, name))
        loaded = self._loaded.pop((tenant, name), None)
        if loaded is not None:
            loaded.close()

    def verify(
        self,
        tenant: str,
        record: ModelRecord,
        on_progress: Progress | None = None,
        *,
        always: bool = False,
    ) -> None:
        """Refuse a local file whose SHA-256 is no longer the registered one. The file is hashed
        when it may have changed since the last check (or ``always``)."""
        if record.backend is not Backend.LLAMA:
            return
        path = Path(record.location["path"])
        if not path.is_file():
            raise ModelError(f"model {record.name!r}: its file {path} is gone")
        stamp = file_stamp(path)
        row = self._db.execute(
            "SELECT verified_stat FROM models WHERE tenant = ? AND name = ?", (tenant, record.name)
        ).fetchone()
        if row is not None and row[0] == stamp and not always:
            return
        actual = sha256_file(path, on_progress)
        if actual != record.sha256:
            raise ModelError(
                f"model {record.name!r}: {path} does not match its registered SHA-256 "
                f"(expected {record.sha256}, got {actual}); refusing to load it. Restore the "
                "file, or remove and add the model again if the change is intended"
            )
        with transaction(self._db):
            self._db.execute(
                "UPDATE models SET verified_stat = ? WHERE tenant = ? AND name = ?",
                (stamp, tenant, record.name),
            )

    def load(self, tenant: str, name: str | None = None) -> ChatModel:
        """The model ready to answer (loaded once per process), checked before loading."""
        record = self.get(tenant, name) if name else self.default(tenant)
        if record.backend is Backend.LLAMA:
            self.verify(tenant, record)
        key = (tenant, record.name)
        if key not in self._loaded:
            self._loaded[key] = build_model(record, self._egress)
        return self._loaded[key]


def build_model(record: ModelRecord, egress: EgressPolicy | None = None) -> ChatModel:
    """The model a record describes, ready to answer (a local file must be verified first)."""
    if record.backend is Backend.EXTRACTIVE:
        return ExtractiveModel()
    location = record.location
    if record.backend is Backend.OPENAI:
        return OpenAIChatModel(
            record.name,
            location["urls"],
            model_id=location["model_id"],
            strategy=Strategy(location.get("strategy", Strategy.ROUND_ROBIN)),
            api_key_env=location.get("api_key_env"),
            context_tokens=location.get("context"),
            egress=egress,
        )
    from siyada.models.llama import LlamaCppChatModel

    return LlamaCppChatModel(
        record.name,
        Path(location["path"]),
        context=int(location.get("context", DEFAULT_CONTEXT)),
        threads=location.get("threads"),
    )
