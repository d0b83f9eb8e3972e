"""Phone numbers and SMS codes in the one form the registry keys them by (API.md §6).

Mainland numbers are written many ways (`138…`, `+86 138-…`, `0086…`, `86…`, `010-…`);
all map to one E.164 value. The common forms are decided by a fast path, since carriers
trace every call; anything else goes to `phonenumbers`, which knows every numbering plan.
"""

from __future__ import annotations

import phonenumbers

# Separators people put inside numbers; they never change the number.
_SEPARATORS = str.maketrans("", "", " -().\u00a0\u3000\t")
_MOBILE_SECOND = frozenset("3456789")
MAX_INPUT = 64


class NotANumber(ValueError):
    """The text is not a phone number, a number block or an SMS code; the message says why."""


def _digits_of(text: str) -> str:
    return text.translate(_SEPARATORS)


def _mainland_mobile(national: str) -> bool:
    return len(national) == 11 and national[0] == "1" and national[1] in _MOBILE_SECOND


def e164(text: str, *, strict: bool = True) -> str:
    """The E.164 form of a voice number; `strict` also asks that the number be assigned.

    Trace lookups use strict=False: a well-formed number that no plan assigns is simply
    not registered, which is the answer a carrier wants rather than an error.
    """
    if len(text) > MAX_INPUT:
        raise NotANumber(f"longer than {MAX_INPUT} characters")
    compact = _digits_of(text)
    if compact.isdigit() and compact.isascii():
        # The fast path: a mainland mobile written nationally or with its country code.
        if _mainland_mobile(compact):
            return "+86" + compact
        if compact.startswith("0086") and _mainland_mobile(compact[4:]):
            return "+" + compact[2:]
        if compact.startswith("86") and _mainland_mobile(compact[2:]):
            return "+" + compact
    elif (compact[:1] == "+" and compact[1:].isdigit() and compact.isascii()
          and compact.startswith("+86") and _mainland_mobile(compact[3:])):
        return compact
    return _parsed(text, strict)


def _parsed(text: str, strict: bool) -> str:
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException as exc:
        raise NotANumber("not a phone number") from exc
    valid = phonenumbers.is_valid_number(number) if strict else (
        phonenumbers.is_possible_number(number))
    if not valid:
        raise NotANumber("not a valid phone number" if strict else "not a possible phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def block_prefix(text: str) -> str:
    """A number block: an E.164 prefix such as `+86138001`, also written `0086…`, `138…`."""
    if len(text) > MAX_INPUT:
        raise NotANumber(f"longer than {MAX_INPUT} characters")
    compact = _digits_of(text)
    if compact.startswith("+"):
        digits = compact[1:]
    elif compact.startswith("00"):
        digits = compact[2:]
    elif compact.startswith("0"):
        digits = "86" + compact[1:]  # a mainland area code written with its trunk 0
    elif compact.startswith("1"):
        digits = "86" + compact  # a mainland mobile prefix
    else:
        digits = compact
    if not (digits.isdigit() and digits.isascii()):
        raise NotANumber("a number block is digits after an optional + or 00")
    if digits[0] == "0":
        raise NotANumber("a country code never starts with 0")
    if not 3 <= len(digits) <= 14:
        raise NotANumber("a number block has 3 to 14 digits (country code included)")
    return "+" + digits


def sms_code(text: str) -> str:
    """An SMS port code (`1069…`, `95…`): 3 to 20 digits."""
    compact = _digits_of(text)
    if not (compact.isdigit() and compact.isascii()):
        raise NotANumber("an SMS code is digits only")
    if not 3 <= len(compact) <= 20:
        raise NotANumber("an SMS code has 3 to 20 digits")
    return compact


def normalise(kind: str, text: str) -> str:
    """The stored form of a resource value of `kind`; NotANumber when it is not one."""
    if kind == "voice":
        return e164(text)
    if kind == "voice_block":
        return block_prefix(text)
    if kind == "sms_code":
        return sms_code(text)
    raise NotANumber(f"unknown kind {kind}")
