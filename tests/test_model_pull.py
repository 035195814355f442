"""The model registry CLI: ``siyada models pull`` against a real loopback file server (full
download, resume, checksum and HTTP failures), and ``siyada models add/remove/list/show``."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from siyada.config import Settings
from siyada.knowledge.store import DEFAULT_TENANT
from siyada.models import ModelCard, ModelRegistry
from tests.cli import siyada
from tests.openai_server import openai_server, unused_url
from tests.tiny_gguf import truncate_copy, write_tiny_llama

NAME = "tiny-llama"
Run = subprocess.CompletedProcess[str]


@dataclass(frozen=True)
class Weights:
    path: Path
    data: bytes
    sha256: str


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Weights:
    path = write_tiny_llama(tmp_path_factory.mktemp("weights") / "tiny.gguf")
    data = path.read_bytes()
    return Weights(path, data, hashlib.sha256(data).hexdigest())


# --- a file server with Range support ------------------------------------------------------


@dataclass
class FileServer:
    url: str
    """Where the tiny model is served; a path that is not one of the files answers 404."""
    files: dict[str, bytes]
    """The files it serves, by path (a query string is ignored)."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """Each GET of a file: the path as asked (query included) and its Range header."""

    def url_of(self, path: str) -> str:
        return self.url.rsplit("/", 1)[0] + path

    def ranges(self) -> list[str | None]:
        return [asked for _, asked in self.requests]


_RANGE = re.compile(r"bytes=(\d+)-$")


def _handler(served: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            content = served.files.get(self.path.partition("?")[0])
            if content is None:
                self._send(404, b"no such file\n", {"Content-Type": "text/plain"})
                return
            asked = self.headers.get("Range")
            served.requests.append((self.path, asked))
            kind = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            match = _RANGE.match(asked or "")
            if match is None:
                self._send(200, content, kind)
                return
            start = int(match.group(1))
            if start >= len(content):
                self._send(416, b"", {"Content-Range": f"bytes */{len(content)}"})
                return
            kind["Content-Range"] = f"bytes {start}-{len(content) - 1}/{len(content)}"
            self._send(206, content[start:], kind)

    return Handler


@pytest.fixture(scope="module")
def shared_file_server(weights: Weights) -> Iterator[FileServer]:
    """Serves the tiny model at ``/tiny.gguf`` and an unrelated file at ``/other.bin``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    files = {"/tiny.gguf": weights.data, "/other.bin": b"other bytes " * 1000}
    served = FileServer(f"http://127.0.0.1:{server.server_address[1]}/tiny.gguf", files)
    server.RequestHandlerClass = _handler(served)
    server.daemon_threads = True
    # A short poll interval: shutting the server down takes that long.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def file_server(shared_file_server: FileServer) -> FileServer:
    shared_file_server.requests.clear()
    return shared_file_server


# --- helpers -----------------------------------------------------------------------------


def models(data: Path) -> dict[str, dict[str, Any]]:
    """``siyada models list --json``, by name."""
    listed = siyada(data, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    return {record["name"]: record for record in records}


def registered(data: Path) -> list[str]:
    """The names in the registry, read in process (quicker than starting the CLI)."""
    registry = ModelRegistry(Settings.resolve(data).database_path)
    try:
        return [record.name for record in registry.list(DEFAULT_TENANT)]
    finally:
        registry.close()


def leftovers(data: Path) -> list[str]:
    """What is in the data directory's models/ folder."""
    folder = data / "models"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def assert_clean_failure(result: Run, *phrases: str) -> None:
    """Exit status 2 with ``error: ...`` naming the problem, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


# --- pull --------------------------------------------------------------------------------


def test_pull_downloads_checks_and_registers(
    tmp_path: Path, weights: Weights, file_server: FileServer
) -> None:
    pulled = siyada(tmp_path, "models", "pull", NAME, file_server.url, "--sha256", weights.sha256)
    assert pulled.returncode == 0, pulled.stderr
    target = tmp_path / "models" / f"{NAME}.gguf"
    assert str(target) in pulled.stdout
    assert target.read_bytes() == weights.data
    assert leftovers(tmp_path) == [f"{NAME}.gguf"]
    assert file_server.ranges() == [None]

    record = models(tmp_path)[NAME]
    assert record["backend"] == "llama"
    assert record["sha256"] == weights.sha256
    assert record["location"]["path"] == str(target)
    assert record["card"]["source"] == file_server.url
    assert record["default"] is False


def test_pull_resumes_a_partial_download(
    tmp_path: Path, weights: Weights, file_server: FileServer
) -> None:
    half = len(weights.data) // 2
    partial = tmp_path / "models" / f"{NAME}.gguf.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(weights.data[:half])

    # An upper-case checksum is the same checksum.
    checksum = weights.sha256.upper()
    pulled = siyada(tmp_path, "models", "pull", NAME, file_server.url, "--sha256", checksum)
    assert pulled.returncode == 0, pulled.stderr
    assert "downloaded and added" in pulled.stdout
    assert file_server.ranges() == [f"bytes={half}-"]
    assert (tmp_path / "models" / f"{NAME}.gguf").read_bytes() == weights.data
    assert leftovers(tmp_path) == [f"{NAME}.gguf"]


def test_pull_with_the_wrong_checksum_keeps_nothing(
    tmp_path: Path, file_server: FileServer
) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    pulled = siyada(tmp_path, "models", "pull", NAME, file_server.url, "--sha256", wrong)
    assert_clean_failure(pulled, "checksum mismatch", wrong)
    assert file_server.ranges() == [None]
    assert leftovers(tmp_path) == []
    assert registered(tmp_path) == ["extractive"]


def test_pull_under_a_taken_name_leaves_the_registered_model_alone(
    tmp_path: Path, weights: Weights, file_server: FileServer
) -> None:
    target = tmp_path / "models" / f"{NAME}.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(weights.data)
    registry = ModelRegistry(Settings.resolve(tmp_path).database_path)
    try:
        registry.add_llama(DEFAULT_TENANT, NAME, target, sha256=weights.sha256, card=ModelCard())
    finally:
        registry.close()

    other = file_server.url_of("/other.bin")
    checksum = hashlib.sha256(file_server.files["/other.bin"]).hexdigest()
    again = siyada(tmp_path, "models", "pull", NAME, other, "--sha256", checksum)
    assert again.returncode == 2
    # The registered model's file is still the one registered, not the new download.
    assert target.read_bytes() == weights.data
    assert leftovers(tmp_path) == [f"{NAME}.gguf"]
    assert_clean_failure(again, "exists already")


# --- commands that must be refused ---------------------------------------------------------
# Each runs in a data directory of its own, all at once: every start of the CLI costs about a
# second, and these do not depend on each other.


@dataclass(frozen=True)
class Refusal:
    args: tuple[str, ...]
    phrases: tuple[str, ...] = ()
    check: Callable[[Run], object] | None = None
    """More to assert about the run."""


@dataclass(frozen=True)
class Refused:
    data: Path
    run: Run
    refusal: Refusal


def _refusals(scratch: Path, weights: Weights, server: FileServer, sha: str) -> dict[str, Refusal]:
    missing = scratch / "absent.gguf"
    junk = scratch / "junk.gguf"
    junk.write_bytes(bytes(range(256)) * 64)
    cut = truncate_copy(weights.path, scratch / "cut.gguf", keep_fraction=0.6)
    nowhere = unused_url() + "/tiny.gguf"

    def truncated_or_damaged(run: Run) -> None:
        assert re.search(r"truncated|damaged", run.stderr), run.stderr

    return {
        "pull-404": Refusal(
            ("pull", NAME, server.url_of("/nope.gguf"), "--sha256", sha),
            ("HTTP 404", server.url_of("/nope.gguf")),
        ),
        "pull-no-server": Refusal(
            ("pull", NAME, nowhere, "--sha256", sha), ("download interrupted",)
        ),
        "pull-short-checksum": Refusal(
            ("pull", NAME, server.url + "?case=short", "--sha256", "abc123"),
            ("not a SHA-256 checksum", "64 hexadecimal digits"),
        ),
        "pull-non-hex-checksum": Refusal(
            ("pull", NAME, server.url + "?case=hex", "--sha256", "g" * 64),
            ("not a SHA-256 checksum",),
        ),
        "add-missing-file": Refusal(
            ("add", "m", "--backend", "llama", "--path", str(missing)),
            ("no such model file", str(missing)),
        ),
        "add-not-gguf": Refusal(
            ("add", "m", "--backend", "llama", "--path", str(junk)), ("not a GGUF",)
        ),
        "add-truncated-gguf": Refusal(
            ("add", "m", "--backend", "llama", "--path", str(cut)),
            check=truncated_or_damaged,
        ),
        "add-openai-without-url": Refusal(
            ("add", "x", "--backend", "openai", "--model-id", "tiny"), ("--url",)
        ),
        "add-openai-ftp-url": Refusal(
            ("add", "x", "--backend", "openai", "--url", "ftp://x", "--model-id", "t"),
            ("ftp://x",),
        ),
        "add-openai-credentials": Refusal(
            (
                "add",
                "x",
                "--backend",
                "openai",
                "--url",
                "http://me:secret@h:8000",
                "--model-id",
                "t",
            ),
            ("no credentials in URLs", "--api-key-env"),
            check=lambda run: "secret" not in run.stderr,
        ),
        "add-openai-bad-port": Refusal(
            ("add", "x", "--backend", "openai", "--url", "http://h:99999", "--model-id", "t"),
            ("port",),
        ),
        "add-openai-negative-context": Refusal(
            (
                "add",
                "x",
                "--backend",
                "openai",
                "--url",
                "http://h:8000",
                "--model-id",
                "t",
                "--context",
                "-5",
            ),
            ("context must be between",),
        ),
        "pull-ftp": Refusal(
            ("pull", NAME, "ftp://h/model.gguf", "--sha256", sha), ("not an http(s) URL",)
        ),
        "pull-invalid-url": Refusal(("pull", NAME, "http://[::1", "--sha256", sha), ("[::1",)),
        "pull-context-first": Refusal(
            ("pull", NAME, server.url_of("/nope.gguf"), "--sha256", sha, "--context", "50"),
            ("context must be between",),
        ),
        "remove-extractive": Refusal(("remove", "extractive"), ("built in",)),
        "remove-unknown": Refusal(("remove", "nope"), ("no model named 'nope'",)),
    }


REFUSALS = [
    "pull-404",
    "pull-no-server",
    "pull-short-checksum",
    "pull-non-hex-checksum",
    "add-missing-file",
    "add-not-gguf",
    "add-truncated-gguf",
    "add-openai-without-url",
    "add-openai-ftp-url",
    "add-openai-credentials",
    "add-openai-bad-port",
    "add-openai-negative-context",
    "pull-ftp",
    "pull-invalid-url",
    "pull-context-first",
    "remove-extractive",
    "remove-unknown",
]


@pytest.fixture(scope="module")
def refused(
    tmp_path_factory: pytest.TempPathFactory, weights: Weights, shared_file_server: FileServer
) -> dict[str, Refused]:
    scratch = tmp_path_factory.mktemp("refusals")
    refusals = _refusals(scratch, weights, shared_file_server, weights.sha256)
    assert sorted(refusals) == sorted(REFUSALS)

    def run(case: str) -> Refused:
        data = scratch / case
        return Refused(data, siyada(data, "models", *refusals[case].args), refusals[case])

    with ThreadPoolExecutor(max_workers=len(refusals)) as pool:
        return {result.data.name: result for result in pool.map(run, refusals)}


@pytest.mark.parametrize("case", REFUSALS)
def test_refused_commands_exit_2_with_a_message(
    case: str, refused: dict[str, Refused], shared_file_server: FileServer
) -> None:
    result = refused[case]
    assert_clean_failure(result.run, *result.refusal.phrases)
    if result.refusal.check is not None:
        result.refusal.check(result.run)
    assert leftovers(result.data) == []
    if case.endswith("checksum"):
        # Refused before downloading anything.
        asked = [path for path, _ in shared_file_server.requests]
        assert not any("?case=" in path for path in asked), asked


# --- add, list, show -----------------------------------------------------------------------


def test_add_a_gguf_with_its_checksum(tmp_path: Path, weights: Weights) -> None:
    path = str(weights.path)
    args = ("add", "m", "--backend", "llama", "--path", path, "--sha256", weights.sha256)
    added = siyada(tmp_path, "models", *args)
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == f"added m (llama), sha256 {weights.sha256}"


def test_openai_model_with_two_endpoints(tmp_path: Path) -> None:
    dead = unused_url()
    with openai_server() as (live, _):
        added = siyada(
            tmp_path,
            "models",
            "add",
            "pool",
            "--backend",
            "openai",
            "--url",
            live.removesuffix("/v1"),
            "--url",
            dead + "/",
            "--model-id",
            "tiny",
            "--default",
        )
        assert added.returncode == 0, added.stderr

        listed = models(tmp_path)
        assert listed["pool"]["default"] is True
        assert listed["extractive"]["default"] is False

        shown = siyada(tmp_path, "models", "show", "pool", "--json")
        assert shown.returncode == 0, shown.stderr
        location = json.loads(shown.stdout)["location"]
        assert location["urls"] == [live, dead]
        assert location["model_id"] == "tiny"

        checked = siyada(tmp_path, "models", "show", "pool", "--check", "--json")
        assert checked.returncode == 0, checked.stderr
        report = json.loads(checked.stdout)["check"]
        assert report == {live: "ok", dead: report[dead]}
        assert report[dead].startswith("down")

    # With its live endpoint gone, the check says so by its exit code.
    down = siyada(tmp_path, "models", "show", "pool", "--check", "--json")
    assert down.returncode == 1
    assert all(status.startswith("down") for status in json.loads(down.stdout)["check"].values())


def test_the_extractive_backend_is_not_added(tmp_path: Path) -> None:
    result = siyada(tmp_path, "models", "add", "x", "--backend", "extractive")
    assert result.returncode == 2 and "'extractive' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
