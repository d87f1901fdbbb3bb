"""core.passwords: argon2id hashing, verification, rehash detection and the new-password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type

from dailypapers.core.passwords import (
    MAX_PASSWORD_LENGTH,
    common_passwords,
    hash_password,
    is_common_password,
    needs_rehash,
    password_problem,
    verify_password,
)

GOOD = "velvet-harbour-lantern"


def test_hash_is_argon2id_and_salted():
    first, second = hash_password(GOOD), hash_password(GOOD)
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert GOOD not in first


def test_verify_accepts_the_password_and_rejects_others():
    stored = hash_password(GOOD)
    assert verify_password(stored, GOOD) is True
    assert verify_password(stored, GOOD.upper()) is False
    assert verify_password(stored, GOOD + " ") is False
    assert verify_password(stored, "") is False


def test_verify_treats_unicode_forms_alike():
    composed, decomposed = "caf\u00e9-au-lait-2024", "cafe\u0301-au-lait-2024"
    assert verify_password(hash_password(composed), decomposed) is True


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=19456,t=2,p=1$garbage",
        "$argon2id$v=19$m=19456,t=2,p=1$\u00e9\u00e9\u00e9$\u00e9\u00e9\u00e9",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt
        "pbkdf2_sha256$600000$salt$hash",
    ],
)
def test_verify_is_false_on_a_malformed_hash(stored):
    assert verify_password(stored, GOOD) is False
    assert needs_rehash(stored) is True


def test_verify_is_false_for_a_password_that_is_not_valid_text():
    assert verify_password(hash_password(GOOD), "\ud800broken-surrogate") is False


def test_needs_rehash_only_for_other_parameters():
    assert needs_rehash(hash_password(GOOD)) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(GOOD)
    assert verify_password(weaker, GOOD) is True  # still accepted, then redone at sign-in
    assert needs_rehash(weaker) is True
    argon2i = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.I).hash(GOOD)
    assert needs_rehash(argon2i) is True


def test_common_list_is_bundled_and_loaded_once():
    passwords = common_passwords()
    assert len(passwords) > 10_000
    assert "password1" in passwords
    assert common_passwords() is passwords
    assert all(p == p.lower() for p in passwords)


@pytest.mark.parametrize("password", ["password1", "PASSWORD1", "Password1", " password1 ", "qwertyuiop"])
def test_common_passwords_match_ignoring_case(password):
    assert is_common_password(password)


def test_good_password_passes():
    assert password_problem(GOOD, username="alice", email="alice@example.org") is None
    assert password_problem("x" * MAX_PASSWORD_LENGTH) is None


@pytest.mark.parametrize(
    ("password", "kwargs", "reason"),
    [
        ("short", {}, "at least 10 characters"),
        ("123456789", {}, "at least 10 characters"),
        ("twelve-chars", {"min_length": 16}, "at least 16 characters"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), {}, f"at most {MAX_PASSWORD_LENGTH} characters"),
        ("good-\ud800-but-broken", {}, "must be valid text"),
        ("1234567890", {}, "one of the most common passwords"),
        ("Password123", {}, "one of the most common passwords"),
        ("QWERTYUIOP", {}, "one of the most common passwords"),
        ("my-name-is-alice!", {"username": "alice"}, "must not contain your username"),
        ("my-name-is-ALICE!", {"username": "Alice"}, "must not contain your username"),
        ("zebra-carol1987-moon", {"email": "carol1987@example.org"}, "must not contain your email address"),
        ("me.al@example.org!", {"email": "al@example.org"}, "must not contain your email address"),
        ("ZEBRA-CAROL1987-moon", {"email": "Carol1987@Example.org"}, "must not contain your email address"),
    ],
)
def test_each_policy_reason(password, kwargs, reason):
    assert password_problem(password, **kwargs) == reason


def test_short_usernames_and_email_parts_are_not_checked():
    # "al" and "bob" occur by chance in good passwords; only names of 4+ characters count.
    assert password_problem("bobcat-balloon-42", username="bob", email="al@example.org") is None


def test_length_counts_characters_not_bytes():
    assert password_problem("\u00e9" * 10) is None
    assert password_problem("\u00e9" * 9) == "at least 10 characters"
