"""Validating what a shopper pays with. Only the network and last four digits of a card are
kept; the number and the CVV never leave this module."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import ExpiredCard, InvalidCard, InvalidVpa

VPA_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")
CARD_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True)
class Upi:
    vpa: str


@dataclass(frozen=True)
class Card:
    network: str
    last4: str


def validate_vpa(vpa: str) -> Upi:
    if len(vpa) > 255 or not VPA_PATTERN.fullmatch(vpa):
        raise InvalidVpa
    return Upi(vpa=vpa)


def passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_network(digits: str) -> str:
    if digits.startswith("4"):
        return "visa"
    two = int(digits[:2])
    if 51 <= two <= 55:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if two in (60, 65) or 81 <= two <= 89:
        return "rupay"
    return "unknown"


def _as_int(value: int | str) -> int | None:
    if isinstance(value, int):
        return value
    value = value.strip()
    return int(value) if value.isascii() and value.isdigit() else None


def expiry_is_valid(month: int | str, year: int | str, now: datetime | None = None) -> bool:
    """Valid through the last day of the expiry month; years of 2 digits mean 20xx."""
    month_number, year_number = _as_int(month), _as_int(year)
    if month_number is None or year_number is None or not 1 <= month_number <= 12:
        return False
    year_text = str(year).strip()
    if len(year_text) == 2:
        year_number += 2000
    elif len(year_text) != 4:
        return False
    today = now or datetime.now(UTC)
    return (year_number, month_number) >= (today.year, today.month)


def validate_card(number: str, expiry_month: int | str, expiry_year: int | str, cvv: str) -> Card:
    digits = CARD_SEPARATORS.sub("", number)
    if not (digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19):
        raise InvalidCard
    if not passes_luhn(digits):
        raise InvalidCard
    if not (cvv.isascii() and cvv.isdigit() and len(cvv) in (3, 4)):
        raise InvalidCard
    if not expiry_is_valid(expiry_month, expiry_year):
        raise ExpiredCard
    return Card(network=card_network(digits), last4=digits[-4:])
