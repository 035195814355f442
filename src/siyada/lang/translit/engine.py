"""One small engine for table-driven transliteration: greedy longest match over a character map.

Tables are JSON files in ``tables/``; a table has a ``map`` (source sequence -> target) and may
have ``initial`` rules that apply only at the start of a word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any


def load_table(name: str) -> dict[str, Any]:
    """The JSON table ``tables/<name>.json`` shipped with the package."""
    path = resources.files("siyada.lang.translit").joinpath(f"tables/{name}.json")
    table: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return table


def _alternation(keys: list[str]) -> str:
    return "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))


class CharMap:
    """Rewrites text with the longest matching rule at each position; other text is kept."""

    def __init__(self, rules: Mapping[str, str], initial: Mapping[str, str] | None = None) -> None:
        self._rules = dict(rules)
        self._initial = dict(initial or {})
        parts = []
        if self._initial:
            parts.append(rf"(?P<initial>(?<!\w)(?:{_alternation(list(self._initial))}))")
        parts.append(f"(?P<any>{_alternation(list(self._rules))})")
        self._pattern = re.compile("|".join(parts))

    def _replace(self, match: re.Match[str]) -> str:
        if match.lastgroup == "initial":
            return self._initial[match.group()]
        return self._rules[match.group()]

    def apply(self, text: str) -> str:
        return self._pattern.sub(self._replace, text)


@cache
def table_map(name: str) -> CharMap:
    """The :class:`CharMap` of a shipped table (compiled once)."""
    table = load_table(name)
    return CharMap(table["map"], table.get("initial"))
