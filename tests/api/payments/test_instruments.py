from datetime import UTC, datetime

import pytest

from api.payments.errors import ExpiredCard, InvalidCard, InvalidVpa
from api.payments.instruments import (
    card_network,
    expiry_fault,
    passes_luhn,
    validate_card,
    validate_vpa,
)

NOW = datetime(2026, 11, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True),
     ("79927398710", False), ("378282246310005", True), ("0000000000000", True)],
)  # fmt: skip
def test_luhn(digits, valid):
    assert passes_luhn(digits) is valid


@pytest.mark.parametrize(
    ("prefix", "network"),
    [("4", "visa"), ("51", "mastercard"), ("55", "mastercard"), ("50", "unknown"),
     ("56", "unknown"), ("34", "amex"), ("37", "amex"), ("35", "unknown"), ("60", "rupay"),
     ("65", "rupay"), ("81", "rupay"), ("89", "rupay"), ("80", "unknown"), ("90", "unknown"),
     ("62", "unknown")],
)  # fmt: skip
def test_card_network_by_prefix(prefix, network):
    assert card_network(prefix + "00000000000000") == network


@pytest.mark.parametrize(
    ("month", "year", "valid"),
    [(11, 2026, True),  # this month is still valid
     (10, 2026, False),  # last month is not
     (12, 2026, True), (1, 2027, True), ("11", "26", True), ("10", "26", False),
     ("1", "27", True), (11, 26, True), ("11", "2026", True), (0, 2027, False), (13, 2027, False),
     ("11", "026", False), ("11", "20266", False), ("1a", "27", False), ("", "27", False)],
)  # fmt: skip
def test_expiry_edges(month, year, valid):
    assert (expiry_fault(month, year, now=NOW) is None) is valid


@pytest.mark.parametrize(
    ("month", "year", "fault"),
    [(11, 2026, None), (10, 2026, "expiry_month"),  # a past month of this year: the month's
     (12, 2025, "expiry_year"), ("12", "25", "expiry_year"),  # a past year: the year's
     (13, 2030, "expiry_month"), ("1a", "30", "expiry_month"), ("13", "2", "expiry_month"),
     ("12", "026", "expiry_year"), ("12", "x", "expiry_year")],
)  # fmt: skip
def test_expiry_fault_names_the_part_at_fault(month, year, fault):
    assert expiry_fault(month, year, now=NOW) == fault


def test_validate_card_keeps_only_network_and_last4():
    card = validate_card("5555 5555-5555 4444", "12", "35", "123")
    assert (card.network, card.last4) == ("mastercard", "4444")
    assert "5555555555554444" not in repr(card)


def test_validate_card_errors_name_the_field_at_fault():
    with pytest.raises(InvalidCard) as luhn:
        validate_card("4111111111111112", "12", "35", "123")
    with pytest.raises(InvalidCard) as short:
        validate_card("4111", "12", "35", "123")
    with pytest.raises(InvalidCard) as cvv:
        validate_card("4111111111111111", "12", "35", "1")
    with pytest.raises(ExpiredCard) as expired:
        validate_card("4111111111111111", "12", "2001", "123")
    assert [e.value.field for e in (luhn, short, cvv, expired)] == [
        "card.number", "card.number", "card.cvv", "card.expiry_year"
    ]  # fmt: skip


@pytest.mark.parametrize("vpa", ["a@b", "x.y_z-1@upi9"])
def test_vpa_accepted(vpa):
    assert validate_vpa(vpa).vpa == vpa


@pytest.mark.parametrize("vpa", ["a@b.c", "a@@b", "a b@c", "a@", "@b", "ü@bank", "a@b\n"])
def test_vpa_refused(vpa):
    with pytest.raises(InvalidVpa):
        validate_vpa(vpa)
