"""Phones are stored as E.164; VINs are 17 characters with a valid check digit."""

from __future__ import annotations

import pytest

from crm import phones, vin
from crm.errors import ValidationError


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-138-1234-5678", "+8613812345678"),
        ("0571-88880001", "+8657188880001"),
    ],
)
def test_phones_are_normalised_to_e164(typed, e164):
    assert phones.normalise(typed) == e164


@pytest.mark.parametrize(("typed", "message"), [("", "请填写"), ("12345", "格式"), ("abc", "格式")])
def test_bad_phone_names_the_field(typed, message):
    with pytest.raises(ValidationError) as caught:
        phones.normalise(typed, field="mobile")
    assert caught.value.field == "mobile"
    assert message in caught.value.message


def test_masked_phone_hides_the_middle_digits():
    assert phones.masked("+8613812345678") == "138****5678"


def test_known_good_vin_passes_and_is_upper_cased():
    assert vin.normalise("1m8gdm9axkp042788") == "1M8GDM9AXKP042788"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1M8GDM9AXKP04278", "17位"),
        ("1M8GDM9A1KP042788", "校验位"),
        ("1M8GDM9AXKP04278O", "不含I、O、Q"),
    ],
)
def test_bad_vin_is_rejected_with_a_reason(typed, message):
    with pytest.raises(ValidationError) as caught:
        vin.normalise(typed)
    assert caught.value.field == "vin"
    assert message in caught.value.message


def test_generated_vins_carry_their_check_digit():
    assert vin.normalise(vin.with_check_digit("LVGTEST0000000001")).startswith("LVGTEST0")
