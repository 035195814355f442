"""``siyada serve``: the API and the web app on one port."""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Annotated

import typer

from siyada.cli.common import fail
from siyada.config import Settings

GRACEFUL_SHUTDOWN_SECONDS = 30


def serve_command(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 127.0.0.1 keeps it on this machine.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    answer_timeout: Annotated[
        float, typer.Option(min=1, max=3600, help="Seconds a model may take for one answer.")
    ] = 120.0,
    generations: Annotated[
        int, typer.Option(min=1, max=256, help="Answers generated at once; more get HTTP 429.")
    ] = 8,
    connections: Annotated[
        int, typer.Option(min=1, max=10000, help="Open connections at once; more get HTTP 503.")
    ] = 256,
) -> None:
    """Serve the OpenAI-compatible API, Siyada's API and the chat web app."""
    import uvicorn

    from siyada.server import Limits, create_app

    settings: Settings = ctx.find_root().obj
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        message = f"cannot listen on {host}:{port} ({error.strerror}); pick another --port"
        raise fail(message, 1) from None
    app = create_app(
        replace(settings, answer_timeout=answer_timeout), Limits(generations=generations)
    )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"Siyada is serving on http://{shown}:{port}/ (API docs: /docs); Ctrl-C stops it.")
    uvicorn.run(
        app,
        host=host,
        port=port,
        limit_concurrency=connections,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level="warning",
    )
