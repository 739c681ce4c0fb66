"""Validating what a shopper pays with. Only the network and last four digits of a card are
kept; the number and the CVV never leave this module."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from api.payments.errors import ExpiredCard, InvalidCard, InvalidVpa
from shared.domain.simulation import card_test_outcome, vpa_test_outcome

VPA_PATTERN = re.compile(r"^[a-zA-Z0-9._-]+@[a-zA-Z0-9]+$")
CARD_SEPARATORS = re.compile(r"[\s-]")


@dataclass(frozen=True)
class Upi:
    vpa: str
    test_outcome: str | None = None  # the outcome of a test VPA (shared.domain.simulation)


@dataclass(frozen=True)
class Card:
    network: str
    last4: str
    test_outcome: str | None = None  # the outcome of a test card number (shared.domain.simulation)


def validate_vpa(vpa: str) -> Upi:
    if len(vpa) > 255 or not VPA_PATTERN.fullmatch(vpa):
        raise InvalidVpa
    return Upi(vpa=vpa, test_outcome=vpa_test_outcome(vpa))


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


def expiry_fault(month: int | str, year: int | str, now: datetime | None = None) -> str | None:
    """Which of `expiry_month` and `expiry_year` makes the expiry invalid, None when it is
    valid. Valid through the last day of the expiry month; years of 2 digits mean 20xx. A
    past date is the year's fault, or the month's within the current year."""
    month_number, year_number = _as_int(month), _as_int(year)
    if month_number is None or not 1 <= month_number <= 12:
        return "expiry_month"
    year_text = str(year).strip()
    if year_number is None or len(year_text) not in (2, 4):
        return "expiry_year"
    if len(year_text) == 2:
        year_number += 2000
    today = now or datetime.now(UTC)
    if year_number < today.year:
        return "expiry_year"
    if (year_number, month_number) < (today.year, today.month):
        return "expiry_month"
    return None


def validate_card(number: str, expiry_month: int | str, expiry_year: int | str, cvv: str) -> Card:
    """The card's network, last four digits and test outcome; nothing else of it is kept.

    Raises InvalidCard (`Card validation failed`) or ExpiredCard (`Card expiry date invalid`),
    The codes of docs/api.md#payment-methods, with `field` the dotted path of the part at fault:
    `card.number` (13-19 digits passing the Luhn check), `card.cvv` (3 or 4 digits),
    `card.expiry_month` or `card.expiry_year` (expiry_fault)."""
    digits = CARD_SEPARATORS.sub("", number)
    if not (digits.isascii() and digits.isdigit() and 13 <= len(digits) <= 19):
        raise InvalidCard(field="card.number")
    if not passes_luhn(digits):
        raise InvalidCard(field="card.number")
    if not (cvv.isascii() and cvv.isdigit() and len(cvv) in (3, 4)):
        raise InvalidCard(field="card.cvv")
    if fault := expiry_fault(expiry_month, expiry_year):
        raise ExpiredCard(field=f"card.{fault}")
    return Card(
        network=card_network(digits), last4=digits[-4:], test_outcome=card_test_outcome(digits)
    )
