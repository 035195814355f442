"""Helpers every command shares: reading lines from stdin in bounded chunks, writing output."""

from __future__ import annotations

import getpass
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated

import typer

from siyada.config import Settings
from siyada.database import SchemaError
from siyada.governance.access import AccessError, Directory, Tenant, open_directory
from siyada.governance.audit import AuditError, open_audit
from siyada.lang import parse_label
from siyada.lang.labels import Label

CHUNK_LINES = 1024
CHUNK_CHARS = 1_000_000
"""Input is processed in chunks of at most this many lines or characters (a chunk holds at
least one line): memory stays bounded however long the stream is."""


def stdin_lines() -> Iterator[str]:
    """Lines of stdin without their line ends; undecodable bytes become U+FFFD (and a warning)."""
    binary = sys.stdin.buffer
    warned = False
    for number, raw in enumerate(binary, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            if not warned:
                typer.echo(
                    f"warning: line {number} is not valid UTF-8; undecodable bytes were replaced "
                    "with U+FFFD (further such lines are not reported)",
                    err=True,
                )
                warned = True
        yield line.rstrip("\r\n")


def inputs(texts: list[str] | None) -> Iterator[str]:
    if texts:
        for text in texts:
            # Only \n ends a line, as on stdin (str.splitlines would also split on \v, \f...).
            yield from (line.rstrip("\r") for line in text.split("\n"))
    else:
        if sys.stdin is None:
            typer.echo("error: no standard input: pass texts as arguments or pipe them", err=True)
            raise typer.Exit(2)
        if sys.stdin.isatty():
            typer.echo("reading one text per line from stdin (Ctrl-D to end)", err=True)
        yield from stdin_lines()


def chunks(lines: Iterable[str], max_lines: int = CHUNK_LINES) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if len(chunk) == max_lines or size >= CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def emit(rows: Iterable[str]) -> None:
    """Write rows, one per line."""
    write(f"{row}\n" for row in rows)


def write(pieces: Iterable[str]) -> None:
    """Write text as it comes (flushed after each piece)."""
    try:
        for piece in pieces:
            sys.stdout.write(piece)
            sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do. Pointing stdout
        # at /dev/null keeps Python's exit-time flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (OSError, AttributeError) as error:  # stdout closed, full disk, ...
        typer.echo(f"error: cannot write the output: {error}", err=True)
        raise typer.Exit(1) from None


@contextmanager
def directory_of(ctx: typer.Context) -> Iterator[Directory]:
    """The tenants and keys of the data directory; refusals end the command with a message."""
    settings: Settings = ctx.find_root().obj
    try:
        directory = open_directory(settings)
    except (OSError, sqlite3.Error, SchemaError) as error:
        raise fail(f"cannot open {settings.database_path}: {error}", 1) from None
    try:
        yield directory
    except AccessError as error:
        raise fail(str(error)) from None
    finally:
        directory.close()


def current_tenant(ctx: typer.Context) -> Tenant:
    """The tenant the command acts for (``--tenant``; the operator's own by default)."""
    with directory_of(ctx) as directory:
        return directory.tenant(ctx.find_root().obj.tenant)


def record_action(
    ctx: typer.Context,
    action: str,
    *,
    outcome: str = "ok",
    resource: str | None = None,
    sensitive_resource: bool = False,
    inputs: Sequence[str] = (),
    outputs: Sequence[str] = (),
) -> None:
    """Append what a command did to the audit trail, as done by ``cli:<user>`` (the operator
    at this machine); texts are kept as digests only."""
    settings: Settings = ctx.find_root().obj
    try:
        with open_audit(settings) as trail:
            trail.record(
                tenant=settings.tenant,
                key_id=f"cli:{getpass.getuser()}",
                action=action,
                outcome=outcome,
                resource=resource,
                sensitive_resource=sensitive_resource,
                inputs=inputs,
                outputs=outputs,
            )
    except (AuditError, OSError, sqlite3.Error, SchemaError) as error:
        message = f"{action} was done but could not be recorded in the audit trail: {error}"
        raise fail(message, 1) from None


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned Exit to end with ``code``."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def label_option(value: str) -> Label:
    try:
        return parse_label(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


TextsArgument = Annotated[
    list[str] | None, typer.Argument(help="Texts to process; one per line from stdin when omitted.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per input line.")]
