"""Turning what a merchant types and what the API returns into what the pages need."""

import re
from decimal import Decimal, InvalidOperation

PAYMENT_ID = re.compile(r"^pay_[A-Za-z0-9]{16}$")
PAYMENT_STATUSES = ("pending", "success", "failed")
RUPEES = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


class AmountInvalid(ValueError):
    """The message says what to type instead."""


def rupees_to_paise(text: str) -> int:
    """'1,250.50' or '₹1250.5' -> 125050; refuses fractions of a paisa and non-positive amounts."""
    cleaned = text.strip().replace(",", "").replace("₹", "").strip()
    if not RUPEES.match(cleaned):
        raise AmountInvalid("Enter an amount in rupees, like 250 or 250.50.")
    try:
        paise = int(Decimal(cleaned) * 100)
    except InvalidOperation:
        raise AmountInvalid("Enter an amount in rupees, like 250 or 250.50.") from None
    if paise <= 0:
        raise AmountInvalid("The amount must be more than ₹0.00.")
    return paise


def paise_to_rupees_text(paise: int) -> str:
    """125050 -> '1250.50', for a form's default value."""
    return f"{paise // 100}.{paise % 100:02d}"
