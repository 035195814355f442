"""What the server and the command line leave in the audit trail: who did what, with digests
of the texts and never the texts or identifiers themselves; and the trail verifies."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import httpx

from siyada.config import Settings
from siyada.governance.audit import open_audit
from siyada.server import create_app
from tests.cli import siyada
from tests.live_server import admin_headers, serving

CIN = "AB123456"
QUESTION = f"Combien coûte l'extrait d'acte de naissance pour la CIN {CIN} ?"


def _rows(home: Path) -> list[dict[str, object]]:
    with open_audit(Settings(data_dir=home)) as trail:
        return [record.to_dict() for record in trail.records(limit=1000, newest_first=False)]


def _audit_table(home: Path) -> str:
    db = sqlite3.connect(home / "siyada.db")
    try:
        return json.dumps(db.execute("SELECT * FROM audit_records").fetchall(), ensure_ascii=False)
    finally:
        db.close()


def test_api_requests_are_recorded_with_digests_only(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples" / "fr"
    assert (
        siyada(tmp_path, "ingest", "-c", "examples", "--embedder", "none", str(examples)).returncode
        == 0
    )
    headers = admin_headers(tmp_path)
    body = json.dumps(
        {
            "model": "extractive",
            "messages": [{"role": "user", "content": QUESTION}],
            "siyada": {"collections": ["examples"]},
        }
    ).encode()
    with serving(create_app(Settings(data_dir=tmp_path, embedder="none"))) as (url, _):
        answer = httpx.post(
            f"{url}/v1/chat/completions",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        assert answer.status_code == 200
        request_id = answer.headers["X-Request-ID"]
        anonymous = httpx.get(f"{url}/v1/collections")
        assert anonymous.status_code == 401
        httpx.delete(f"{url}/v1/collections/nowhere", headers=headers)
    rows = _rows(tmp_path)
    chat = next(row for row in rows if row["request_id"] == request_id)
    assert chat["action"] == "POST /v1/chat/completions" and chat["outcome"] == "200"
    assert chat["tenant"] == "default" and chat["key_id"] == headers["Authorization"].split("_")[1]
    assert chat["inputs"] == [f"sha256:{hashlib.sha256(body).hexdigest()}"]
    assert chat["outputs"] == [f"sha256:{hashlib.sha256(answer.content).hexdigest()}"]
    refused = next(row for row in rows if row["outcome"] == "401")
    assert refused["tenant"] == "-" and refused["action"] == "GET /v1/collections"
    missing = next(row for row in rows if row["action"] == "DELETE /v1/collections/{name}")
    assert missing["outcome"] == "404" and json.loads(str(missing["resource"])) == {
        "name": "nowhere"
    }
    table = _audit_table(tmp_path)
    assert CIN not in table and "acte de naissance" not in table
    verified = siyada(tmp_path, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True


def test_cli_actions_and_erasures_are_recorded(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "note.md").write_text(f"# Note\n\nLe numéro de CIN {CIN} est à jour.\n")
    home = tmp_path / "data"
    assert siyada(home, "tenants", "create", "agadir").returncode == 0
    assert siyada(home, "keys", "create", "--tenant", "agadir").returncode == 0
    assert siyada(home, "ingest", "-c", "notes", "--embedder", "none", str(sources)).returncode == 0
    assert siyada(home, "ask", "Quel numéro est à jour ?", "-c", "notes").returncode == 0
    assert siyada(home, "erase", "--identifier", CIN).returncode == 0
    actions = [row["action"] for row in _rows(home)]
    assert actions == ["tenants.create", "keys.create", "ingest", "ask", "erase.identifier"]
    erasure = _rows(home)[-1]
    assert str(erasure["resource"]).startswith("hmac-sha256:")
    assert erasure["key_id"] == f"cli:{__import__('getpass').getuser()}"
    assert CIN not in _audit_table(home)
    listed = siyada(home, "audit", "list", "--resource", CIN, "--json")
    assert [json.loads(line)["action"] for line in listed.stdout.splitlines()] == [
        "erase.identifier"
    ]
    assert siyada(home, "audit", "verify").returncode == 0
