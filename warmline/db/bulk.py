"""Fast multi-row UPDATE for the batch paths.

Django's ``bulk_update`` builds a CASE WHEN expression per object and field; for
a thousand conversations that costs seconds of Python. One parametrised UPDATE
sent with ``executemany`` does the same work in milliseconds on SQLite and
PostgreSQL (psycopg pipelines it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connections, router
from django.db.models import Model


def update_rows(model: type[Model], objs: Sequence[Model], field_names: Iterable[str]) -> int:
    if not objs:
        return 0
    meta = model._meta
    fields = [meta.get_field(name) for name in field_names]
    using = router.db_for_write(model)
    connection = connections[using]
    qn = connection.ops.quote_name
    sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
    # Identifiers come from the model's metadata and are quoted; values are parameters.
    sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(meta.pk.column)} = %s"  # noqa: S608
    rows = [
        [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    return len(rows)
