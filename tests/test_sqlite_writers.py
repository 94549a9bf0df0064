"""SQLite writers queue on a lock beside the database file (warmline.db.sqlite3)."""

import threading

import pytest
from django.db import connection

from warmline.db.sqlite3.base import _WriteLock
from warmline.tenancy.models import Workspace

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the lock exists for SQLite's single writer"
)


@pytest.mark.django_db(transaction=True)
def test_an_autocommit_update_waits_for_the_lock_instead_of_polling(workspace):
    """A bare ``QuerySet.update()`` never passes through BEGIN: it must queue too."""
    from django.db import connections

    holder = _WriteLock(str(connection.settings_dict["NAME"]))
    holder.acquire()  # another writer (thread lock and flock) holds the database
    done = threading.Event()

    def touch():
        try:
            Workspace.objects.filter(pk=workspace.pk).update(name="Renamed")
            done.set()
        finally:
            connections.close_all()

    t = threading.Thread(target=touch)
    t.start()
    try:
        assert not done.wait(0.3), "the write ran while another writer held the lock"
    finally:
        holder.release()
        holder.close()
    t.join(10)
    assert done.is_set()
    assert Workspace.objects.get(pk=workspace.pk).name == "Renamed"


@pytest.mark.django_db(transaction=True)
def test_reads_and_writes_inside_a_transaction_do_not_take_it_twice(workspace):
    from django.db import transaction

    with transaction.atomic():
        Workspace.objects.filter(pk=workspace.pk).update(name="Inside")
        assert Workspace.objects.get(pk=workspace.pk).name == "Inside"
    Workspace.objects.filter(pk=workspace.pk).update(name="After")  # lock released again
    assert Workspace.objects.get(pk=workspace.pk).name == "After"
