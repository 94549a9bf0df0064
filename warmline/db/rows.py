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

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections
from django.db.models import Model, signals
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import bulk

M = TypeVar("M", bound=Model)


def _select_plan(model: type[Model], fields: Sequence, connection) -> tuple[str, list]:
    """Quoted ``table.column`` list and per-field converters, as the ORM's compiler has."""
    table = model._meta.db_table
    qn = connection.ops.quote_name
    converters = []
    utc = connection.vendor == "sqlite" and settings.USE_TZ and connection.timezone_name == "UTC"
    for f in fields:
        col = f.get_col(table)
        found = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
        if utc:
            found = [
                _utc_datetime if fn == connection.ops.convert_datetimefield_value else fn
                for fn in found
            ]
        converters.append((found, col) if found else None)
    return ", ".join(f"{qn(table)}.{qn(f.column)}" for f in fields), converters


def _utc_datetime(value, expression, connection):
    """SQLite's datetime converter for a UTC connection, without its generic steps.

    The driver already parses declared datetime columns; Django then checks the type
    and calls ``make_aware``, which for UTC is this ``replace`` (a third of the cost
    of reading a conversation row).
    """
    if type(value) is not dt.datetime:
        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


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


def _has_init_receivers(model: type[Model]) -> bool:
    # ``Model.__init__`` sends these; skipping it is only right while nobody listens.
    return signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model)


def loaded(model: type[M], attnames: Sequence[str], values: Sequence[Any], using: str) -> M:
    """``model.from_db`` for a whole row, without ``Model.__init__``'s per-field dispatch.

    ``__init__`` sets every field through its descriptor (about 15 µs for a
    conversation's 35 columns); a loaded row only needs its values in the
    instance dict and a state that says where it came from, which is what
    ``__init__`` leaves behind. A model with custom ``from_db`` or init signal
    receivers takes Django's own path.
    """
    if model.from_db.__func__ is not Model.from_db.__func__ or _has_init_receivers(model):
        return model.from_db(using, list(attnames), list(values))
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, values, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = using
    return obj


@cache
def _blank(model: type[Model]) -> tuple[dict[str, Any], tuple, dict[str, Any], frozenset]:
    """A new instance's starting values: constants, per-instance default factories, and
    the relation fields by name (so ``customer=obj`` sets ``customer_id`` and caches obj)."""
    constants: dict[str, Any] = {}
    factories = []
    for f in model._meta.concrete_fields:
        if f.has_default() and callable(f.default):
            factories.append((f.attname, f.default))  # a fresh list/dict/time per row
        else:
            constants[f.attname] = f.get_default()
    relations = {f.name: f for f in model._meta.concrete_fields if f.is_relation}
    attnames = frozenset(f.attname for f in model._meta.concrete_fields)
    return constants, tuple(factories), relations, attnames


def new(model: type[M], **values: Any) -> M:
    """``model(**values)`` for an unsaved row, at a fifth of the cost.

    Ingest builds thousands of entries and cases per bulk call; ``Model.__init__``
    was a fifth of its CPU. Values are keyed by field name or attname, as in the
    constructor; a related object given by name sets the key and is cached, so an
    unsaved one's key is taken when the row is inserted (``bulk.insert_plan``).
    Unknown names raise ``TypeError`` like the constructor. Models with init signal
    receivers take Django's path.
    """
    if _has_init_receivers(model):
        return model(**values)
    constants, factories, relations, attnames = _blank(model)
    obj = model.__new__(model)
    data = obj.__dict__
    data.update(constants)
    for attname, factory in factories:
        data[attname] = factory()
    state = obj._state = ModelState()
    for name, value in values.items():
        rel = relations.get(name)
        if rel is not None:
            if value is not None and not isinstance(value, rel.related_model):
                raise TypeError(f"{model.__name__}.{name} must be a {rel.related_model.__name__}")
            data[rel.attname] = None if value is None else value.pk
            state.fields_cache[name] = value
        elif name in attnames:
            data[name] = value
        elif name == "pk":
            data[model._meta.pk.attname] = value
        else:
            raise TypeError(f"{model.__name__}() got an unexpected keyword argument {name!r}")
    return obj


def build(model: type[M], row: Sequence[Any], using: str = "default") -> M:
    """A model instance from a raw row laid out as :func:`columns` (from ``offset``)."""
    connection = connections[using]
    _cols, attnames, converters = _read_plan(model, connection.vendor, using)
    return loaded(model, attnames, _convert(row, converters, connection), using)


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
def _insert_sql(model: type[Model], alias: str) -> tuple[str, bool]:
    plan = bulk.insert_plan(model, alias)
    returning = connections[alias].features.can_return_columns_from_insert
    sql = (
        f"INSERT INTO {plan.table} ({plan.columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(plan.fields))})"
        + (f" RETURNING {plan.pk_column}" if returning else "")
    )
    return sql, returning


def insert(obj: Model, using: str = "default") -> Model:
    """INSERT one new row (auto primary key) and set its key; defaults and auto_now apply.

    The same plan as the batch insert (``bulk.insert_plan``), one row at a time.
    """
    connection = connections[using]
    model = type(obj)
    sql, returning = _insert_sql(model, using)
    params = bulk.insert_plan(model, using).params(
        obj,
        timezone.now(),
        dt.date.today(),  # noqa: DTZ011 - what DateField.pre_save stores
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            new_id = cursor.fetchone()[0]
        else:  # pragma: no cover - every backend Warmline supports can return it
            new_id = connection.ops.last_insert_id(cursor, model._meta.db_table, "id")
    obj.pk = new_id
    obj._state.adding = False
    obj._state.db = using
    return obj


@cache
def _auto_now(model: type[Model]) -> tuple[str, ...]:
    return tuple(f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False))


def update(obj: Model, field_names: Sequence[str], using: str = "default") -> None:
    """UPDATE the named fields of one existing row, refreshing its auto_now fields as
    ``save(update_fields=…)`` would; the statement is the batch path's (``bulk.update_plan``)."""
    model = type(obj)
    names = tuple(dict.fromkeys([*field_names, *_auto_now(model)]))
    sql, fields, adapters = bulk.update_plan(model, names, using)
    params = [adapt(f.pre_save(obj, False)) for f, adapt in zip(fields, adapters, strict=True)]
    params.append(obj.pk)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
