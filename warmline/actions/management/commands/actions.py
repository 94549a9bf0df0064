"""``warmline actions replay``: apply tasks' gold actions to fresh copies of a store.

Runs on the in-memory store engine only, so it needs no configured database.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from warmline.actions.replay import compare, load_tasks, replay
from warmline.actions.store import StoreData


class Command(BaseCommand):
    help = (
        "Empowered actions tooling. `replay` runs each task's actions on a fresh copy of a store."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        rep = sub.add_parser(
            "replay", help="apply each task's actions to a fresh copy of the store"
        )
        rep.add_argument(
            "--store", required=True, type=Path, help="folder with users/orders/products.json"
        )
        rep.add_argument(
            "--tasks", required=True, type=Path, help="JSON list of tasks (tasks_train.json shape)"
        )
        rep.add_argument(
            "--out",
            required=True,
            type=Path,
            help="where to write the per-task results (JSON list)",
        )
        rep.add_argument(
            "--with-outputs",
            action="store_true",
            help="also write each action's output and the rule behind each refusal",
        )
        rep.add_argument(
            "--expected",
            type=Path,
            help="a reference results file (expected_train_dev.json shape) to compare with",
        )
        rep.add_argument("--split", help="key of --expected to compare with (e.g. train, dev)")

    def handle(self, *args, **options) -> None:
        if options["subcommand"] == "replay":
            self._replay(options)

    def _replay(self, options: dict) -> None:
        try:
            store = StoreData.load(options["store"])
            tasks = load_tasks(options["tasks"])
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        started = time.perf_counter()
        replays = replay(store, tasks)
        seconds = time.perf_counter() - started
        out: Path = options["out"]
        out.parent.mkdir(parents=True, exist_ok=True)
        payload = [rep.as_json(with_outputs=options["with_outputs"]) for rep in replays]
        out.write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")
        actions = sum(len(rep.results) for rep in replays)
        refused = sum(len(rep.refused) for rep in replays)
        self.stdout.write(
            f"replayed {len(replays)} tasks ({actions} actions, {refused} refused) "
            f"in {seconds:.3f}s -> {out}"
        )
        if options["expected"]:
            self._compare(replays, options["expected"], options["split"])

    def _compare(self, replays, expected_path: Path, split: str | None) -> None:
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        if isinstance(expected, dict):
            if split not in expected:
                raise CommandError(f"--split must be one of {sorted(expected)}")
            expected = expected[split]
        mismatches = compare(replays, expected)
        bad = {m.index for m in mismatches}
        self.stdout.write(f"matched {len(replays) - len(bad)}/{len(replays)} tasks")
        for mismatch in mismatches[:20]:
            self.stdout.write(f"  {mismatch}")
        if mismatches:
            raise CommandError(f"{len(bad)} tasks differ from {expected_path}")
