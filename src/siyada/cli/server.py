"""``siyada serve``: the API and the web app on one port."""

from __future__ import annotations

import socket
import sqlite3
import sys
from dataclasses import replace
from typing import Annotated

import typer

from siyada.cli.common import fail
from siyada.config import Settings
from siyada.database import SchemaError
from siyada.governance.access import AccessError, ensure_local_admin, open_directory

GRACEFUL_SHUTDOWN_SECONDS = 30
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    try:
        directory = open_directory(settings)
        try:
            created = ensure_local_admin(directory, settings.admin_key_path)
        finally:
            directory.close()
    except (OSError, sqlite3.Error, SchemaError, AccessError) as error:
        raise fail(f"cannot prepare {settings.data_dir}: {error}", 1) from None
    app = create_app(
        replace(settings, answer_timeout=answer_timeout), Limits(generations=generations)
    )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    typer.echo(f"Siyada is serving on {url} (API docs: /docs); Ctrl-C stops it.")
    state = "created now" if created else "kept"
    typer.echo(f"The local admin API key is in {settings.admin_key_path} ({state}, mode 0600).")
    if host in LOOPBACK_HOSTS and sys.stdout.isatty():
        # On this machine, to a person (a terminal, not a service's log): the web app signed in
        # (the key stays in the URL fragment, which browsers never send to the server).
        key = settings.admin_key_path.read_text().strip()
        typer.echo(f"Web app, signed in as the local admin: {url}#key={key}")
    uvicorn.run(
        app,
        host=host,
        port=port,
        limit_concurrency=connections,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_level="warning",
    )
