"""Check digits of Moroccan identifiers, on plain Western-digit strings.

- RIB (relevé d'identité bancaire): 24 digits, bank (3) + locality (3) + account (16) + key (2);
  the key makes the whole number divisible by 97.
- ICE (identifiant commun de l'entreprise): 15 digits, divisible by 97 (as python-stdnum's
  ``stdnum.ma.ice``).
- IBAN: ISO 13616, checked with ISO 7064 MOD 97-10. Morocco is not in the SWIFT IBAN registry
  (so generic IBAN libraries reject ``MA``); Moroccan banks print ``MA`` + 2 check digits + the
  24-digit RIB. Because a valid RIB is itself divisible by 97, the check digits of a Moroccan
  IBAN whose RIB is valid are always ``64``.
"""

from __future__ import annotations

import re

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[0-9A-Z]{1,30}")


def is_digits(value: str) -> bool:
    """Only the ten Western digits (``str.isdigit`` also accepts other scripts and superscripts)."""
    return bool(value) and value.isascii() and value.isdigit()


def mod97_key(digits: str) -> str:
    """The two-digit key that makes ``digits + key`` divisible by 97 (RIB and ICE keys)."""
    if not is_digits(digits):
        raise ValueError(f"not a digit string: {digits!r}")
    return f"{97 - int(digits) * 100 % 97:02d}"


def is_mod97(digits: str) -> bool:
    """``digits`` (Western digits only) read as a number is divisible by 97."""
    return is_digits(digits) and int(digits) % 97 == 0


def rib_key(bank: str, locality: str, account: str) -> str:
    """The RIB key of bank (3 digits) + locality (3) + account (16)."""
    if (len(bank), len(locality), len(account)) != (3, 3, 16):
        raise ValueError("a RIB is bank (3 digits) + locality (3) + account (16) + key (2)")
    return mod97_key(bank + locality + account)


def is_valid_rib(digits: str) -> bool:
    return len(digits) == 24 and is_mod97(digits)


def is_valid_ice(digits: str) -> bool:
    return len(digits) == 15 and is_mod97(digits)


def _iban_number(rearranged: str) -> int:
    # Letters count as two digits: A = 10 ... Z = 35 (ISO 13616).
    return int("".join(str(int(char, 36)) for char in rearranged))


def iban_check_digits(country: str, bban: str) -> str:
    """The two IBAN check digits for ``country`` (two letters) and ``bban``."""
    country, bban = country.upper(), bban.upper()
    if not re.fullmatch(r"[A-Z]{2}", country) or not re.fullmatch(r"[0-9A-Z]+", bban):
        raise ValueError(f"not an IBAN country and BBAN: {country!r}, {bban!r}")
    return f"{98 - _iban_number(bban + country + '00') % 97:02d}"


def is_valid_iban(iban: str) -> bool:
    """ISO 7064 MOD 97-10 over the IBAN with its first four characters moved to the end."""
    iban = iban.upper()
    if not _IBAN_SHAPE.fullmatch(iban):
        return False
    return _iban_number(iban[4:] + iban[:4]) % 97 == 1


def is_valid_moroccan_iban(iban: str) -> bool:
    """``MA`` + 2 check digits + 24 digits, passing ISO 7064 MOD 97-10."""
    iban = iban.upper()
    return len(iban) == 28 and iban.startswith("MA") and is_digits(iban[2:]) and is_valid_iban(iban)
