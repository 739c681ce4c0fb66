"""The typed error every service raises for a request it refuses: each class carries its HTTP
status, error code and field (the error body of docs/api.md's "Errors"). Only what more than
the API raises lives here (a webhook URL is checked by the API and by the dispatcher); the
API's own errors are in `api.errors` and its domains' `errors` modules."""

from typing import ClassVar


class GatewayError(Exception):
    """An error a client is answered with: `{"error": {"code", "description", "field"?}}`
    with `status_code`. A subclass names one case: its code, status, sentence and field at
    fault; `description`/`field` are given only where the sentence names a value of the
    request (a field's dotted path, a limit)."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST_ERROR"
    default_description: ClassVar[str] = "Bad request"
    # The request field at fault, as a dotted path (the error body's additive `field`).
    default_field: ClassVar[str | None] = None

    def __init_subclass__(
        cls,
        *,
        status: int | None = None,
        code: str | None = None,
        description: str | None = None,
        field: str | None = None,
    ) -> None:
        """`class WebhookNotFound(NotFound, description="Webhook not found")`: a subclass
        declares its case in its header; what it leaves out it inherits."""
        super().__init_subclass__()
        if status is not None:
            cls.status_code = status
        if code is not None:
            cls.code = code
        if description is not None:
            cls.default_description = description
        if field is not None:
            cls.default_field = field

    def __init__(
        self,
        description: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        field: str | None = None,
    ):
        self.description = description or self.default_description
        self.headers = headers or {}
        self.field = field or self.default_field
        super().__init__(self.description)


class BadRequest(GatewayError):
    """400 `BAD_REQUEST_ERROR`: the base of every refusal of a request's content."""
