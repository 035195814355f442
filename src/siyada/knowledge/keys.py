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
from siyada.lang.translit.tifinagh import TIFINAGH, tifinagh_to_latin

WORD_WEIGHT = 1.0
TRANSLATION_WEIGHT = 0.6
SKELETON_WEIGHT = 0.3
SKELETON_MIN_LENGTH = 3
MAX_WORD_CHARS = 40
"""Longer "words" (hashes, encoded blobs) are not keys: the index stores keys at a fixed width."""

_WORD = re.compile(r"[^\W_]+")
_ARABIC = re.compile(r"[\u0620-\u064A\u0671-\u06D3\u06A4\u06AF]")
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
    ("sh", "ʃ"), ("ch", "ʃ"), ("kh", "k"), ("gh", "g"), ("ph", "f"), ("th", "t"), ("qu", "k"),
    ("ce", "se"), ("ci", "si"),
)  # fmt: skip
_SKELETON_LETTERS = str.maketrans(
    {
        **dict.fromkeys("bpvبپڤ", "b"), **dict.fromkeys("tطتثṭ", "t"), **dict.fromkeys("dدضḍ", "d"),
        **dict.fromkeys("sصسṣzزذظẓ", "s"), **dict.fromkeys("ʃش", "ʃ"),
        **dict.fromkeys("ckqxكقخ95", "k"), **dict.fromkeys("gjجغگɣ", "g"),
        **dict.fromkeys("fف", "f"),
        **dict.fromkeys("lل", "l"), **dict.fromkeys("mم", "m"), **dict.fromkeys("nن", "n"),
        **dict.fromkeys("rرṛ", "r"),
    }
)  # fmt: skip
_FUNCTION_WORD_LABELS = frozenset({Label.ENG_LATN, Label.FRA_LATN, Label.SPA_LATN})
_ARABIC_LOAN = re.compile(r"^l[^aeiou]")
"""Tamazight writes Arabic loans with the Arabic article: lqaḥ, lminḥa."""
_ARABIC_SOUNDS = re.compile("[ḥɛq]")
_AS_ARABIZI = str.maketrans(
    {"ḥ": "7", "ɛ": "3", "ɣ": "gh", "x": "kh", "c": "ch", "ṣ": "s", "ḍ": "d", "ṭ": "t", "ẓ": "z"}
)
_SKELETON_KEEP = re.compile(r"[^bdfgklmnrstʃ]+")


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
    folded = re.sub(r"(.)\1+", r"\1", word.translate(_TAMAZIGHT_LETTERS))
    # The first-person ending of verbs (smaynuɣ, I renew): the stem is what texts share.
    return folded[:-1] if len(folded) >= 5 and folded.endswith("ɣ") else folded


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
    if TIFINAGH.search(word):
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
    elif script == "Tfng" or label is Label.BER_LATN:
        latin = tifinagh_to_latin(word) if script == "Tfng" else word
        keys.append(f"b:{tamazight_fold(latin)}")
        # Tamazight Latin writes ش as c.
        consonants_of = latin.replace("c", "ʃ")
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


def key_words(text: str, label: Label) -> list[str]:
    """The normalized words of ``text`` that keys are made of."""
    folded = normalize(text, label, fold_hamza=True, fold_ta_marbuta=True).lower()
    return [word for word in _WORD.findall(folded) if len(word) <= MAX_WORD_CHARS]


def text_keys(text: str, label: Label) -> list[str]:
    """Every key of ``text`` (repeated as often as it occurs): what a chunk is indexed by."""
    return [key for word in key_words(text, label) for key in word_keys(word, label)]


@dataclass(frozen=True)
class Glossary:
    translations: dict[tuple[Label, str], tuple[tuple[str, ...], tuple[str, ...]]]
    """(label, folded term) -> (French translations, Arabic translations)."""

    def lookup(self, label: Label, word: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        return self.translations.get((label, glossary_form(word, label)))


def glossary_form(word: str, label: Label) -> str:
    """How a glossary term is looked up: Tamazight folded, French and Arabic by their stems."""
    if label is Label.BER_LATN:
        return tamazight_fold(word)
    if label is Label.FRA_LATN:
        return str(_stemmer("french").stemWord(_strip_accents(word.lower())))
    if label.script == "Arab":
        folded = normalize(word, label, fold_hamza=True, fold_ta_marbuta=True)
        return arabic_stem(folded) if label is Label.ARB_ARAB else folded
    return _strip_accents(word.lower())


@cache
def glossary() -> Glossary:
    """The shipped glossary, plus French <-> Arabic pairs read off its rows.

    Each row gives French and Arabic translations of one term: its single-word French and
    Arabic translations translate each other, which lets a French query reach Arabic text and
    an Arabic (or Darija) one reach French text.
    """
    path = resources.files("siyada.lang").joinpath("data/glossary.tsv")
    french_of: dict[tuple[Label, str], dict[str, None]] = defaultdict(dict)
    arabic_of: dict[tuple[Label, str], dict[str, None]] = defaultdict(dict)
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) != 4:
            continue
        label, term = Label(fields[0]), fields[1]
        french, arabic = fields[2].split("|"), fields[3].split("|")
        key = (label, glossary_form(term, label))
        french_of[key].update(dict.fromkeys(french))
        arabic_of[key].update(dict.fromkeys(arabic))
        single_french = [word for word in french if " " not in word]
        single_arabic = [word for word in arabic if " " not in word]
        for word in single_french:
            arabic_of[(Label.FRA_LATN, glossary_form(word, Label.FRA_LATN))].update(
                dict.fromkeys(single_arabic)
            )
        for word in single_arabic:
            french_of[(Label.ARB_ARAB, glossary_form(word, Label.ARB_ARAB))].update(
                dict.fromkeys(single_french)
            )
    keys = french_of.keys() | arabic_of.keys()
    return Glossary(
        {key: (tuple(french_of.get(key, ())), tuple(arabic_of.get(key, ()))) for key in keys}
    )


def _translation_labels(label: Label) -> tuple[Label, ...]:
    if label is Label.ZGH_TFNG:
        return (Label.BER_LATN,)
    if label in (Label.ARB_ARAB, Label.ARY_ARAB):
        return (Label.ARY_ARAB, Label.ARB_ARAB)
    return (label,)


def tamazight_forms(word: str) -> list[str]:
    """The word, then the forms a dictionary would list it under (a light, rule-based guess).

    Verbs lose their person markers (ssmaynuɣ -> ssmaynu, yawi -> awi), nouns in the annexed
    state go back to the free state (ubnu -> abnu, wussan -> ussan, tgmrt -> tagmrt), and Arabic
    loans lose the article (lqaḥ -> qaḥ).
    """
    forms = [word]
    stem = word.removesuffix("ɣ").removesuffix("gh") if len(word) > 3 else word
    if len(stem) > 3 and stem[0] in "ytn" and stem[1] not in "aeiou":
        stem = stem[1:]
    forms.append(stem)
    if len(word) > 3:
        if word[0] == "u":
            forms.append("a" + word[1:])
        elif word[0] in "wy":
            forms.append(word[1:])
        elif word[0] == "t" and word[1] not in "aeiou":
            forms.append("ta" + word[1:])
        if word[0] == "l" and word[1] not in "aeiou":
            forms.append(word[1:])
        if word.endswith("n") and word[0] in "iy":
            forms.append(word[:-1])
    return list(dict.fromkeys(forms))


def translations(words: Iterable[str], label: Label) -> tuple[list[str], list[str]]:
    """French and Arabic glossary translations of ``words`` (normalized words of a query)."""
    french: list[str] = []
    arabic: list[str] = []
    entries = glossary()
    tamazight = label in (Label.BER_LATN, Label.ZGH_TFNG)
    for word in words:
        lookup_word = tifinagh_to_latin(word) if TIFINAGH.search(word) else word
        candidates = tamazight_forms(lookup_word) if tamazight else [lookup_word]
        for source in _translation_labels(label):
            found = next(filter(None, (entries.lookup(source, form) for form in candidates)), None)
            if found:
                french.extend(found[0])
                arabic.extend(found[1])
    return french, arabic


def _arabic_loan_keys(words: Iterable[str]) -> list[str]:
    """Arabic-script keys of the Tamazight words that look like Arabic loans (lqaḥ, lminḥa)."""
    keys = []
    for word in words:
        latin = tifinagh_to_latin(word) if TIFINAGH.search(word) else word
        if _ARABIC_LOAN.match(latin) or _ARABIC_SOUNDS.search(latin):
            arabic = arabizi_word_to_arabic(latin.translate(_AS_ARABIZI))
            folded = normalize(arabic, Label.ARY_ARAB, fold_hamza=True, fold_ta_marbuta=True)
            keys.append(f"a:{arabic_stem(folded)}")
    return keys


def query_keys(text: str, label: Label) -> dict[str, float]:
    """Weighted keys of a query: its own words, and the glossary translations of them."""
    weights: dict[str, float] = defaultdict(float)
    words = key_words(text, label)
    dropped = _stopwords(label) if label in _FUNCTION_WORD_LABELS else frozenset()
    for word in words:
        if word in dropped:
            continue
        for key in word_keys(word, label):
            weight = SKELETON_WEIGHT if key.startswith("s:") else WORD_WEIGHT
            weights[key] = max(weights[key], weight)
    if label in (Label.BER_LATN, Label.ZGH_TFNG):
        for key in _arabic_loan_keys(words):
            weights[key] = max(weights[key], TRANSLATION_WEIGHT)
    french, arabic = translations(words, label)
    for phrase, phrase_label in [(p, Label.FRA_LATN) for p in french] + [
        (p, Label.ARB_ARAB) for p in arabic
    ]:
        for word in key_words(phrase, phrase_label):
            if word in _stopwords(phrase_label):
                continue
            for key in word_keys(word, phrase_label):
                if not key.startswith("s:"):
                    weights[key] = max(weights[key], TRANSLATION_WEIGHT)
    return dict(weights)
