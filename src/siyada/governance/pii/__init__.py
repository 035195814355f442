"""Personal data in Moroccan text: find, mask and reversibly pseudonymize identifiers.

Types: RIB, IBAN (MA), ICE (check digits validated), PHONE (Moroccan numbering plan), CIN/CNIE,
PASSPORT, CNSS, MASSAR (no public check digit: reported when a context phrase is near), EMAIL.
Texts may be French, Arabic script or Arabizi, with Western or Arabic-Indic digits; offsets
always refer to the original text. Patterns, the phone plan and context phrases are data files
(``data/``, documented in ``data/README.md``).

    >>> from siyada.governance.pii import mask
    >>> mask("Mon numéro de CIN est AB123456, tel 06 12 34 56 78")
    'Mon numéro de CIN est [CIN], tel [PHONE]'
"""

from siyada.governance.pii.pseudonymize import Pseudonymizer, StreamRestorer
from siyada.governance.pii.recognizers import (
    Entity,
    canonical,
    mask,
    replace_entities,
    scan,
)
from siyada.governance.pii.tables import DEFAULT_MIN_SCORE, ENTITY_TYPES

__all__ = [
    "DEFAULT_MIN_SCORE",
    "ENTITY_TYPES",
    "Entity",
    "Pseudonymizer",
    "StreamRestorer",
    "canonical",
    "mask",
    "replace_entities",
    "scan",
]
