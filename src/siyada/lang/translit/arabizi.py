"""Darija between Latin letters with digits (Arabizi) and Arabic script.

Arabizi -> Arabic: a lexicon of frequent words first (``tables/darija_lexicon.tsv``); then the
rules of ``tables/arabizi_arabic.json`` spell the plausible Arabic forms of the word and the known
one (``data/darija_words.tsv``) that best trades frequency against unusual readings wins; else
the usual reading of each letter. French, English and Spanish words (judged by the language-ID
model), numbers and lone letters are left as they are. Arabic -> Arabizi: the lexicon's usual
spelling, else letter rules.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from siyada.lang.features import feature_keys
from siyada.lang.identify import default_identifier
from siyada.lang.labels import Label
from siyada.lang.normalize import LATIN_ELONGATION, character_tables
from siyada.lang.translit.engine import load_table

_LATIN_WORD = re.compile(r"[A-Za-z0-9\u00C0-\u024F]+(?:['’-][A-Za-z0-9\u00C0-\u024F]+)*")
_ARABIC_WORD = re.compile(r"[\u0621-\u065F\u0670-\u06D3\u06FA-\u06FF\u0640]+")
_FOREIGN_LETTERS = re.compile(r"[àâäçéèêëîïôöùûüœæñáíóú]")
_DIGIT_ONLY = re.compile(r"\d+")
_LATIN_PUNCTUATION = str.maketrans({"?": "؟", ",": "،", ";": "؛"})
_ARABIC_PUNCTUATION = str.maketrans({"؟": "?", "،": ",", "؛": ";"})
# Proclitics tried when a whole word is unknown; a bare l- is nearly always the article.
_CLITICS = (
    ("fl", "فال"), ("bl", "بال"), ("wl", "وال"),
    ("w", "و"), ("f", "ف"), ("b", "ب"), ("l", "ال"), ("d", "د"),
)  # fmt: skip
UNUSUAL_SPELLING_COST = 1.5
"""Log-frequency given up for each segment spelled in a less usual way."""
LEXICON_COUNT = 100
"""Weight of a lexicon word among the corpus counts: hand-checked spellings win ties."""
_FOREIGN_LABELS = (Label.FRA_LATN, Label.ENG_LATN, Label.SPA_LATN)
SURELY_EUROPEAN = 0.95
LIKELY_EUROPEAN = 0.75


@cache
def _fold_table() -> dict[int, str]:
    tables = character_tables()
    # Alef maqsura stays: a final Arabizi a may be written ى (على) but never ي.
    return {**tables.base, **tables.hamza, ord("ى"): "ى"}


def _key(arabic: str) -> str:
    """Comparison key of an Arabic-script word: normalized letters, hamza carriers folded."""
    return arabic.translate(_fold_table())


@dataclass(frozen=True)
class _Lexicon:
    to_arabic: dict[str, str]
    to_latin: dict[str, str]
    entries: tuple[tuple[str, tuple[str, ...]], ...]
    """(Arabic spelling, its Latin spellings with the usual one first), in file order."""


@cache
def _lexicon() -> _Lexicon:
    path = resources.files("siyada.lang.translit").joinpath("tables/darija_lexicon.tsv")
    to_arabic: dict[str, str] = {}
    to_latin: dict[str, str] = {}
    entries: list[tuple[str, tuple[str, ...]]] = []
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        arabic, _, latin = line.partition("\t")
        variants = [v.strip().lower() for v in latin.split("|") if v.strip()]
        if not arabic or not variants:
            continue
        entries.append((arabic, tuple(variants)))
        to_latin.setdefault(_key(arabic), variants[0])
        for variant in variants:
            to_arabic.setdefault(variant, arabic)
    return _Lexicon(to_arabic, to_latin, tuple(entries))


def lexicon_entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The Darija lexicon: each Arabic spelling with its Latin spellings, usual one first."""
    return _lexicon().entries


@dataclass(frozen=True)
class _WordCounts:
    counts: dict[str, tuple[str, int]]
    prefixes: frozenset[str]


@cache
def _word_counts() -> _WordCounts:
    """Darija word frequencies: key -> (most frequent surface form, count)."""
    path = resources.files("siyada.lang").joinpath("data/darija_words.tsv")
    counts: dict[str, tuple[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        word, _, count_text = line.partition("\t")
        key, count = _key(word), int(count_text)
        known = counts.get(key)
        if known is None:
            counts[key] = (word, count)
        else:
            surface = known[0] if known[1] >= count else word
            counts[key] = (surface, known[1] + count)
    for arabic in _lexicon().to_arabic.values():
        key = _key(arabic)
        count = counts[key][1] if key in counts else 0
        counts[key] = (arabic, count + LEXICON_COUNT)
    prefixes = frozenset(key[:end] for key in counts for end in range(len(key) + 1))
    return _WordCounts(counts, prefixes)


@dataclass(frozen=True)
class _Rules:
    medial: dict[str, list[str]]
    initial: dict[str, list[str]]
    final: dict[str, list[str]]
    longest: int


@cache
def _rules() -> _Rules:
    table = load_table("arabizi_arabic")
    longest = max(len(k) for part in ("medial", "initial", "final") for k in table[part])
    return _Rules(table["medial"], table["initial"], table["final"], longest)


def _segments(word: str) -> list[list[str]]:
    """Alternatives for each greedy longest-match segment of ``word``."""
    rules = _rules()
    out: list[list[str]] = []
    position = 0
    while position < len(word):
        for size in range(min(rules.longest, len(word) - position), 0, -1):
            piece = word[position : position + size]
            if position == 0 and piece in rules.initial:
                out.append(rules.initial[piece])
            elif position + size == len(word) and piece in rules.final:
                out.append(rules.final[piece])
            elif piece in rules.medial:
                out.append(rules.medial[piece])
            else:
                continue
            position += size
            break
        else:
            out.append([word[position]])
            position += 1
    return out


def _default_spelling(segments: list[list[str]]) -> str:
    return "".join(options[0] for options in segments)


def _most_likely(segments: list[list[str]]) -> str | None:
    """The known word that best explains the Arabizi spelling, or ``None``.

    Score: log frequency of the word, minus ``UNUSUAL_SPELLING_COST`` for every segment read in
    a less usual way (a written vowel dropped, s read as ص...), a small noisy-channel model.
    A depth-first walk abandons a spelling as soon as no known word starts with it, so long
    words with many ambiguous letters stay cheap.
    """
    words = _word_counts()
    folded = [[_key(option) for option in options] for options in segments]
    best: tuple[float, str] | None = None
    stack: list[tuple[int, str, int]] = [(0, "", 0)]
    while stack:
        index, prefix, cost = stack.pop()
        if index == len(folded):
            found = words.counts.get(prefix)
            if found is not None:
                score = math.log(found[1]) - UNUSUAL_SPELLING_COST * cost
                if best is None or score > best[0]:
                    best = (score, found[0])
            continue
        for rank, option in enumerate(folded[index]):
            candidate = prefix + option
            if candidate in words.prefixes:
                stack.append((index + 1, candidate, cost + rank))
    return None if best is None else best[1]


def _known_arabic(word: str) -> str | None:
    """The Arabic spelling of an Arabizi word from the lexicon or the frequency list."""
    lexical = _lexicon().to_arabic.get(word)
    if lexical is not None:
        return lexical
    return _most_likely(_segments(word))


class _EuropeanProbabilities:
    """Memo of the language-ID model's P(French or English or Spanish) for Latin words.

    Filled a text at a time with one model call for all its new words; cleared when full so
    memory stays bounded.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.known: dict[str, float] = {}

    def prefetch(self, words: Iterable[str]) -> None:
        missing = list(dict.fromkeys(w for w in words if w not in self.known))
        if not missing:
            return
        if len(self.known) + len(missing) > self.capacity:
            self.known.clear()
        results = default_identifier().identify_keys(feature_keys(missing))
        for word, result in zip(missing, results, strict=True):
            self.known[word] = sum(result.scores.get(label, 0.0) for label in _FOREIGN_LABELS)

    def __getitem__(self, word: str) -> float:
        if word not in self.known:
            self.prefetch([word])
        return self.known[word]


_EUROPEAN = _EuropeanProbabilities(capacity=200_000)
MAX_CACHED_TOKEN = 40
"""Longer tokens (URLs, garbage) are converted but not memoized, so caches stay small."""


def _word_form(token: str) -> str:
    return LATIN_ELONGATION.sub(r"\1", unicodedata.normalize("NFC", token).lower())


def _needs_model(word: str) -> bool:
    """Whether deciding ``word`` may need the language-ID model (see :func:`_convert_word`)."""
    return not (
        word in _lexicon().to_arabic
        or _FOREIGN_LETTERS.search(word)
        or any(char.isdigit() for char in word)
        or len(word) < 2
    )


@lru_cache(maxsize=200_000)
def _model_question(token: str) -> str | None:
    """The word form of ``token`` whose European probability the conversion needs, if any."""
    word = _word_form(token)
    return word if _needs_model(word) else None


def _convert_word(token: str) -> str:
    word = _word_form(token)
    if word in _lexicon().to_arabic:
        return _lexicon().to_arabic[word]
    if _FOREIGN_LETTERS.search(word) or _DIGIT_ONLY.fullmatch(word) or len(word) < 2:
        return token  # French spelling, a number, or a lone letter such as the x of 3 x 4
    european = _EUROPEAN[word] if _needs_model(word) else 0.0
    word = word.replace("'", "").replace("’", "").replace("-", "")
    # A spelling attested in Darija wins unless the word is plainly European; an unattested
    # word that looks European (rendez-vous, hopital) is kept as written.
    known = _known_arabic(word) if european < SURELY_EUROPEAN else None
    if known is not None:
        return known
    if european >= LIKELY_EUROPEAN:
        return token
    for prefix, arabic_prefix in _CLITICS:
        rest = word[len(prefix) :]
        if word.startswith(prefix) and len(rest) >= 3:
            known_rest = _known_arabic(rest)
            if known_rest is not None:
                return arabic_prefix + known_rest
    return _default_spelling(_segments(word))


_cached_convert_word = lru_cache(maxsize=200_000)(_convert_word)


def forget_conversions() -> None:
    """Empty the per-word memos (for benchmarks that time never-seen words)."""
    _cached_convert_word.cache_clear()
    _EUROPEAN.known.clear()


def arabizi_word_to_arabic(token: str) -> str:
    """One Arabizi word in Arabic script; foreign words and numbers come back unchanged."""
    if len(token) > MAX_CACHED_TOKEN:
        return _convert_word(token)
    return _cached_convert_word(token)


def arabizi_to_arabic(text: str) -> str:
    """``wach 3ndek lwe9t?`` -> ``واش عندك الوقت؟``."""
    # Memoized per token, so text that is already converted costs a dict lookup per word.
    words = (_model_question(token) for token in _LATIN_WORD.findall(text))
    _EUROPEAN.prefetch(word for word in words if word is not None)
    converted = _LATIN_WORD.sub(lambda m: arabizi_word_to_arabic(m.group()), text)
    if converted == text:
        return text
    return converted.translate(_LATIN_PUNCTUATION)


@cache
def _latin_rules() -> tuple[dict[str, str], frozenset[str]]:
    table = load_table("arabic_arabizi")
    return table["map"], frozenset(table["sun_letters"])


_VOWEL_LETTERS = {"و": ("ou", "w"), "ي": ("i", "y")}


def _letters_to_latin(word: str) -> str:
    mapping, sun_letters = _latin_rules()
    out: list[str] = []
    start = 0
    if word.startswith("ال") and len(word) > 3:
        following = word[2]
        out.append(mapping.get(following, following) if following in sun_letters else "l")
        start = 2
    for index in range(start, len(word)):
        char = word[index]
        if char in _VOWEL_LETTERS:
            vowel, glide = _VOWEL_LETTERS[char]
            before = word[index - 1] if index > start else ""
            after = word[index + 1] if index + 1 < len(word) else ""
            between_consonants = before not in ("", "ا", "و", "ي") and after not in (
                "ا",
                "و",
                "ي",
                "ة",
                "ى",
            )
            out.append(vowel if between_consonants else glide)
        else:
            out.append(mapping.get(char, char))
    return "".join(out)


@lru_cache(maxsize=200_000)
def arabic_word_to_arabizi(word: str) -> str:
    """One Arabic-script Darija word in Arabizi (``عافاك`` -> ``3afak``)."""
    key = _key(word)
    lexical = _lexicon().to_latin.get(key)
    if lexical is not None:
        return lexical
    return _letters_to_latin(key)


def arabic_to_arabizi(text: str) -> str:
    """``واش عندك الوقت؟`` -> ``wach 3ndk lw9t?``."""
    converted = _ARABIC_WORD.sub(lambda m: arabic_word_to_arabizi(m.group()), text)
    return converted.translate(_ARABIC_PUNCTUATION)
