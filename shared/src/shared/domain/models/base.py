"""The base of every resource model: its column list and its reading from a row, both derived
from its fields, and the field markers they read."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, create_model


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, millisecond precision: every timestamp the API shows or sends."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Reader:
    """Field marker: how the column's value becomes the field's (a `timestamptz` read as a
    datetime becomes its ISO string, a `uuid` its text), and the column's name when it is not
    the field's."""

    read: Callable[[Any], Any] | None = None
    column: str | None = None


class _Public:
    """Field marker: the field belongs to the resource's public view (`Resource.public`)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC = _Public()
_set = object.__setattr__
MOMENT = "2026-01-15T10:31:10.123Z"

# A `timestamptz` column, shown as `iso` makes it.
Timestamp = Annotated[str, Reader(iso), Field(examples=[MOMENT])]
# A nullable `timestamptz` column.
OptionalTimestamp = Annotated[str | None, Reader(iso), Field(examples=[MOMENT])]
# A `uuid` column, shown as its text.
UuidText = Annotated[str, Reader(str)]


class Resource(BaseModel):
    """A resource as the API shows it and its webhooks send it; the field order is the key
    order of both.

    Subclasses may declare `ROW_ONLY`, columns selected beside the fields for the code that
    reads the row (a merchant id, a correlation id) and never shown, and `COMPUTED`, fields
    selected as an SQL expression of the table's alias rather than a column."""

    # Frozen: a resource is a snapshot of its row, and its instances share one fields set.
    model_config = ConfigDict(frozen=True)

    ROW_ONLY: ClassVar[tuple[str, ...]] = ()
    COMPUTED: ClassVar[Mapping[str, Callable[[str], str]]] = {}
    # (field, column, reader or None), in field order: set for each subclass as it is made.
    _readers: ClassVar[tuple[tuple[str, str, Callable[[Any], Any] | None], ...]] = ()
    _every_field: ClassVar[set[str]] = set()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        readers = []
        for name, field in cls.model_fields.items():
            reader = next((m for m in field.metadata if isinstance(m, Reader)), Reader())
            readers.append((name, reader.column or name, reader.read))
        cls._readers = tuple(readers)
        cls._every_field = set(cls.model_fields)

    @classmethod
    def columns(cls, alias: str = "", computed: bool = True) -> str:
        """The SQL select list (or RETURNING list) a row of this resource is read with:
        every field and `ROW_ONLY` column, prefixed with `alias.` when given, and the
        `COMPUTED` expressions unless `computed` is false (a locking read, whose snapshot
        may predate what they count)."""
        prefix = f"{alias}." if alias else ""
        names = [c for n, c, _ in cls._readers if n not in cls.COMPUTED] + list(cls.ROW_ONLY)
        items = [prefix + name for name in names]
        if computed:
            items += [expression(alias) for expression in cls.COMPUTED.values()]
        return ", ".join(items)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """The resource of a row selected with `columns()`: trusted data, so not validated
        again (the database's constraints hold it). KeyError for a missing column."""
        resource = cls.__new__(cls)
        # What model_construct does, less its per-field default and alias handling (every
        # field is given here), which cost five times the whole build on the hot path of every
        # payment; tests/shared/domain/test_models.py checks both build the same resource.
        _set(resource, "__dict__", {
            name: row[col] if read is None else read(row[col]) for name, col, read in cls._readers
        })  # fmt: skip
        _set(resource, "__pydantic_fields_set__", cls._every_field)
        _set(resource, "__pydantic_extra__", None)
        _set(resource, "__pydantic_private__", None)
        return resource

    @classmethod
    def public(cls, name: str, doc: str, **extra: Any) -> type["Resource"]:
        """The model `name` of the fields marked `PUBLIC`, in this model's order, then the
        `extra` fields (`(type, Field(...))`, from other rows): what anyone holding the id may
        read without credentials (the checkout's view)."""
        fields: dict[str, Any] = {
            field_name: (field.annotation, field)
            for field_name, field in cls.model_fields.items()
            if PUBLIC in field.metadata
        }
        return create_model(
            name, __base__=Resource, __doc__=doc, __module__=cls.__module__, **fields, **extra
        )
