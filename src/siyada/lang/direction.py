"""Reading order of right-to-left text that comes out of a page layout (PDF) in display order.

A PDF stores where glyphs go, not the order in which they are read: a line of Arabic may come back
left to right as it is displayed (visual order, the usual case for Word and browser exports) or in
reading order (logical order, what naive generators write). ``to_reading_order`` turns a line in
display order into reading order when, and only when, the Arabic in it reads better that way. The
judge is a letter-trigram model of Arabic words built from the shipped Darija/Arabic word list, so a
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
_START = "^"
_END = "$"


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


def visual_to_logical(line: str, right_to_left_context: bool = False) -> str:
    """Reading order of one line given in display order (left to right as it is drawn).

    The base direction is right to left when the line has at least as many right-to-left letters
    as Latin ones, or when it has any and sits in a right-to-left context (a page that is mostly
    Arabic); numbers and Latin runs inside Arabic keep their own left-to-right order.
    """
    classes = _direction_classes(line)
    if classes.count("R") == 0:
        return line
    # Digits are weak: they follow the paragraph, so only letters vote for its direction.
    latin_letters = sum(
        char.isalpha() for char, kind in zip(line, classes, strict=True) if kind == "L"
    )
    if right_to_left_context or classes.count("R") >= latin_letters:
        reversed_line = line[::-1].translate(_MIRRORED)
        return _reverse_runs(reversed_line, classes[::-1], "L")
    return _reverse_runs(line, classes, "R")


ORDER = 3
"""Letter n-gram order of the reading model (trigrams misjudge half as many words as bigrams)."""
KNOWN_WORD_BONUS = 4.0
"""Log-likelihood credited to a reading for each word found in the word list."""


@dataclass(frozen=True)
class _ReadingModel:
    log_probabilities: dict[str, float]
    context_unseen: dict[str, float]
    unseen: float
    words: frozenset[str]

    def word_score(self, word: str) -> float:
        padded = f"{_START * (ORDER - 1)}{word}{_END}"
        total = KNOWN_WORD_BONUS if word in self.words else 0.0
        for index in range(len(padded) - ORDER + 1):
            gram = padded[index : index + ORDER]
            found = self.log_probabilities.get(gram)
            if found is None:
                found = self.context_unseen.get(gram[:-1], self.unseen)
            total += found
        return total


@cache
def _reading_model() -> _ReadingModel:
    """Letter trigrams of the word types of the shipped Darija/Arabic word list."""
    path = resources.files("siyada.lang").joinpath("data/darija_words.tsv")
    counts: dict[str, float] = {}
    contexts: dict[str, float] = {}
    alphabet: set[str] = set()
    words: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        word = normalize(line.partition("\t")[0])
        if not word or word in words:
            continue
        words.add(word)
        padded = f"{_START * (ORDER - 1)}{word}{_END}"
        alphabet.update(padded)
        for index in range(len(padded) - ORDER + 1):
            gram = padded[index : index + ORDER]
            counts[gram] = counts.get(gram, 0.0) + 1.0
            contexts[gram[:-1]] = contexts.get(gram[:-1], 0.0) + 1.0
    smoothing = 0.1 * len(alphabet)
    return _ReadingModel(
        log_probabilities={
            gram: math.log((count + 0.1) / (contexts[gram[:-1]] + smoothing))
            for gram, count in counts.items()
        },
        context_unseen={
            context: math.log(0.1 / (total + smoothing)) for context, total in contexts.items()
        },
        unseen=math.log(0.1 / smoothing),
        words=frozenset(words),
    )


def known_arabic_words() -> frozenset[str]:
    """The normalized words of the shipped Darija/Arabic word list."""
    return _reading_model().words


def arabic_reading_score(text: str) -> float:
    """Log-likelihood of the Arabic words of ``text`` read in the order they are written."""
    model = _reading_model()
    return sum(model.word_score(word) for word in _ARABIC_WORD.findall(normalize(text)))


def to_reading_order(display_line: str, right_to_left_context: bool = False) -> str:
    """The reading order of a line given in display order, whichever way its file stored it.

    Both readings are scored: the line as drawn (a generator that wrote Arabic in reading order
    left to right) and the right-to-left reading of the drawing. Lines with no right-to-left
    letter come back unchanged.
    """
    if not any(bidi in _STRONG_RTL for bidi in map(unicodedata.bidirectional, display_line)):
        return display_line
    logical = visual_to_logical(display_line, right_to_left_context)
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
