"""Replaying the tau-bench retail tasks reaches exactly the reference's results."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from warmline.actions.replay import compare, load_tasks, reference_refused, replay
from warmline.actions.store import StoreData

pytestmark = pytest.mark.datasets

SPLITS = ("train", "dev")


@functools.cache
def _load(directory: Path) -> tuple[StoreData, dict]:
    return StoreData.load(directory), json.loads(
        (directory / "expected_train_dev.json").read_text()
    )


@pytest.fixture
def retail(datasets_dir) -> Path:
    directory = datasets_dir / "tau_retail"
    if not (directory / "expected_train_dev.json").is_file():
        pytest.skip("tau_retail is absent")
    return directory


@pytest.fixture
def expected(retail):
    return _load(retail)[1]


@pytest.fixture
def store(retail):
    """Loaded once; replays never write to it (a test below proves it)."""
    return _load(retail)[0]


@pytest.mark.parametrize("split", SPLITS)
def test_all_tasks_reach_the_reference_state_and_refusals(retail, expected, store, split):
    tasks = load_tasks(retail / f"tasks_{split}.json")
    replays = replay(store, tasks)
    assert len(replays) == len(expected[split]) == len(tasks)
    entries = {entry["index"]: entry for entry in expected[split]}
    for rep in replays:
        entry = entries[rep.index]
        assert rep.changed == {
            kind: entry["changed"][kind] for kind in ("orders", "users", "products")
        }, rep.index
        assert rep.refused == reference_refused(entry), rep.index
    # Every action's answer is the reference's, byte for byte (record JSON and error text).
    assert [str(m) for m in compare(replays, expected[split], outputs=True)] == []


def test_the_reference_refuses_some_actions_and_they_are_matched(retail, expected, store):
    """Guards against a vacuous pass: the reference has refusals and changes to match."""
    tasks = load_tasks(retail / "tasks_train.json")
    replays = replay(store, tasks)
    refused = [r.index for r in replays if r.refused]
    assert len(refused) == 19
    assert sum(len(r.changed["users"]) for r in replays) > 50
    assert {r.index for r in replays if r.refused} == {
        e["index"] for e in expected["train"] if reference_refused(e)
    }


def test_replay_leaves_the_loaded_store_untouched(retail, store):
    before = store.to_json("orders") + store.to_json("users")
    replay(store, load_tasks(retail / "tasks_dev.json"))
    assert store.to_json("orders") + store.to_json("users") == before


def test_replay_command_writes_one_entry_per_task(retail, expected, tmp_path):
    out = tmp_path / "replay.json"
    call_command(
        "actions",
        "replay",
        "--store",
        str(retail),
        "--tasks",
        str(retail / "tasks_dev.json"),
        "--out",
        str(out),
    )
    written = json.loads(out.read_text())
    assert [entry["index"] for entry in written] == list(range(20))
    assert set(written[0]) == {"index", "changed", "refused"}
    for entry, reference in zip(written, expected["dev"], strict=True):
        assert entry["changed"] == reference["changed"]
        assert entry["refused"] == reference_refused(reference)
