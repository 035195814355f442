"""Every error the API returns has OpenAI's shape: ``{"error": {"message", "type", "param",
"code"}}``, with a 4xx status for what the client can fix and 5xx only for a backend that failed.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from siyada.assistant import AssistantError, ConversationError, PersonalDataRefused
from siyada.governance.access import AccessError, AuthenticationError, NotFound, PermissionDenied
from siyada.governance.egress import EgressRefused
from siyada.governance.quotas import QuotaExceeded
from siyada.knowledge.embed import EmbeddingError
from siyada.knowledge.store import StoreError
from siyada.models import (
    ModelDamaged,
    ModelError,
    ModelProtocolError,
    ModelTimeout,
    ModelUnavailable,
)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers


def error_body(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, code, param), status_code=status, headers=headers
    )


def status_of(error: Exception) -> tuple[int, str]:
    """The HTTP status and code for an error raised by Siyada's services."""
    if isinstance(error, APIError):
        return error.status, error.code or "invalid_request"
    if isinstance(error, EgressRefused):
        return 403, "egress_refused"
    if isinstance(error, PersonalDataRefused):
        return 400, "personal_data_refused"
    if isinstance(error, QuotaExceeded):
        return 429, "quota_exceeded"
    if isinstance(error, AuthenticationError):
        return 401, "invalid_api_key"
    if isinstance(error, PermissionDenied):
        return 403, "permission_denied"
    if isinstance(error, NotFound):
        return 404, "not_found"
    if isinstance(error, ModelTimeout):
        return 504, "model_timeout"
    if isinstance(error, ModelProtocolError):
        return 502, "model_protocol_error"
    if isinstance(error, ModelUnavailable):
        return 503, "model_unavailable"
    if isinstance(error, ModelDamaged):
        return 500, "model_damaged"
    if isinstance(error, ModelError):
        return (404, "model_not_found") if "no model named" in str(error) else (400, "model_error")
    if isinstance(error, StoreError):
        message = str(error)
        return (
            (404, "not_found")
            if message.startswith("no collection named")
            else (400, "invalid_request")
        )
    if isinstance(error, EmbeddingError):
        return 503, "embedder_unavailable"
    if isinstance(error, AssistantError | ConversationError | AccessError | ValueError):
        return 400, "invalid_request"
    return 500, "internal_error"


def _validation_message(error: RequestValidationError) -> tuple[str, str | None]:
    problems = []
    param = None
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
        if item.get("type") == "json_invalid":
            return "the request body is not valid JSON", None
        param = param or where or None
        problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(problems), param


async def _record_egress(request: Request, error: EgressRefused) -> None:
    """A refused backend call is an audit record of its own."""
    principal = getattr(request.state, "principal", None)
    await request.app.state.siyada.audit.submit(
        tenant=principal.tenant.name if principal else "-",
        key_id=principal.key.prefix if principal else None,
        action="egress.refused",
        resource=error.host,
        outcome="refused",
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(error)
        return error_response(400, message, "invalid_request", param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 404:
            message = f"no route {request.method} {request.url.path}; see /docs"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(error.detail)
        return error_response(error.status_code, message, headers=getattr(error, "headers", None))

    async def service_error(request: Request, error: Exception) -> JSONResponse:
        status, code = status_of(error)
        if isinstance(error, EgressRefused):
            await _record_egress(request, error)
        headers = error.headers if isinstance(error, APIError) else None
        if isinstance(error, QuotaExceeded):
            headers = {"Retry-After": str(error.retry_after)}
        return error_response(status, str(error), code, headers=headers)

    for kind in (
        APIError,
        AccessError,
        QuotaExceeded,
        EgressRefused,
        ModelError,
        StoreError,
        EmbeddingError,
        AssistantError,
        ConversationError,
    ):
        app.add_exception_handler(kind, service_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:  # no details out
        return error_response(
            500, f"internal error ({type(error).__name__}); the server log has the details"
        )


def sse_error(error: Exception) -> str:
    status, code = status_of(error)
    return f"data: {json.dumps(error_body(status, str(error), code), ensure_ascii=False)}\n\n"
