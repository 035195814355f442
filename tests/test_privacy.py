"""Personal data on the answer path (pseudonymize, mask, refuse), at ingestion (redaction) and
at erasure: the model backend never sees the identifiers, and erased ones are gone for good."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from siyada.assistant.script import script_policy
from siyada.config import DEFAULT_TENANT, Settings
from siyada.governance.access import PiiPolicy, Role, open_directory
from siyada.governance.erasure import ErasureError, identifier_pattern
from siyada.knowledge import KnowledgeBase
from siyada.lang import Label
from siyada.models import ModelCard, ModelRegistry
from siyada.server import create_app
from tests.cli import siyada
from tests.live_server import serving
from tests.openai_server import Script, openai_server

CIN = "AB123456"
PHONE = "06 12 34 56 78"
PHONE_DIGITS = "612345678"
EMAIL = "f.alaoui@exemple.ma"
DOSSIER = (
    "# Dossier de bourse\n\n"
    f"La demande de Mme Fatima Alaoui, numéro de CIN {CIN}, est acceptée. "
    f"Téléphone : {PHONE}. E-mail : {EMAIL}. Le montant de la bourse est de 1 800 dirhams "
    "par trimestre, versé sur le compte de l'étudiante.\n"
)
RAW = (CIN, PHONE, PHONE_DIGITS, EMAIL)


def _settings(home: Path) -> Settings:
    return Settings(data_dir=home, embedder="none", answer_timeout=10)


def _key(home: Path, tenant: str, role: Role = Role.EDITOR) -> dict[str, str]:
    directory = open_directory(_settings(home))
    try:
        return {"Authorization": f"Bearer {directory.create_key(tenant, role)[1]}"}
    finally:
        directory.close()


def _sent(script: Script) -> str:
    """Everything the backend received, as one string."""
    return json.dumps(script.requests, ensure_ascii=False)


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, Script]]:
    reply = "Le dossier de [CIN_1] est accepté, la bourse est de 1 800 dirhams [1]."
    with openai_server(Script(reply=reply)) as found:
        yield found


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, backend: tuple[str, Script]) -> Path:
    home = tmp_path_factory.mktemp("privacy")
    sources = home.parent / f"{home.name}-sources"
    sources.mkdir()
    (sources / "dossier.md").write_text(DOSSIER)
    # Named by the CIN, which the text gives with no context word: still never sent raw.
    (sources / f"suivi-{CIN}.md").write_text(
        f"# Suivi\n\nLe dossier {CIN} est complet : bourse accordée pour l'année.\n"
    )
    directory = open_directory(_settings(home))
    for policy in PiiPolicy:
        directory.create_tenant(policy.value, pii_policy=policy)
    directory.close()
    base = KnowledgeBase(_settings(home))
    registry = ModelRegistry(home / "siyada.db")
    for policy in PiiPolicy:
        base.ingest(policy.value, "bourses", [sources])
        registry.add_openai(policy.value, "remote", [backend[0]], model_id="tiny", card=ModelCard())
    registry.close()
    base.close()
    return home


@pytest.fixture(scope="module")
def base_url(home: Path) -> Iterator[str]:
    with serving(create_app(_settings(home))) as (url, _):
        yield url


def _ask(base_url: str, headers: dict[str, str], question: str, **extra: object) -> httpx.Response:
    body = {
        "model": "remote",
        "messages": [{"role": "user", "content": question}],
        "siyada": {"collections": ["bourses"]},
        **extra,
    }
    return httpx.post(f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_pseudonymized_backend_never_sees_identifiers_and_answer_is_restored(
    home: Path, base_url: str, backend: tuple[str, Script]
) -> None:
    script = backend[1]
    headers = _key(home, "pseudonymize", Role.READER)
    script.requests.clear()
    answer = _ask(base_url, headers, f"Quel est le montant de la bourse pour la CIN {CIN} ?")
    assert answer.status_code == 200, answer.text
    sent = _sent(script)
    assert script.requests and not any(raw in sent for raw in RAW)
    assert "[CIN_1]" in sent and "[PHONE_" in sent and "[EMAIL_" in sent
    content = answer.json()["choices"][0]["message"]["content"]
    assert CIN in content and "[CIN_1]" not in content
    # The caller may read its own documents: the sources keep the real text.
    assert CIN in answer.json()["siyada"]["sources"][0]["text"]
    # Streamed: placeholders split across chunks are restored too.
    script.requests.clear()
    with httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        headers=headers,
        json={
            "model": "remote",
            "stream": True,
            "messages": [{"role": "user", "content": f"La CIN {CIN} a-t-elle une bourse ?"}],
            "siyada": {"collections": ["bourses"]},
        },
    ) as response:
        text = "".join(
            choice["delta"].get("content") or ""
            for line in response.iter_lines()
            if line.startswith("data: {")
            for choice in json.loads(line[6:])["choices"]
        )
    assert CIN in text and "[CIN_" not in text
    assert not any(raw in _sent(script) for raw in RAW)


def test_identifiers_without_context_words_are_pseudonymized_too(
    home: Path, base_url: str, backend: tuple[str, Script]
) -> None:
    script = backend[1]
    script.requests.clear()
    headers = _key(home, "pseudonymize", Role.READER)
    answer = _ask(base_url, headers, f"Le dossier {CIN} est-il complet ?")
    assert answer.status_code == 200, answer.text
    sent = _sent(script)
    assert CIN not in sent and "[CIN_1]" in sent
    assert CIN in answer.json()["choices"][0]["message"]["content"]
    sources = answer.json()["siyada"]["sources"]
    assert any(CIN in source["document"] for source in sources)  # the caller sees real names
    masked = _ask(base_url, _key(home, "mask", Role.READER), f"Le dossier {CIN} est complet ?")
    assert masked.status_code == 200 and CIN not in _sent(script)


def test_plain_chat_is_pseudonymized_too(
    home: Path, base_url: str, backend: tuple[str, Script]
) -> None:
    script = backend[1]
    script.requests.clear()
    answer = httpx.post(
        f"{base_url}/v1/chat/completions",
        headers=_key(home, "pseudonymize", Role.READER),
        json={
            "model": "remote",
            "messages": [
                {"role": "system", "content": f"Le conseiller joignable au {PHONE}."},
                {"role": "user", "content": f"Ma CIN est {CIN}, et mon mail {EMAIL}."},
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert not any(raw in _sent(script) for raw in RAW)
    assert CIN in answer.json()["choices"][0]["message"]["content"]


def test_mask_policy_masks_and_does_not_restore(
    home: Path, base_url: str, backend: tuple[str, Script]
) -> None:
    script = backend[1]
    script.requests.clear()
    answer = _ask(base_url, _key(home, "mask", Role.READER), f"Bourse de la CIN {CIN} ?")
    assert answer.status_code == 200, answer.text
    sent = _sent(script)
    assert not any(raw in sent for raw in RAW)
    assert "[CIN]" in sent and "[CIN_1]" not in sent
    assert CIN not in answer.json()["choices"][0]["message"]["content"]


def test_refuse_policy_refuses_questions_with_identifiers_and_masks_sources(
    home: Path, base_url: str, backend: tuple[str, Script]
) -> None:
    script = backend[1]
    headers = _key(home, "refuse", Role.READER)
    script.requests.clear()
    refused = _ask(base_url, headers, f"Bourse de la CIN {CIN} ?")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "personal_data_refused"
    assert "CIN" in refused.json()["error"]["message"]
    assert not script.requests
    allowed = _ask(base_url, headers, "Quel est le montant de la bourse ?")
    assert allowed.status_code == 200, allowed.text
    sent = _sent(script)
    assert "[CIN]" in sent and not any(raw in sent for raw in RAW)


def test_cli_ask_follows_the_tenant_policy(home: Path, backend: tuple[str, Script]) -> None:
    script = backend[1]
    script.requests.clear()
    asked = siyada(
        home,
        "--tenant",
        "pseudonymize",
        "ask",
        f"Bourse de la CIN {CIN} ?",
        "-c",
        "bourses",
        "-m",
        "remote",
        "--json",
    )
    assert asked.returncode == 0, asked.stderr
    assert CIN in json.loads(asked.stdout)["answer"]
    assert script.requests and not any(raw in _sent(script) for raw in RAW)
    refused = siyada(home, "--tenant", "refuse", "ask", f"CIN {CIN} ?", "-c", "bourses")
    assert refused.returncode != 0 and "personal data" in refused.stderr
    assert "Traceback" not in refused.stderr


def _data_bytes(home: Path) -> bytes:
    """Every byte Siyada keeps: the database, its log, indexes, uploads."""
    return b"".join(path.read_bytes() for path in home.rglob("*") if path.is_file())


def test_collection_redaction_masks_identifiers_before_indexing(tmp_path: Path) -> None:
    with serving(create_app(_settings(tmp_path))) as (url, _):
        headers = _key(tmp_path, DEFAULT_TENANT)
        created = httpx.post(
            f"{url}/v1/collections",
            headers=headers,
            json={"name": "masked", "pii_redaction": "mask"},
        )
        assert created.status_code == 201, created.text
        job = httpx.post(
            f"{url}/v1/collections/masked/documents",
            headers=headers,
            files=[("files", ("dossier.md", DOSSIER.encode(), "text/markdown"))],
        ).json()
        for _ in range(200):
            status = httpx.get(f"{url}/v1/jobs/{job['job']}", headers=headers).json()
            if status["status"] in ("done", "failed"):
                break
        assert status["status"] == "done", status
        found = httpx.post(
            f"{url}/v1/search",
            headers=headers,
            json={"collection": "masked", "queries": ["bourse Alaoui", CIN]},
        ).json()["data"]
    texts = [hit["text"] for results in found for hit in results["results"]]
    assert texts and all("[CIN]" in text and CIN not in text for text in texts)
    # The uploaded original is kept (for re-ingestion); the store and indexes hold no identifier.
    store = b"".join(path.read_bytes() for path in tmp_path.glob("siyada.db*"))
    assert CIN.encode() not in store and EMAIL.encode() not in store


def test_erase_identifier_removes_it_everywhere(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "dossier.md").write_text(DOSSIER)
    (sources / "rappel.md").write_text(
        f"# Rappel\n\nAppeler la boursière au +212{PHONE_DIGITS} avant lundi.\n"
    )
    (sources / f"appel-0{PHONE_DIGITS}.md").write_text("# Appel\n\nRappeler lundi.\n")
    home = tmp_path / "data"
    assert siyada(home, "ingest", "-c", "bourses", str(sources)).returncode == 0
    asked = siyada(
        home, "ask", f"Qui répond au {PHONE} ?", "-c", "bourses", "--conversation", "suivi"
    )
    assert asked.returncode == 0, asked.stderr
    assert PHONE_DIGITS.encode() in _data_bytes(home).replace(b" ", b"")
    erased = siyada(home, "erase", "--identifier", f"+212 {PHONE[1:]}", "--json")
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["chunks"] == 2 and report["documents"] == 3
    assert report["conversation_turns"] >= 1
    assert sorted(Path(p).name for p in report["source_files"]) == [
        f"appel-0{PHONE_DIGITS}.md",
        "dossier.md",
        "rappel.md",
    ]
    assert not report["log_not_emptied"]
    kept = _data_bytes(home)
    assert PHONE_DIGITS.encode() not in kept.replace(b" ", b"")
    assert b"56 78" not in kept
    found = siyada(home, "search", "-c", "bourses", "--json", "téléphone boursière")
    assert "[ERASED]" in found.stdout and PHONE not in found.stdout
    history = siyada(home, "conversations", "show", "suivi")
    assert "[ERASED]" in history.stdout and PHONE not in history.stdout
    # The rest of the text is still searchable, with fresh keys.
    assert "1 800 dirhams" in siyada(home, "search", "-c", "bourses", "montant").stdout


def test_erase_document_removes_it_and_its_uploaded_copy(tmp_path: Path) -> None:
    with serving(create_app(_settings(tmp_path))) as (url, _):
        headers = _key(tmp_path, DEFAULT_TENANT)
        httpx.post(f"{url}/v1/collections", headers=headers, json={"name": "bourses"})
        job = httpx.post(
            f"{url}/v1/collections/bourses/documents",
            headers=headers,
            files=[("files", ("dossier.md", DOSSIER.encode(), "text/markdown"))],
        ).json()
        for _ in range(200):
            if httpx.get(f"{url}/v1/jobs/{job['job']}", headers=headers).json()["status"] == "done":
                break
        documents = httpx.get(f"{url}/v1/collections/bourses/documents", headers=headers).json()
    document = documents["data"][0]["id"]
    assert CIN.encode() in _data_bytes(tmp_path)
    other = siyada(tmp_path, "--tenant", "default", "erase", "--document", str(document + 100))
    assert other.returncode == 2 and "no document" in other.stderr
    erased = siyada(tmp_path, "erase", "--document", str(document), "--json")
    assert erased.returncode == 0, erased.stderr
    assert len(json.loads(erased.stdout)["deleted_copies"]) == 1
    assert CIN.encode() not in _data_bytes(tmp_path)
    searched = siyada(tmp_path, "search", "-c", "bourses", "--json", "bourse")
    assert not json.loads(searched.stdout)["results"]
    (tmp_path / "uploads" / "1" / "left-over.md").write_text("x")
    assert siyada(tmp_path, "collections", "delete", "bourses").returncode == 0
    assert not (tmp_path / "uploads" / "1").exists()  # uploads go with their collection


def test_erase_refuses_bad_input(tmp_path: Path) -> None:
    both = siyada(tmp_path, "erase", "--document", "1", "--identifier", CIN)
    assert both.returncode == 2 and "either" in both.stderr
    short = siyada(tmp_path, "erase", "--identifier", "12")
    assert short.returncode == 2 and "too short" in short.stderr
    with pytest.raises(ErasureError):
        identifier_pattern(" - ")


@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("0612345678", "tel +212 6 12 34 56 78.", "+212 6 12 34 56 78"),
        ("+212612345678", "appelez le 06.12.34.56.78", "06.12.34.56.78"),
        ("0612345678", "رقم الهاتف ٠٦١٢٣٤٥٦٧٨", "٠٦١٢٣٤٥٦٧٨"),
        ("ab123456", "CIN: AB 123456 ok", "AB 123456"),
        ("0612345678", "tel (+212) 612345678", "(+212) 612345678"),
        ("0612345678", "tel +2120612345678.", "+2120612345678"),
        ("06 12 34 56 78", "wa.me/212612345678", "212612345678"),
        ("+212 6 12 34 56 78", "tel 0612345679", None),
        (
            "011780000012345678901234",
            "IBAN MA64011780000012345678901234 ok",
            "011780000012345678901234",
        ),
        ("AB123456", "ref XAB1234567 and AB1234567", None),
        ("f.alaoui@exemple.ma", "ecrire a F.Alaoui@Exemple.ma merci", "F.Alaoui@Exemple.ma"),
    ],
)
def test_identifier_pattern_matches_any_spacing_and_digits(
    value: str, text: str, found: str | None
) -> None:
    match = identifier_pattern(value).search(text)
    assert (match.group() if match else None) == found


def test_cli_ingest_can_mask_identifiers(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "dossier.md").write_text(DOSSIER)
    home = tmp_path / "data"
    masked = siyada(
        home, "ingest", "-c", "masked", "--mask-pii", "--embedder", "none", str(sources)
    )
    assert masked.returncode == 0, masked.stderr
    found = siyada(home, "search", "-c", "masked", "--json", "bourse Alaoui").stdout
    assert "[CIN]" in found and CIN not in found and EMAIL not in found
    assert siyada(home, "ingest", "-c", "plain", "--embedder", "none", str(sources)).returncode == 0
    again = siyada(home, "ingest", "-c", "plain", "--mask-pii", str(sources))
    assert again.returncode == 2 and "without --mask-pii" in again.stderr


def test_identifiers_keep_their_letters_in_a_tifinagh_answer() -> None:
    policy = script_policy(Label.ZGH_TFNG)
    shown = policy.apply(f"Tasnat n CIN {CIN} d imayl {EMAIL}, azul fellawen.")
    assert CIN in shown and EMAIL in shown
    assert "ⴰⵣⵓⵍ" in shown  # the words around them are in Tifinagh
