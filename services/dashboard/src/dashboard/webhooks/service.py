"""Webhook logs as the pages show them: every attempt in one shape."""

import re
from typing import Any

WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def attempt_rows(log: dict[str, Any]) -> list[dict[str, Any]]:
    """Each delivery attempt of a log from `GET /api/v1/webhooks/{id}` (its
    `attempt_history`), oldest first, manual retries marked."""
    rows = [
        {
            "number": attempt["attempt_number"],
            "scheduled": attempt["scheduled_attempt"],
            "attempted_at": attempt["attempted_at"],
            "duration_ms": attempt["duration_ms"],
            "response_code": attempt["response_code"],
            "response_body": attempt["response_body"],
            "error": attempt["error"],
        }
        for attempt in log["attempt_history"]
    ]
    for row in rows:
        row["manual_retry"] = is_manual_retry(row)
    return sorted(rows, key=lambda row: row["number"])


def is_manual_retry(row: dict[str, Any]) -> bool:
    """The first attempt after a manual retry: scheduled attempt 1 that is not the first."""
    return row["scheduled"] == 1 and row["number"] > 1
