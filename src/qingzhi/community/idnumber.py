"""Resident identity numbers (居民身份证号码, GB 11643-1999): 17 digits and a check character
(ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, the sum mod 11 mapped to ``10X98765432``), the
middle eight digits a birth date. Checked on input, masked on screen."""

from __future__ import annotations

import datetime as dt
import logging
import re

log = logging.getLogger(__name__)

_FORM = re.compile(r"^\d{17}[\dX]$")
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]
_CHECK = "10X98765432"


def check_character(first17: str) -> str:
    """The check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def problem(number: str) -> str | None:
    """Why ``number`` is not a valid identity number (Chinese), or None when it is."""
    if not _FORM.match(number):
        return "须为 18 位：17 位数字加 1 位校验码（数字或 X）"
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "出生日期（第 7–14 位）不是有效日期"
    if born.year < 1900 or born > dt.date.today():
        return "出生日期（第 7–14 位）超出范围"
    if check_character(number[:17]) != number[17]:
        return "校验码不符（GB 11643）"
    return None


def normalised(number: str) -> str:
    """The number as stored: no spaces, a lower-case x as X."""
    return number.strip().replace(" ", "").upper()


def mask(number: str | None) -> str | None:
    """The number with its birth date and sequence hidden (500231********1234)."""
    if not number:
        return number
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
