"""The ``siyada`` command line: Typer commands over the same services the server uses."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from siyada import __version__
from siyada.cli import access, assistant, audit, erasure, knowledge, server
from siyada.cli.common import current_tenant, fail
from siyada.cli.lang import lang_app
from siyada.cli.pii import pii_app
from siyada.config import DEFAULT_TENANT, ENV_HOME, Settings
from siyada.governance.access import AccessError, check_tenant_name
from siyada.lang.translit import supported_pairs

app = typer.Typer(
    help="Siyada: a sovereign AI stack for Morocco (Darija, Tamazight, Arabic, French).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(lang_app, name="lang")
app.add_typer(pii_app, name="pii")
knowledge.register(app)
assistant.register(app)
access.register(app)
audit.register(app)
app.command("serve")(server.serve_command)
app.command("erase")(erasure.erase_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"siyada {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help=f"Where Siyada keeps all its state (default: ${ENV_HOME}, else the XDG data dir).",
        ),
    ] = None,
    tenant: Annotated[
        str,
        typer.Option(
            "--tenant",
            envvar="SIYADA_TENANT",
            help="The tenant to act for (its collections, models, conversations).",
        ),
    ] = DEFAULT_TENANT,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # Output is UTF-8 whatever the locale: the texts are Arabic, Tifinagh and accented Latin.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="replace")
    try:
        settings = replace(Settings.resolve(data_dir), tenant=check_tenant_name(tenant))
    except (ValueError, AccessError) as error:
        raise fail(str(error)) from None
    ctx.obj = settings
    if tenant != DEFAULT_TENANT and ctx.invoked_subcommand not in ("lang", "info", "pii"):
        current_tenant(ctx)  # an unknown tenant is refused before the command starts


@app.command()
def info(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show the version, the data directory and the shipped language model's card."""
    settings: Settings = ctx.obj
    card_path = resources.files("siyada.lang").joinpath("data/lid.card.json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    details = {
        "version": __version__,
        "data_dir": str(settings.data_dir),
        "embedder": settings.embedder,
        "language_id_model": {"date": card.get("date"), "dev": card.get("dev")},
        "transliteration_pairs": supported_pairs(),
    }
    if as_json:
        typer.echo(json.dumps(details, ensure_ascii=False))
        return
    typer.echo(f"siyada {__version__}\ndata directory: {settings.data_dir}")
    typer.echo(f"embedder for new collections: {settings.embedder}")
    typer.echo(f"language-ID model trained {card.get('date')}")
    typer.echo("transliteration: " + "; ".join(supported_pairs()))
