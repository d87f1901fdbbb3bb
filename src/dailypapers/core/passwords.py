"""Member passwords: argon2id hashing and verification, and the policy a new password must meet.

The common-password list (common-passwords.txt.gz, next to this module) is Django's
django/contrib/auth/common-passwords.txt.gz, taken unchanged from the Django 5.2.20 wheel on PyPI
(sha256 3c1baed62596de36860824eb3f436d5932d37ca8b06e59df78f5a44ec175afe4): 19,640 passwords, lowercased
and deduplicated, compiled by Royce Williams
(https://gist.github.com/roycewilliams/226886fd01572964e1431ac8afc999ce). Django is under the
BSD-3-Clause licence (Copyright (c) Django Software Foundation and individual contributors).
"""

from __future__ import annotations

import gzip
import unicodedata
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2id with OWASP's first recommended configuration (Password Storage Cheat Sheet: m=19 MiB, t=2,
# p=1) rather than argon2-cffi's default (RFC 9106 low-memory: 64 MiB, t=3, p=4): on a 2-core host the
# default costs ~150-200 ms a sign-in, this one ~25 ms, which keeps sign-in cheap under load while
# meeting OWASP's bar. Raising these later is safe: needs_rehash() flags old hashes at the next sign-in.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MAX_PASSWORD_LENGTH = 1024  # bounds the work and memory one sign-up or sign-in request can cost
MIN_CONTAINED_LENGTH = 4  # shorter usernames ("al", "bob") occur by chance in good passwords


def _normalized(password: str) -> str:
    # NFKC, as NIST SP 800-63B advises, so the same password typed on two keyboards (composed or
    # decomposed accents) gives the same bytes.
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a password with argon2id for storage (a `$argon2id$...` string with its own salt).

    Check it with password_problem() first: a string that is not valid Unicode text raises here.
    """
    return _HASHER.hash(_normalized(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash; False on a mismatch or a malformed hash, never raises."""
    try:
        return _HASHER.verify(stored_hash, _normalized(password))
    except (VerificationError, InvalidHashError, UnicodeError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's, so it should be redone at sign-in."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except (InvalidHashError, UnicodeError):
        return True


@cache  # loaded once, on first use; concurrent first calls at worst read the file twice
def common_passwords() -> frozenset[str]:
    """The bundled list of common passwords, lowercased."""
    packed = resources.files("dailypapers.core").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(line.strip() for line in gzip.decompress(packed).decode("utf-8").splitlines())


def is_common_password(password: str) -> bool:
    """Whether the password, ignoring case and surrounding spaces, is on the common-password list."""
    return password.strip().lower() in common_passwords()


def _contains(password: str, part: str) -> bool:
    return len(part) >= MIN_CONTAINED_LENGTH and part.casefold() in password.casefold()


def password_problem(
    password: str, *, username: str = "", email: str = "", min_length: int = 10
) -> str | None:
    """Why a new password is not acceptable, in a few words for the form; None when it is."""
    if len(password) < min_length:
        return f"at least {min_length} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters"
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which a JSON body can carry
        return "must be valid text"
    if is_common_password(password):
        return "one of the most common passwords"
    if _contains(password, username.strip()):
        return "must not contain your username"
    email = email.strip()
    if _contains(password, email) or _contains(password, email.partition("@")[0]):
        return "must not contain your email address"
    return None
