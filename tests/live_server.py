"""Siyada's ASGI app served by a real uvicorn on loopback, in a thread, for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from siyada.config import Settings
from siyada.governance.access import ensure_local_admin, open_directory


@contextmanager
def serving(app: FastAPI, graceful_seconds: float = 10) -> Iterator[tuple[str, uvicorn.Server]]:
    """Yields the base URL (``http://127.0.0.1:PORT``) and the server (to stop it early)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=int(graceful_seconds),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=graceful_seconds + 10)


def admin_headers(home: Path) -> dict[str, str]:
    """The local admin key of the data directory ``home`` (created as ``siyada serve`` does)."""
    settings = Settings(data_dir=home)
    directory = open_directory(settings)
    try:
        ensure_local_admin(directory, settings.admin_key_path)
    finally:
        directory.close()
    return {"Authorization": f"Bearer {settings.admin_key_path.read_text().strip()}"}
