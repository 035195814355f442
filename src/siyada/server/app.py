"""The HTTP server: the OpenAI-compatible API, Siyada's own API and the web app, one process."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from siyada import __version__
from siyada.config import Settings
from siyada.server import admin_routes, errors, openai_routes, siyada_routes
from siyada.server.asgi import ASGIApp, Message, Receive, Scope, Send
from siyada.server.auditing import AuditMiddleware, RouteTemplates
from siyada.server.auth import BearerRequired
from siyada.server.state import ServerState


@dataclass(frozen=True)
class Limits:
    json_body_bytes: int = 8 * 2**20
    """A JSON request body (a chat with its history, a batch of texts)."""
    upload_bytes: int = 512 * 2**20
    """A multipart upload of documents."""
    generations: int = 8
    """Answers generated at once; more get 429 (uvicorn also caps connections)."""


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for a body over the limit, declared (Content-Length) or streamed (chunked)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].endswith("/documents")
        limit = self.limits.upload_bytes if upload else self.limits.json_body_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode() or "0"
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        started = exceeded = False

        async def limited() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The framework turned the refusal into its own error response: say 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _too_large(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        errors.error_body(
            413, f"the request body is over the limit of {limit} bytes", "request_too_large"
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        state.close()

    app = FastAPI(
        title="Siyada",
        version=__version__,
        description="A sovereign AI stack for Morocco: an OpenAI-compatible API grounded in an "
        "institution's documents, Moroccan language tools, and a chat app.",
        lifespan=lifespan,
        # The docs page is served from the package below: FastAPI's loads Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.siyada = state
    app.state.generations = threading.BoundedSemaphore(limits.generations)
    errors.install(app)
    app.include_router(openai_routes.router)
    app.include_router(siyada_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(siyada_routes.health)
    api_docs = resources.files("siyada.web").joinpath("api-docs")
    app.mount("/api-docs", StaticFiles(directory=str(api_docs)), name="api-docs")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Siyada API",
            swagger_js_url="/api-docs/swagger-ui-bundle.js",
            swagger_css_url="/api-docs/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    static = resources.files("siyada.web").joinpath("static")
    app.mount("/", StaticFiles(directory=str(static), html=True), name="web")
    app.add_middleware(BodyLimit, limits=limits)
    app.add_middleware(BearerRequired, settings=settings)
    # Outermost: requests refused for their size or for having no key are recorded too.
    app.add_middleware(AuditMiddleware, writer=state.audit, templates=RouteTemplates(app.openapi))
    return app
