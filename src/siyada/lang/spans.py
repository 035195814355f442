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

from siyada.lang.features import MAX_CHARS, SCRIPT_COLUMNS, feature_keys, featurize_keys
from siyada.lang.identify import MIN_LETTERS, LanguageIdentifier, default_identifier
from siyada.lang.labels import Label, Script

_TOKEN = re.compile(r"\S+")
_ACRONYM = re.compile(r"\W*[A-Z]{2,5}s?\W*")
CONTEXT_WEIGHTS = {Script.ARABIC: 1.0, Script.LATIN: 0.2, Script.TIFINAGH: 0.0}
"""How much a word leans towards the language of the other words of its script. Darija and
Standard Arabic share most words, so in Arabic script the sentence decides; in Latin script a
word's own letters tell French from Arabizi better than its neighbours do."""
CONTEXT_WORDS = 10
"""Neighbours on each side, in the same script, that make up a word's context."""
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


Run = tuple[int, int, Label]
"""A span before its text is cut out: start, end, label."""


def _segment(identifier: LanguageIdentifier, tokens: Sequence[re.Match[str]]) -> list[Run]:
    keys = feature_keys([token.group() for token in tokens])
    word_features = featurize_keys(keys, identifier.bucket_bits)
    columns = np.argmax(word_features.letters, axis=1)
    # One-letter words (a, f, l) and acronyms (ID, CIN, CNSS) say little about the language
    # around them: they join the span they stand in.
    acronyms = np.array([_ACRONYM.fullmatch(token.group()) is not None for token in tokens])
    has_letters = (word_features.letters.sum(axis=1) >= MIN_LETTERS) & ~acronyms
    sums, lengths = identifier.weight_sums(word_features)
    word_logits = identifier.combine(sums, lengths)

    # The context of a word: the words of the same script around it (CONTEXT_WORDS on each
    # side), scored as one text. Weight sums add up, so running sums give every window at once.
    context = np.zeros_like(word_logits)
    for column, script in enumerate(SCRIPT_COLUMNS):
        members = np.flatnonzero(has_letters & (columns == column))
        if members.size:
            window_sums = _window_totals(sums[members])
            window_lengths = _window_totals(lengths[members, None].astype(np.float64))[:, 0]
            logits = identifier.combine(window_sums, window_lengths.astype(np.int64))
            context[members] = CONTEXT_WEIGHTS[script] * logits

    emissions = np.where(identifier.script_mask_for(columns), word_logits + context, -np.inf)
    emissions -= np.logaddexp.reduce(emissions, axis=1, keepdims=True)
    lettered = np.flatnonzero(has_letters)
    labels = np.full(len(tokens), -1)
    if lettered.size:
        labels[lettered] = _viterbi(emissions[lettered])
        # Punctuation, numbers, emoji and single letters take the label of the word before
        # them (or, at the start, of the first word).
        last_word = np.maximum.accumulate(np.where(labels >= 0, np.arange(len(labels)), -1))
        labels = labels[np.where(last_word >= 0, last_word, lettered[0])]
    runs: list[Run] = []
    for token, label_index in zip(tokens, labels.tolist(), strict=True):
        label = identifier.labels[label_index] if label_index >= 0 else Label.UND
        _extend(runs, (token.start(), token.end(), label))
    return runs


def _window_totals(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """For each row, the sum of the rows within ``CONTEXT_WORDS`` of it (inclusive)."""
    running = np.concatenate(
        (np.zeros((1, values.shape[1])), np.cumsum(values, axis=0, dtype=np.float64))
    )
    rows = np.arange(values.shape[0])
    upper = np.minimum(rows + CONTEXT_WORDS + 1, values.shape[0])
    lower = np.maximum(rows - CONTEXT_WORDS, 0)
    totals: npt.NDArray[np.float64] = running[upper] - running[lower]
    return totals


def _extend(runs: list[Run], run: Run) -> None:
    """Append ``run``, merging it into the last run when they share a label."""
    if runs and runs[-1][2] is run[2]:
        runs[-1] = (runs[-1][0], run[1], run[2])
    else:
        runs.append(run)


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
    runs: list[Run] = []
    for window in _windows(text):
        for run in _segment(model, window):
            _extend(runs, run)
    return [Span(start, end, text[start:end], label, label.script) for start, end, label in runs]
