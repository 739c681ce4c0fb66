"""The simulated bank: how long it takes to answer and what it answers.

Test values answer the same in every mode, so a merchant can make each outcome on demand as
Razorpay's and Stripe's test values do; every other instrument follows TEST_MODE and the
success rates.
"""

import random
from dataclasses import dataclass
from typing import Self

from pydantic import model_validator

from shared.core.settings import Milliseconds, Probability, ServiceSettings


class BankModeSettings(ServiceSettings):
    """TEST_MODE: the bank answers deterministically, for automated evaluation."""

    test_mode: bool = False


class ProcessingDelaySettings(BankModeSettings):
    """How long the bank takes: the API reads it when it sets a payment's or refund's due time."""

    test_processing_delay: Milliseconds = 1000
    processing_delay_min: Milliseconds = 5000
    processing_delay_max: Milliseconds = 10000
    refund_delay_min: Milliseconds = 3000
    refund_delay_max: Milliseconds = 5000

    @model_validator(mode="after")
    def _delays_ordered(self) -> Self:
        if self.processing_delay_min > self.processing_delay_max:
            raise ValueError("PROCESSING_DELAY_MIN must not exceed PROCESSING_DELAY_MAX")
        if self.refund_delay_min > self.refund_delay_max:
            raise ValueError("REFUND_DELAY_MIN must not exceed REFUND_DELAY_MAX")
        return self


class PaymentOutcomeSettings(BankModeSettings):
    """What the bank answers: the payment worker reads it when it finalises a payment."""

    test_payment_success: bool = True
    upi_success_rate: Probability = 0.90
    card_success_rate: Probability = 0.95


def payment_delay_ms(settings: ProcessingDelaySettings) -> int:
    if settings.test_mode:
        return settings.test_processing_delay
    return random.randint(settings.processing_delay_min, settings.processing_delay_max)


def refund_delay_ms(settings: ProcessingDelaySettings) -> int:
    if settings.test_mode:
        return settings.test_processing_delay
    return random.randint(settings.refund_delay_min, settings.refund_delay_max)


@dataclass(frozen=True)
class BankAnswer:
    """A payment's outcome: `error_code` None is success."""

    error_code: str | None = None
    error_description: str | None = None

    @property
    def approved(self) -> bool:
        return self.error_code is None


APPROVED = BankAnswer()
DECLINED = BankAnswer("PAYMENT_FAILED", "Payment was declined by the bank")
CARD_DECLINED = BankAnswer("CARD_DECLINED", "Card was declined by the issuer")
INSUFFICIENT_FUNDS = BankAnswer("INSUFFICIENT_FUNDS", "Insufficient funds in the account")

# The answer of each test value, by how it is stored on the payment (`payments.test_outcome`).
TEST_OUTCOMES = {
    "success": APPROVED,
    "PAYMENT_FAILED": DECLINED,
    "CARD_DECLINED": CARD_DECLINED,
    "INSUFFICIENT_FUNDS": INSUFFICIENT_FUNDS,
}
TEST_VPAS = {"success@razorpay": "success", "failure@razorpay": "PAYMENT_FAILED"}
TEST_CARDS = {"4000000000000002": "CARD_DECLINED", "4000000000009995": "INSUFFICIENT_FUNDS"}


def vpa_test_outcome(vpa: str) -> str | None:
    """The stored outcome of a test VPA (compared without case, as VPAs are), else None."""
    return TEST_VPAS.get(vpa.lower())


def card_test_outcome(digits: str) -> str | None:
    """The stored outcome of a test card number (digits only, separators removed), else None.
    The number itself is never stored: only this outcome is."""
    return TEST_CARDS.get(digits)


def bank_answer(
    settings: PaymentOutcomeSettings, method: str, test_outcome: str | None
) -> BankAnswer:
    """What the bank answers a due payment: the test value's outcome when the payment was made
    with one (`test_outcome`, decided and stored when it was created), else
    `payment_succeeds`. Raises KeyError for a test outcome this code does not know."""
    if test_outcome is not None:
        return TEST_OUTCOMES[test_outcome]
    return APPROVED if payment_succeeds(settings, method) else DECLINED


def payment_succeeds(settings: PaymentOutcomeSettings, method: str) -> bool:
    if settings.test_mode:
        return settings.test_payment_success
    rate = settings.upi_success_rate if method == "upi" else settings.card_success_rate
    return random.random() < rate
