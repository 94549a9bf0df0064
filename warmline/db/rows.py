"""Single-row reads and writes for the ingest hot path, without the ORM's compiler.

Every customer message costs four to ten statements. Through the ORM each one is
compiled from a QuerySet (or ``Model.save``) on every call, which costs ten times
what SQLite then spends running it (docs/ingest.md has the profile). Here the SQL
of each statement shape is built once per model and connection from the model's
metadata, and values go in and out through the same field adapters and converters
the ORM uses, so the rows read and written are the ones Django would read and
write.

What is skipped on purpose: model signals (``pre_save``/``post_save``) and
``Model.save`` overrides. Only call these for models and paths where neither
exists or matters; the callers say why for each use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connections
from django.db.models import Model

from .bulk import _adapter

M = TypeVar("M", bound=Model)


def _select_plan(model: type[Model], fields: Sequence, connection) -> tuple[str, list]:
    """Quoted ``table.column`` list and per-field converters, as the ORM's compiler has."""
    table = model._meta.db_table
    qn = connection.ops.quote_name
    converters = []
    for f in fields:
        col = f.get_col(table)
        found = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
        converters.append((found, col) if found else None)
    return ", ".join(f"{qn(table)}.{qn(f.column)}" for f in fields), converters


def _convert(row: Sequence[Any], converters: list, connection) -> list:
    values = list(row)
    for i, conv in enumerate(converters):
        if conv is not None and values[i] is not None:
            found, col = conv
            for fn in found:
                values[i] = fn(values[i], col, connection)
    return values


@cache
def _read_plan(model: type[Model], vendor: str, alias: str) -> tuple[str, list[str], list]:
    """Quoted column list, attnames and per-field converters for ``model``'s rows."""
    fields = list(model._meta.concrete_fields)
    columns, converters = _select_plan(model, fields, connections[alias])
    return columns, [f.attname for f in fields], converters


def columns(model: type[Model], using: str = "default") -> str:
    """The quoted ``table.column`` list to SELECT for whole rows of ``model``."""
    connection = connections[using]
    return _read_plan(model, connection.vendor, using)[0]


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def build(model: type[M], row: Sequence[Any], using: str = "default") -> M:
    """A model instance from a raw row laid out as :func:`columns` (from ``offset``)."""
    connection = connections[using]
    _cols, attnames, converters = _read_plan(model, connection.vendor, using)
    return model.from_db(using, attnames, _convert(row, converters, connection))


def fetch(
    model: type[M],
    where: str,
    params: Sequence[Any],
    *,
    tail: str = "",
    using: str = "default",
) -> list[M]:
    """Whole rows of ``model`` matching a raw WHERE clause (identifiers quoted by the caller)."""
    connection = connections[using]
    meta = model._meta
    sql = f"SELECT {columns(model, using)} FROM {connection.ops.quote_name(meta.db_table)} WHERE {where} {tail}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [build(model, row, using) for row in rows]


@cache
def _values_plan(
    model: type[Model], names: tuple[str, ...], vendor: str, alias: str
) -> tuple[str, list]:
    fields = [model._meta.get_field(n) for n in names]
    return _select_plan(model, fields, connections[alias])


def values(
    model: type[Model],
    names: Sequence[str],
    where: str,
    params: Sequence[Any],
    *,
    tail: str = "",
    using: str = "default",
) -> list[tuple]:
    """Plain tuples of the named fields, converted as ``values_list`` would convert them."""
    connection = connections[using]
    cols, converters = _values_plan(model, tuple(names), connection.vendor, using)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT {cols} FROM {table} WHERE {where} {tail}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not any(converters):
        return [tuple(r) for r in found]
    return [tuple(_convert(r, converters, connection)) for r in found]


@cache
def _insert_plan(
    model: type[Model], vendor: str, alias: str
) -> tuple[str, list, list[Callable | None], bool]:
    connection = connections[alias]
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    qn = connection.ops.quote_name
    returning = connection.features.can_return_columns_from_insert
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
        + (f" RETURNING {qn(pk.column)}" if returning else "")
    )
    return sql, fields, [_adapter(f, connection) for f in fields], returning


def insert(obj: Model, using: str = "default") -> Model:
    """INSERT one new row (auto primary key) and set its key; defaults and auto_now apply."""
    connection = connections[using]
    sql, fields, adapters, returning = _insert_plan(type(obj), connection.vendor, using)
    params = []
    for f, adapt in zip(fields, adapters, strict=True):
        value = f.pre_save(obj, True)  # auto_now / auto_now_add, as save() would
        if value is None and f.is_relation and f.is_cached(obj):
            related = f.get_cached_value(obj)
            if related is not None:
                value = related.pk
                setattr(obj, f.attname, value)
        params.append(value if adapt is None else adapt(value))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            new_id = cursor.fetchone()[0]
        else:  # pragma: no cover - every backend Warmline supports can return it
            new_id = connection.ops.last_insert_id(cursor, type(obj)._meta.db_table, "id")
    obj.pk = new_id
    obj._state.adding = False
    obj._state.db = using
    return obj


@cache
def _update_plan(
    model: type[Model], names: frozenset[str], vendor: str, alias: str
) -> tuple[str, list, list[Callable | None]]:
    connection = connections[alias]
    meta = model._meta
    wanted = set(names)
    # auto_now fields are refreshed on every save, as save(update_fields=…) would if named.
    wanted |= {f.name for f in meta.concrete_fields if getattr(f, "auto_now", False)}
    fields = [f for f in meta.concrete_fields if f.name in wanted or f.attname in wanted]
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields, [_adapter(f, connection) for f in fields]


def update(obj: Model, field_names: Sequence[str], using: str = "default") -> None:
    """UPDATE the named fields (plus auto_now ones) of one existing row."""
    connection = connections[using]
    sql, fields, adapters = _update_plan(
        type(obj), frozenset(field_names), connection.vendor, using
    )
    params = []
    for f, adapt in zip(fields, adapters, strict=True):
        value = f.pre_save(obj, False)
        params.append(value if adapt is None else adapt(value))
    params.append(obj.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
