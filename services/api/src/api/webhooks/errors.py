"""The webhooks domain's errors (CONTRACT §4)."""

from shared.errors import BadRequest, NotFound


class WebhookNotFound(NotFound):
    """404: no webhook log with this id, an id that is not a UUID, or another merchant's."""

    default_description = "Webhook not found"


class WebhookUrlNotSet(BadRequest):
    """400: a test webhook needs a configured webhook URL."""

    default_description = "Set a webhook URL before sending a test webhook"
