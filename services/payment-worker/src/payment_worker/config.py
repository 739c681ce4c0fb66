"""The payment worker's configuration from the environment, validated once at start."""

from shared.backends.worker import WorkerSettings
from shared.domain.simulation import PaymentOutcomeSettings


class PaymentWorkerSettings(WorkerSettings, PaymentOutcomeSettings):
    """Every worker's variables, and what the simulated bank answers (TEST_MODE,
    TEST_PAYMENT_SUCCESS, UPI_SUCCESS_RATE, CARD_SUCCESS_RATE)."""
