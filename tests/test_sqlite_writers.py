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


@pytest.mark.django_db(transaction=True)
def test_writes_are_checkpointed_in_the_background(workspace):
    """Commits leave the WAL to the process's checkpoint thread, which copies it back."""
    import time

    from warmline.db.sqlite3 import checkpoint

    connection.ensure_connection()
    cp = checkpoint.for_path(str(connection.settings_dict["NAME"]))
    (auto,) = connection.cursor().execute("PRAGMA wal_autocheckpoint").fetchone()
    assert auto == checkpoint.SAFETY_NET_PAGES  # no checkpoint inside a commit
    runs = cp.runs
    for i in range(20):
        Workspace.objects.filter(pk=workspace.pk).update(name=f"W{i}")
    deadline = time.monotonic() + 5
    while cp.runs == runs and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cp.runs > runs
    busy, log_pages, done = cp.last
    assert busy == 0 and done == log_pages  # the whole log is back in the database
