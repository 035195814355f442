"""``siyada audit``: verify the audit trail, export verifiable bundles, list records.

``verify`` exits 0 when the log (or a bundle) verifies and 1 naming the first bad record when
it does not; bad input exits 2.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from siyada.cli.common import emit, fail
from siyada.config import DEFAULT_TENANT, Settings
from siyada.database import SchemaError
from siyada.governance.audit import (
    AuditError,
    AuditRecord,
    AuditTrail,
    VerifyReport,
    load_public_key,
    open_audit,
    parse_bound,
    verify_bundle,
)

audit_app = typer.Typer(
    help="The audit trail: verify it, export bundles for auditors, list records.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@contextmanager
def _trail(ctx: typer.Context) -> Iterator[AuditTrail]:
    settings: Settings = ctx.find_root().obj
    try:
        trail = open_audit(settings)
    except (OSError, sqlite3.Error, SchemaError) as error:
        raise fail(f"cannot open the audit trail in {settings.data_dir}: {error}", 1) from None
    try:
        yield trail
    except AuditError as error:
        raise fail(str(error), 1) from None
    except (OSError, sqlite3.Error) as error:
        raise fail(f"the audit trail failed: {error}", 1) from None
    finally:
        trail.close()


def _read_pem(path: Path) -> str:
    try:
        pem = path.read_text(encoding="ascii")
        load_public_key(pem)
    except (OSError, UnicodeDecodeError) as error:
        raise fail(f"cannot read the public key {path}: {error}") from None
    except AuditError as error:
        raise fail(f"{path}: {error}") from None
    return pem


def _report(report: VerifyReport, as_json: bool) -> None:
    emit([json.dumps(report.to_dict(), ensure_ascii=False) if as_json else report.summary()])
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Verify an export bundle offline instead of the local log."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            help="Pin the signing key: a PEM file (siyada audit public-key) the signatures "
            "must verify with.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every record, checkpoint and the signed head (or a bundle); exit 1 naming the
    first bad record when something was altered, removed, inserted or moved."""
    pem = _read_pem(public_key) if public_key is not None else None
    if bundle is not None:
        try:
            report = verify_bundle(bundle, pem)
        except AuditError as error:
            raise fail(str(error)) from None
        _report(report, as_json)
        return
    with _trail(ctx) as trail:
        report = trail.verify(pem)
    _report(report, as_json)


@audit_app.command("export")
def export_command(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The bundle to write (JSON).", show_default=False)
    ],
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="First record: a sequence number or an ISO date/date-time (UTC)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Last record: a sequence number or an ISO date/date-time."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a bundle an auditor verifies offline (siyada audit verify --bundle FILE): the
    records in the range, signed checkpoints, proofs and the public key."""
    try:
        first = parse_bound(start) if start is not None else None
        last = parse_bound(end, end=True) if end is not None else None
    except ValueError as error:
        raise fail(str(error)) from None
    if output.exists() and not force:
        raise fail(f"{output} exists; use --force to replace it")
    with _trail(ctx) as trail:
        summary = trail.export(output, start=first, end=last, force=force)
    if as_json:
        emit([json.dumps(summary.to_dict(), ensure_ascii=False)])
    else:
        emit(
            [
                f"wrote {summary.path}: records {summary.first_seq}..{summary.last_seq} "
                f"({summary.records}), {summary.checkpoints} signed checkpoints, proven against "
                f"the checkpoint at tree size {summary.tree_size}"
            ]
        )


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Sign a checkpoint (Merkle root) at the current end of the log."""
    with _trail(ctx) as trail:
        checkpoint = trail.checkpoint()
    if checkpoint is None:
        emit([json.dumps(None) if as_json else "the audit log is empty: no checkpoint"])
    elif as_json:
        emit([json.dumps(checkpoint.to_dict())])
    else:
        emit([f"checkpoint at tree size {checkpoint.tree_size}: root {checkpoint.root}"])


@audit_app.command("public-key")
def public_key_command(ctx: typer.Context) -> None:
    """Print the public key (PEM) that verifies checkpoints and bundles: give it to auditors."""
    with _trail(ctx) as trail:
        pem = trail.public_key_pem()
    emit([pem.rstrip("\n")])


@audit_app.command("proof")
def proof_command(ctx: typer.Context, seq: int) -> None:
    """Print (JSON) the inclusion proof of record SEQ against a signed checkpoint."""
    with _trail(ctx) as trail:
        proof = trail.inclusion_proof(seq)
    emit([json.dumps(proof.to_dict())])


def _row(record: AuditRecord, as_json: bool) -> str:
    if as_json:
        return json.dumps(record.to_dict(), ensure_ascii=False)
    return "\t".join(
        [
            str(record.seq),
            record.time,
            record.tenant,
            record.action,
            record.outcome,
            record.resource or "-",
            record.key_id or "-",
            record.request_id or "-",
        ]
    )


@audit_app.command("list")
def list_command(
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    resource: Annotated[
        str | None,
        typer.Option(
            "--resource", help="Only this resource (an identifier given in clear is matched too)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """List records, newest first: seq, time, tenant, action, outcome, resource, key, request."""
    settings: Settings = ctx.find_root().obj
    if tenant is None and settings.tenant != DEFAULT_TENANT:
        tenant = settings.tenant
    with _trail(ctx) as trail:
        records = trail.records(tenant=tenant, action=action, resource=resource, limit=limit)
    emit(_row(record, as_json) for record in records)
