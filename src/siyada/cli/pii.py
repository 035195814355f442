"""``siyada pii ...``: find and mask Moroccan personal identifiers on the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

import typer

from siyada.cli.common import JsonOption, TextsArgument, chunks, emit, inputs
from siyada.governance.pii import DEFAULT_MIN_SCORE, ENTITY_TYPES, Entity, mask, scan

pii_app = typer.Typer(
    help="Personal data: find and mask Moroccan identifiers (CIN, RIB, IBAN, ICE, phones...).",
    no_args_is_help=True,
)

TypesOption = Annotated[
    str | None,
    typer.Option(
        "--types",
        help="Comma-separated types to look for (default: all): " + ", ".join(ENTITY_TYPES) + ".",
    ),
]
MinScoreOption = Annotated[
    float,
    typer.Option(
        "--min-score",
        help="Report matches scoring at least this (0..1). CIN, passport, CNSS and Massar "
        "numbers score below the default without a context phrase.",
    ),
]
InvalidOption = Annotated[
    bool,
    typer.Option(
        "--invalid",
        help="Also report look-alikes whose check digits fail (or phone numbers outside the "
        'plan), with "valid": false.',
    ),
]


def _types_option(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(name.strip().upper() for name in value.split(",") if name.strip())
    unknown = sorted(names.difference(ENTITY_TYPES))
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown type(s) {', '.join(unknown) or repr(value)}; known: "
            + ", ".join(ENTITY_TYPES),
            param_hint="'--types'",
        )
    return names


def _min_score_option(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise typer.BadParameter(f"{value} is not in 0..1", param_hint="'--min-score'")
    return value


def _redacted(value: str) -> str:
    """The value with all but its first two and last two letters or digits hidden."""
    positions = [index for index, char in enumerate(value) if char.isalnum()]
    hidden = set(positions[2:-2])
    return "".join("*" if index in hidden else char for index, char in enumerate(value))


def _rows(
    lines: list[str],
    found: list[list[Entity]],
    *,
    as_json: bool,
    masked_output: bool,
    reveal: bool,
) -> Iterator[str]:
    for line, entities in zip(lines, found, strict=True):
        if as_json:
            payload = {
                "text": mask(line, entities),
                "entities": [entity.to_dict() for entity in entities],
            }
            yield json.dumps(payload, ensure_ascii=False)
        elif masked_output:
            yield mask(line, entities)
        else:
            yield "\t".join(
                f"{e.type} {e.start}-{e.end} "
                f"{e.text if reveal else _redacted(e.text)} "
                f"{'valid' if e.valid else 'invalid'} {e.score:.2f}"
                for e in entities
            )


def _run(
    texts: list[str] | None,
    types: str | None,
    min_score: float,
    include_invalid: bool,
    *,
    as_json: bool,
    masked_output: bool,
    reveal: bool = False,
) -> None:
    chosen = _types_option(types)
    threshold = _min_score_option(min_score)
    for chunk in chunks(inputs(texts)):
        found = [
            scan(line, types=chosen, min_score=threshold, include_invalid=include_invalid)
            for line in chunk
        ]
        emit(_rows(chunk, found, as_json=as_json, masked_output=masked_output, reveal=reveal))


@pii_app.command("scan")
def scan_command(
    texts: TextsArgument = None,
    types: TypesOption = None,
    min_score: MinScoreOption = DEFAULT_MIN_SCORE,
    include_invalid: InvalidOption = False,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Print the values in full (default: redacted).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List the identifiers in each text (one output line per input line).

    Each identifier reads 'TYPE start-end value valid|invalid score' (tab-separated; values
    redacted unless --reveal). --json: {"text": masked text, "entities": [{type, start, end,
    valid, score}]}, offsets into the input line.
    """
    _run(
        texts,
        types,
        min_score,
        include_invalid,
        as_json=as_json,
        masked_output=False,
        reveal=reveal,
    )


@pii_app.command("mask")
def mask_command(
    texts: TextsArgument = None,
    types: TypesOption = None,
    min_score: MinScoreOption = DEFAULT_MIN_SCORE,
    include_invalid: InvalidOption = False,
    as_json: JsonOption = False,
) -> None:
    """Replace each identifier by [TYPE]: [CIN], [RIB], [PHONE]...

    One output line per input line; --json adds the entities found, as 'scan --json' does.
    """
    _run(texts, types, min_score, include_invalid, as_json=as_json, masked_output=True)
