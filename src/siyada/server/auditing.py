"""Every API request leaves one audit record: who (tenant, key), what (method and route), on
which resource, the outcome (HTTP status), and SHA-256 digests of the request and response
bodies, computed as they stream: never the bodies themselves."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from typing import Any

from siyada.server.asgi import ASGIApp, Message, Receive, Scope, Send
from siyada.server.state import ServerState

logger = logging.getLogger("siyada.audit")
AUDITED_PREFIX = "/v1/"


class AuditMiddleware:
    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app = app
        self.state = state

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
            await self._record(scope, request_id, status, received, sent)

    async def _record(
        self,
        scope: Scope,
        request_id: str,
        status: int,
        received: Any,
        sent: Any,
    ) -> None:
        principal = scope.get("state", {}).get("principal")
        route = scope.get("route")
        template = getattr(route, "path", None) or scope["path"]
        parameters = scope.get("path_params") or {}
        resource = (
            json.dumps(parameters, ensure_ascii=False, sort_keys=True) if parameters else None
        )

        def append() -> None:  # in a worker thread, with that thread's connection
            self.state.audit().record(
                tenant=principal.tenant.name if principal else "-",
                key_id=principal.key.prefix if principal else None,
                action=f"{scope['method']} {template}",
                resource=resource,
                request_id=request_id,
                outcome=str(status),
                input_digests=[f"sha256:{received.hexdigest()}"],
                output_digests=[f"sha256:{sent.hexdigest()}"],
            )

        try:
            await asyncio.to_thread(append)
        except Exception:  # the answer is sent already: log, never fail the request
            logger.exception("could not append the audit record of request %s", request_id)
