"""Field types that request schemas share."""

from typing import Annotated

from pydantic import Field

# PostgreSQL text holds neither NUL characters nor lone surrogates (not UTF-8): a request
# carrying one is invalid input (400), never a database error (500). A pattern both documents
# the rule and makes pydantic refuse lone surrogates.
NO_NUL_PATTERN = r"^[^\x00]*$"

StoredText = Annotated[str, Field(pattern=NO_NUL_PATTERN)]
