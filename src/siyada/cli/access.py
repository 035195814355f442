"""``siyada tenants`` and ``siyada keys``: who may use the server, with which role and quota.

The command line is the operator's: it acts on the data directory directly, with no key.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from siyada.cli.common import directory_of, emit, fail, record_action
from siyada.config import DEFAULT_TENANT, Settings
from siyada.governance.access import (
    ApiKey,
    PiiPolicy,
    Role,
    Tenant,
    parse_expiry,
)

tenants_app = typer.Typer(help="Tenants: institutions or departments with their own data.")
keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
RequestsOption = Annotated[
    int | None, typer.Option("--requests-per-minute", min=1, help="Request quota (none: no limit).")
]
TokensOption = Annotated[
    int | None,
    typer.Option("--tokens-per-day", min=1, help="Token quota, UTC day (none: no limit)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")


def _limit(value: int | None) -> str:
    return "no limit" if value is None else str(value)


def _tenant_row(tenant: Tenant, as_json: bool) -> str:
    if as_json:
        return json.dumps(tenant.to_dict(), ensure_ascii=False)
    return (
        f"{tenant.name}\tpersonal data: {tenant.pii_policy.value}\t"
        f"requests/min: {_limit(tenant.requests_per_minute)}\t"
        f"tokens/day: {_limit(tenant.tokens_per_day)}"
    )


@tenants_app.command("list")
def list_tenants(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the tenants."""
    with directory_of(ctx) as directory:
        emit(_tenant_row(tenant, as_json) for tenant in directory.tenants())


@tenants_app.command("create")
def create_tenant(
    ctx: typer.Context,
    name: str,
    pii_policy: Annotated[
        PiiPolicy,
        typer.Option(
            "--pii-policy",
            help="What models see of personal identifiers: placeholders restored in the answer "
            "(pseudonymize), masks (mask), or questions holding them are refused (refuse).",
        ),
    ] = PiiPolicy.PSEUDONYMIZE,
    requests_per_minute: RequestsOption = None,
    tokens_per_day: TokensOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant; then give it keys with: siyada keys create --tenant NAME."""
    with directory_of(ctx) as directory:
        tenant = directory.create_tenant(
            name,
            pii_policy=pii_policy,
            requests_per_minute=requests_per_minute,
            tokens_per_day=tokens_per_day,
        )
    record_action(ctx, "tenants.create", resource=name)
    emit([_tenant_row(tenant, as_json)])


@tenants_app.command("update")
def update_tenant(
    ctx: typer.Context,
    name: str,
    pii_policy: Annotated[PiiPolicy | None, typer.Option("--pii-policy")] = None,
    requests_per_minute: RequestsOption = None,
    tokens_per_day: TokensOption = None,
    no_request_limit: Annotated[bool, typer.Option("--no-request-limit")] = False,
    no_token_limit: Annotated[bool, typer.Option("--no-token-limit")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's personal-data policy or quotas."""
    changes: dict[str, object] = {}
    if pii_policy is not None:
        changes["pii_policy"] = pii_policy
    if requests_per_minute is not None or no_request_limit:
        changes["requests_per_minute"] = None if no_request_limit else requests_per_minute
    if tokens_per_day is not None or no_token_limit:
        changes["tokens_per_day"] = None if no_token_limit else tokens_per_day
    if not changes:
        raise fail("nothing to change: give --pii-policy, --requests-per-minute, --tokens-per-day")
    with directory_of(ctx) as directory:
        updated = directory.update_tenant(name, **changes)
    record_action(ctx, "tenants.update", resource=name, inputs=[repr(sorted(changes.items()))])
    emit([_tenant_row(updated, as_json)])


@tenants_app.command("delete")
def delete_tenant(ctx: typer.Context, name: str) -> None:
    """Delete a tenant and its keys (its collections and models must be deleted first)."""
    if name == DEFAULT_TENANT:
        raise fail("the operator's own tenant cannot be deleted")
    with directory_of(ctx) as directory:
        directory.delete_tenant(name)
    record_action(ctx, "tenants.delete", resource=name)
    typer.echo(f"deleted tenant {name}")


def _global_tenant(ctx: typer.Context) -> str | None:
    """``siyada --tenant NAME`` (or SIYADA_TENANT) when given, else None."""
    settings: Settings = ctx.find_root().obj
    return None if settings.tenant == DEFAULT_TENANT else settings.tenant


def _key_row(key: ApiKey, as_json: bool) -> str:
    if as_json:
        return json.dumps(key.to_dict(), ensure_ascii=False)
    state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
    expiry = f"\texpires {key.expires_at}" if key.expires_at else ""
    return f"{key.prefix}\t{key.tenant}\t{key.role.value}\t{state}\t{key.name}{expiry}"


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant's keys (default: every tenant's).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List keys (prefix, tenant, role, state); secrets are never shown again."""
    with directory_of(ctx) as directory:
        emit(_key_row(key, as_json) for key in directory.keys(tenant or _global_tenant(ctx)))


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    tenant: Annotated[
        str | None,
        typer.Option(help="The tenant the key acts for (default: siyada --tenant, else default)."),
    ] = None,
    role: Annotated[
        Role, typer.Option(help="reader: ask, search; editor: and documents; admin.")
    ] = (Role.READER),
    name: Annotated[str, typer.Option(help="What the key is for (shown in lists).")] = "",
    expires: Annotated[
        str | None, typer.Option(help="Expiry: ISO date or date-time (UTC).", show_default=False)
    ] = None,
    requests_per_minute: RequestsOption = None,
    tokens_per_day: TokensOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a key. It is printed once: store it now, Siyada keeps only a keyed hash."""
    try:
        expires_at = parse_expiry(expires) if expires else None
    except ValueError as error:
        raise fail(str(error)) from None
    chosen = tenant or ctx.find_root().obj.tenant
    with directory_of(ctx) as directory:
        key, secret = directory.create_key(
            chosen,
            role,
            name,
            requests_per_minute=requests_per_minute,
            tokens_per_day=tokens_per_day,
            expires_at=expires_at,
        )
    record_action(ctx, "keys.create", resource=f"{key.tenant}/{key.prefix} ({key.role.value})")
    if as_json:
        emit([json.dumps({**key.to_dict(), "key": secret}, ensure_ascii=False)])
        return
    emit([secret])
    typer.echo(
        f"(key {key.prefix}, tenant {key.tenant}, role {key.role.value}: shown only this once)",
        err=True,
    )


@keys_app.command("revoke")
def revoke_key(ctx: typer.Context, prefix: str, as_json: JsonFlag = False) -> None:
    """Revoke a key by its prefix; requests with it are refused from now on."""
    with directory_of(ctx) as directory:
        revoked = directory.revoke_key(prefix)
    record_action(ctx, "keys.revoke", resource=f"{revoked.tenant}/{revoked.prefix}")
    emit([_key_row(revoked, as_json)])
