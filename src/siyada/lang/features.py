"""Hashed character n-gram and word features, computed for a whole batch with numpy.

The same code featurizes training data (scripts/train_lid.py) and inputs at run time, so the
model sees identical features in both. Hashing is integer arithmetic modulo 2**64, hence the
same on every platform.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt

from siyada.lang.labels import Script
from siyada.lang.normalize import character_tables

MAX_NGRAM = 5
BUCKET_BITS = 18
MAX_CHARS = 2000
"""Only the first ``MAX_CHARS`` characters of a text are read: enough evidence, bounded work."""

_LETTER_RANGES = {
    Script.ARABIC: (
        (0x0620, 0x064A), (0x066E, 0x06D3), (0x06FA, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF),
    ),
    Script.LATIN: ((0x61, 0x7A), (0xDF, 0x24F), (0x1E00, 0x1EFF), (0x2B7, 0x2B7)),
    Script.TIFINAGH: ((0x2D30, 0x2D6F),),
}  # fmt: skip
"""Letters of each script as they appear in a feature key (lower-cased, normalized)."""
SCRIPT_COLUMNS = tuple(_LETTER_RANGES)
_SEPARATOR = 1  # code point between texts in the joined batch
_SPACE = 32
_BASE = np.uint64(0x100000001B3)  # FNV prime: odd, so invertible modulo 2**64
_MIX = np.uint64(0x9E3779B97F4A7C15)
_NOT_WORD = re.compile(r"(?:[^\w\n]|_)+")
_ELONGATION = re.compile(r"(\w)\1{2,}")


@dataclass(frozen=True)
class Features:
    """Sparse features of a batch: feature ``i`` belongs to text ``rows[i]`` (ascending)."""

    rows: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]
    texts: int
    letters: npt.NDArray[np.int64]
    """Letters per text and script, shape ``(texts, len(SCRIPT_COLUMNS))``."""

    def lengths(self) -> npt.NDArray[np.int64]:
        """Number of features of each text."""
        return np.bincount(self.rows, minlength=self.texts)


@cache
def _key_table() -> dict[int, str]:
    # Ta marbuta and hamza carriers are kept: they tell Standard Arabic from Darija.
    return character_tables().base


def feature_keys(texts: Sequence[str]) -> list[str]:
    """Lower-cased, normalized words of each text joined by single spaces (the model's view).

    Each rule runs once over the whole batch, joined by newlines, rather than once per text.
    """
    if not texts:
        return []
    joined = "\n".join(text[:MAX_CHARS].replace("\n", " ") for text in texts)
    folded = unicodedata.normalize("NFC", joined).translate(_key_table()).lower()
    cleaned = _ELONGATION.sub(r"\1", _NOT_WORD.sub(" ", folded))
    return [key.strip() for key in cleaned.split("\n")]


def feature_key(text: str) -> str:
    """:func:`feature_keys` of one text."""
    return feature_keys([text])[0]


@lru_cache(maxsize=2)
def _powers(length: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    inverse = np.uint64(pow(int(_BASE), -1, 2**64))
    one = np.ones(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(length - 1, _BASE, dtype=np.uint64), dtype=np.uint64)
        inverses = np.cumprod(np.full(length - 1, inverse, dtype=np.uint64), dtype=np.uint64)
    return np.concatenate((one, powers)), np.concatenate((one, inverses))


def _pow_arrays(length: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    size = 1 << max(10, (length - 1).bit_length())
    powers, inverses = _powers(size)
    return powers[:length], inverses[:length]


def featurize_keys(keys: Sequence[str], bucket_bits: int = BUCKET_BITS) -> Features:
    """Features of texts already passed through :func:`feature_key`.

    Each word ``w`` contributes the character n-grams (1..MAX_NGRAM) of `` w `` that do not
    cross a word boundary, and the whole word `` w `` as one more feature.
    """
    joined = "\x01".join(f" {key} " for key in keys)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    length = codes.size
    powers, inverses = _pow_arrays(length + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(length + 1, dtype=np.uint64)
        np.cumsum(codes * powers[:length], out=prefix[1:])
    # The separator between texts counts as a space: then no valid n-gram or word can span
    # two texts, since every such span would hold a space inside or be a bare pair of spaces.
    is_space = (codes == _SPACE) | (codes == _SEPARATOR)
    rows_of_pos = np.cumsum(codes == _SEPARATOR)
    spaces_before = np.concatenate(([0], np.cumsum(is_space)))

    # Feature kinds 0..MAX_NGRAM-1 are n-grams of n = kind + 1 starting at a position; the last
    # kind is the whole word starting at a space. Laid out position-major, the valid features
    # come out ordered by position, hence by text.
    kinds = MAX_NGRAM + 1
    hashes = np.empty((length, kinds), dtype=np.uint64)  # read only where valid
    valid = np.zeros((length, kinds), dtype=bool)
    for n in range(1, MAX_NGRAM + 1):
        count = max(length - n + 1, 0)
        starts = np.arange(count)
        ends = starts + n
        if n == 1:
            usable = ~is_space[:count]
        elif n == 2:
            usable = ~(is_space[:count] & is_space[1:])
        else:
            usable = spaces_before[ends - 1] == spaces_before[starts + 1]
        with np.errstate(over="ignore"):
            hashes[:count, n - 1] = (prefix[ends] - prefix[starts]) * inverses[:count]
        valid[:count, n - 1] = usable

    # Whole words with their boundary spaces: from each space to the next one.
    space_positions = np.flatnonzero(is_space)
    if space_positions.size > 1:
        left, right = space_positions[:-1], space_positions[1:] + 1
        nonempty = right - left > 2
        left, right = left[nonempty], right[nonempty]
        with np.errstate(over="ignore"):
            hashes[left, MAX_NGRAM] = (prefix[right] - prefix[left]) * inverses[left]
        valid[left, MAX_NGRAM] = True

    with np.errstate(over="ignore"):
        hashes ^= np.arange(1, kinds + 1, dtype=np.uint64) * _MIX
        mixed = hashes.ravel()[valid.ravel()] * _MIX
    buckets = (mixed >> np.uint64(64 - bucket_bits)).astype(np.int64)
    rows = np.repeat(rows_of_pos, valid.sum(axis=1)).astype(np.int64)

    letters = np.zeros((len(keys), len(SCRIPT_COLUMNS)), dtype=np.int64)
    for column, ranges in enumerate(_LETTER_RANGES.values()):
        in_script = np.zeros(length, dtype=bool)
        for low, high in ranges:
            in_script |= (codes >= low) & (codes <= high)
        letters[:, column] = np.bincount(rows_of_pos[in_script], minlength=len(keys))

    return Features(rows=rows, buckets=buckets, texts=len(keys), letters=letters)
