"""The simulated bank: how long it takes to answer and what it answers (CONTRACT §2)."""

import random

from shared.settings import GatewaySettings


def payment_delay_ms(settings: GatewaySettings) -> int:
    if settings.test_mode:
        return settings.test_processing_delay
    return random.randint(settings.processing_delay_min, settings.processing_delay_max)


def refund_delay_ms(settings: GatewaySettings) -> int:
    if settings.test_mode:
        return settings.test_processing_delay
    return random.randint(settings.refund_delay_min, settings.refund_delay_max)


def payment_succeeds(settings: GatewaySettings, method: str) -> bool:
    if settings.test_mode:
        return settings.test_payment_success
    rate = settings.upi_success_rate if method == "upi" else settings.card_success_rate
    return random.random() < rate
