"""Row writes without the ORM's per-value dispatch: batch INSERT and UPDATE.

Django's ``bulk_update`` builds a CASE WHEN expression per object and field; for
a thousand conversations that costs seconds of Python. One parametrised UPDATE
sent with ``executemany`` does the same work in milliseconds on SQLite and
PostgreSQL (psycopg pipelines it). ``bulk_create`` likewise re-derives every
value's adaptation. Here each model's plan (fields, getters, adapters, SQL) is
built once per process and connection alias and shared by the batch paths and
the single-row ones (``warmline.db.rows``).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from operator import attrgetter

from django.db import connections, models, router
from django.db.models import Model
from django.utils import timezone


@cache
def update_plan(
    model: type[Model], names: tuple[str, ...], alias: str
) -> tuple[str, list, list[Callable]]:
    """``UPDATE … SET`` the named fields ``WHERE pk = %s``, with one adapter per field."""
    connection = connections[alias]
    meta = model._meta
    fields = [meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    # Identifiers come from the model's metadata and are quoted; values are parameters.
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
    return sql, fields, [_adapter(f, connection) or _plain for f in fields]


def prepare_update(
    model: type[Model], objs: Sequence[Model], field_names: Iterable[str]
) -> tuple[str, list[list]]:
    """The UPDATE statement and one parameter row per object (see :func:`update_prepared`)."""
    if not objs:
        return "", []
    using = router.db_for_write(model)
    sql, fields, adapters = update_plan(model, tuple(field_names), using)
    read = attrgetter(*(f.attname for f in fields), "pk")
    adapt_at = [(i, a) for i, a in enumerate(adapters) if a is not _plain]
    rows = []
    for obj in objs:
        row = list(read(obj))
        for i, adapt in adapt_at:
            row[i] = adapt(row[i])
        rows.append(row)
    return sql, rows


def update_prepared(model: type[Model], sql: str, rows: Sequence[list]) -> int:
    if rows:
        with connections[router.db_for_write(model)].cursor() as cursor:
            cursor.executemany(sql, rows)
    return len(rows)


def update_rows(model: type[Model], objs: Sequence[Model], field_names: Iterable[str]) -> int:
    return update_prepared(model, *prepare_update(model, objs, field_names))


def _plain(value):
    return value


def _adapter(field, connection):
    """A per-field function from a Python value to a database parameter, chosen once.

    ``bulk_create`` re-derives this for every value of every row, which is about
    half of the CPU a 1,000-message bulk ingest costs; the common field types
    are adapted directly here, anything else goes through the field itself.
    """
    from django.db import models

    ops = connection.ops
    if isinstance(field, models.ForeignKey):
        return None  # the attname value is the related row's integer key
    plain = (
        models.CharField,
        models.TextField,
        models.IntegerField,
        models.BooleanField,
        models.FloatField,
    )
    if isinstance(field, plain) and not isinstance(
        field, (models.GenericIPAddressField, models.FilePathField)
    ):
        return None  # str, int, bool and float go to the driver as they are
    if type(field) is models.DateTimeField:
        generic = ops.adapt_datetimefield_value
        # Aware UTC values (what timezone.now() and parsed API times give) are stored as
        # Django stores them on SQLite: naive UTC text; anything else takes Django's path.
        fast = connection.vendor == "sqlite" and connection.timezone_name == "UTC"

        seen: dict[dt.datetime, str] = {}  # a batch repeats its stamps and message times

        def adapt_datetime(value):
            if value is None:
                return None
            if fast and value.tzinfo is dt.UTC:
                text = seen.get(value)
                if text is None:
                    if len(seen) > 4096:
                        seen.clear()
                    # str() of the naive value, without building it: "+00:00" is cut off.
                    text = seen[value] = value.isoformat(" ")[:-6]
                return text
            return generic(value)

        return adapt_datetime
    if (
        isinstance(field, models.JSONField)
        and field.encoder is None
        and connection.vendor == "sqlite"
    ):

        def adapt_json(value):
            # Empty containers are most JSON values of a batch; the rest go through the field.
            if value == {} and type(value) is dict:
                return "{}"
            if value == [] and type(value) is list:
                return "[]"
            return field.get_db_prep_save(value, connection)

        return adapt_json
    if type(field) is models.DateField:

        def adapt_date(value):
            return None if value is None else ops.adapt_datefield_value(value)

        return adapt_date

    def through_field(value):
        return field.get_db_prep_save(value, connection)

    return through_field


def _getter(field):
    """``field.pre_save(obj, add=True)`` without its per-call dispatch, where that is a read.

    auto_now / auto_now_add stamps are set by ``insert_rows`` itself; a field type
    with its own ``pre_save`` is asked as Django would ask it.
    """
    plain = (models.Field.pre_save, models.DateField.pre_save, models.DateTimeField.pre_save)
    if type(field).pre_save in plain:
        return attrgetter(field.attname)
    return lambda obj: field.pre_save(obj, True)


@dataclass(frozen=True)
class InsertPlan:
    """How one model's new rows become parameters, worked out once."""

    table: str
    columns: str  # quoted, in ``fields`` order
    pk_column: str
    fields: list
    getters: list
    adapters: list
    stamped: list  # auto_now / auto_now_add fields, set on insert
    relations: list  # (column, field)
    # One C-level read of every value when all fields are plain attributes, and the
    # positions that need an adapter: a third of the per-row cost of a getter per field.
    read_all: Callable | None
    adapt_at: tuple

    def params(
        self,
        obj: Model,
        now: dt.datetime,
        today: dt.date,
        pending: list | None = None,
        row: int = 0,
    ) -> list:
        """The row's parameters; stamps auto_now fields and takes keys of related objects
        assigned before they were saved, as ``Model.save`` would. A related object still
        unsaved is noted in ``pending`` as (``row``, column, object) when given."""
        for f in self.stamped:  # what DateField.pre_save does for a new row
            setattr(obj, f.attname, now if isinstance(f, models.DateTimeField) else today)
        for i, f in self.relations:
            if getattr(obj, f.attname) is None and f.is_cached(obj):
                related = f.get_cached_value(obj)
                if related is not None:
                    if related.pk is None and pending is not None:
                        pending.append((row, i, related))
                    setattr(obj, f.attname, related.pk)
        if self.read_all is None:
            return [
                v if adapt is None else adapt(v)
                for v, adapt in zip([get(obj) for get in self.getters], self.adapters, strict=True)
            ]
        values = list(self.read_all(obj))
        for i, adapt in self.adapt_at:
            values[i] = adapt(values[i])
        return values


@cache
def insert_plan(model: type[Model], alias: str) -> InsertPlan:
    connection = connections[alias]
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    qn = connection.ops.quote_name
    getters = [_getter(f) for f in fields]
    adapters = [_adapter(f, connection) for f in fields]
    read_all = None
    if len(fields) > 1 and all(isinstance(g, attrgetter) for g in getters):
        read_all = attrgetter(*(f.attname for f in fields))  # returns a tuple
    return InsertPlan(
        table=qn(meta.db_table),
        columns=", ".join(qn(f.column) for f in fields),
        pk_column=qn(pk.column),
        fields=fields,
        getters=getters,
        adapters=adapters,
        read_all=read_all,
        adapt_at=tuple((i, a) for i, a in enumerate(adapters) if a is not None),
        stamped=[
            f for f in fields if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add)
        ],
        relations=[(i, f) for i, f in enumerate(fields) if f.is_relation],
    )


@dataclass
class PreparedInsert:
    """New rows already turned into parameters, so a caller can do that before it takes
    the write lock and only patch in keys (and a few late values) under it."""

    model: type[Model]
    objs: list[Model]
    rows: list[list] | None  # None where the database takes Django's bulk_create
    pending: list[tuple[int, int, Model]]  # (row, column, related object not saved yet)

    def set(self, attname: str, values: Sequence) -> None:
        """Set one column on every row (and object), e.g. numbers allocated under the lock."""
        for obj, value in zip(self.objs, values, strict=True):
            setattr(obj, attname, value)
        if self.rows is not None:
            fields = insert_plan(self.model, router.db_for_write(self.model)).fields
            i = next(n for n, f in enumerate(fields) if f.attname == attname)
            for row, value in zip(self.rows, values, strict=True):
                row[i] = value


def prepare_insert(model: type[Model], objs: Sequence[Model]) -> PreparedInsert:
    """Parameters for new rows; keys of related objects saved later are filled in by
    :func:`insert_prepared` (insert those first)."""
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "sqlite" or not connection.features.can_return_rows_from_bulk_insert:
        return PreparedInsert(model, list(objs), None, [])
    plan = insert_plan(model, using)
    now = timezone.now()
    today = dt.date.today()  # noqa: DTZ011 - what DateField.pre_save stores
    pending: list[tuple[int, int, Model]] = []
    rows = [plan.params(obj, now, today, pending, r) for r, obj in enumerate(objs)]
    return PreparedInsert(model, list(objs), rows, pending)


def insert_prepared(prepared: PreparedInsert, keep: Sequence[bool] | None = None) -> None:
    """Insert the prepared rows (those with ``keep`` true) and set their primary keys."""
    model = prepared.model
    objs = prepared.objs
    if keep is not None:
        objs = [o for o, k in zip(objs, keep, strict=True) if k]
    if not objs:
        return
    using = router.db_for_write(model)
    if prepared.rows is None:
        model.objects.using(using).bulk_create(objs, batch_size=500)
        return
    connection = connections[using]
    plan = insert_plan(model, using)
    rows = prepared.rows
    for r, i, related in prepared.pending:
        if keep is None or keep[r]:
            if related.pk is None:
                raise ValueError(f"{type(related).__name__} must be saved before {model.__name__}")
            rows[r][i] = related.pk
            setattr(prepared.objs[r], plan.fields[i].attname, related.pk)
    if keep is not None:
        rows = [row for row, k in zip(rows, keep, strict=True) if k]
    one = "(" + ", ".join(["%s"] * len(plan.fields)) + ")"
    # Django assumes SQLite's old default of 999 parameters; the linked library says
    # what it takes (32,766 or more since 3.32): 500 rows a statement instead of 28.
    connection.ensure_connection()
    limit = min(
        32766,
        connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER),
    )
    size = max(1, min(500, limit // len(plan.fields)))
    for start in range(0, len(objs), size):
        chunk = objs[start : start + size]
        params = [value for row in rows[start : start + size] for value in row]
        with connection.cursor() as cursor:
            cursor.execute(
                _insert_sql(plan.table, plan.columns, plan.pk_column, one, len(chunk)), params
            )
            ids = [row[0] for row in cursor.fetchall()]
        for obj, new_id in zip(chunk, ids, strict=True):
            obj.pk = new_id
            obj._state.adding = False
            obj._state.db = using


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: str, pk_column: str, one: str, n: int) -> str:
    # Identifiers come from the model's metadata and are quoted; values are parameters.
    # Cached: the same few statement sizes come back batch after batch.
    return (
        f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
        + ", ".join([one] * n)
        + f" RETURNING {pk_column}"
    )


def insert_rows(model: type[Model], objs: Sequence[Model]) -> None:
    """Insert new rows with multi-row ``INSERT … RETURNING`` and set their primary keys.

    For the batch paths only: no signals, no expressions as values, the primary key
    is the auto field. ``auto_now``/``auto_now_add`` and defaults apply as usual.
    SQLite only: on PostgreSQL Django's own ``bulk_create`` (one ``INSERT … SELECT
    FROM UNNEST`` per batch) measured faster (0.29–0.37 against 0.46–0.50 ms of CPU
    per bulk-ingested message), so it is used there, as it is wherever the database
    cannot return the new keys.
    """
    if objs:
        insert_prepared(prepare_insert(model, objs))
