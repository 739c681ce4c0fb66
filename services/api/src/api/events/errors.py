"""The events domain's errors (docs/api.md#error-codes)."""

from api.errors import NotFound


class EventNotFound(NotFound, description="Event not found"):
    """404: no event with this id, an id that is not a UUID, or another merchant's."""
