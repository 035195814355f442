"""Every API request leaves one audit record: who (tenant, key), what (method and route), on
which resource, the outcome (HTTP status), and SHA-256 digests of the request and response
bodies, computed as they stream: never the bodies themselves."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from starlette.routing import compile_path

from siyada.config import Settings
from siyada.governance.audit import open_audit
from siyada.governance.pii import mask
from siyada.server.asgi import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("siyada.audit")
AUDITED_PREFIX = "/v1/"
MAX_PENDING = 10_000
"""Records waiting to be written; requests wait for room beyond this (back-pressure)."""
MAX_BATCH = 500
_STOP = object()


class AuditWriter:
    """One thread appends the server's audit records, many per transaction and signed head:
    an append waits for the disk, and one at a time would cap the server at a few hundred
    requests a second. ``close()`` writes what is still queued."""

    def __init__(self, settings: Settings) -> None:
        # Opened here, so that a trail that cannot open stops the server from starting.
        self._trail = open_audit(settings)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=MAX_PENDING)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    async def submit(self, **fields: Any) -> None:
        """Queue a record (``AuditTrail.record``'s arguments); waits while the queue is full."""
        try:
            self._queue.put_nowait(fields)
        except queue.Full:
            await asyncio.to_thread(self._queue.put, fields)

    def _batch(self) -> tuple[list[dict[str, Any]], bool]:
        """The records queued now (at least one: waits for it), and whether to stop after."""
        items = [self._queue.get()]
        while len(items) < MAX_BATCH:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return [item for item in items if isinstance(item, dict)], _STOP in items

    def _run(self) -> None:
        trail = self._trail
        try:
            stopping = False
            while not stopping:
                batch, stopping = self._batch()
                entries = []
                for fields in batch:
                    try:
                        entries.append(trail.entry(**fields))
                    except ValueError:
                        logger.exception("a malformed audit record was left out: %r", fields)
                if entries:
                    try:
                        trail.record_batch(entries)
                    except Exception:  # logged: the server goes on answering
                        logger.exception("could not append %d audit records", len(entries))
        finally:
            trail.close()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=60)


class RouteTemplates:
    """The API's path templates (from its OpenAPI schema), to name a request by its route even
    when it was refused before routing (no key)."""

    def __init__(self, schema: Callable[[], dict[str, Any]]) -> None:
        self._schema = schema
        self._compiled: list[tuple[str, re.Pattern[str]]] | None = None

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        if self._compiled is None:
            self._compiled = [
                (template, compile_path(template)[0]) for template in self._schema()["paths"]
            ]
        for template, pattern in self._compiled:
            found = pattern.match(path)
            if found:
                return template, found.groupdict()
        return None


def _action_and_resource(scope: Scope, templates: RouteTemplates) -> tuple[str, str | None]:
    """The route's template (not the path a client typed) and its parameters, with personal
    identifiers masked: the trail keeps no client text it cannot erase."""
    found = templates.match(scope["path"])
    if found is None:
        return f"{scope['method']} (no such route)", None
    template, parameters = found
    masked = {name: mask(str(value)) for name, value in parameters.items()}
    resource = json.dumps(masked, ensure_ascii=False, sort_keys=True) if masked else None
    return f"{scope['method']} {template}", resource


class AuditMiddleware:
    def __init__(self, app: ASGIApp, writer: AuditWriter, templates: RouteTemplates) -> None:
        self.app = app
        self.writer = writer
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(AUDITED_PREFIX):
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        received = hashlib.sha256()
        sent = hashlib.sha256()
        status = 500

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received.update(message.get("body", b""))
            return message

        async def hashing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent.update(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, hashing_receive, hashing_send)
        finally:
            principal = scope.get("state", {}).get("principal")
            action, resource = _action_and_resource(scope, self.templates)
            await self.writer.submit(
                tenant=principal.tenant.name if principal else "-",
                key_id=principal.key.prefix if principal else None,
                action=action,
                resource=resource,
                request_id=request_id,
                outcome=str(status),
                input_digests=[f"sha256:{received.hexdigest()}"],
                output_digests=[f"sha256:{sent.hexdigest()}"],
            )
