"""Lexical search keys shared across languages and scripts.

Text is normalized, cut into words, and each word becomes one or more keys in a namespace that
both sides of a search share:

- ``a:`` a light stem of an Arabic-script word (Darija and Standard Arabic, and Arabizi words
  transliterated to Arabic script), so ``lbita9a``, ``لبطاقة`` and ``البطاقة`` meet;
- ``l:`` a Snowball stem of a French, English or Spanish word;
- ``b:`` a folded Tamazight word (Tifinagh transliterated to Latin; ɣ/gh, ɛ/3, ḍ/d, e dropped), so
  Tifinagh, IRCAM Latin and Kabyle spellings meet;
- ``n:`` a number, whatever digits wrote it;
- ``s:`` a consonant skeleton in a script-neutral alphabet (``Paris`` and ``باريس`` -> ``brs``),
  the bridge for names between Arabic, Latin and Tifinagh text.

Queries also get keys for the French and Arabic translations of their words from the shipped
glossary (``lang/data/glossary.tsv``), with a lower weight.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import snowballstemmer

from siyada.lang import Label, normalize
from siyada.lang.direction import known_arabic_words
from siyada.lang.translit.arabizi import arabizi_word_to_arabic
from siyada.lang.translit.tifinagh import tifinagh_to_latin

WORD_WEIGHT = 1.0
TRANSLATION_WEIGHT = 0.6
SKELETON_WEIGHT = 0.3
SKELETON_MIN_LENGTH = 3

_WORD = re.compile(r"[^\W_]+")
_ARABIC = re.compile(r"[\u0620-\u064A\u0671-\u06D3\u06A4\u06AF]")
_TIFINAGH = re.compile(r"[\u2D30-\u2D7F]")
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ه", "ي")
_STEMMER_LANGUAGES = {
    Label.FRA_LATN: "french",
    Label.ENG_LATN: "english",
    Label.SPA_LATN: "spanish",
}
_TAMAZIGHT_DIGRAPHS = (("gh", "ɣ"), ("kh", "x"), ("ch", "c"), ("sh", "c"), ("ou", "u"))
_TAMAZIGHT_LETTERS = str.maketrans(
    {"ε": "ɛ", "γ": "ɣ", "3": "ɛ", "9": "q", "7": "h", "ḥ": "h", "ḍ": "d", "ṭ": "t", "ṣ": "s",
     "ẓ": "z", "ṛ": "r", "č": "c", "ǧ": "j", "ʷ": None, "e": None, "ə": None}
)  # fmt: skip
_SKELETON_DIGRAPHS = (
    ("sh", "c"), ("ch", "c"), ("kh", "k"), ("gh", "g"), ("ph", "f"), ("th", "t"), ("qu", "k"),
    ("ce", "se"), ("ci", "si"),
)  # fmt: skip
_SKELETON_LETTERS = str.maketrans(
    {
        **dict.fromkeys("bpvبپڤ", "b"), **dict.fromkeys("tطتثṭ", "t"), **dict.fromkeys("dدضḍ", "d"),
        **dict.fromkeys("sصسṣ", "s"), **dict.fromkeys("zزذظẓ", "z"), **dict.fromkeys("cش", "c"),
        **dict.fromkeys("kqxكقخ95", "k"), **dict.fromkeys("gjجغگɣ", "g"),
        **dict.fromkeys("fف", "f"),
        **dict.fromkeys("lل", "l"), **dict.fromkeys("mم", "m"), **dict.fromkeys("nن", "n"),
        **dict.fromkeys("rرṛ", "r"),
    }
)  # fmt: skip
_SKELETON_KEEP = re.compile(r"[^bcdfgklmnrstz]+")


@cache
def _stopwords(label: Label) -> frozenset[str]:
    path = resources.files("siyada.knowledge").joinpath("data/stopwords.json")
    table = json.loads(path.read_text(encoding="utf-8"))
    return frozenset(normalize(word, label, fold_hamza=True) for word in table[label.value])


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


def arabic_stem(word: str) -> str:
    """A light stem (Light10-style): article and conjunction prefixes, common suffixes.

    A leading و is the conjunction only when what follows is a known word and the whole is not
    (وطنية keeps its و; والبطاقة and وبطاقة lose it). Words come normalized with hamza and ta
    marbuta folded.
    """
    if len(word) > 3 and word.startswith("و") and _is_conjunction(word):
        word = word[1:]
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            word = word[len(prefix) :]
            break
    else:
        # Darija writes the article as a bare lam: لبطاقة.
        if word.startswith("ل") and len(word) >= 5:
            word = word[1:]
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
    return word


@cache
def _known_words() -> frozenset[str]:
    """The shipped word list, folded as search keys are."""
    return frozenset(
        normalize(word, Label.ARY_ARAB, fold_hamza=True, fold_ta_marbuta=True)
        for word in known_arabic_words()
    )


def _is_conjunction(word: str) -> bool:
    rest = word[1:]
    if rest.startswith("ال"):
        return True
    known = _known_words()
    return rest in known and word not in known


def tamazight_fold(word: str) -> str:
    """One spelling for a Tamazight word in IRCAM Latin, Kabyle Latin or informal Latin."""
    word = word.lower()
    for digraph, letter in _TAMAZIGHT_DIGRAPHS:
        word = word.replace(digraph, letter)
    return re.sub(r"(.)\1+", r"\1", word.translate(_TAMAZIGHT_LETTERS))


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def skeleton(word: str) -> str:
    """The consonants of a word in a script-neutral alphabet (vowels, h, w, y, ʿ dropped)."""
    word = _strip_accents(word.lower())
    for digraph, letter in _SKELETON_DIGRAPHS:
        word = word.replace(digraph, letter)
    consonants = _SKELETON_KEEP.sub("", word.translate(_SKELETON_LETTERS))
    return re.sub(r"(.)\1+", r"\1", consonants)


def _script_of(word: str) -> str:
    if _ARABIC.search(word):
        return "Arab"
    if _TIFINAGH.search(word):
        return "Tfng"
    return "Latn"


@lru_cache(maxsize=262_144)
def word_keys(word: str, label: Label) -> tuple[str, ...]:
    """The keys of one normalized word written in a text labelled ``label``."""
    if word.isdigit():
        return (f"n:{word.lstrip('0') or '0'}",)
    script = _script_of(word)
    keys: list[str] = []
    # Names are compared without the Arabic article and endings: المغرب and Maghreb.
    consonants_of = word
    if script == "Arab":
        consonants_of = arabic_stem(word)
        keys.append(f"a:{consonants_of}")
    elif script == "Tfng":
        consonants_of = tifinagh_to_latin(word)
        keys.append(f"b:{tamazight_fold(consonants_of)}")
    elif label is Label.BER_LATN:
        keys.append(f"b:{tamazight_fold(word)}")
    elif label is Label.ARY_LATN:
        arabic = normalize(
            arabizi_word_to_arabic(word), Label.ARY_ARAB, fold_hamza=True, fold_ta_marbuta=True
        )
        consonants_of = arabic_stem(arabic)
        keys.append(f"a:{consonants_of}")
        keys.append(f"l:{word}")
    else:
        language = _STEMMER_LANGUAGES.get(label, "french")
        keys.append(f"l:{_stemmer(language).stemWord(_strip_accents(word))}")
    consonants = skeleton(consonants_of)
    if len(consonants) >= SKELETON_MIN_LENGTH:
        keys.append(f"s:{consonants}")
    return tuple(keys)


def _words(text: str, label: Label) -> list[str]:
    folded = normalize(text, label, fold_hamza=True, fold_ta_marbuta=True).lower()
    return _WORD.findall(folded)


def text_keys(text: str, label: Label) -> list[str]:
    """Every key of ``text`` (repeated as often as it occurs): what a chunk is indexed by."""
    return [key for word in _words(text, label) for key in word_keys(word, label)]


@dataclass(frozen=True)
class Glossary:
    translations: dict[tuple[Label, str], tuple[tuple[str, ...], tuple[str, ...]]]
    """(label, folded term) -> (French translations, Arabic translations)."""

    def lookup(self, label: Label, word: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        return self.translations.get((label, glossary_form(word, label)))


def glossary_form(word: str, label: Label) -> str:
    if label is Label.BER_LATN:
        return tamazight_fold(word)
    if label.script == "Arab":
        return normalize(word, label, fold_hamza=True, fold_ta_marbuta=True)
    return _strip_accents(word.lower())


@cache
def glossary() -> Glossary:
    path = resources.files("siyada.lang").joinpath("data/glossary.tsv")
    translations: dict[tuple[Label, str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        label, term, french, arabic = (Label(fields[0]), fields[1], fields[2], fields[3])
        key = (label, glossary_form(term, label))
        known_french, known_arabic = translations.get(key, ((), ()))
        translations[key] = (
            known_french + tuple(french.split("|")),
            known_arabic + tuple(arabic.split("|")),
        )
    return Glossary(translations)


def _translation_labels(label: Label) -> tuple[Label, ...]:
    if label is Label.ZGH_TFNG:
        return (Label.BER_LATN,)
    if label is Label.ARB_ARAB:
        return (Label.ARY_ARAB,)
    return (label,)


def translations(words: Iterable[str], label: Label) -> tuple[list[str], list[str]]:
    """French and Arabic glossary translations of ``words`` (normalized words of a query)."""
    french: list[str] = []
    arabic: list[str] = []
    entries = glossary()
    for word in words:
        lookup_word = tifinagh_to_latin(word) if _TIFINAGH.search(word) else word
        for source in _translation_labels(label):
            found = entries.lookup(source, lookup_word)
            if found:
                french.extend(found[0])
                arabic.extend(found[1])
    return french, arabic


def query_keys(text: str, label: Label) -> dict[str, float]:
    """Weighted keys of a query: its own words, and the glossary translations of them."""
    weights: dict[str, float] = defaultdict(float)
    words = _words(text, label)
    for word in words:
        for key in word_keys(word, label):
            weight = SKELETON_WEIGHT if key.startswith("s:") else WORD_WEIGHT
            weights[key] = max(weights[key], weight)
    french, arabic = translations(words, label)
    for phrase, phrase_label in [(p, Label.FRA_LATN) for p in french] + [
        (p, Label.ARB_ARAB) for p in arabic
    ]:
        for word in _words(phrase, phrase_label):
            if word in _stopwords(phrase_label):
                continue
            for key in word_keys(word, phrase_label):
                if not key.startswith("s:"):
                    weights[key] = max(weights[key], TRANSLATION_WEIGHT)
    return dict(weights)
