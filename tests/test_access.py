"""Tenants, API keys, roles and quotas: on the live API, the command line and the services."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyada.config import DEFAULT_TENANT, Settings
from siyada.governance.access import (
    AuthenticationError,
    Directory,
    Role,
    ensure_local_admin,
    open_directory,
)
from siyada.governance.quotas import QuotaExceeded, Quotas
from siyada.knowledge import KnowledgeBase
from siyada.models import ModelCard, ModelRegistry
from siyada.server import create_app
from tests.cli import siyada
from tests.live_server import serving
from tests.openai_server import Script, openai_server

# The role each route needs; every route in the OpenAPI schema must be listed here, so that a
# new route cannot be added without deciding who may call it.
ROUTE_ROLES: dict[tuple[str, str], Role | None] = {
    ("GET", "/v1/models"): Role.READER,
    ("POST", "/v1/chat/completions"): Role.READER,
    ("POST", "/v1/embeddings"): Role.READER,
    ("POST", "/v1/lang/identify"): Role.READER,
    ("POST", "/v1/lang/transliterate"): Role.READER,
    ("POST", "/v1/lang/normalize"): Role.READER,
    ("POST", "/v1/pii/scan"): Role.READER,
    ("POST", "/v1/pii/mask"): Role.READER,
    ("GET", "/v1/collections"): Role.READER,
    ("POST", "/v1/collections"): Role.EDITOR,
    ("DELETE", "/v1/collections/{name}"): Role.EDITOR,
    ("GET", "/v1/collections/{name}/documents"): Role.READER,
    ("POST", "/v1/collections/{name}/documents"): Role.EDITOR,
    ("DELETE", "/v1/collections/{name}/documents/{document_id}"): Role.EDITOR,
    ("GET", "/v1/jobs/{job_id}"): Role.EDITOR,
    ("POST", "/v1/search"): Role.READER,
    ("GET", "/v1/tenants"): Role.ADMIN,
    ("POST", "/v1/tenants"): Role.ADMIN,
    ("PATCH", "/v1/tenants/{name}"): Role.ADMIN,
    ("DELETE", "/v1/tenants/{name}"): Role.ADMIN,
    ("GET", "/v1/keys"): Role.ADMIN,
    ("POST", "/v1/keys"): Role.ADMIN,
    ("DELETE", "/v1/keys/{prefix}"): Role.ADMIN,
    ("POST", "/v1/models"): Role.ADMIN,
    ("DELETE", "/v1/models/{name}"): Role.ADMIN,
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
}
PATH_VALUES = {"name": "no-such-thing", "document_id": "999999", "job_id": "x", "prefix": "x"}


def _settings(home: Path) -> Settings:
    return Settings(data_dir=home, embedder="none", answer_timeout=10)


def _directory(home: Path) -> Directory:
    return open_directory(_settings(home))


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("access")


@pytest.fixture(scope="module")
def base_url(home: Path) -> Iterator[str]:
    with serving(create_app(_settings(home))) as (url, _):
        yield url


@pytest.fixture(scope="module")
def role_keys(home: Path, base_url: str) -> dict[Role, dict[str, str]]:
    directory = _directory(home)
    try:
        return {
            role: _bearer(directory.create_key(DEFAULT_TENANT, role, f"{role.value} key")[1])
            for role in Role
        }
    finally:
        directory.close()


# --- keys -----------------------------------------------------------------------------------


def test_keys_are_shown_once_kept_as_keyed_hashes_and_revocable(home: Path) -> None:
    directory = _directory(home)
    key, secret = directory.create_key(DEFAULT_TENANT, Role.READER, "laptop")
    assert re.fullmatch(r"siyada_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", secret)
    assert secret.split("_")[1] == key.prefix
    # The database holds neither the secret nor its plain SHA-256.
    raw = (home / "siyada.db").read_bytes() + (home / "siyada.db-wal").read_bytes()
    assert secret.encode() not in raw and secret.split("_", 2)[2].encode() not in raw
    assert hashlib.sha256(secret.encode()).hexdigest().encode() not in raw
    assert stat.S_IMODE((home / "secrets" / "key-hashing.secret").stat().st_mode) == 0o600
    assert directory.authenticate(secret)[0].prefix == key.prefix
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthenticationError, match="unknown"):
        directory.authenticate(forged)
    directory.revoke_key(key.prefix)
    with pytest.raises(AuthenticationError, match="revoked"):
        directory.authenticate(secret)
    _, old = directory.create_key(
        DEFAULT_TENANT, Role.READER, expires_at="2020-01-01T00:00:00+00:00"
    )
    with pytest.raises(AuthenticationError, match="expired"):
        directory.authenticate(old)
    directory.close()


def test_api_refuses_missing_unknown_and_revoked_keys(
    home: Path, base_url: str, role_keys: dict[Role, dict[str, str]]
) -> None:
    url = f"{base_url}/v1/collections"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert "admin.key" in missing.json()["error"]["message"]
    assert httpx.get(url, headers=_bearer("sk-not-ours")).status_code == 401
    directory = _directory(home)
    key, secret = directory.create_key(DEFAULT_TENANT, Role.READER)
    assert httpx.get(url, headers=_bearer(secret)).status_code == 200
    directory.revoke_key(key.prefix)
    directory.close()
    refused = httpx.get(url, headers=_bearer(secret))
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]["message"]


def test_local_admin_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    path = tmp_path / "admin.key"
    assert ensure_local_admin(directory, path)
    first = path.read_text()
    assert not ensure_local_admin(directory, path)
    assert path.read_text() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key, tenant = directory.authenticate(first.strip())
    assert key.role is Role.ADMIN and tenant.name == DEFAULT_TENANT
    directory.close()


# --- roles: every route of the OpenAPI schema ---------------------------------------------------


def _routes(base_url: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{base_url}/openapi.json").json()
    return [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    ]


def test_every_route_declares_its_role(base_url: str) -> None:
    assert sorted(_routes(base_url)) == sorted(ROUTE_ROLES)


def test_each_role_is_refused_below_and_allowed_from_its_level(
    base_url: str, role_keys: dict[Role, dict[str, str]]
) -> None:
    checked = 0
    for method, path in _routes(base_url):
        needed = ROUTE_ROLES[method, path]
        url = base_url + path.format(**PATH_VALUES)
        body: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH") else {}
        anonymous = httpx.request(method, url, **body)
        if needed is None:
            assert anonymous.status_code == 200, (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in Role:
            response = httpx.request(method, url, headers=role_keys[role], **body)
            if role.allows(needed):
                assert response.status_code not in (401, 403), (method, path, role, response.text)
            else:
                assert response.status_code == 403, (method, path, role, response.text)
                assert needed.value in response.json()["error"]["message"]
            checked += 1
    assert checked >= 3 * 20


def test_tenant_admins_manage_only_their_own_tenant(
    home: Path, base_url: str, role_keys: dict[Role, dict[str, str]]
) -> None:
    operator = role_keys[Role.ADMIN]
    created = httpx.post(f"{base_url}/v1/tenants", headers=operator, json={"name": "casa"})
    assert created.status_code == 201, created.text
    key = httpx.post(
        f"{base_url}/v1/keys", headers=operator, json={"tenant": "casa", "role": "admin"}
    ).json()
    casa = _bearer(key["key"])
    assert (
        key["tenant"] == "casa"
        and "key"
        not in httpx.get(f"{base_url}/v1/keys", headers=operator, params={"tenant": "casa"}).json()[
            "data"
        ][0]
    )
    # A tenant's admin: its own keys, no other tenant, no tenant management.
    own = httpx.post(f"{base_url}/v1/keys", headers=casa, json={"role": "reader"})
    assert own.status_code == 201 and own.json()["tenant"] == "casa"
    other = httpx.post(f"{base_url}/v1/keys", headers=casa, json={"tenant": "default"})
    assert other.status_code == 403
    assert httpx.post(f"{base_url}/v1/tenants", headers=casa, json={"name": "x"}).status_code == 403
    listed = httpx.get(f"{base_url}/v1/tenants", headers=casa).json()["data"]
    assert [tenant["name"] for tenant in listed] == ["casa"]
    model = {"name": "vllm", "urls": ["http://127.0.0.1:9/v1"], "model_id": "m"}
    assert httpx.post(f"{base_url}/v1/models", headers=casa, json=model).status_code == 403
    for_casa = httpx.post(
        f"{base_url}/v1/models", headers=operator, json={**model, "tenant": "casa"}
    )
    assert for_casa.status_code == 201, for_casa.text
    casa_models = [m["id"] for m in httpx.get(f"{base_url}/v1/models", headers=casa).json()["data"]]
    assert "vllm" in casa_models
    operator_models = httpx.get(f"{base_url}/v1/models", headers=operator).json()["data"]
    assert "vllm" not in [m["id"] for m in operator_models]
    assert httpx.delete(f"{base_url}/v1/models/vllm", headers=casa).status_code == 200
    default_key = httpx.get(f"{base_url}/v1/keys", headers=operator).json()["data"][0]["prefix"]
    assert httpx.delete(f"{base_url}/v1/keys/{default_key}", headers=casa).status_code == 404


# --- quotas -------------------------------------------------------------------------------------


def test_request_quota_gives_429_with_retry_after_and_survives_a_restart(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    directory.create_tenant("rabat", requests_per_minute=1000)
    _, secret = directory.create_key("rabat", Role.READER, requests_per_minute=3)
    directory.close()
    body = {"texts": ["salam"]}
    # Away from a minute boundary, so that the four requests share one window.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    with serving(create_app(_settings(tmp_path))) as (url, _):
        statuses = [
            httpx.post(f"{url}/v1/lang/identify", json=body, headers=_bearer(secret)).status_code
            for _ in range(3)
        ]
    assert statuses == [200, 200, 200]
    with serving(create_app(_settings(tmp_path))) as (url, _):
        refused = httpx.post(f"{url}/v1/lang/identify", json=body, headers=_bearer(secret))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_token_quota_per_day_counts_answers(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    base = KnowledgeBase(_settings(tmp_path))
    base.ingest(DEFAULT_TENANT, "examples", [examples / "fr"])
    base.close()
    directory = _directory(tmp_path)
    _, secret = directory.create_key(DEFAULT_TENANT, Role.READER, tokens_per_day=50)
    directory.close()
    body = {
        "model": "extractive",
        "messages": [{"role": "user", "content": "Combien coûte l'extrait d'acte de naissance ?"}],
        "siyada": {"collections": ["examples"]},
    }
    with serving(create_app(_settings(tmp_path))) as (url, _):
        first = httpx.post(f"{url}/v1/chat/completions", json=body, headers=_bearer(secret))
        assert first.status_code == 200, first.text
        assert first.json()["usage"]["total_tokens"] > 50
        second = httpx.post(f"{url}/v1/chat/completions", json=body, headers=_bearer(secret))
    assert second.status_code == 429
    assert "tokens" in second.json()["error"]["message"]
    retry = int(second.headers["Retry-After"])
    assert 0 < retry <= 86_400


def test_64_clients_on_one_key_never_pass_the_quota(tmp_path: Path) -> None:
    limit = 40
    directory = _directory(tmp_path)
    _, secret = directory.create_key(DEFAULT_TENANT, Role.READER, requests_per_minute=limit)
    directory.close()
    statuses: list[int] = []
    lock = threading.Lock()
    with serving(create_app(_settings(tmp_path))) as (url, _):
        started = time.time()

        def hammer() -> None:
            with httpx.Client(headers=_bearer(secret), timeout=60) as client:
                for _ in range(4):
                    status = client.post(
                        f"{url}/v1/lang/identify", json={"texts": ["wach"]}
                    ).status_code
                    with lock:
                        statuses.append(status)

        threads = [threading.Thread(target=hammer) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        finished = time.time()
    windows = int(finished // 60) - int(started // 60) + 1
    assert len(statuses) == 256 and set(statuses) <= {200, 429}
    assert limit <= statuses.count(200) <= limit * windows


def test_quotas_hold_across_threads_and_connections(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    directory.create_tenant("fes", requests_per_minute=25)
    key, _ = directory.create_key("fes", Role.READER)
    tenant = directory.tenant("fes")
    directory.close()
    admitted: list[int] = []
    now = (int(time.time() // 60) * 60) + 30.0  # one window for every thread

    def run() -> None:
        quotas = Quotas(tmp_path / "siyada.db")
        for _ in range(10):
            try:
                quotas.admit(key, tenant, now=now)
                admitted.append(1)
            except QuotaExceeded as error:
                assert error.retry_after == 30
        quotas.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 25


# --- tenants on the command line -----------------------------------------------------------


def test_cli_tenants_and_keys(tmp_path: Path) -> None:
    created = siyada(tmp_path, "tenants", "create", "tanger", "--pii-policy", "mask", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["pii_policy"] == "mask"
    key = siyada(tmp_path, "keys", "create", "--tenant", "tanger", "--role", "editor", "--json")
    secret = json.loads(key.stdout)["key"]
    directory = _directory(tmp_path)
    assert directory.authenticate(secret)[1].name == "tanger"
    directory.close()
    scoped = siyada(tmp_path, "--tenant", "tanger", "keys", "create", "--role", "admin", "--json")
    assert json.loads(scoped.stdout)["tenant"] == "tanger"  # never the operator's tenant
    listed = siyada(tmp_path, "keys", "list", "--tenant", "tanger")
    assert secret not in listed.stdout and "editor" in listed.stdout
    prefix = secret.split("_")[1]
    assert siyada(tmp_path, "keys", "revoke", prefix).returncode == 0
    assert "revoked" in siyada(tmp_path, "keys", "list").stdout
    unknown = siyada(tmp_path, "--tenant", "nowhere", "collections")
    assert unknown.returncode == 2 and "siyada tenants create nowhere" in unknown.stderr
    bad = siyada(tmp_path, "--tenant", "Bad Name!", "collections")
    assert bad.returncode == 2 and "invalid tenant name" in bad.stderr
    busy = siyada(tmp_path, "tenants", "create", "tanger")
    assert busy.returncode == 2 and "already exists" in busy.stderr
    assert "Traceback" not in busy.stderr + bad.stderr + unknown.stderr


# --- isolation ------------------------------------------------------------------------------

MARKERS = ["tazarine", "ouarzazate", "figuig", "tiznit", "azrou", "sefrou", "zagora", "larache"]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.lists(
        st.lists(st.sampled_from(["docs", "guides", "faq"]), min_size=1, max_size=2, unique=True),
        min_size=2,
        max_size=4,
    ),
    data=st.data(),
)
def test_no_tenant_ever_sees_another_tenants_data(
    tmp_path_factory: pytest.TempPathFactory, plan: list[list[str]], data: st.DataObject
) -> None:
    home = tmp_path_factory.mktemp("isolation")
    settings_ = _settings(home)
    directory = _directory(home)
    base = KnowledgeBase(settings_)
    keys: dict[str, dict[str, str]] = {}
    owned: dict[str, set[str]] = {}
    for number, collections in enumerate(plan):
        tenant = f"t{number}"
        directory.create_tenant(tenant)
        keys[tenant] = _bearer(directory.create_key(tenant, Role.EDITOR)[1])
        owned[tenant] = set()
        for collection in collections:
            marker = data.draw(st.sampled_from(MARKERS), label="marker")
            folder = home / "sources" / tenant / collection
            folder.mkdir(parents=True)
            secret = f"secret{tenant}{collection}"
            (folder / "note.md").write_text(
                f"# {marker}\n\nLa ville de {marker} et le code {secret} de {tenant}.\n"
            )
            base.ingest(tenant, collection, [folder])
            owned[tenant].add(secret)
    base.close()
    directory.close()
    every_secret = set().union(*owned.values())
    with serving(create_app(settings_)) as (url, _):
        for tenant, headers in keys.items():
            mine = {
                c["name"]
                for c in httpx.get(f"{url}/v1/collections", headers=headers).json()["data"]
            }
            assert mine == set(plan[int(tenant[1:])])
            seen = ""  # what the API returned from the documents: texts, names, answers
            for collection in ["docs", "guides", "faq"]:
                found = httpx.post(
                    f"{url}/v1/search",
                    headers=headers,
                    json={"collection": collection, "queries": [*MARKERS, *every_secret], "k": 10},
                )
                if collection in mine:
                    assert found.status_code == 200
                    for results in found.json()["data"]:
                        seen += json.dumps(results["results"])
                else:
                    assert found.status_code == 404
                answer = httpx.post(
                    f"{url}/v1/chat/completions",
                    headers=headers,
                    json={
                        "model": "extractive",
                        "messages": [{"role": "user", "content": " ".join(every_secret)}],
                        "siyada": {"collections": [collection]},
                    },
                ).json()
                if "choices" in answer:
                    seen += answer["choices"][0]["message"]["content"]
                    seen += json.dumps(answer["siyada"]["sources"])
                documents = httpx.get(
                    f"{url}/v1/collections/{collection}/documents", headers=headers
                )
                seen += documents.text
            leaked = {secret for secret in every_secret - owned[tenant] if secret in seen}
            assert not leaked
    # The command line, too (one tenant an example: each call is a new process).
    for tenant in [data.draw(st.sampled_from(sorted(keys)), label="cli tenant")]:
        for collection in ["docs", "guides", "faq"]:
            searched = siyada(
                home,
                "--tenant",
                tenant,
                "search",
                "-c",
                collection,
                "--json",
                stdin="\n".join(sorted(every_secret)),
            )
            returned = "".join(
                json.dumps(json.loads(line)["results"]) for line in searched.stdout.splitlines()
            )
            assert not {s for s in every_secret - owned[tenant] if s in returned}
            assert (searched.returncode == 0) == (collection in plan[int(tenant[1:])])


def test_tokens_are_charged_for_cut_streams_and_embeddings(tmp_path: Path) -> None:
    directory = _directory(tmp_path)
    key, secret = directory.create_key(DEFAULT_TENANT, Role.READER)
    directory.close()
    registry = ModelRegistry(tmp_path / "siyada.db")
    quotas = Quotas(tmp_path / "siyada.db")
    words = " ".join(f"kalima{n}" for n in range(200))
    with openai_server(Script(reply=words, token_delay=0.02)) as (backend, _):
        registry.add_openai(DEFAULT_TENANT, "slow", [backend], model_id="tiny", card=ModelCard())
        registry.close()
        with serving(create_app(_settings(tmp_path))) as (url, _):
            body = {
                "model": "slow",
                "stream": True,
                "messages": [{"role": "user", "content": "ahki liya"}],
            }
            with httpx.stream(
                "POST", f"{url}/v1/chat/completions", json=body, headers=_bearer(secret)
            ) as response:
                for line in response.iter_lines():
                    if "kalima3" in line:
                        break  # the client goes away mid-answer
            charged = 0
            for _ in range(100):
                charged = quotas.usage(f"key:{key.id}")["tokens"]
                if charged:
                    break
                time.sleep(0.05)
            assert 0 < charged < len(words)
            embedded = httpx.post(
                f"{url}/v1/embeddings",
                json={"model": "e5", "input": ["salam " * 50]},
                headers=_bearer(secret),
            )
            assert embedded.status_code == 200
            assert quotas.usage(f"key:{key.id}")["tokens"] > charged
    quotas.close()


def test_anonymous_upload_is_refused_before_its_body_is_read(base_url: str) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/collections/x/documents HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 400000000\r\n\r\n"
        )  # and never the 400 MB: the answer must not wait for them
        reply = connection.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 401"), reply
    assert "missing_api_key" in reply


def test_bad_key_requests_get_400s(
    tmp_path: Path, base_url: str, role_keys: dict[Role, dict[str, str]]
) -> None:
    admin = role_keys[Role.ADMIN]
    for body in (
        {"expires_at": "9999-12-31T23:59-01:00"},
        {"expires_at": "tomorrow"},
        {"role": "superuser"},
        {"tenant": "nowhere"},
    ):
        response = httpx.post(f"{base_url}/v1/keys", headers=admin, json=body)
        assert response.status_code in (400, 404), (body, response.text)
        assert response.json()["error"]["message"]
    cli = siyada(tmp_path, "keys", "create", "--expires", "0001-01-01T00:00+01:00")
    assert cli.returncode == 2 and "not a usable ISO date" in cli.stderr
