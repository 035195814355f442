"""The ``siyada`` command line: Typer commands over the same services the server uses."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from siyada import __version__
from siyada.config import ENV_HOME, Settings
from siyada.lang import identify_batch, identify_spans, normalize, parse_label, transliterate
from siyada.lang.identify import Identification
from siyada.lang.labels import Label
from siyada.lang.normalize import normalize_batch
from siyada.lang.translit import CONVERTERS, supported_pairs

CHUNK_LINES = 1024
CHUNK_CHARS = 1_000_000
"""Input is processed in chunks of at most this many lines or characters (a chunk holds at
least one line): memory stays bounded however long the stream is."""

app = typer.Typer(
    help="Siyada: a sovereign AI stack for Morocco (Darija, Tamazight, Arabic, French).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
lang_app = typer.Typer(
    help="Language layer: identify, normalize and transliterate Moroccan text.",
    no_args_is_help=True,
)
app.add_typer(lang_app, name="lang")


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
        "language_id_model": {"date": card.get("date"), "dev": card.get("dev")},
        "transliteration_pairs": supported_pairs(),
    }
    if as_json:
        typer.echo(json.dumps(details, ensure_ascii=False))
        return
    typer.echo(f"siyada {__version__}\ndata directory: {settings.data_dir}")
    typer.echo(f"language-ID model trained {card.get('date')}")
    typer.echo("transliteration: " + "; ".join(supported_pairs()))


def _stdin_lines() -> Iterator[str]:
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


def _inputs(texts: list[str] | None) -> Iterator[str]:
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
        yield from _stdin_lines()


def _chunks(lines: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if len(chunk) == CHUNK_LINES or size >= CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _emit(rows: Iterable[str]) -> None:
    try:
        for row in rows:
            sys.stdout.write(row + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do. Pointing stdout
        # at /dev/null keeps Python's exit-time flush from failing on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except (OSError, AttributeError) as error:  # stdout closed, full disk, ...
        typer.echo(f"error: cannot write the output: {error}", err=True)
        raise typer.Exit(1) from None


def _label_option(value: str) -> Label:
    try:
        return parse_label(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


TextsArgument = Annotated[
    list[str] | None, typer.Argument(help="Texts to process; one per line from stdin when omitted.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per input line.")]


def _identification_row(text: str, result: Identification, as_json: bool, with_spans: bool) -> str:
    if as_json:
        payload = result.to_dict()
        if with_spans:
            payload["spans"] = [span.to_dict() for span in identify_spans(text)]
        return json.dumps(payload, ensure_ascii=False)
    row = f"{result.label.value}\t{result.script.value}\t{result.confidence:.3f}"
    if with_spans:
        # Whitespace inside a span is collapsed so the row keeps its tab-separated columns.
        spans = identify_spans(text)
        row += "\t" + " ".join(f"{s.label.value}[{' '.join(s.text.split())}]" for s in spans)
    return row


@lang_app.command("identify")
def identify_command(
    texts: TextsArgument = None,
    as_json: JsonOption = False,
    spans: Annotated[
        bool, typer.Option("--spans", help="Add word-level code-switch spans.")
    ] = False,
) -> None:
    """Identify language and script: label, script, confidence (tab-separated or --json)."""
    for chunk in _chunks(_inputs(texts)):
        results = identify_batch(chunk)
        _emit(
            _identification_row(text, result, as_json, spans)
            for text, result in zip(chunk, results, strict=True)
        )


def _text_rows(converted: Iterable[str], as_json: bool) -> Iterator[str]:
    for text in converted:
        yield json.dumps({"text": text}, ensure_ascii=False) if as_json else text


@lang_app.command("translit")
def translit_command(
    source: Annotated[str, typer.Option("--from", help="Source label, e.g. ary_Latn.")],
    target: Annotated[str, typer.Option("--to", help="Target label, e.g. ary_Arab.")],
    texts: TextsArgument = None,
    as_json: JsonOption = False,
) -> None:
    """Transliterate: Arabizi <-> Arabic, Latin <-> Tifinagh, Tifinagh -> Arabic script."""
    if (source, target) not in CONVERTERS:
        raise typer.BadParameter(
            f"cannot transliterate {source} -> {target}; supported: "
            + ", ".join(supported_pairs()),
            param_hint="'--from' / '--to'",
        )
    for chunk in _chunks(_inputs(texts)):
        _emit(_text_rows((transliterate(line, source, target) for line in chunk), as_json))


@lang_app.command("normalize")
def normalize_command(
    texts: TextsArgument = None,
    label: Annotated[
        str | None, typer.Option("--label", help="Apply this label's rules (default: identify).")
    ] = None,
    fold_hamza: Annotated[bool, typer.Option(help="Also fold ؤ ئ to و ي.")] = False,
    fold_ta_marbuta: Annotated[bool, typer.Option(help="Also fold ة to ه.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Normalize text (Unicode, Arabic letter variants and digits, Arabizi, Tifinagh)."""
    chosen = _label_option(label) if label is not None else None
    for chunk in _chunks(_inputs(texts)):
        normalized = normalize_batch(
            chunk, chosen, fold_hamza=fold_hamza, fold_ta_marbuta=fold_ta_marbuta
        )
        _emit(_text_rows(normalized, as_json))


DEMO_TRANSLITERATIONS = (
    ("wach 3ndek lwe9t? bghit nchouf lbita9a lwatania", "ary_Latn", "ary_Arab"),
    ("بغيت نجدد البطاقة الوطنية ديالي عافاك", "ary_Arab", "ary_Latn"),
    ("azul fellawn, tamaziɣt tagʷrawt", "ber_Latn", "zgh_Tfng"),
    ("ⵜⴰⵎⴰⵣⵉⵖⵜ ⴰⵖⵔⵓⵎ", "zgh_Tfng", "ber_Latn"),
    ("ⵜⴰⵎⴰⵣⵉⵖⵜ ⴰⵖⵔⵓⵎ", "zgh_Tfng", "zgh_Arab"),
)
DEMO_NORMALIZATIONS = ("bzzzzaaaf", "بزااااف ٢٠٢٦ ﻻ", "ⴵⵓⵍⵗ")


def _demo_rows() -> Iterator[str]:
    sample = resources.files("siyada.lang").joinpath("samples/sample.txt").read_text("utf-8")
    lines = sample.splitlines()
    yield "Language identification, with code-switch spans:\n"
    for line, result in zip(lines, identify_batch(lines), strict=True):
        spans = identify_spans(line)
        mixed = " + ".join(dict.fromkeys(span.label.value for span in spans)) if spans else "und"
        yield f"  {result.label.value:9} {result.confidence:5.2f}  {mixed:20}  {line}"
    yield "\nTransliteration:\n"
    for text, source, target in DEMO_TRANSLITERATIONS:
        yield f"  {source} -> {target}: {text}  =>  {transliterate(text, source, target)}"
    yield "\nNormalization:\n"
    for text in DEMO_NORMALIZATIONS:
        yield f"  {text}  =>  {normalize(text)}"
    yield "\nTry: siyada lang identify --spans 'wach nta mzyan? ça va?'"


@lang_app.command("demo")
def demo_command() -> None:
    """Run the language layer on the bundled sample of Moroccan text."""
    _emit(_demo_rows())
