"""Webhook logs as the pages show them: the payload pretty-printed and every attempt in one shape."""

import json
import re
from typing import Any

WEBHOOK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ATTEMPT_LIST_KEYS = ("attempts", "attempt_history", "deliveries", "attempt_log")


def _first(record: dict[str, Any], *keys: str) -> Any:
    return next((record[key] for key in keys if record.get(key) is not None), None)


def pretty_payload(payload: Any) -> str:
    """The body the merchant's server received, indented for reading."""
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return payload
    return json.dumps(payload, indent=2, ensure_ascii=False)


def attempt_rows(log: dict[str, Any]) -> list[dict[str, Any]]:
    """Each delivery attempt, oldest first, whatever the API calls its fields."""
    attempts = next((log[key] for key in ATTEMPT_LIST_KEYS if isinstance(log.get(key), list)), [])
    rows = [
        {
            "number": _first(attempt, "attempt_number", "number", "attempt") or index,
            "attempted_at": _first(attempt, "attempted_at", "time", "created_at"),
            "duration_ms": _first(attempt, "duration_ms", "duration"),
            "response_code": attempt.get("response_code"),
            "response_body": _first(attempt, "response_body", "body", "response"),
            "error": attempt.get("error"),
        }
        for index, attempt in enumerate(attempts, start=1)
        if isinstance(attempt, dict)
    ]
    return sorted(rows, key=lambda row: row["number"])


def attempt_count(log: dict[str, Any]) -> int:
    attempts = log.get("attempts")
    if isinstance(attempts, int):
        return attempts
    return len(attempt_rows(log))
