"""The simulated bank: how long it takes to answer and what it answers (CONTRACT §2)."""

import random
from typing import Self

from pydantic import model_validator

from shared.settings import Milliseconds, Probability, ServiceSettings


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


def payment_succeeds(settings: PaymentOutcomeSettings, method: str) -> bool:
    if settings.test_mode:
        return settings.test_payment_success
    rate = settings.upi_success_rate if method == "upi" else settings.card_success_rate
    return random.random() < rate
