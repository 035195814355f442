"""Citation markers in a model's answer: ``[1]``, ``[1, 2]``, ``[2-3]``, ``[source 1]``...

Markers that point at a retrieved source are rewritten in one canonical form (``[1][2]``);
the others are dropped from the answer and reported, so a reader never follows a citation to
a source that was not retrieved.
"""

from __future__ import annotations

import re

_LABEL = r"(?:sources?|src|réf|ref|المصدر|مصدر)"
_JOIN = r"(?:[,،;]|-|–|and|et|و)"
MARKER = re.compile(
    rf"(\s*)\[\s*(?:{_LABEL}\s*)?(\d{{1,3}}(?:\s*{_JOIN}\s*\d{{1,3}})*)\s*\]",
    re.IGNORECASE,
)
MARKER_START = re.compile(
    rf"\[\s*[^\W\d_]{{0,7}}\s*(?:\d{{1,3}}(?:\s*{_JOIN}?\s*\d{{0,3}})*)?\s*",
    re.IGNORECASE,
)
"""What a marker looks like before its closing bracket has arrived."""
_NUMBER = re.compile(r"\d+")
_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)")
MAX_RANGE = 20


def _numbers(inside: str) -> list[int]:
    numbers: list[int] = []
    for part in re.split(r"\s*(?:[,،;]|and|et|و)\s*", inside):
        bounds = _RANGE.fullmatch(part.strip())
        if bounds and 0 <= int(bounds[2]) - int(bounds[1]) <= MAX_RANGE:
            numbers.extend(range(int(bounds[1]), int(bounds[2]) + 1))
        else:
            numbers.extend(int(n) for n in _NUMBER.findall(part))
    return numbers


class Citations:
    """Checks markers against the ``count`` sources (numbered from 1) as the answer streams."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.cited: list[int] = []
        self.dropped: list[int] = []

    def rewrite(self, text: str) -> str:
        return MARKER.sub(self._replace, text) if "[" in text else text

    def _replace(self, match: re.Match[str]) -> str:
        kept = []
        for number in _numbers(match[2]):
            if 1 <= number <= self.count:
                if number not in kept:
                    kept.append(number)
                if number not in self.cited:
                    self.cited.append(number)
            elif number not in self.dropped:
                self.dropped.append(number)
        # A marker dropped whole takes the space before it along ("75 DH [9]." -> "75 DH.").
        return match[1] + "".join(f"[{n}]" for n in kept) if kept else ""
