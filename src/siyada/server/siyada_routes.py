"""Siyada's own API: language tools, collections and documents, search, health."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import JSONResponse

from siyada.config import DEFAULT_TENANT
from siyada.governance.erasure import erase_document
from siyada.governance.pii import ENTITY_TYPES, mask, scan
from siyada.knowledge import Filters
from siyada.knowledge.parse import EXTENSIONS
from siyada.lang import identify_batch, identify_spans, normalize, parse_label, transliterate
from siyada.server.auth import Editor, Reader
from siyada.server.errors import APIError
from siyada.server.schemas import (
    CollectionCreate,
    IdentifyRequest,
    NormalizeRequest,
    PiiRequest,
    SearchRequest,
    TransliterateRequest,
)
from siyada.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["Siyada"])
health = APIRouter(tags=["health"])
MAX_UPLOAD_FILES = 50
_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.siyada
    return state


def _label(value: str, param: str) -> Any:
    try:
        return parse_label(value)
    except ValueError as error:
        raise APIError(400, str(error), param=param) from None


@router.post("/lang/identify", tags=["language"])
def identify(principal: Reader, body: IdentifyRequest) -> dict[str, Any]:
    """Language and script of each text (eight labels, ``und`` for no letters)."""
    results = []
    for text, found in zip(body.texts, identify_batch(body.texts), strict=True):
        result = found.to_dict()
        if body.spans:
            result["spans"] = [span.to_dict() for span in identify_spans(text)]
        results.append(result)
    return {"results": results}


@router.post("/lang/transliterate", tags=["language"])
def transliterate_texts(principal: Reader, body: TransliterateRequest) -> dict[str, Any]:
    """Each text rewritten from ``source``'s script to ``target``'s (e.g. ary_Latn -> ary_Arab,
    zgh_Tfng -> ber_Latn)."""
    try:
        return {"results": [transliterate(text, body.source, body.target) for text in body.texts]}
    except ValueError as error:
        raise APIError(400, str(error), param="target") from None


@router.post("/lang/normalize", tags=["language"])
def normalize_texts(principal: Reader, body: NormalizeRequest) -> dict[str, Any]:
    """Canonical forms (Unicode, Arabic letter variants, digits, Arabizi spellings...)."""
    label = _label(body.label, "label") if body.label else None
    return {
        "results": [
            normalize(text, label, fold_hamza=body.fold_hamza, fold_ta_marbuta=body.fold_ta_marbuta)
            for text in body.texts
        ]
    }


def _pii_types(body: PiiRequest) -> list[str] | None:
    unknown = sorted(set(body.types or ()) - set(ENTITY_TYPES))
    if unknown:
        raise APIError(
            400,
            f"unknown identifier types: {', '.join(unknown)} (known: {', '.join(ENTITY_TYPES)})",
            param="types",
        )
    return body.types


@router.post("/pii/scan", tags=["personal data"])
def scan_pii(principal: Reader, body: PiiRequest) -> dict[str, Any]:
    """Moroccan personal identifiers in each text (CIN, RIB, IBAN, ICE, phones, e-mail...),
    with their offsets and whether their check digits hold."""
    types = _pii_types(body)
    results = []
    for text in body.texts:
        entities = scan(text, types=types)
        results.append({"text": mask(text, entities), "entities": [e.to_dict() for e in entities]})
    return {"results": results}


@router.post("/pii/mask", tags=["personal data"])
def mask_pii(principal: Reader, body: PiiRequest) -> dict[str, Any]:
    """Each text with its personal identifiers replaced by their type (``[CIN]``...)."""
    types = _pii_types(body)
    return {"results": [mask(text, scan(text, types=types)) for text in body.texts]}


@router.get("/collections", tags=["knowledge"])
def list_collections(request: Request, principal: Reader) -> dict[str, Any]:
    summaries = _state(request).knowledge().collections(principal.tenant.name)
    return {"object": "list", "data": [summary.__dict__ for summary in summaries]}


@router.post("/collections", status_code=201, tags=["knowledge"])
def create_collection(
    request: Request, principal: Editor, body: CollectionCreate
) -> dict[str, Any]:
    # Only in-process embedders: a client must not make the server call URLs of its choosing.
    if body.embedder not in (None, "e5", "none"):
        raise APIError(
            400,
            "embedder must be e5 or none (a remote embedder is the operator's choice: "
            "siyada ingest --embedder openai:URL#MODEL)",
            param="embedder",
        )
    knowledge = _state(request).knowledge()
    collection = knowledge.create_collection(
        principal.tenant.name, body.name, body.embedder, body.pii_redaction
    )
    return {"name": collection.name, "embedder": collection.embedder, "documents": 0, "chunks": 0}


@router.delete("/collections/{name}", tags=["knowledge"])
def delete_collection(request: Request, principal: Editor, name: str) -> dict[str, Any]:
    _state(request).knowledge().delete_collection(principal.tenant.name, name)
    return {"name": name, "deleted": True}


@router.get("/collections/{name}/documents", tags=["knowledge"])
def list_documents(request: Request, principal: Reader, name: str) -> dict[str, Any]:
    knowledge = _state(request).knowledge()
    collection = knowledge.collection(principal.tenant.name, name)
    documents = knowledge.store.documents(collection)
    # Where a file sits on the server is not the client's business: "name" identifies it.
    shown = [{k: v for k, v in d.__dict__.items() if k != "path"} for d in documents]
    return {"object": "list", "data": shown}


@router.delete("/collections/{name}/documents/{document_id}", tags=["knowledge"])
def delete_document(
    request: Request, principal: Editor, name: str, document_id: int
) -> dict[str, Any]:
    knowledge = _state(request).knowledge()
    collection = knowledge.collection(principal.tenant.name, name)
    found = [d for d in knowledge.store.documents(collection) if d.id == document_id]
    if not found:
        raise APIError(404, f"collection {name!r} has no document {document_id}", code="not_found")
    # As siyada erase --document: the index is rebuilt and the uploaded copy deleted at once.
    erase_document(knowledge, principal.tenant.name, document_id)
    return {"id": document_id, "deleted": True}


def _safe_name(filename: str | None) -> str:
    path = Path(_UNSAFE.sub("_", Path(filename or "").name))
    stem = path.stem.strip(" .")[:100] or "document"
    return f"{stem}{path.suffix.lower()}"


def _free_name(folder: Path, name: str, taken: list[Path]) -> Path:
    """``name`` in ``folder``, numbered when an earlier file of the same upload has it."""
    target = folder / name
    number = 2
    while target in taken:
        target = folder / f"{Path(name).stem}-{number}{Path(name).suffix}"
        number += 1
    return target


@router.post("/collections/{name}/documents", status_code=202, tags=["knowledge"])
def upload_documents(
    request: Request, principal: Editor, name: str, files: Annotated[list[UploadFile], File()]
) -> JSONResponse:
    """Upload files (PDF, DOCX, ODT, HTML, Markdown, text) and ingest them in the background:
    poll ``/v1/jobs/{job}`` for the outcome of each file."""
    state = _state(request)
    state.knowledge().collection(principal.tenant.name, name)  # 404 before reading the files
    if len(files) > MAX_UPLOAD_FILES:
        raise APIError(400, f"at most {MAX_UPLOAD_FILES} files per upload", param="files")
    unsupported = [
        f.filename for f in files if Path(f.filename or "").suffix.lower() not in EXTENSIONS
    ]
    if unsupported:
        raise APIError(
            415,
            f"unsupported file type: {', '.join(map(str, unsupported))}; Siyada ingests "
            + ", ".join(sorted(EXTENSIONS)),
            code="unsupported_file_type",
            param="files",
        )
    folder = state.uploads(principal.tenant.name, name)
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for upload in files:
        target = _free_name(folder, _safe_name(upload.filename), saved)
        # Written under a temporary name and renamed: an ingest never reads half a file.
        with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as handle:
            try:
                while block := upload.file.read(1 << 20):
                    handle.write(block)
            except BaseException:
                Path(handle.name).unlink(missing_ok=True)
                raise
        Path(handle.name).replace(target)
        saved.append(target)
    job = state.start_ingest(principal.tenant.name, name, saved)
    return JSONResponse(job.to_dict(), status_code=202)


@router.get("/jobs/{job_id}", tags=["knowledge"])
def job_status(request: Request, principal: Editor, job_id: str) -> dict[str, Any]:
    job = _state(request).jobs.get(job_id)
    if job is None or job.tenant != principal.tenant.name:
        raise APIError(404, f"no ingest job {job_id!r}", code="not_found")
    return job.to_dict()


@router.post("/search", tags=["knowledge"])
def search(request: Request, principal: Reader, body: SearchRequest) -> dict[str, Any]:
    """Search a collection in any language or script."""
    found = (
        _state(request)
        .knowledge()
        .search(
            principal.tenant.name,
            body.collection,
            body.queries,
            k=body.k,
            filters=Filters(),
            mode=body.mode,
        )
    )
    return {"object": "list", "data": [results.to_dict() for results in found]}


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready to answer: the database opens and the default model is known."""
    state = _state(request)
    try:
        state.knowledge().collections(DEFAULT_TENANT)
        default = state.registry().default(DEFAULT_TENANT)
    except Exception as error:  # reported as not ready, with the reason
        return JSONResponse({"status": "not ready", "reason": str(error)}, status_code=503)
    return JSONResponse({"status": "ready", "default_model": default.name})
