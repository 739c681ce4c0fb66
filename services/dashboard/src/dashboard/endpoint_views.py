"""Webhook endpoints as the pages show and edit them (the webhooks page, its endpoint forms
and every page's banner of endpoints the gateway disabled): filters in words, the form's event
checkboxes, recovery windows typed in IST, and which endpoints the gateway disabled."""

import re
from datetime import UTC, datetime, timezone
from typing import Any

from shared.domain.models import EVENT_TYPES

ENDPOINT_ID = re.compile(r"^we_[A-Za-z0-9]{16}$")
# A payment's or refund's id, the delivery log's `object_id`.
OBJECT_ID = re.compile(r"^(pay|rfnd)_[A-Za-z0-9]{16}$")
# The event types an endpoint's filter may name (EVENT_TYPES, the gateway's one list); `*`
# (every type) is offered beside them.
ALL_EVENTS = "*"
MAX_ENDPOINTS = 20
# The API refuses a recovery that starts more than this far back.
RECOVERY_MAX_DAYS = 30


class RecoveryWindowInvalid(ValueError):
    """The recovery form's times cannot be read, or `until` is before `since`."""


def auto_disabled(endpoints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The endpoints the gateway disabled by itself (a `disabled_reason`), not by the merchant."""
    return [e for e in endpoints if e.get("status") == "disabled" and e.get("disabled_reason")]


# A filter form sent with no box ticked: "All events" unticked and no type ticked is no
# choice, and sending every event then would surprise the merchant.
NO_EVENTS_CHOSEN = "Tick “All events” or at least one event type."


def chosen_events(values: list[str]) -> list[str]:
    """The filter the form's checkboxes make: the ticked types in the order the API lists
    them (unknown values are left to the API), else `["*"]`. Ticked types win over "All
    events", which the form ticks by default: a merchant who ticks two types means those two.
    The caller refuses a form with no box ticked at all (NO_EVENTS_CHOSEN) before this."""
    types = [v for v in values if v != ALL_EVENTS]
    if not types:
        return [ALL_EVENTS]
    known = [t for t in EVENT_TYPES if t in types]
    return known + [v for v in types if v not in EVENT_TYPES]


def filter_text(events: list[str] | None) -> str:
    """An endpoint's filter in words: "All events" or the types, comma-separated."""
    if not events or ALL_EVENTS in events:
        return "All events"
    return ", ".join(events)


def endpoint_label(endpoint: dict[str, Any]) -> str:
    """How a delivery row names its endpoint: the description, else the URL's host and path."""
    if endpoint.get("description"):
        return str(endpoint["description"])
    url = str(endpoint.get("url") or "")
    return url.split("://", 1)[-1] or str(endpoint.get("id", ""))


def ist_to_utc_iso(value: str, ist: timezone) -> str:
    """A `datetime-local` value (read in IST, as every time on the dashboard is shown) as
    ISO-8601 UTC with a `Z`; RecoveryWindowInvalid when it is not a time."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise RecoveryWindowInvalid("Enter the time as a date and a time of day.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ist)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def recovery_window(since: str, until: str, ist: timezone) -> tuple[str, str | None]:
    """The recovery form's `since` and optional `until` as the API takes them."""
    if not since.strip():
        raise RecoveryWindowInvalid("Choose when the outage began.")
    start = ist_to_utc_iso(since, ist)
    end = ist_to_utc_iso(until, ist) if until.strip() else None
    if end is not None and end < start:
        raise RecoveryWindowInvalid("The end of the window is before its start.")
    return start, end


async def endpoints_with_health(api: Any) -> list[dict[str, Any]]:
    """Every endpoint of `api`'s merchant (an ApiCall), each with its 24 h `health`: one API
    call (the list gives each endpoint's health, docs/webhooks.md#endpoint-health)."""
    listing = await api.webhook_endpoints.list(100, 0)
    endpoints: list[dict[str, Any]] = listing["data"]
    return endpoints


def local_input_value(moment: datetime, ist: timezone) -> str:
    """A time as a `datetime-local` input shows it, in IST, to the minute."""
    return moment.astimezone(ist).strftime("%Y-%m-%dT%H:%M")
