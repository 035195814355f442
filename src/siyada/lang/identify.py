"""Language and script identification for the eight Siyada labels.

A multinomial logistic regression over hashed character n-grams and words
(:mod:`siyada.lang.features`), trained by ``scripts/train_lid.py`` and shipped in
``data/lid.npz``. The script of a text is decided first, from its letters; the model then only
chooses among the labels written in that script.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from siyada.lang.features import MAX_CHARS, SCRIPT_COLUMNS, Features, feature_keys, featurize_keys
from siyada.lang.labels import LANGUAGE_LABELS, Label, Script

MIN_LETTERS = 2
"""Texts with fewer letters than this carry too little evidence and are labelled ``und``."""
BATCH_TEXTS = 4096
BATCH_CHARS = 400_000
"""A batch is cut at whichever comes first: memory follows characters, not lines."""


class Identification(NamedTuple):
    """The language of one text: best label, its script, its probability, and all scores."""

    label: Label
    script: Script
    confidence: float
    scores: dict[Label, float]

    def to_dict(self) -> dict[str, object]:
        return {
            "label": self.label.value,
            "script": self.script.value,
            "confidence": round(self.confidence, 4),
            "scores": {label.value: round(score, 4) for label, score in self.scores.items()},
        }


UNDETERMINED = Identification(Label.UND, Script.COMMON, 1.0, {})


class LanguageIdentifier:
    """Scores texts with a linear model over hashed features."""

    def __init__(
        self,
        weights: npt.NDArray[np.floating],
        bias: npt.NDArray[np.floating],
        labels: Sequence[Label],
        bucket_bits: int,
    ) -> None:
        self.weights = np.ascontiguousarray(weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.labels = tuple(labels)
        self.bucket_bits = bucket_bits
        self._scripts = tuple(label.script for label in self.labels)
        self._script_mask = np.array(
            [[label.script is script for label in self.labels] for script in SCRIPT_COLUMNS]
        )

    @classmethod
    def from_npz(cls, payload: bytes) -> LanguageIdentifier:
        with np.load(io.BytesIO(payload)) as archive:
            labels = [Label(str(name)) for name in archive["labels"]]
            return cls(archive["weights"], archive["bias"], labels, int(archive["bucket_bits"]))

    def script_mask_for(self, scripts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which labels each text may take, given its dominant script column."""
        mask: npt.NDArray[np.bool_] = self._script_mask[scripts]
        return mask

    def logits(self, features: Features) -> npt.NDArray[np.float64]:
        """Unnormalized scores, shape ``(texts, labels)``; features scaled by 1/sqrt(count)."""
        sums, lengths = self.weight_sums(features)
        return self.combine(sums, lengths)

    def combine(
        self, sums: npt.NDArray[np.float64], lengths: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64]:
        """Logits from summed feature weights and feature counts (see :meth:`weight_sums`)."""
        scale = 1.0 / np.sqrt(np.maximum(lengths, 1))
        logits: npt.NDArray[np.float64] = sums * scale[:, None] + self.bias
        return logits

    def weight_sums(
        self, features: Features
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """Per text: the sum of its features' weights and its number of features.

        Both add up over texts, so the logits of a run of words are cheap to get from its words.
        """
        lengths = features.lengths()
        sums = np.zeros((features.texts, len(self.labels)), dtype=np.float64)
        present = lengths > 0
        if present.any():
            # Features are ordered by text, so each text's weights are one contiguous run.
            offsets = (np.cumsum(lengths) - lengths)[present]
            gathered = np.take(self.weights, features.buckets, axis=0)
            sums[present] = np.add.reduceat(gathered, offsets, axis=0)
        return sums, lengths

    def probabilities(self, features: Features) -> npt.NDArray[np.float64]:
        """Label probabilities restricted to the labels of each text's dominant script."""
        logits = self.logits(features)
        allowed = self.script_mask_for(np.argmax(features.letters, axis=1))
        logits = np.where(allowed, logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probs: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return probs

    def identify_keys(self, keys: Sequence[str]) -> list[Identification]:
        """Identify texts already reduced by :func:`feature_key`."""
        if not keys:
            return []
        features = featurize_keys(keys, self.bucket_bits)
        probs = self.probabilities(features)
        best = np.argmax(probs, axis=1).tolist()
        enough = (features.letters.sum(axis=1) >= MIN_LETTERS).tolist()
        results: list[Identification] = []
        for row, label_probs in enumerate(probs.tolist()):
            if not enough[row]:
                results.append(UNDETERMINED)
                continue
            label = self.labels[best[row]]
            scores = dict(zip(self.labels, label_probs, strict=True))
            script = self._scripts[best[row]]
            results.append(Identification(label, script, label_probs[best[row]], scores))
        return results

    def identify_batch(self, texts: Iterable[str]) -> list[Identification]:
        results: list[Identification] = []
        batch: list[str] = []
        size = 0
        for text in texts:
            batch.append(text)
            size += min(len(text), MAX_CHARS)
            if len(batch) == BATCH_TEXTS or size >= BATCH_CHARS:
                results.extend(self.identify_keys(feature_keys(batch)))
                batch, size = [], 0
        results.extend(self.identify_keys(feature_keys(batch)))
        return results


@cache
def default_identifier() -> LanguageIdentifier:
    """The shipped model, loaded once per process."""
    payload = resources.files("siyada.lang").joinpath("data/lid.npz").read_bytes()
    identifier = LanguageIdentifier.from_npz(payload)
    if set(identifier.labels) != set(LANGUAGE_LABELS):
        raise RuntimeError("the shipped language-ID model does not cover the eight labels")
    return identifier


def identify(text: str) -> Identification:
    """Language, script, confidence and per-label scores of ``text``.

    ``und`` for empty text, digits, symbols and emoji, or fewer than two letters.
    """
    return default_identifier().identify_batch([text])[0]


def identify_batch(texts: Iterable[str]) -> list[Identification]:
    """:func:`identify` for many texts at once (much faster per text)."""
    return default_identifier().identify_batch(texts)
