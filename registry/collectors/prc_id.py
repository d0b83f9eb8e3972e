"""PRC resident id numbers (GB 11643-1999): the ISO 7064 MOD 11-2 check, one normal form, masks.

Error messages never repeat the number: they may end up in logs or problem bodies.
"""

from __future__ import annotations

from datetime import date

from registry.errors import Invalid

# Weight of position i is 2^(17-i) mod 11; the check character is indexed by sum mod 11.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def problem(number: str) -> str | None:
    """Why `number` (already normalised) is not a valid id number, or None."""
    if len(number) != 18:
        return "must be 18 characters"
    if not (number[:17].isascii() and number[:17].isdigit()):
        return "the first 17 characters must be digits"
    if not (number[17].isdigit() or number[17] == "X"):
        return "the last character must be a digit or X"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "the birth date is not a real date"
    if check_character(number[:17]) != number[17]:
        return "check character mismatch"
    return None


def normalise(text: str, field: str = "id_number") -> str:
    """The 18-character form with an upper-case X, or Invalid naming `field`."""
    number = "".join(text.split()).upper()
    if (why := problem(number)) is not None:
        raise Invalid.field(field, why)
    return number


def mask_id(number: str) -> str:
    """Region prefix and last four kept, birth date hidden: 1101**********123X."""
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_name(name: str) -> str:
    """The first character kept, every other one starred: 张三 -> 张*, 欧阳娜娜 -> 欧***."""
    letters = "".join(name.split())
    if len(letters) <= 1:
        return "*"
    return letters[0] + "*" * (len(letters) - 1)
