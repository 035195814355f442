"""What the server holds between requests: per-thread stores, loaded models, ingest jobs.

SQLite connections belong to the thread that opened them, and FastAPI runs blocking handlers
in a thread pool, so each thread gets its own KnowledgeBase and ModelRegistry (WAL lets them
read while one writes). Loaded models are shared: a GGUF is loaded once per process.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from siyada.config import Settings
from siyada.governance.access import Directory, open_directory
from siyada.governance.quotas import Quotas
from siyada.knowledge import KnowledgeBase
from siyada.knowledge.ingest import FileResult
from siyada.models import ChatModel, ModelRegistry
from siyada.models.registry import Backend, ModelRecord, build_model
from siyada.server.auditing import AuditWriter

MAX_JOBS_KEPT = 1000


class _Closable(Protocol):
    def close(self) -> None: ...


@dataclass
class Job:
    id: str
    tenant: str
    collection: str
    status: str = "queued"
    files: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "collection": self.collection,
            "status": self.status,
            "files": self.files,
            "error": self.error,
        }


class ServerState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._opened: list[_Closable] = []
        self._models: dict[tuple[str, str], ChatModel] = {}
        self._lock = threading.Lock()
        self.jobs: dict[str, Job] = {}
        self.audit = AuditWriter(settings)
        # One ingest at a time: it is CPU-bound (parsing, embedding) and writes the store.
        self._ingest = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")

    def _per_thread(self, name: str, factory: Callable[[], _Closable]) -> Any:
        found = getattr(self._local, name, None)
        if found is None:
            found = factory()
            setattr(self._local, name, found)
            with self._lock:
                self._opened.append(found)
        return found

    def knowledge(self) -> KnowledgeBase:
        found: KnowledgeBase = self._per_thread("knowledge", lambda: KnowledgeBase(self.settings))
        return found

    def registry(self) -> ModelRegistry:
        found: ModelRegistry = self._per_thread(
            "registry", lambda: ModelRegistry(self.settings.database_path, self.settings.egress)
        )
        return found

    def directory(self) -> Directory:
        found: Directory = self._per_thread("directory", lambda: open_directory(self.settings))
        return found

    def quotas(self) -> Quotas:
        found: Quotas = self._per_thread("quotas", lambda: Quotas(self.settings.database_path))
        return found

    def model(self, tenant: str, name: str | None) -> tuple[ModelRecord, ChatModel]:
        """A registered model (the default when ``name`` is None), loaded once and shared."""
        registry = self.registry()
        record = registry.get(tenant, name) if name else registry.default(tenant)
        if record.backend is Backend.LLAMA:
            registry.verify(tenant, record)
        key = (tenant, record.name)
        with self._lock:
            if key not in self._models:
                self._models[key] = build_model(record, self.settings.egress)
            return record, self._models[key]

    def forget_model(self, tenant: str, name: str) -> None:
        with self._lock:
            model = self._models.pop((tenant, name), None)
        if model is not None:
            model.close()

    def uploads(self, tenant: str, collection: str) -> Path:
        """Where a collection's uploaded files are kept."""
        knowledge = self.knowledge()
        return knowledge.uploads_dir(knowledge.collection(tenant, collection))

    def start_ingest(self, tenant: str, collection: str, paths: Sequence[Path]) -> Job:
        job = Job(uuid.uuid4().hex, tenant, collection)
        with self._lock:
            if len(self.jobs) >= MAX_JOBS_KEPT:
                finished = [
                    key for key, old in self.jobs.items() if old.status in ("done", "failed")
                ]
                for key in finished[: len(finished) // 2 + 1]:
                    del self.jobs[key]
            self.jobs[job.id] = job
        self._ingest.submit(self._run_ingest, job, list(paths))
        return job

    def _run_ingest(self, job: Job, paths: list[Path]) -> None:
        job.status = "running"

        def record(result: FileResult) -> None:
            job.files.append(
                {
                    "name": Path(result.name).name,
                    "outcome": result.outcome.value,
                    "chunks": result.chunks,
                    "error": result.reason,
                }
            )

        try:
            # A collection deleted while the job waited is not created again.
            self.knowledge().collection(job.tenant, job.collection)
            self.knowledge().ingest(
                job.tenant,
                job.collection,
                paths,
                on_file=record,
                relative_to=self.uploads(job.tenant, job.collection),
            )
            job.status = "done"
        except Exception as error:  # reported to the client through the job, not lost
            job.error = str(error)
            job.status = "failed"

    def close(self) -> None:
        # Queued uploads stay on disk; an ingest under way ends with the process (each document
        # is committed on its own, so none is left half-written).
        self._ingest.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            models, self._models = list(self._models.values()), {}
            opened, self._opened = self._opened, []
        for model in models:
            model.close()
        for resource in opened:
            resource.close()
        self.audit.close()
