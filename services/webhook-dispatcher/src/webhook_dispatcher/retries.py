"""The retry schedule (docs/webhooks.md#retry-schedule): five attempts, each timed from the previous
one."""

from datetime import datetime, timedelta

MAX_ATTEMPTS = 5
# Wait after attempt N before attempt N+1.
PRODUCTION_WAITS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                    timedelta(hours=2))  # fmt: skip
TEST_WAITS = (timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=15),
              timedelta(seconds=20))  # fmt: skip


def next_attempt_at(attempt: int, attempted_at: datetime, test_intervals: bool) -> datetime | None:
    """When attempt `attempt + 1` is due after attempt `attempt` failed; None after the last."""
    if attempt >= MAX_ATTEMPTS:
        return None
    waits = TEST_WAITS if test_intervals else PRODUCTION_WAITS
    return attempted_at + waits[attempt - 1]
