"""Reading order of right-to-left text that comes out of a page layout (PDF) in display order.

A PDF stores where glyphs go, not the order in which they are read: a line of Arabic may come back
left to right as it is displayed (visual order, the usual case for Word and browser exports) or in
reading order (logical order, what naive generators write). ``to_reading_order`` turns a line in
display order into reading order when, and only when, the Arabic in it reads better that way. The
judge is a letter-bigram model of Arabic words taken from the shipped Darija/Arabic word list, so a
line of French or a line already in reading order is left alone.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from siyada.lang.normalize import normalize

_STRONG_RTL = frozenset({"R", "AL"})
_NUMBER = frozenset({"EN", "AN"})
_ARABIC_WORD = re.compile(r"[\u0620-\u064A\u0671-\u06D3]+")
_MIRRORED = str.maketrans("()[]{}<>«»", ")(][}{><»«")
_OPENING = frozenset("([{<«")
_CLOSING = frozenset(")]}>»")
_BOUNDARY = " "


def _direction_classes(text: str) -> str:
    """One letter per character: R (right-to-left letter), L (left-to-right letter or digit), N."""
    classes = []
    for char in text:
        bidi = unicodedata.bidirectional(char)
        if bidi in _STRONG_RTL:
            classes.append("R")
        elif bidi == "L" or bidi in _NUMBER:
            classes.append("L")
        else:
            classes.append("N")
    return "".join(classes)


def _reverse_runs(text: str, classes: str, strong: str) -> str:
    """Reverse every run that starts and ends with ``strong`` and holds only it and neutrals."""
    pattern = re.compile(f"{strong}(?:N*{strong})*")
    pieces: list[str] = []
    last = 0
    for run in pattern.finditer(classes):
        pieces.append(text[last : run.start()])
        segment = text[run.start() : run.end()][::-1]
        pieces.append(segment.translate(_MIRRORED) if strong == "R" else segment)
        last = run.end()
    pieces.append(text[last:])
    return "".join(pieces)


def visual_to_logical(line: str) -> str:
    """Reading order of one line given in display order (left to right as it is drawn).

    The base direction is right to left when the line has at least as many right-to-left letters
    as left-to-right ones; numbers and Latin runs inside Arabic keep their own left-to-right order.
    """
    classes = _direction_classes(line)
    if classes.count("R") == 0:
        return line
    if classes.count("R") >= classes.count("L"):
        reversed_line = line[::-1].translate(_MIRRORED)
        return _reverse_runs(reversed_line, classes[::-1], "L")
    return _reverse_runs(line, classes, "R")


@dataclass(frozen=True)
class _BigramModel:
    log_probabilities: dict[str, float]
    unseen: float

    def word_score(self, word: str) -> float:
        padded = f"{_BOUNDARY}{word}{_BOUNDARY}"
        return sum(
            self.log_probabilities.get(padded[index : index + 2], self.unseen)
            for index in range(len(padded) - 1)
        )


@cache
def _bigram_model() -> _BigramModel:
    path = resources.files("siyada.lang").joinpath("data/darija_words.tsv")
    counts: dict[str, float] = {}
    firsts: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        word, _, count_text = line.partition("\t")
        # Types matter more than tokens here: a few very frequent words must not decide alone.
        weight = math.log1p(int(count_text))
        padded = f"{_BOUNDARY}{word}{_BOUNDARY}"
        for index in range(len(padded) - 1):
            bigram = padded[index : index + 2]
            counts[bigram] = counts.get(bigram, 0.0) + weight
            firsts[bigram[0]] = firsts.get(bigram[0], 0.0) + weight
    alphabet = len(firsts) + 1
    log_probabilities = {
        bigram: math.log((count + 0.1) / (firsts[bigram[0]] + 0.1 * alphabet))
        for bigram, count in counts.items()
    }
    return _BigramModel(log_probabilities, unseen=math.log(0.1 / (max(firsts.values()) * 10)))


def arabic_reading_score(text: str) -> float:
    """Log-likelihood of the Arabic words of ``text`` read in the order they are written."""
    model = _bigram_model()
    return sum(model.word_score(word) for word in _ARABIC_WORD.findall(normalize(text)))


def to_reading_order(display_line: str) -> str:
    """The reading order of a line given in display order, whichever way its file stored it.

    Both readings are scored: the line as drawn (a generator that wrote Arabic in reading order
    left to right) and the right-to-left reading of the drawing. Lines with no right-to-left
    letter come back unchanged.
    """
    if not any(bidi in _STRONG_RTL for bidi in map(unicodedata.bidirectional, display_line)):
        return display_line
    logical = visual_to_logical(display_line)
    if arabic_reading_score(logical) >= arabic_reading_score(display_line):
        return _brackets_open_first(logical)
    return _brackets_open_first(display_line)


def _brackets_open_first(line: str) -> str:
    """Swap mirrored brackets when the line closes one before opening any.

    Layout engines draw a right-to-left ``(`` with the ``)`` glyph, and some extractors report
    the glyph rather than the character.
    """
    for char in line:
        if char in _OPENING:
            return line
        if char in _CLOSING:
            return line.translate(_MIRRORED)
    return line
