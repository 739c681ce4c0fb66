"""Field types that request schemas and endpoints share."""

from typing import Annotated, Any

from fastapi import Path
from pydantic import Field

from shared.ids import ID_LENGTH, ORDER_PREFIX, PAYMENT_PREFIX, REFUND_PREFIX

# PostgreSQL text holds neither NUL characters nor lone surrogates (not UTF-8): a request
# carrying one is invalid input (400), never a database error (500). A pattern both documents
# the rule and makes pydantic refuse lone surrogates.
NO_NUL_PATTERN = r"^[^\x00]*$"

StoredText = Annotated[str, Field(pattern=NO_NUL_PATTERN)]


class FieldValueError(ValueError):
    """A validator's whole-sentence refusal that names the request field at fault, for a rule
    that spans fields (so pydantic cannot tell which one): the error body's `field`."""

    def __init__(self, field: str, description: str):
        super().__init__(description)
        self.field = field


def id_pattern(prefix: str) -> str:
    return f"^{prefix}[A-Za-z0-9]{{{ID_LENGTH}}}$"


def _id_in_path(prefix: str, what: str) -> Any:
    # Documented, not validated: any other value is an unknown id, so 404 (CONTRACT §3).
    return Path(
        description=f"The {what}'s id: `{prefix}` and {ID_LENGTH} letters and digits",
        json_schema_extra={"pattern": id_pattern(prefix)},
    )


OrderIdInPath = Annotated[str, _id_in_path(ORDER_PREFIX, "order")]
PaymentIdInPath = Annotated[str, _id_in_path(PAYMENT_PREFIX, "payment")]
RefundIdInPath = Annotated[str, _id_in_path(REFUND_PREFIX, "refund")]
WebhookIdInPath = Annotated[
    str, Path(description="The webhook log's id", json_schema_extra={"format": "uuid"})
]
