"""Word-level language spans for code-switched text.

Each word is scored on its own by the language-ID model, blended with the language of the
other words written in the same script, and a Viterbi pass with a switching penalty joins
words into spans: ``wach 3ndek rendez-vous f l'hôpital ghda?`` is Darija in Latin letters
with one French span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from siyada.lang.features import MAX_CHARS, SCRIPT_COLUMNS, feature_key, featurize_keys
from siyada.lang.identify import MIN_LETTERS, LanguageIdentifier, default_identifier
from siyada.lang.labels import Label, Script

_TOKEN = re.compile(r"\S+")
CONTEXT_WEIGHTS = {Script.ARABIC: 1.0, Script.LATIN: 0.2, Script.TIFINAGH: 0.0}
"""How much a word leans towards the language of the other words of its script. Darija and
Standard Arabic share most words, so in Arabic script the sentence decides; in Latin script a
word's own letters tell French from Arabizi better than its neighbours do."""
SWITCH_PENALTY = 1.0
"""Log-probability cost of changing language between two neighbouring words."""
WINDOW_CHARS = MAX_CHARS
"""Long texts are segmented in windows of this many characters, so the work stays linear."""


@dataclass(frozen=True)
class Span:
    """A run of words in one language: ``text[start:end]``."""

    start: int
    end: int
    text: str
    label: Label
    script: Script

    def to_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "label": self.label.value,
            "script": self.script.value,
        }


def _viterbi(emissions: npt.NDArray[np.float64]) -> list[int]:
    """Best label path through ``emissions`` (words x labels, log-probabilities)."""
    words, labels = emissions.shape
    switch = np.full((labels, labels), -SWITCH_PENALTY)
    np.fill_diagonal(switch, 0.0)
    score = emissions[0].copy()
    back = np.zeros((words, labels), dtype=np.int64)
    for word in range(1, words):
        candidates = score[:, None] + switch
        back[word] = np.argmax(candidates, axis=0)
        score = candidates[back[word], np.arange(labels)] + emissions[word]
    path = [int(np.argmax(score))]
    for word in range(words - 1, 0, -1):
        path.append(int(back[word, path[-1]]))
    return path[::-1]


def _segment(
    identifier: LanguageIdentifier, text: str, tokens: Sequence[re.Match[str]]
) -> list[Span]:
    keys = [feature_key(token.group()) for token in tokens]
    word_features = featurize_keys(keys, identifier.bucket_bits)
    scripts = np.argmax(word_features.letters, axis=1)
    # One-letter words (a, f, l) carry too little evidence: they join the span around them.
    has_letters = word_features.letters.sum(axis=1) >= MIN_LETTERS
    word_logits = identifier.logits(word_features)

    # The context of a word: all the words of the same script, identified together.
    context = np.zeros_like(word_logits)
    for column, script in enumerate(SCRIPT_COLUMNS):
        in_script = [
            key
            for key, script, ok in zip(keys, scripts, has_letters, strict=True)
            if ok and script == column
        ]
        if in_script:
            joined = featurize_keys([" ".join(in_script)], identifier.bucket_bits)
            weight = CONTEXT_WEIGHTS[script]
            context[(scripts == column) & has_letters] = weight * identifier.logits(joined)[0]

    allowed = identifier.script_mask_for(scripts)
    emissions = np.where(allowed, word_logits + context, -np.inf)
    emissions -= np.logaddexp.reduce(emissions, axis=1, keepdims=True)
    lettered = np.flatnonzero(has_letters)
    labels = np.full(len(tokens), -1)
    if lettered.size:
        labels[lettered] = _viterbi(emissions[lettered])

    spans: list[Span] = []
    current = -1
    for index, token in enumerate(tokens):
        label_index = labels[index]
        if label_index < 0:  # punctuation, numbers, emoji, single letters: the span around
            label_index = current if current >= 0 else _next_label(labels, index)
        start, end = token.start(), token.end()
        if spans and label_index == current:
            last = spans[-1]
            spans[-1] = Span(last.start, end, text[last.start : end], last.label, last.script)
            continue
        label = identifier.labels[label_index] if label_index >= 0 else Label.UND
        spans.append(Span(start, end, text[start:end], label, label.script))
        current = label_index
    return spans


def _next_label(labels: npt.NDArray[np.int64], index: int) -> int:
    following = labels[index:][labels[index:] >= 0]
    return int(following[0]) if following.size else -1


def _windows(text: str) -> Iterator[list[re.Match[str]]]:
    window: list[re.Match[str]] = []
    for token in _TOKEN.finditer(text):
        if window and token.end() - window[0].start() > WINDOW_CHARS:
            yield window
            window = []
        window.append(token)
    if window:
        yield window


def identify_spans(text: str, identifier: LanguageIdentifier | None = None) -> list[Span]:
    """Spans of consecutive words sharing a language, covering every word of ``text``."""
    model = identifier or default_identifier()
    spans: list[Span] = []
    for window in _windows(text):
        for span in _segment(model, text, window):
            if spans and spans[-1].label is span.label:
                last = spans[-1]
                spans[-1] = Span(
                    last.start, span.end, text[last.start : span.end], last.label, last.script
                )
            else:
                spans.append(span)
    return spans
