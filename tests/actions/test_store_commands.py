"""`store import/export` round-trips the JSON shape; `actions replay` needs no database."""

from __future__ import annotations

import json
from decimal import Decimal

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


def test_import_into_a_workspace_feeds_the_store_connector(data_dir, tmp_path, workspace, member):
    from warmline.actions.catalogue import CATALOGUE
    from warmline.actions.models import AuthorityProfile, StoreProduct
    from warmline.customers.models import Customer, Order

    from ..factories import ConversationFactory
    from .test_connectors import act, refused

    small_store().dump(tmp_path / "store")
    for _ in range(2):  # re-importing updates the same rows
        call_command("store", "import", str(tmp_path / "store"), "--workspace", workspace.slug)
    assert Customer.objects.filter(workspace=workspace).count() == 2
    assert Order.objects.filter(workspace=workspace).count() == 7
    assert StoreProduct.objects.filter(workspace=workspace).count() == 2
    ada = Customer.objects.get(workspace=workspace, identities__value="ada@example.com")
    assert ada.name == "Ada Lovelace" and ada.custom_attributes["store_user_id"] == "ada"
    assert set(ada.custom_attributes["payment_methods"]) >= {"credit_card_1", "gift_card_big"}
    p1 = Order.objects.get(workspace=workspace, external_id="#P1")
    assert p1.customer == ada and p1.total == Decimal("60.51") and p1.status == "pending"
    assert p1.payment_method == "credit_card_1"

    AuthorityProfile.objects.create(
        workspace=workspace, role="agent", limits=dict.fromkeys(CATALOGUE)
    )
    conv = ConversationFactory(customer=ada)
    change = {"order_id": p1.pk, "item_ids": ["shirt_s"]}
    refused(
        member,
        conv,
        "modify_order",
        "not found or available",
        **change,
        new_items=[{"item_id": "shirt_l", "product_id": "p_shirt", "price": "43.00"}],
    )
    refused(
        member,
        conv,
        "modify_order",
        "costs 42.04",
        **change,
        new_items=[{"item_id": "shirt_m", "product_id": "p_shirt", "price": "41.00"}],
    )
    action = act(
        member,
        conv,
        "modify_order",
        **change,
        new_items=[{"item_id": "shirt_m", "product_id": "p_shirt", "price": "42.04"}],
    )
    assert action.status == "executed"
    p1.refresh_from_db()
    assert [i["item_id"] for i in p1.items] == ["shirt_m", "lamp_w"]
    assert p1.status == "pending (item modified)" and p1.total == Decimal("62.54")
    # The other workspace sees none of it.
    from ..factories import WorkspaceFactory

    assert not StoreProduct.objects.filter(workspace=WorkspaceFactory()).exists()


def test_replay_runs_without_a_configured_database(tmp_path):
    """A separate process whose DATABASE_URL cannot work: replay must never open it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    small_store().dump(tmp_path / "store")
    tasks = [
        {
            "user_id": "ada",
            "actions": [{"name": "get_order_details", "kwargs": {"order_id": "#P2"}}],
        }
    ]
    (tmp_path / "tasks.json").write_text(json.dumps(tasks))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "warmline.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        "WARMLINE_DATA_DIR": str(tmp_path / "var"),
    }
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "django", "actions", "replay", "--store", str(tmp_path / "store"),
         "--tasks", str(tmp_path / "tasks.json"), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text()) == [
        {"index": 0, "changed": {"orders": {}, "users": {}, "products": {}}, "refused": []}
    ]


def test_real_store_loads_into_a_workspace(datasets_dir, data_dir, workspace):
    from warmline.actions.models import StoreProduct
    from warmline.customers.models import Customer, Order

    call_command("store", "import", str(datasets_dir / "tau_retail"), "--workspace", "acme")
    assert Customer.objects.filter(workspace=workspace).count() == 500
    assert Order.objects.filter(workspace=workspace).count() == 1000
    assert StoreProduct.objects.filter(workspace=workspace).count() == 50
    order = Order.objects.get(workspace=workspace, external_id="#W2611340")
    assert order.total == Decimal("536.65") and order.payment_method == "gift_card_1725971"
    assert order.customer.custom_attributes["store_user_id"] == "james_li_5688"
