"""Passwords: argon2id hashes, and the rules a new password must follow.

The rules (``password_problem``): 10 to 256 characters, at least 5 different characters, not
containing the username (3 characters or more, compared without case), and not the demo
accounts' password or one of a short list of the commonest long passwords. No rules of
character classes: length and a deny list are what resist guessing (NIST SP 800-63B).
"""

from __future__ import annotations

import logging

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from qingzhi.errors import ValidationFailed

log = logging.getLogger(__name__)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("qingzhi-timing-equaliser")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_DISTINCT_CHARACTERS = 5
# Refused whatever the rules of length say (compared without case): the demo accounts' shared
# password and a few of the commonest long passwords.
COMMON_PASSWORDS = frozenset(
    {
        "qingzhi-demo",
        "qingzhi123",
        "qingzhi-admin",
        "password123",
        "password1234",
        "1234567890",
        "0123456789",
        "qwertyuiop",
        "1qaz2wsx3edc",
        "1q2w3e4r5t",
        "1q2w3e4r5t6y",
        "a123456789",
        "abc1234567",
        "abcd123456",
        "admin12345",
        "admin123456",
        "woaini1314",
        "p@ssw0rd123",
    }
)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def check_dummy(password: str) -> bool:
    """An argon2 check as costly as a real one, for a username that is no (active) account."""
    check_password(_DUMMY_HASH, password)
    return False


def password_problem(password: str, *, username: str) -> str | None:
    """What is wrong with ``password`` as a new password for ``username`` (None: nothing)."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        return f"密码须为{MIN_PASSWORD_LENGTH}至{MAX_PASSWORD_LENGTH}个字符"
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        return f"密码至少包含{MIN_DISTINCT_CHARACTERS}个不同的字符"
    name = username.strip().casefold()
    if len(name) >= 3 and name in password.casefold():
        return "密码不能包含用户名"
    if password.casefold() in COMMON_PASSWORDS:
        return "密码过于常见（或为演示密码），请换一个"
    return None


def check_new_password(password: str, *, username: str, field: str = "password") -> None:
    """Raise ValidationFailed naming ``field`` unless ``password`` follows the rules."""
    problem = password_problem(password, username=username)
    if problem is not None:
        raise ValidationFailed.field(field, problem)
