"""Replay tasks' gold actions against the store and compare with a reference's results.

A task (the shape of tau-bench's ``tasks_train.json``) names its customer and the
actions an agent should take. Each task runs in a fresh session of the same loaded
store, scoped to that customer, so tasks never see each other's changes. The result
per task is what changed (full final records, keyed by id) and which action
positions the store refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .store import ActionResult, StoreData

ERROR_PREFIX = "Error"


def load_tasks(path: str | Path) -> list[dict[str, Any]]:
    """A JSON list of tasks, or JSON lines with one task per line."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError:
        tasks = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(tasks, dict):
        raise ValueError(f"{path}: expected a list of tasks, got an object")
    return tasks


@dataclass
class TaskReplay:
    index: int
    changed: dict[str, dict[str, Any]]
    results: list[ActionResult]

    @property
    def refused(self) -> list[int]:
        return [i for i, result in enumerate(self.results) if result.refused]

    def as_json(self, *, with_outputs: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "changed": self.changed,
            "refused": self.refused,
        }
        if with_outputs:
            out["outputs"] = [result.output for result in self.results]
            out["rules"] = {i: self.results[i].rule for i in self.refused}
        return out


def replay_task(store: StoreData, task: Mapping[str, Any], index: int) -> TaskReplay:
    session = store.session(customer_id=task.get("user_id") or None)
    results = [
        session.apply(action["name"], action.get("kwargs") or {})
        for action in task.get("actions", [])
    ]
    return TaskReplay(index=index, changed=session.changed(), results=results)


def replay(store: StoreData, tasks: Sequence[Mapping[str, Any]]) -> list[TaskReplay]:
    return [replay_task(store, task, index) for index, task in enumerate(tasks)]


def reference_refused(entry: Mapping[str, Any]) -> list[int]:
    """Positions the reference refused: its tool outputs that are error lines."""
    return [
        i
        for i, output in enumerate(entry.get("tool_outputs", []))
        if isinstance(output, str) and output.startswith(ERROR_PREFIX)
    ]


@dataclass
class Mismatch:
    index: int
    what: str

    def __str__(self) -> str:
        return f"task {self.index}: {self.what}"


def compare(
    replays: Iterable[TaskReplay], expected: Sequence[Mapping[str, Any]], *, outputs: bool = False
) -> list[Mismatch]:
    """Differences between a replay and the reference's expected entries, by task index."""
    by_index = {entry["index"]: entry for entry in expected}
    mismatches: list[Mismatch] = []
    for rep in replays:
        entry = by_index.get(rep.index)
        if entry is None:
            mismatches.append(Mismatch(rep.index, "no expected entry"))
            continue
        want_changed = {kind: entry["changed"].get(kind, {}) for kind in rep.changed}
        for kind, records in rep.changed.items():
            want = want_changed[kind]
            for record_id in sorted(set(records) | set(want)):
                if records.get(record_id) != want.get(record_id):
                    mismatches.append(Mismatch(rep.index, f"{kind} {record_id} differs"))
        if rep.refused != reference_refused(entry):
            mismatches.append(
                Mismatch(rep.index, f"refused {rep.refused} != {reference_refused(entry)}")
            )
        if outputs:
            got = [result.output for result in rep.results]
            for position, (mine, theirs) in enumerate(
                zip(got, entry["tool_outputs"], strict=False)
            ):
                if mine != theirs:
                    mismatches.append(Mismatch(rep.index, f"output of action {position} differs"))
    return mismatches
