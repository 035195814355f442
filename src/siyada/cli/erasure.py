"""``siyada erase``: delete a document, or every trace of a data subject's identifier."""

from __future__ import annotations

import json
import sqlite3
from typing import Annotated

import typer

from siyada.assistant.conversations import Conversations
from siyada.cli.common import directory_of, emit, fail, record_action
from siyada.cli.knowledge import open_knowledge
from siyada.config import Settings
from siyada.governance.access import AccessError
from siyada.governance.erasure import (
    ErasureError,
    ErasureReport,
    erase_document,
    erase_identifier,
)
from siyada.knowledge.store import StoreError


def erase_command(
    ctx: typer.Context,
    document: Annotated[
        int | None,
        typer.Option("--document", help="A document id (siyada collections show NAME --json)."),
    ] = None,
    identifier: Annotated[
        str | None,
        typer.Option(
            "--identifier",
            help="A value to erase everywhere: a CIN, phone, RIB, e-mail... (any spacing).",
        ),
    ] = None,
    all_tenants: Annotated[
        bool,
        typer.Option("--all-tenants", help="Erase the identifier from every tenant's data."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Erase a document (--document ID) or an identifier (--identifier VALUE) from the store,
    every index and the conversations; the erasure is recorded in the audit trail (hashes only).
    """
    if (document is None) == (identifier is None):
        raise fail("give either --document ID or --identifier VALUE")
    if document is not None and all_tenants:
        raise fail("--all-tenants goes with --identifier; a document belongs to one tenant")
    settings: Settings = ctx.find_root().obj
    knowledge = open_knowledge(ctx)
    conversations: Conversations | None = None
    try:
        if document is not None:
            report = erase_document(knowledge, settings.tenant, document)
        else:
            assert identifier is not None
            conversations = Conversations(settings.database_path)
            tenants = [settings.tenant]
            if all_tenants:
                with directory_of(ctx) as directory:
                    tenants = [tenant.name for tenant in directory.tenants()]
            report = erase_identifier(knowledge, conversations, identifier, tenants)
    except (ErasureError, StoreError, AccessError) as error:
        raise fail(str(error)) from None
    except (OSError, sqlite3.Error) as error:
        raise fail(f"the erasure did not finish ({error}); run the same command again", 1) from None
    finally:
        if conversations is not None:
            conversations.close()
        knowledge.close()
    summary = json.dumps(report.to_dict(), sort_keys=True)
    if document is not None:
        record_action(ctx, "erase.document", resource=str(document), outputs=[summary])
    else:
        record_action(
            ctx,
            "erase.identifier",
            resource=identifier,
            sensitive_resource=True,
            outputs=[summary],
        )
    _print(report, as_json)


def _print(report: ErasureReport, as_json: bool) -> None:
    if as_json:
        emit([json.dumps(report.to_dict(), ensure_ascii=False)])
        return
    emit(
        [
            f"erased from {report.chunks} chunks of {report.documents} documents"
            f" and {report.turns} conversation turns"
            + (f" ({', '.join(report.collections)})" if report.collections else "")
        ]
    )
    for path in report.deleted_copies:
        emit([f"deleted the uploaded copy {path}"])
    if report.log_not_emptied:
        typer.echo(
            "warning: a running process (siyada serve?) kept the database's write-ahead log from "
            "being emptied; run the erasure again once it is stopped",
            err=True,
        )
    for path in report.source_files:
        typer.echo(
            f"warning: the source file {path} still holds it: erase or replace it, or a "
            "changed version ingested again brings it back",
            err=True,
        )
