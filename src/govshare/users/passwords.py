"""Password hashing (argon2id) and the password policy (GB/T 22239 口令复杂度)."""

from __future__ import annotations

import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from govshare.errors import Invalid
from govshare.settings import get_settings

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
# Verified against when the username is unknown, so that response time does not reveal which
# usernames exist.
_DUMMY_HASH = _hasher.hash("govshare-timing-equaliser")

COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "password1234",
        "qwerty12345",
        "1234567890",
        "abc123456789",
        "admin123456",
        "p@ssw0rd123",
        "woaini1314",
        "zhang123456",
        "administrator",
        "qwertyuiop",
    }
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def policy_problems(password: str, *, username: str) -> list[str]:
    """Reasons `password` breaks the policy, in Chinese (empty when it passes)."""
    min_length = get_settings().password_min_length
    problems = []
    if len(password) < min_length:
        problems.append(f"密码长度至少 {min_length} 位")
    if len(password) > 128:
        problems.append("密码长度不能超过 128 位")
    classes = sum(
        any(c in group for c in password)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not c.isalnum() for c in password)
    if classes < 3:
        problems.append("须包含大写字母、小写字母、数字、符号中的至少三类")
    if username and username.lower() in password.lower():
        problems.append("不能包含用户名")
    if password.lower() in COMMON_PASSWORDS:
        problems.append("不能使用常见弱口令")
    return problems


def check_policy(password: str, *, username: str) -> None:
    problems = policy_problems(password, username=username)
    if problems:
        raise Invalid(
            "密码不符合安全要求：" + "；".join(problems) + "。",
            "The password does not meet the password policy.",
            details={"field": "password", "problems": problems},
        )
