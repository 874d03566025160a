"""`column IN <list>` with the whole list as one bound parameter.

SQLAlchemy's `column.in_(values)` renders one placeholder per value ("expanding" parameters), so
the SQL text is rebuilt on every execution and its cost grows with the list: in the profile of the
message path that rebuilding was the largest single cost inside SQLAlchemy. `any_of` sends the
list as one value instead, so the statement compiles once and is reused from the cache whatever
the list's length:

- PostgreSQL: ``column = ANY(:ids)`` with an array parameter;
- SQLite: ``column IN (SELECT value FROM json_each(:ids))`` with the list as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Boolean, Dialect, Integer, String, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine


class _ValueList(TypeDecorator[list[Any]]):
    """A list of ints or strings: an array on PostgreSQL, JSON text elsewhere."""

    impl = String
    cache_ok = True

    def __init__(self, item: type[Integer] | type[String]) -> None:
        super().__init__()
        self.item = item

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item()))
        return dialect.type_descriptor(String())

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return json.dumps(value)


_INTS = _ValueList(Integer)
_STRINGS = _ValueList(String)


class AnyOf(ColumnElement[bool]):
    """``column`` equals one of the values of a list sent as a single parameter."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], values: BindParameter[list[Any]]) -> None:
        self.column = column
        self.values = values


def any_of(column: ColumnElement[Any], values: Iterable[int] | Iterable[str]) -> AnyOf:
    """``column IN values``, compiled once whatever the number of values."""
    items = list(values)
    kind = _STRINGS if items and isinstance(items[0], str) else _INTS
    return AnyOf(column, bindparam(None, items, type_=kind))


@compiles(AnyOf, "postgresql")
def _any_of_postgresql(element: AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(element.values, **kw)})"


@compiles(AnyOf)
def _any_of_json(element: AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} IN "
            f"(SELECT value FROM json_each({compiler.process(element.values, **kw)}))")


class ValueFor(ColumnElement[int]):
    """The integer paired with ``column``'s value in two parallel lists, each sent as one parameter."""

    inherit_cache = True
    type = Integer()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("keys", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], keys: BindParameter[list[Any]],
                 values: BindParameter[list[Any]]) -> None:
        self.column = column
        self.keys = keys
        self.values = values


def value_for(column: ColumnElement[Any], pairs: dict[int, int]) -> ValueFor:
    """``CASE column WHEN key THEN value ...`` for every pair, compiled once whatever their number."""
    keys = list(pairs)
    return ValueFor(column, bindparam(None, keys, type_=_INTS),
                    bindparam(None, [pairs[k] for k in keys], type_=_INTS))


@compiles(ValueFor, "postgresql")
def _value_for_postgresql(element: ValueFor, compiler: SQLCompiler, **kw: Any) -> str:
    keys, values = compiler.process(element.keys, **kw), compiler.process(element.values, **kw)
    return (f"(CAST({values} AS INTEGER[]))"
            f"[array_position(CAST({keys} AS INTEGER[]), {compiler.process(element.column, **kw)})]")


@compiles(ValueFor)
def _value_for_json(element: ValueFor, compiler: SQLCompiler, **kw: Any) -> str:
    # Correct, but SQLite parses both lists again for every row: fine for a few pairs, quadratic for
    # a batch (take_seqs therefore groups by count on SQLite instead of using this).
    keys, values = compiler.process(element.keys, **kw), compiler.process(element.values, **kw)
    return (f"(SELECT v.value FROM json_each({values}) AS v WHERE v.key = "
            f"(SELECT k.key FROM json_each({keys}) AS k WHERE k.value = {compiler.process(element.column, **kw)}))")
