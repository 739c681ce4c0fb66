"""The webhook dispatcher's configuration from the environment, validated once at start."""

from shared.webhook_urls import WebhookUrlSettings
from shared.worker import WorkerSettings


class DispatcherSettings(WorkerSettings, WebhookUrlSettings):
    """Every worker's variables, WEBHOOK_ALLOW_PRIVATE_NETWORKS (checked again at delivery)
    and WEBHOOK_RETRY_INTERVALS_TEST (CONTRACT §7's short schedule)."""

    webhook_retry_intervals_test: bool = False
