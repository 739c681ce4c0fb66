"""The webhooks domain's errors (docs/api.md#error-codes)."""

from datetime import datetime

from api.errors import Conflict, NotFound
from shared.domain.errors import BadRequest
from shared.domain.models import EVENT_TYPES, iso


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


class TooManyReplacedSecrets(Conflict):
    """409: as many replaced secrets as may sign at once still do; says when one stops."""

    default_description = (
        "<n> replaced webhook secrets still sign every webhook; rotate again after <time>,"
        " when the oldest of them stops"
    )

    def __init__(self, replaced: int, first_free: datetime):
        super().__init__(
            f"{replaced} replaced webhook secrets still sign every webhook; rotate "
            f"again after {iso(first_free)}, when the oldest of them stops"
        )


class UnknownEventType(BadRequest):
    """400: an endpoint's `events` names a type that does not exist."""

    default_description = (
        f'events has an unknown event type; use {", ".join(EVENT_TYPES)}, or "*" for every type'
    )
    default_field = "events"


class EveryEventNotAlone(BadRequest):
    """400: `events` gives "*" with other types."""

    default_description = 'events takes "*" alone (every type) or a list of types'
    default_field = "events"


class EndpointUrlRemoved(BadRequest):
    """400: an update sets an endpoint's `url` to null."""

    default_description = "url must be an http(s) URL; delete the endpoint instead"
    default_field = "url"


class EndpointEventsRemoved(BadRequest):
    """400: an update sets an endpoint's `events` to null."""

    default_description = 'events must be a list of event types or ["*"]'
    default_field = "events"


class DefaultEndpointTakesEveryEvent(BadRequest):
    """400: an update narrows the default endpoint's `events`."""

    default_description = 'The default endpoint receives every event: its events stay ["*"]'
    default_field = "events"


class RecoveryTooFarBack(BadRequest):
    """400: a recovery's `since` is further back than the recovery window."""

    default_description = "since may be at most <days> days back"
    default_field = "since"

    def __init__(self, days: int):
        super().__init__(f"since may be at most {days} days back")


class RecoveryEndsBeforeItStarts(BadRequest):
    """400: a recovery's `until` is before its `since`."""

    default_description = "until must not be before since"
    default_field = "until"


class RecoveryOfDisabledEndpoint(BadRequest):
    """400: only an enabled endpoint can recover its deliveries."""

    default_description = "The endpoint is disabled: enable it (PATCH status) before recovering"
    default_field = "status"
