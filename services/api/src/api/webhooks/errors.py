"""The webhooks domain's errors (docs/api.md#error-codes)."""

from datetime import datetime

from api.errors import Conflict, NotFound
from shared.domain.errors import BadRequest
from shared.domain.models import EVENT_TYPES, iso


class WebhookNotFound(NotFound, description="Webhook not found"):
    """404: no webhook log with this id, an id that is not a UUID, or another merchant's."""


class WebhookUrlNotSet(BadRequest, description="Set a webhook URL before sending a test webhook"):
    """400: a test webhook needs a configured webhook URL."""


class RetryOfDeletedEndpoint(
    BadRequest,
    description="The endpoint of this delivery was deleted, so it cannot be delivered again",
):
    """400: a manual retry of a delivery whose endpoint no longer exists."""


class RetryOfDisabledEndpoint(
    BadRequest,
    description="The endpoint of this delivery is disabled: enable the endpoint before retrying",
):
    """400: a manual retry of a delivery whose endpoint is disabled, which gets nothing."""


class RetryOfUntakenEvent(
    BadRequest,
    description="The endpoint of this delivery no longer takes <type> events: add the type to"
    " its events before retrying",
):
    """400: a manual retry of a delivery whose endpoint's filter no longer takes its event
    type (its `events` narrowed since), which would send what the endpoint no longer wants."""

    def __init__(self, event_type: str):
        super().__init__(
            f"The endpoint of this delivery no longer takes {event_type} events: add the type to"
            " its events before retrying"
        )


class WebhookEndpointNotFound(NotFound, description="Webhook endpoint not found"):
    """404: no webhook endpoint with this id, or another merchant's."""


class TooManyEndpoints(BadRequest, description="A merchant may have at most 20 webhook endpoints"):
    """400: a merchant has at most MAX_ENDPOINTS webhook endpoints."""


class DefaultEndpointDisabled(
    BadRequest, description="The default webhook endpoint is disabled; enable it first"
):
    """400: a test webhook goes to the default endpoint, which is disabled."""


class TooManyReplacedSecrets(
    Conflict,
    description="<n> replaced webhook secrets still sign every webhook; rotate again after <time>,"
    " when the oldest of them stops",
):
    """409: as many replaced secrets as may sign at once still do; says when one stops."""

    def __init__(self, replaced: int, first_free: datetime):
        super().__init__(
            f"{replaced} replaced webhook secrets still sign every webhook; rotate "
            f"again after {iso(first_free)}, when the oldest of them stops"
        )


class UnknownEventType(
    BadRequest,
    description=f"events has an unknown event type; use {', '.join(EVENT_TYPES)},"
    ' or "*" for every type',
    field="events",
):
    """400: an endpoint's `events` names a type that does not exist."""


class EveryEventNotAlone(
    BadRequest, description='events takes "*" alone (every type) or a list of types', field="events"
):
    """400: `events` gives "*" with other types."""


class EndpointUrlRemoved(
    BadRequest, description="url must be an http(s) URL; delete the endpoint instead", field="url"
):
    """400: an update sets an endpoint's `url` to null."""


class EndpointEventsRemoved(
    BadRequest, description='events must be a list of event types or ["*"]', field="events"
):
    """400: an update sets an endpoint's `events` to null."""


class EndpointStatusRemoved(
    BadRequest, description='status must be "enabled" or "disabled"', field="status"
):
    """400: an update sets an endpoint's `status` to null."""


class DefaultEndpointTakesEveryEvent(
    BadRequest,
    description='The default endpoint receives every event: its events stay ["*"]',
    field="events",
):
    """400: an update narrows the default endpoint's `events`."""


class RecoveryTooFarBack(
    BadRequest, description="since may be at most <days> days back", field="since"
):
    """400: a recovery's `since` is further back than the recovery window."""

    def __init__(self, days: int):
        super().__init__(f"since may be at most {days} days back")


class RecoveryEndsBeforeItStarts(
    BadRequest, description="until must not be before since", field="until"
):
    """400: a recovery's `until` is before its `since`."""


class RecoveryStartsInTheFuture(
    BadRequest, description="since must not be in the future when until is left out (now)",
    field="since",
):  # fmt: skip
    """400: a recovery without `until` (now) whose `since` is still to come."""


class RecoveryOfDisabledEndpoint(
    BadRequest,
    description="The endpoint is disabled: enable it before recovering",
    field="status",
):
    """400: only an enabled endpoint can recover its deliveries."""
