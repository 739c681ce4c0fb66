"""Webhook logs as the pages show them: the exact body sent and every attempt in one shape."""

import json
import re
from typing import Any

WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ATTEMPT_LIST_KEYS = ("attempts", "attempt_history", "deliveries", "attempt_log")


def _first(record: dict[str, Any], *keys: str) -> Any:
    return next((record[key] for key in keys if record.get(key) is not None), None)


def exact_body(log: dict[str, Any]) -> str:
    """The bytes the merchant's server received and the signature covers: the API's `body`;
    from an API without it, the payload in the contract's compact form (CONTRACT §7)."""
    if isinstance(log.get("body"), str):
        return log["body"]
    payload = log.get("payload")
    if isinstance(payload, str):
        return payload
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def attempt_rows(log: dict[str, Any]) -> list[dict[str, Any]]:
    """Each delivery attempt, oldest first, whatever the API calls its fields."""
    attempts: list[dict[str, Any]] = next(
        (log[key] for key in ATTEMPT_LIST_KEYS if isinstance(log.get(key), list)), []
    )
    rows = [
        {
            "number": _first(attempt, "attempt_number", "number", "attempt") or index,
            "scheduled": attempt.get("scheduled_attempt"),
            "attempted_at": _first(attempt, "attempted_at", "time", "created_at"),
            "duration_ms": _first(attempt, "duration_ms", "duration"),
            "response_code": attempt.get("response_code"),
            "response_body": _first(attempt, "response_body", "body", "response"),
            "error": attempt.get("error"),
        }
        for index, attempt in enumerate(attempts, start=1)
        if isinstance(attempt, dict)
    ]
    for row in rows:
        row["manual_retry"] = is_manual_retry(row)
    return sorted(rows, key=lambda row: row["number"])


def is_manual_retry(row: dict[str, Any]) -> bool:
    """The first attempt after a manual retry: scheduled attempt 1 that is not the first."""
    return row["scheduled"] == 1 and row["number"] > 1


def attempt_count(log: dict[str, Any]) -> int:
    attempts = log.get("attempts")
    if isinstance(attempts, int):
        return attempts
    return len(attempt_rows(log))
