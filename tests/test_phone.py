"""Normalisation of voice numbers, number blocks and SMS codes (API.md §6)."""

from __future__ import annotations

import pytest

from registry import phone

SAME_MOBILE = ["13800138000", "+8613800138000", "+86 138-0013-8000", "008613800138000",
               "8613800138000", "+86 (138) 0013 8000", "0086 138 0013 8000", "138.0013.8000",
               "+86\u3000138\u300000138000"]


@pytest.mark.parametrize("text", SAME_MOBILE)
def test_every_common_way_of_writing_a_mobile_is_one_number(text: str) -> None:
    assert phone.e164(text) == "+8613800138000"


@pytest.mark.parametrize(("text", "expected"), [
    ("010-12345678", "+861012345678"),
    ("(010) 1234 5678", "+861012345678"),
    ("+86 10 1234 5678", "+861012345678"),
    ("0086 10 12345678", "+861012345678"),
    ("0755-1234-5678", "+8675512345678"),
    ("+86 755 12345678", "+8675512345678"),
    ("400-800-1234", "+864008001234"),
    ("+852 9123 4567", "+85291234567"),
    ("１３８００１３８０００", "+8613800138000"),  # full-width digits, as typed in Chinese text
])
def test_fixed_lines_and_other_numbers_by_phonenumbers(text: str, expected: str) -> None:
    assert phone.e164(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "12345", "+86 123", "1380013800", "138001380001",
                                  "+", "+86 138 0013 800O", "9" * 80])
def test_what_is_not_a_valid_number_says_so(text: str) -> None:
    with pytest.raises(phone.NotANumber):
        phone.e164(text)


def test_lenient_reading_for_lookups_keeps_possible_numbers() -> None:
    assert phone.e164("+8613800138000", strict=False) == "+8613800138000"
    with pytest.raises(phone.NotANumber):
        phone.e164("hello", strict=False)


@pytest.mark.parametrize(("text", "expected"), [
    ("+86138001", "+86138001"), ("0086 138 001", "+86138001"), ("138001", "+86138001"),
    ("010-1234", "+86101234"), ("+852 9123", "+8529123"),
])
def test_number_blocks(text: str, expected: str) -> None:
    assert phone.block_prefix(text) == expected


@pytest.mark.parametrize("text", ["+0123", "+8", "abc", "+86" + "1" * 13, "+86-13x"])
def test_bad_number_blocks(text: str) -> None:
    with pytest.raises(phone.NotANumber):
        phone.block_prefix(text)


def test_sms_codes_are_digits() -> None:
    assert phone.sms_code("1069 0123 4567") == "106901234567"
    assert phone.normalise("sms_code", "95555") == "95555"
    for bad in ("12", "1069x", "1" * 21):
        with pytest.raises(phone.NotANumber):
            phone.sms_code(bad)
    with pytest.raises(phone.NotANumber):
        phone.normalise("fax", "123")
