"""Administration: tenants, API keys and models (role ``admin``).

An admin manages its own tenant's keys and removes its models; only the operator's admins (the
``default`` tenant's) register model endpoints, create, change and delete tenants, and act on
other tenants.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from siyada.governance.access import PiiPolicy
from siyada.models import ModelCard
from siyada.server.auth import Admin, Principal
from siyada.server.errors import APIError
from siyada.server.schemas import KeyCreate, ModelCreate, TenantCreate, TenantUpdate
from siyada.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["administration"])


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.siyada
    return state


def _operator(principal: Principal) -> None:
    if not principal.operator:
        raise APIError(
            403,
            "only the operator's admins (tenant 'default') manage tenants",
            code="permission_denied",
        )


@router.get("/tenants")
def list_tenants(request: Request, principal: Admin) -> dict[str, Any]:
    """Every tenant for the operator's admins; the caller's own for the others."""
    directory = _state(request).directory()
    tenants = directory.tenants() if principal.operator else [principal.tenant]
    return {"object": "list", "data": [tenant.to_dict() for tenant in tenants]}


@router.post("/tenants", status_code=201)
def create_tenant(request: Request, principal: Admin, body: TenantCreate) -> dict[str, Any]:
    _operator(principal)
    tenant = (
        _state(request)
        .directory()
        .create_tenant(
            body.name,
            pii_policy=body.pii_policy,
            requests_per_minute=body.requests_per_minute,
            tokens_per_day=body.tokens_per_day,
        )
    )
    return tenant.to_dict()


@router.patch("/tenants/{name}")
def update_tenant(
    request: Request, principal: Admin, name: str, body: TenantUpdate
) -> dict[str, Any]:
    _operator(principal)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if changes.get("pii_policy", "") is None:
        raise APIError(400, "pii_policy cannot be null", param="pii_policy")
    if "pii_policy" in changes:
        changes["pii_policy"] = PiiPolicy(changes["pii_policy"])
    return _state(request).directory().update_tenant(name, **changes).to_dict()


@router.delete("/tenants/{name}")
def delete_tenant(request: Request, principal: Admin, name: str) -> dict[str, Any]:
    _operator(principal)
    if name == principal.tenant.name:
        raise APIError(400, "the operator's own tenant cannot be deleted", param="name")
    _state(request).directory().delete_tenant(name)
    return {"name": name, "deleted": True}


@router.get("/keys")
def list_keys(request: Request, principal: Admin, tenant: str | None = None) -> dict[str, Any]:
    """Keys (never their secrets): the caller's tenant's, or ``tenant``'s for the operator."""
    chosen = principal.tenant_for(tenant)
    keys = _state(request).directory().keys(chosen)
    return {"object": "list", "data": [key.to_dict() for key in keys]}


@router.post("/keys", status_code=201)
def create_key(request: Request, principal: Admin, body: KeyCreate) -> dict[str, Any]:
    """A new key. Its secret is in ``key``, shown this once: store it now."""
    tenant = principal.tenant_for(body.tenant)
    key, secret = (
        _state(request)
        .directory()
        .create_key(
            tenant,
            body.role,
            body.name,
            requests_per_minute=body.requests_per_minute,
            tokens_per_day=body.tokens_per_day,
            expires_at=body.expires_at,
        )
    )
    return {**key.to_dict(), "key": secret}


@router.delete("/keys/{prefix}")
def revoke_key(request: Request, principal: Admin, prefix: str) -> dict[str, Any]:
    directory = _state(request).directory()
    key = directory.revoke_key(prefix, None if principal.operator else principal.tenant.name)
    return key.to_dict()


@router.post("/models", status_code=201)
def add_model(request: Request, principal: Admin, body: ModelCreate) -> dict[str, Any]:
    """Register an OpenAI-compatible endpoint pool for a tenant (the operator's admins only:
    an endpoint is a host on the institution's network that prompts will be sent to)."""
    if not principal.operator:
        raise APIError(
            403,
            "only the operator's admins (tenant 'default') register model endpoints",
            code="permission_denied",
        )
    tenant = principal.tenant_for(body.tenant)
    state = _state(request)
    state.directory().tenant(tenant)  # 404 for an unknown tenant
    record = state.registry().add_openai(
        tenant,
        body.name,
        body.urls,
        model_id=body.model_id,
        card=ModelCard(body.license, tuple(body.languages), "", body.description),
        strategy=body.strategy,
        context=body.context,
        make_default=body.default,
    )
    shown = record.to_dict()
    del shown["location"]
    return shown


@router.delete("/models/{name}")
def remove_model(request: Request, principal: Admin, name: str) -> dict[str, Any]:
    state = _state(request)
    state.registry().remove(principal.tenant.name, name)
    state.forget_model(principal.tenant.name, name)
    return {"name": name, "deleted": True}
