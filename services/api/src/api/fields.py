"""Field types that request schemas and endpoints share."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Path
from pydantic import BeforeValidator, Field, StrictInt, ValidationInfo

from api.errors import NotFound
from shared.core.ids import ID_LENGTH, is_id
from shared.domain.errors import BadRequest

# PostgreSQL text holds neither NUL characters nor lone surrogates (not UTF-8): a request
# carrying one is invalid input (400), never a database error (500). A pattern both documents
# the rule and makes pydantic refuse lone surrogates.
NO_NUL_PATTERN = r"^[^\x00]*$"


def _class_body(ranges: tuple[tuple[int, int], ...]) -> str:
    """Code point ranges as a regex character class's body that Python's re, Rust's regex
    (pydantic) and ECMA-262 all read: \\uXXXX in the BMP, as a client writes it in JSON; past
    it the character itself, as the three escape it three different ways."""

    def escape(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)

    return "".join(escape(a) + (f"-{escape(b)}" if b != a else "") for a, b in ranges)


# The invisible controls that reorder the text around them (bidi marks, embeddings, overrides
# and isolates), as ranges of code points: "\u202eyaP nozamA" reads "Amazon Pay" wherever it
# is shown. The checkout strips the same set from merchant names (checkout-rules.js).
DIRECTION_CONTROLS = ((0x061C, 0x061C), (0x200E, 0x200F), (0x202A, 0x202E), (0x2066, 0x2069))
DIRECTION_CONTROLS_NAMED = ", ".join(_class_body((span,)) for span in DIRECTION_CONTROLS)
# Text the API stores to show people as typed: no NUL, and none of the controls that would
# make it read as something else (docs/api.md#shown-text).
SHOWN_TEXT_PATTERN = "^[^\\x00" + _class_body(DIRECTION_CONTROLS) + "]*$"
# Unicode's Default_Ignorable_Code_Point (Unicode Standard Annex 44, DerivedCoreProperties.txt):
# format controls and the direction controls above, joiners, variation selectors, tags, Hangul
# fillers, ... As ranges, not `\p{...}`, so that every reader of the OpenAPI document's
# patterns (Python's re, ECMA-262 as JSON Schema asks, Rust's regex in pydantic) reads them; a
# test holds them to the property.
DEFAULT_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
                     (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
                     (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
                     (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
                     (0xE0000, 0xE0FFF))  # fmt: skip
# The spaces (Unicode's Z categories) beside ASCII's, and the Braille blank, a symbol drawn as
# empty space.
_BLANK_SYMBOLS = ((0x00A0, 0x00A0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
                  (0x202F, 0x202F), (0x205F, 0x205F), (0x2800, 0x2800), (0x3000, 0x3000))  # fmt: skip

# The characters that draw nothing, as a character class's body: controls, spaces, the
# default-ignorable ones and the Braille blank.
DRAWS_NOTHING = "\\s\\x00-\\x1f\\x7f-\\x9f" + _class_body(DEFAULT_IGNORABLE + _BLANK_SYMBOLS)
_DRAWS_SOMETHING = re.compile(f"[^{DRAWS_NOTHING}]")


def is_blank(text: str) -> bool:
    """Whether `text` would show as nothing at all: it has no character that draws a mark
    (docs/api.md#shown-text)."""
    return _DRAWS_SOMETHING.search(text) is None


# An email is shown too (the dashboard's header) and names one merchant: none of the
# characters that draw nothing in it (the direction controls among them), so no second
# merchant signs up as "owner\u200b@shop.test" beside owner@shop.test.
_NOT_IN_EMAIL = "@" + DRAWS_NOTHING
EMAIL_PATTERN = f"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\\.[^{_NOT_IN_EMAIL}]+$"
SHOWN_TEXT_RULE = (
    "no NUL (\\u0000), and none of the invisible controls that reorder text"
    f" ({DIRECTION_CONTROLS_NAMED})"
)
# The one type of every request field whose text is stored and shown to people (on the
# dashboard, the checkout page, in API responses and webhooks), so the rule is declared once.
# A value breaking it is a 400 naming the field (api.error_handlers.PATTERN_PHRASES). Text in
# a right-to-left script and joiners (U+200D) are not controls and pass. Secrets, emails, URLs,
# ids and filters are not shown text: they keep NO_NUL_PATTERN or a pattern of their own.
ShownText = Annotated[str, Field(pattern=SHOWN_TEXT_PATTERN)]

# ISO-8601 / RFC 3339 only: a bare number is not a time here (pydantic would read it as Unix
# seconds). RFC 3339 lets `T` and `Z` be lowercase and a fraction have any number of digits
# (past microseconds they are dropped). Parsed, and refused with a 400 if
# impossible, by `utc_time`; a value not of this form is refused with ISO_8601_PHRASE.
ISO_8601 = r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
ISO_8601_PHRASE = "must be an ISO-8601 time such as 2026-01-15T10:30:00Z"


class ImpossibleTime(
    BadRequest, description="<field> must be an ISO-8601 time such as 2026-01-15T10:30:00Z"
):
    """400: a time of the ISO-8601 form that is no time (2026-02-30); `field` names it."""

    def __init__(self, name: str, example: str):
        super().__init__(f"{name} must be an ISO-8601 time such as {example}", field=name)


def utc_time(
    value: str | None, name: str, example: str = "2026-01-15T10:30:00Z"
) -> datetime | None:
    """An ISO-8601 time; one without an offset is UTC, as every timestamp the API writes.
    ImpossibleTime (naming `name`, showing `example`) for an impossible one (2026-02-30)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise ImpossibleTime(name, example) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# The precision of every timestamp the API shows (`shared.domain.models.iso`).
SHOWN_PRECISION = timedelta(milliseconds=1)


def shown_millisecond(
    value: str | None, name: str, example: str = "2026-01-15T10:30:00Z"
) -> datetime | None:
    """The millisecond an ISO-8601 time falls in (`utc_time`): rows are stored to the
    microsecond but shown to the millisecond, so a time the API showed is read as that whole
    millisecond (docs/api.md#events)."""
    moment = utc_time(value, name, example)
    return moment and moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def end_of_millisecond(millisecond: datetime | None) -> datetime | None:
    """The (exclusive) end of `millisecond`; None, no upper bound, for None or for the last
    millisecond there is (9999-12-31T23:59:59.999), whose end no datetime holds and which
    nothing is created after."""
    if millisecond is None:
        return None
    try:
        return millisecond + SHOWN_PRECISION
    except OverflowError:
        return None


class FieldValueError(ValueError):
    """A validator's whole-sentence refusal that names the request field at fault, for a rule
    that spans fields (so pydantic cannot tell which one): the error body's `field`."""

    def __init__(self, field: str, description: str):
        super().__init__(description)
        self.field = field


def id_pattern(prefix: str) -> str:
    return f"^{prefix}[A-Za-z0-9]{{{ID_LENGTH}}}$"


def uuid_or_not_found(value: str, not_found: type[NotFound]) -> str:
    """The canonical form of a UUID id, which PostgreSQL reads (uuid.UUID also takes forms it
    does not, such as urn:uuid:...); `not_found` (404) for anything that is not a UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found from None


def id_in_path(name: str, prefix: str, what: str, not_found: type[NotFound]) -> Any:
    """A dependency reading path parameter `name`: the id when it has the shape of `prefix`'s
    ids, else `not_found` (404), as for any unknown id (docs/api.md#merchant-isolation); never a 400
    or a query. Each domain declares its own beside its schemas (`OrderIdInPath`); declare it
    after `MerchantDep`, so that a request without credentials still gets 401."""

    async def known_id(  # async: no thread hop for a check that does no I/O
        value: Annotated[
            str,
            Path(
                alias=name,
                description=f"The {what}'s id: `{prefix}` and {ID_LENGTH} letters and digits",
                json_schema_extra={"pattern": id_pattern(prefix)},
            ),
        ],
    ) -> str:
        if not is_id(value, prefix):
            raise not_found
        return value

    return Depends(known_id)


def _refuse_null(value: Any, info: ValidationInfo) -> Any:
    # A field left out keeps its default without being validated: only an explicit null is here.
    if value is None:
        raise ValueError(
            f"{info.field_name} must be an integer when given; leave it out instead of sending null"
        )
    return value


def _integer_only(schema: dict[str, Any]) -> None:
    # Document what is accepted: an integer, or the field left out (never null).
    [integer] = [branch for branch in schema.pop("anyOf") if branch.get("type") != "null"]
    schema.update(integer)
    schema.pop("default", None)


# An integer field that may be left out (None in Python then, e.g. "refund what is left") but
# is never null on the wire: an explicit null is a client bug, refused with 400 like 0, 100.5,
# 100.0, true or "100" (strict: JSON floats, even integral ones, booleans and strings are not
# integers). Stripe and Razorpay refuse the same. Declare constraints on the field:
# `amount: OmittableInt = Field(default=None, gt=0)`.
OmittableInt = Annotated[
    StrictInt | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_integer_only)
]
