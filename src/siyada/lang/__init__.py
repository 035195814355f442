"""The Moroccan language layer: identify, segment, normalize and transliterate.

Pure functions with no I/O at call time (the shipped model and tables load once per process).
"""

from siyada.lang.identify import Identification, identify, identify_batch
from siyada.lang.labels import LANGUAGE_LABELS, Label, Script, parse_label
from siyada.lang.normalize import normalize
from siyada.lang.spans import Span, identify_spans
from siyada.lang.translit import supported_pairs, transliterate

__all__ = [
    "LANGUAGE_LABELS",
    "Identification",
    "Label",
    "Script",
    "Span",
    "identify",
    "identify_batch",
    "identify_spans",
    "normalize",
    "parse_label",
    "supported_pairs",
    "transliterate",
]
