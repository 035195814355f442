"""The egress guard: prompts and documents reach only loopback, private or allow-listed hosts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from siyada.config import DEFAULT_TENANT, Settings
from siyada.governance.audit import open_audit
from siyada.governance.egress import (
    EgressPolicy,
    EgressRefused,
    GuardedTransport,
    parse_allow_list,
)
from siyada.knowledge.embed import make_embedder
from siyada.models import ChatRequest, Message, ModelCard, ModelError, ModelRegistry
from siyada.models.openai_http import OpenAIChatModel
from siyada.server import create_app
from tests.cli import ENV, siyada
from tests.live_server import admin_headers, serving
from tests.openai_server import Script, openai_server

PUBLIC = "http://8.8.8.8:8000/v1"


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.1", "::1", "[::1]", "10.2.3.4", "172.20.0.9", "192.168.1.20",
     "fd12::5", "::ffff:10.0.0.1", "localhost"],
)  # fmt: skip
def test_private_and_loopback_hosts_are_allowed(host: str) -> None:
    EgressPolicy().check(host)


@pytest.mark.parametrize(
    "host",
    ["8.8.8.8", "169.254.169.254", "100.64.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
     "172.32.0.1", "0.0.0.0"],
)  # fmt: skip
def test_public_and_link_local_hosts_are_refused(host: str) -> None:
    with pytest.raises(EgressRefused, match="SIYADA_EGRESS_ALLOW"):
        EgressPolicy().check(host)


def test_allow_list_names_suffixes_and_networks() -> None:
    policy = EgressPolicy(parse_allow_list(" llm.sante.gov.ma, *.interieur.ma ,203.0.113.0/24"))
    policy.check("llm.sante.gov.ma")  # allowed by name: not even resolved
    policy.check("gpu1.interieur.ma")
    policy.check("203.0.113.77")
    for refused in ("interieur.ma.evil.example", "203.0.114.1", "sante.gov.ma"):
        with pytest.raises(EgressRefused):
            policy.check(refused)
    for bad in ("300.1.2.3/8", "exa mple.ma", "http://x.ma"):
        with pytest.raises(ValueError, match="SIYADA_EGRESS_ALLOW"):
            parse_allow_list(bad)


def test_names_resolving_to_public_addresses_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def resolve(host: str, *args: object) -> list[tuple[object, ...]]:
        answers = {"inference.local": "10.0.0.7", "sneaky.local": "8.8.4.4"}
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    EgressPolicy().check("inference.local")
    with pytest.raises(EgressRefused, match=r"8\.8\.4\.4"):
        EgressPolicy().check("sneaky.local")


def test_guarded_transport_refuses_before_connecting() -> None:
    connected: list[str] = []

    class Recording(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            connected.append(str(request.url))
            return httpx.Response(200)

    client = httpx.Client(transport=GuardedTransport(EgressPolicy(), Recording()))
    with pytest.raises(EgressRefused):
        client.get("http://8.8.8.8/v1/models")
    assert client.get("http://127.0.0.1/v1/models").status_code == 200
    assert connected == ["http://127.0.0.1/v1/models"]


def test_backends_on_public_hosts_are_refused(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "siyada.db")
    with pytest.raises(ModelError, match="SIYADA_EGRESS_ALLOW"):
        registry.add_openai(DEFAULT_TENANT, "cloud", [PUBLIC], model_id="m", card=ModelCard())
    registry.close()
    with pytest.raises(EgressRefused):
        OpenAIChatModel("cloud", [PUBLIC], model_id="m")
    started = time.monotonic()
    with pytest.raises(EgressRefused):
        make_embedder("openai:http://8.8.8.8:9/v1#e5")
    assert time.monotonic() - started < 2  # refused, not timed out


def test_cli_refuses_a_public_endpoint_unless_allowed(tmp_path: Path) -> None:
    refused = siyada(
        tmp_path, "models", "add", "cloud", "--backend", "openai", "--url", PUBLIC,
        "--model-id", "m",
    )  # fmt: skip
    assert refused.returncode != 0 and "SIYADA_EGRESS_ALLOW=8.8.8.8" in refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = subprocess.run(
        [sys.executable, "-m", "siyada", "--data-dir", str(tmp_path), "models", "add", "cloud",
         "--backend", "openai", "--url", PUBLIC, "--model-id", "m"],
        env={**ENV, "SIYADA_EGRESS_ALLOW": "8.8.8.8"}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "siyada", "--data-dir", str(tmp_path), "collections"],
        env={**ENV, "SIYADA_EGRESS_ALLOW": "not a host!"}, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "SIYADA_EGRESS_ALLOW" in bad.stderr


def test_a_model_whose_host_is_no_longer_allowed_gets_403(tmp_path: Path) -> None:
    with openai_server(Script(reply="Salam.")) as (url, script):
        public = url.replace("127.0.0.1", "8.8.8.8")
        registry = ModelRegistry(tmp_path / "siyada.db", EgressPolicy(("8.8.8.8",)))
        registry.add_openai(DEFAULT_TENANT, "moved", [public], model_id="tiny", card=ModelCard())
        registry.close()
        with serving(create_app(Settings(data_dir=tmp_path, embedder="none"))) as (base, _):
            answer = httpx.post(
                f"{base}/v1/chat/completions",
                headers=admin_headers(tmp_path),
                json={"model": "moved", "messages": [{"role": "user", "content": "salam"}]},
            )
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"]["code"] == "egress_refused"
        assert not script.requests
        with open_audit(Settings(data_dir=tmp_path)) as trail:
            (refusal,) = trail.records(action="egress.refused")
        assert refusal.resource == "8.8.8.8" and refusal.tenant == DEFAULT_TENANT
        model = OpenAIChatModel("local", [url], model_id="tiny")
        request = ChatRequest((Message("user", "salam"),), timeout=5)
        assert "".join(delta.text for delta in model.stream(request)) == "Salam."
        model.close()
