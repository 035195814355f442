"""``siyada lang ...``: the language layer on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Annotated

import typer

from siyada.cli.common import JsonOption, TextsArgument, chunks, emit, inputs, label_option
from siyada.lang import identify_batch, identify_spans, normalize, transliterate
from siyada.lang.identify import Identification
from siyada.lang.normalize import normalize_batch
from siyada.lang.translit import CONVERTERS, supported_pairs

lang_app = typer.Typer(
    help="Language layer: identify, normalize and transliterate Moroccan text.",
    no_args_is_help=True,
)


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
    for chunk in chunks(inputs(texts)):
        results = identify_batch(chunk)
        emit(
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
    for chunk in chunks(inputs(texts)):
        emit(_text_rows((transliterate(line, source, target) for line in chunk), as_json))


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
    chosen = label_option(label) if label is not None else None
    for chunk in chunks(inputs(texts)):
        normalized = normalize_batch(
            chunk, chosen, fold_hamza=fold_hamza, fold_ta_marbuta=fold_ta_marbuta
        )
        emit(_text_rows(normalized, as_json))


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
    emit(_demo_rows())
