"""`store import/export` round-trips the JSON shape; `actions replay` needs no database."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from warmline.actions.store import FILES

from .test_store_policy import small_store


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "var"
    return settings.DATA_DIR


def _canonical(directory) -> dict[str, str]:
    """Key order and number types included: ``51`` and ``51.0`` differ here."""
    return {name: json.dumps(json.loads((directory / name).read_text())) for name in FILES.values()}


def test_import_then_export_is_lossless(data_dir, tmp_path):
    source = tmp_path / "src"
    store = small_store()
    store.users["ada"]["payment_methods"]["gift_card_big"]["balance"] = 500  # an int stays an int
    store.dump(source)
    call_command("store", "import", str(source))
    call_command("store", "export", str(tmp_path / "out"))
    assert _canonical(tmp_path / "out") == _canonical(source)
    assert '"balance": 500,' in (tmp_path / "out" / "users.json").read_text()


def test_real_store_round_trips(datasets_dir, data_dir, tmp_path):
    source = datasets_dir / "tau_retail"
    call_command("store", "import", str(source), "--strict")
    call_command("store", "export", str(tmp_path / "out"))
    assert _canonical(tmp_path / "out") == _canonical(source)


def test_export_before_import_fails_clearly(data_dir, tmp_path):
    with pytest.raises(CommandError, match="store import"):
        call_command("store", "export", str(tmp_path / "out"))


def test_strict_import_refuses_dangling_references(data_dir, tmp_path):
    store = small_store()
    store.users["ada"]["orders"].append("#NOPE")
    store.dump(tmp_path / "src")
    with pytest.raises(CommandError, match="dangling"):
        call_command("store", "import", str(tmp_path / "src"), "--strict")
    assert not (data_dir / "store").exists()


def test_replay_command_on_a_small_store(tmp_path):
    small_store().dump(tmp_path / "store")
    tasks = [
        {
            "user_id": "ada",
            "actions": [
                {
                    "name": "cancel_pending_order",
                    "kwargs": {"order_id": "#R1", "reason": "no longer needed"},
                },
                {
                    "name": "cancel_pending_order",
                    "kwargs": {"order_id": "#P2", "reason": "no longer needed"},
                },
            ],
        },
        # A fresh copy: #P2 is pending again for the second task.
        {
            "user_id": "ada",
            "actions": [
                {"name": "get_order_details", "kwargs": {"order_id": "#P2"}},
                {
                    "name": "modify_pending_order_address",
                    "kwargs": {
                        "order_id": "#P2",
                        "address1": "2 Oak",
                        "address2": "",
                        "city": "Reno",
                        "state": "NV",
                        "country": "USA",
                        "zip": "89501",
                    },
                },
            ],
        },
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    out = tmp_path / "out.json"
    call_command(
        "actions",
        "replay",
        "--store",
        str(tmp_path / "store"),
        "--tasks",
        str(tmp_path / "tasks.json"),
        "--out",
        str(out),
        "--with-outputs",
    )
    first, second = json.loads(out.read_text())
    assert first["refused"] == [0]
    assert first["rules"] == {"0": "cancel.pending_only"}
    assert first["changed"]["orders"]["#P2"]["status"] == "cancelled"
    assert first["changed"]["users"]["ada"]["payment_methods"]["gift_card_1"]["balance"] == 0.3
    assert second["refused"] == []
    assert second["changed"]["orders"]["#P2"]["status"] == "pending"
    assert second["changed"]["orders"]["#P2"]["address"]["city"] == "Reno"
    assert second["changed"]["users"] == {}
