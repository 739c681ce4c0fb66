"""The webhooks domain's errors (docs/api.md#error-codes)."""

from shared.errors import BadRequest, NotFound


class WebhookNotFound(NotFound):
    """404: no webhook log with this id, an id that is not a UUID, or another merchant's."""

    default_description = "Webhook not found"


class WebhookUrlNotSet(BadRequest):
    """400: a test webhook needs a configured webhook URL."""

    default_description = "Set a webhook URL before sending a test webhook"


class WebhookEndpointNotFound(NotFound):
    """404: no webhook endpoint with this id, or another merchant's."""

    default_description = "Webhook endpoint not found"


class TooManyEndpoints(BadRequest):
    """400: a merchant has at most MAX_ENDPOINTS webhook endpoints."""

    default_description = "A merchant may have at most 20 webhook endpoints"


class DefaultEndpointDisabled(BadRequest):
    """400: a test webhook goes to the default endpoint, which is disabled."""

    default_description = "The default webhook endpoint is disabled; enable it first"
