"""The ``siyada`` command line: Typer commands over the same services the server uses."""

from __future__ import annotations

import io
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from siyada import __version__
from siyada.cli import assistant, knowledge, server
from siyada.cli.lang import lang_app
from siyada.config import ENV_HOME, Settings
from siyada.lang.translit import supported_pairs

app = typer.Typer(
    help="Siyada: a sovereign AI stack for Morocco (Darija, Tamazight, Arabic, French).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(lang_app, name="lang")
knowledge.register(app)
assistant.register(app)
app.command("serve")(server.serve_command)


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
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    # Output is UTF-8 whatever the locale: the texts are Arabic, Tifinagh and accented Latin.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8", errors="replace")
    ctx.obj = Settings.resolve(data_dir)


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
