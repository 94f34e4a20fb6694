"""Check characters of Chinese national identifiers.

- 统一社会信用代码, GB 32100-2015: 18 characters from a 31-symbol alphabet (no I, O, S, V, Z); the
  last is a MOD 31 check character over the first 17.
- 公民身份号码, GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

from operator import mul

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Each ASCII digit's byte is its value plus 48: the weighted sum of the bytes exceeds that of the
# digits by 48 × sum(weights); modulo 11 the excess is this offset (Python's negative index wraps).
_ID_DIGIT_OFFSET = (48 * sum(_ID_WEIGHTS)) % 11


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_well_formed(code: str) -> bool:
    """18 characters from the GB 32100 alphabet (the check character is not looked at)."""
    return len(code) == 18 and all(c in CREDIT_ALPHABET for c in code)


def credit_code_valid(code: str) -> bool:
    return credit_code_well_formed(code) and credit_code_check_char(code[:17]) == code[17]


def id_number_check_char(first17: str) -> str:
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("the check character is computed over 17 ASCII digits")
    # map() over bytes of ASCII digits: ingest checks every row, and a generator costs twice as much.
    return _ID_CHECK[sum(map(mul, first17.encode(), _ID_WEIGHTS)) % 11 - _ID_DIGIT_OFFSET]


def id_number_valid(number: str) -> bool:
    if len(number) != 18 or not (number[:17].isascii() and number[:17].isdigit()):
        return False
    return id_number_check_char(number[:17]) == number[17].upper()
