"""The embedded queue's writers queue on a lock beside the file (warmline.queue)."""

import threading

from warmline.queue import SqliteHuey


def test_enqueues_from_many_threads_all_land(tmp_path):
    q = SqliteHuey("t", filename=str(tmp_path / "q.sqlite3"))

    def add(n):
        for i in range(25):
            q.storage.enqueue(f"{n}-{i}".encode())

    threads = [threading.Thread(target=add, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert q.storage.queue_size() == 150
    assert (tmp_path / "q.sqlite3.writelock").exists()
    seen = {bytes(q.storage.dequeue()) for _ in range(150)}
    assert len(seen) == 150 and q.storage.queue_size() == 0
