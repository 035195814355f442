"""The bundled data files (recognizers.json, phone_plan.json, context.json), loaded and compiled
once. Tables are data; this module only turns them into compiled regexes and lookup structures."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

ENTITY_TYPES: tuple[str, ...] = (
    "RIB",
    "IBAN",
    "ICE",
    "PHONE",
    "CIN",
    "EMAIL",
    "PASSPORT",
    "CNSS",
    "MASSAR",
)
"""Every type the recognizers report (the data files define exactly these)."""

CHECKS = ("none", "mod97", "iban", "phone")

DEFAULT_MIN_SCORE = 0.5
"""Matches scoring below this are not reported by default. The scores in recognizers.json are
set against it: types with no check digit (CIN, passport, CNSS, Massar) stay below it unless a
context phrase is near."""

_PLACEHOLDER = re.compile(r"\{([A-Z])(?::([^{}]*))?\}")


@dataclass(frozen=True, slots=True)
class Pattern:
    type: str
    name: str
    regex: re.Pattern[str]
    score: float
    needs: str
    """``"digit"``: only run when the text has a digit; otherwise a character that must occur."""


@dataclass(frozen=True, slots=True)
class TypeRule:
    name: str
    check: str
    score: float
    context_score: float
    negative_score: float | None
    priority: int
    """Lower wins ties between overlapping matches of equal validity, score and length."""


@dataclass(frozen=True, slots=True)
class PhonePlan:
    country_code: str
    international_prefixes: tuple[str, ...]
    trunk_prefix: str
    national_number_length: int
    leading_digits: frozenset[str]


@dataclass(frozen=True, slots=True)
class Tables:
    rules: dict[str, TypeRule]
    patterns: tuple[Pattern, ...]
    digit_translation: dict[int, str]
    separators: frozenset[str]
    any_digit: re.Pattern[str]
    letter: re.Pattern[str]
    """A letter that may not touch an identifier (Latin letters)."""
    number_group: re.Pattern[str]
    """A run of digits not glued to a letter (``12``, not the ``3`` of Arabizi ``3afak``)."""
    phone: PhonePlan


def _load(name: str) -> Any:
    text = resources.files("siyada.governance.pii").joinpath(f"data/{name}").read_text("utf-8")
    return json.loads(text)


def _class_escape(chars: str) -> str:
    return "".join("\\" + char if char in "\\]-^[" else char for char in chars)


def _compile(template: str, zeros: list[str], separators: str, letters: str) -> re.Pattern[str]:
    digit_ranges = "".join(f"{zero}-{chr(ord(zero) + 9)}" for zero in zeros)
    any_digit = f"[{digit_ranges}]"
    word = f"[{digit_ranges}{letters}]"

    def digits_in_any_script(literal: str) -> str:
        if not literal.isascii() or not literal.isdigit():
            raise ValueError(f"{{D:...}} takes Western digits, got {literal!r} in {template!r}")
        return "".join(
            "[" + "".join(chr(ord(zero) + int(digit)) for zero in zeros) + "]" for digit in literal
        )

    def expand(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        if name == "D":
            return any_digit if argument is None else digits_in_any_script(argument)
        if argument is not None:
            raise ValueError(f"{{{name}}} takes no argument in {template!r}")
        if name == "S":
            return f"[{_class_escape(separators)}]"
        if name == "L":
            return f"(?<!{word})"
        if name == "R":
            # Not followed by a digit or letter, nor by a decimal part (",50" of an amount).
            return f"(?!{word}|[.,]{any_digit}{{1,2}}(?!{any_digit}))"
        raise ValueError(f"unknown placeholder {{{name}}} in {template!r}")

    return re.compile(_PLACEHOLDER.sub(expand, template))


@cache
def tables() -> Tables:
    """The compiled recognizer tables (loaded once per process)."""
    data = _load("recognizers.json")
    zeros = list(data["digit_zeros"].values())
    separators: str = data["separators"]
    letters: str = data["word_letters"]
    if set(data["types"]) != set(ENTITY_TYPES):
        raise ValueError(f"recognizers.json must define exactly {ENTITY_TYPES}")
    rules: dict[str, TypeRule] = {}
    patterns: list[Pattern] = []
    for priority, (name, spec) in enumerate(data["types"].items()):
        if spec["check"] not in CHECKS:
            raise ValueError(f"{name}: unknown check {spec['check']!r}")
        rules[name] = TypeRule(
            name=name,
            check=spec["check"],
            score=float(spec["score"]),
            context_score=float(spec["context_score"]),
            negative_score=(float(spec["negative_score"]) if "negative_score" in spec else None),
            priority=priority,
        )
        for number, pattern in enumerate(spec["patterns"]):
            patterns.append(
                Pattern(
                    type=name,
                    name=pattern.get("name", f"{name.lower()}#{number}"),
                    regex=_compile(pattern["regex"], zeros, separators, letters),
                    score=float(pattern.get("score", spec["score"])),
                    needs=spec.get("needs", "digit"),
                )
            )
    translation = {
        ord(zero) + value: str(value) for zero in zeros if zero != "0" for value in range(10)
    }
    plan = _load("phone_plan.json")
    digit_ranges = "".join(f"{zero}-{chr(ord(zero) + 9)}" for zero in zeros)
    return Tables(
        rules=rules,
        patterns=tuple(patterns),
        digit_translation=translation,
        separators=frozenset(separators),
        any_digit=re.compile(f"[{digit_ranges}]"),
        letter=re.compile(f"[{letters}]"),
        number_group=re.compile(f"[{digit_ranges}]++(?![{digit_ranges}{letters}])"),
        phone=PhonePlan(
            country_code=plan["country_code"],
            international_prefixes=tuple(plan["international_prefixes"]),
            trunk_prefix=plan["trunk_prefix"],
            national_number_length=int(plan["national_number_length"]),
            leading_digits=frozenset(plan["leading_digits"]),
        ),
    )


def context_data() -> Any:
    """The raw context table (context.json); compiled by :mod:`.context`."""
    return _load("context.json")
