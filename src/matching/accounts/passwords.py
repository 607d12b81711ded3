"""Passwords: argon2id hashes (argon2-cffi), a length policy, and verification that costs the same whether or not
the account exists.

The hasher's parameters are argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes);
a stored hash made with other parameters is re-made on the next successful sign-in (:func:`needs_rehash`)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: The hasher in force (tests swap in a cheaper one).
HASHER = PasswordHasher()
MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps a request from making it hash megabytes

_dummy: tuple[PasswordHasher, str] | None = None


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy (the message says why, and never repeats the password)."""


def check_policy(password: str, username: str = "") -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` is 12-1024 characters and not the username."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"a password has at most {MAX_LENGTH} characters")
    if username and password.strip().lower() == username.strip().lower():
        raise PasswordPolicyError("a password must not be the username")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; the encoded string carries its parameters)."""
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches ``stored_hash``.  With no hash (an unknown user, or a single sign-on only
    account) a dummy hash is checked instead, so the answer takes as long either way."""
    if len(password) > MAX_LENGTH:
        return False
    if stored_hash is None:
        with contextlib.suppress(VerificationError, InvalidHashError):
            HASHER.verify(_dummy_hash(), password)
        return False
    try:
        return HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True if ``stored_hash`` was made with other parameters than the hasher in force."""
    try:
        return HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def _dummy_hash() -> str:
    global _dummy  # noqa: PLW0603 - one cached hash per hasher in force
    if _dummy is None or _dummy[0] is not HASHER:
        _dummy = (HASHER, HASHER.hash("not a password: only here to spend the same time"))
    return _dummy[1]
