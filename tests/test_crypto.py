"""Personal data at rest: encrypted with a key id, found through a keyed blind index."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from crm import crypto
from crm.config import ConfigError
from crm.services.identity import find_customer_by_phone
from tests import factories as f

OLD_KEY = base64.b64encode(b"o" * 32).decode()
NEW_KEY = base64.b64encode(b"n" * 32).decode()


def test_encrypted_value_round_trips_and_names_its_key():
    cipher = crypto.cipher_from_setting(f"k1:{OLD_KEY}")
    token = cipher.encrypt("13812345678")
    assert token.startswith("v1.k1.")
    assert "13812345678" not in token
    assert cipher.decrypt(token) == "13812345678"


def test_same_plaintext_encrypts_differently_each_time():
    cipher = crypto.cipher_from_setting(OLD_KEY)
    assert cipher.encrypt("张三") != cipher.encrypt("张三")


def test_rotated_keys_still_decrypt_old_values_and_keep_the_blind_index():
    old = crypto.cipher_from_setting(f"k1:{OLD_KEY}")
    rotated = crypto.cipher_from_setting(f"k2:{NEW_KEY},k1:{OLD_KEY}")
    token = old.encrypt("+8613812345678")
    assert rotated.decrypt(token) == "+8613812345678"
    assert rotated.encrypt("x").startswith("v1.k2.")
    assert rotated.blind_index("+8613812345678", "phone") == old.blind_index(
        "+8613812345678", "phone"
    )


def test_tampered_ciphertext_is_rejected():
    cipher = crypto.cipher_from_setting(OLD_KEY)
    token = cipher.encrypt("secret")
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises((InvalidTag, ValueError)):
        cipher.decrypt(tampered)


def test_blind_index_separates_purposes():
    cipher = crypto.cipher_from_setting(OLD_KEY)
    assert cipher.blind_index("110101199003077777", "phone") != cipher.blind_index(
        "110101199003077777", "id_number"
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("", "empty"),
        ("not base64!!", "base64"),
        (base64.b64encode(b"short").decode(), "32 bytes"),
        (f"bad-id:{OLD_KEY}", "letters and digits"),
    ],
)
def test_bad_pii_key_setting_is_a_clear_start_up_error(setting, message):
    with pytest.raises(ConfigError, match=message):
        crypto.cipher_from_setting(setting)


def test_raw_customer_table_holds_no_plaintext_name_or_phone(session):
    customer = f.CustomerFactory(name="王小明", phone="+8613912345678")
    row = session.execute(
        text("SELECT name, phone, phone_index FROM customers WHERE id = :id"), {"id": customer.id}
    ).one()
    raw = " ".join(row)
    assert "王小明" not in raw
    assert "13912345678" not in raw
    assert row.phone.startswith("v1.")


def test_raw_staff_table_holds_no_plaintext_phone(session):
    staff = f.StaffFactory(phone="+8613712345678")
    raw = session.execute(text("SELECT phone FROM staff WHERE id = :id"), {"id": staff.id}).scalar()
    assert "13712345678" not in raw


@pytest.mark.parametrize("typed", ["13912345678", "+86 139 1234 5678", "139-1234-5678"])
def test_customer_is_found_by_phone_through_the_blind_index(session, typed):
    customer = f.CustomerFactory(phone="+8613912345678")
    f.CustomerFactory(phone="+8613912345679")
    assert find_customer_by_phone(session, typed) == customer


def test_unknown_phone_finds_nobody(session):
    f.CustomerFactory(phone="+8613912345678")
    assert find_customer_by_phone(session, "13900000000") is None
