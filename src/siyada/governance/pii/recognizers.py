"""Find Moroccan personal identifiers in text: one engine over the patterns in ``data/``.

A scan runs every pattern (compiled once), drops matches that are only a piece of a longer
grouped number, validates check digits or the phone plan, scores each match from its pattern
and the context phrases near it, then keeps one type per span: valid before invalid, then the
higher score, then the longer match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from siyada.governance.pii import checksums
from siyada.governance.pii.context import Opaque, context_tables
from siyada.governance.pii.tables import DEFAULT_MIN_SCORE, ENTITY_TYPES, Tables, tables

PLACEHOLDER = re.compile(r"\[(?:" + "|".join(ENTITY_TYPES) + r")(?:_[0-9]+)?\]")
"""``[CIN]`` (mask) and ``[CIN_3]`` (pseudonym): never identifiers, never context words."""

_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_NOT_DIGIT = re.compile(r"[^0-9]+")


@dataclass(frozen=True, slots=True)
class Entity:
    """One identifier found in a text; offsets are Python ``str`` indexes into that text."""

    type: str
    start: int
    end: int
    text: str
    valid: bool
    """Check digits passed (RIB, IBAN, ICE), the number fits the phone plan (PHONE); types with
    no check digit are valid when their shape matched."""
    score: float
    """Confidence in 0..1; context phrases raise it, nearer invoice/order words lower it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "valid": self.valid,
            "score": self.score,
        }


def western_digits(text: str) -> str:
    """``text`` with Arabic-Indic and Extended Arabic-Indic digits as Western digits."""
    return text.translate(tables().digit_translation)


def phone_national_number(value: str) -> str | None:
    """The national significant number of a Moroccan phone number as written, or None when the
    prefixes and length do not fit the plan (the leading digit is not checked here)."""
    plan = tables().phone
    written = western_digits(value).strip()
    digits = _NOT_DIGIT.sub("", written)
    international = written.lstrip("(").startswith("+")
    for prefix in plan.international_prefixes:
        if prefix.isdigit() and digits.startswith(prefix + plan.country_code):
            digits, international = digits[len(prefix) :], True
            break
    length = plan.national_number_length
    code = plan.country_code
    if digits.startswith(code) and (international or len(digits) == len(code) + length):
        digits = digits[len(code) :]
        if len(digits) == length + len(plan.trunk_prefix) and digits.startswith(
            plan.trunk_prefix
        ):  # +212 (0)6..., +212 06...
            digits = digits[len(plan.trunk_prefix) :]
    elif not international and digits.startswith(plan.trunk_prefix):
        digits = digits[len(plan.trunk_prefix) :]
    else:
        return None
    return digits if len(digits) == length else None


def canonical(entity_type: str, value: str) -> str:
    """A comparable form: Western digits, no separators, upper-case letters; e-mail addresses
    lower-cased; phone numbers as ``+212`` and the national number when they fit the plan."""
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown PII type {entity_type!r}; known: {', '.join(ENTITY_TYPES)}")
    if entity_type == "EMAIL":
        return value.strip().lower()
    if entity_type == "PHONE":
        national = phone_national_number(value)
        if national is not None:
            return "+" + tables().phone.country_code + national
    return _NOT_ALNUM.sub("", western_digits(value)).upper()


def _is_valid(entity_type: str, value: str, table: Tables) -> bool:
    check = table.rules[entity_type].check
    if check == "none":
        return True
    if check == "phone":
        national = phone_national_number(value)
        return national is not None and national[0] in table.phone.leading_digits
    compact = canonical(entity_type, value)
    if check == "iban":
        return checksums.is_valid_moroccan_iban(compact)
    return checksums.is_mod97(compact)  # "mod97": RIB, ICE


def _extends_a_grouped_number(
    text: str, start: int, end: int, table: Tables, starts: set[int], ends: set[int]
) -> bool:
    """True when the match is a piece of a longer number grouped with the same separator
    (``06 12 34 56 78`` inside ``06 12 34 56 78 90``). A neighbour that is itself a match
    passing its check (``0612345678 06 12 34 56 78``: two numbers) or a word with digits
    (Arabizi ``3afak``) does not count."""
    separators = table.separators.intersection(text[start:end])
    if not separators:
        return False
    digit = table.any_digit
    if (
        start >= 2
        and text[start - 1] in separators
        and start - 1 not in ends
        and digit.fullmatch(text[start - 2]) is not None
    ):
        cursor = start - 2
        while cursor > 0 and digit.fullmatch(text[cursor - 1]) is not None:
            cursor -= 1
        if cursor == 0 or table.letter.fullmatch(text[cursor - 1]) is None:
            return True
    return (
        end + 1 < len(text)
        and text[end] in separators
        and end + 1 not in starts
        and table.number_group.match(text, end + 1) is not None
    )


@dataclass(slots=True)
class _Candidate:
    type: str
    start: int
    end: int
    pattern_score: float
    valid: bool
    score: float = 0.0


def _candidates(text: str, table: Tables) -> tuple[list[_Candidate], list[tuple[int, int]]]:
    """The pattern matches that are whole numbers (validated), and the spans of every match."""
    has_digit = table.any_digit.search(text) is not None
    matches: dict[tuple[str, int, int], float] = {}
    for pattern in table.patterns:
        if not (has_digit if pattern.needs == "digit" else pattern.needs in text):
            continue
        for match in pattern.regex.finditer(text):
            key = (pattern.type, *match.span())
            matches[key] = max(matches.get(key, 0.0), pattern.score)
    candidates = [
        _Candidate(name, start, end, score, _is_valid(name, text[start:end], table))
        for (name, start, end), score in matches.items()
    ]
    # Only a neighbour that passed a check is another number: pieces of one long run vouch for
    # nothing (types with no check digit pass nothing).
    checked = [c for c in candidates if c.valid and table.rules[c.type].check != "none"]
    starts = {c.start for c in checked}
    ends = {c.end for c in checked}
    found = [
        c
        for c in candidates
        if not _extends_a_grouped_number(text, c.start, c.end, table, starts, ends)
    ]
    return found, [(c.start, c.end) for c in candidates]


def _resolve(candidates: list[_Candidate], table: Tables) -> list[_Candidate]:
    """One type per span: valid, then higher score, then longer, then the type order."""
    ranked = sorted(
        candidates,
        key=lambda c: (
            not c.valid,
            -c.score,
            -(c.end - c.start),
            table.rules[c.type].priority,
            c.start,
        ),
    )
    starts: list[int] = []
    kept: list[_Candidate] = []
    for candidate in ranked:
        index = bisect_right(starts, candidate.start)
        if index and kept[index - 1].end > candidate.start:
            continue
        if index < len(kept) and kept[index].start < candidate.end:
            continue
        starts.insert(index, candidate.start)
        kept.insert(index, candidate)
    return kept


def _check_types(types: Collection[str] | None) -> frozenset[str] | None:
    if types is None:
        return None
    chosen = frozenset(name.upper() for name in types)
    unknown = sorted(chosen.difference(ENTITY_TYPES))
    if unknown:
        raise ValueError(
            f"unknown PII type(s) {', '.join(unknown)}; known: {', '.join(ENTITY_TYPES)}"
        )
    return chosen


def scan(
    text: str,
    *,
    types: Collection[str] | None = None,
    min_score: float = DEFAULT_MIN_SCORE,
    include_invalid: bool = False,
) -> list[Entity]:
    """The identifiers in ``text``, sorted by start, non-overlapping.

    Only matches scoring at least ``min_score`` are reported; matches whose check digits fail
    (or phone numbers outside the plan) are reported, with ``valid=False``, only when
    ``include_invalid`` is set. ``types`` filters the result: overlaps are settled among all
    types first, so ``scan(t, types=X)`` is ``scan(t)`` restricted to the types in X.
    """
    chosen = _check_types(types)
    if not text:
        return []
    table = tables()
    candidates, opaque_spans = _candidates(text, table)
    if not candidates:
        return []
    context = context_tables()
    if "[" in text:
        opaque_spans.extend(match.span() for match in PLACEHOLDER.finditer(text))
    opaque = Opaque(opaque_spans)
    reportable: list[_Candidate] = []
    for candidate in candidates:
        rule = table.rules[candidate.type]
        if not candidate.valid and not include_invalid:
            continue
        before = opaque.before(text, candidate.start, context.before)
        after = opaque.after(text, candidate.end, context.after)
        positive = context.distances(context.positive[candidate.type], before, after)
        # Labels precede values: a negative phrase counts before the match only.
        negative = (
            context.distances(context.negative, before, ())
            if rule.negative_score is not None
            else None
        )
        score = candidate.pattern_score
        if rule.negative_score is not None and any(
            start == 0 for start, _ in context.units.matches(after)
        ):
            score = min(score, rule.negative_score)
        elif positive is not None and (negative is None or positive <= negative):
            score = max(score, rule.context_score)
        elif negative is not None and rule.negative_score is not None:
            score = min(score, rule.negative_score)
        candidate.score = score
        if score >= min_score:
            reportable.append(candidate)
    return [
        Entity(
            type=c.type,
            start=c.start,
            end=c.end,
            text=text[c.start : c.end],
            valid=c.valid,
            score=c.score,
        )
        for c in _resolve(reportable, table)
        if chosen is None or c.type in chosen
    ]


def replace_entities(
    text: str, entities: Sequence[Entity], replacement: Callable[[Entity], str]
) -> str:
    """``text`` with each entity's span replaced by ``replacement(entity)`` (an entity that
    overlaps an earlier one is skipped)."""
    pieces: list[str] = []
    cursor = 0
    for entity in sorted(entities, key=lambda e: (e.start, -e.end)):
        if entity.start < cursor or entity.end > len(text):
            continue  # overlaps one already replaced
        pieces.append(text[cursor : entity.start])
        pieces.append(replacement(entity))
        cursor = entity.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def mask(text: str, entities: Sequence[Entity] | None = None) -> str:
    """``text`` with each identifier replaced by ``[TYPE]`` (``scan(text)`` when no entities)."""
    found = scan(text) if entities is None else entities
    if not found:
        return text
    return replace_entities(text, found, lambda entity: f"[{entity.type}]")
