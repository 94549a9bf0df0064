"""``warmline trends replay``: run topic assignment and trend detection over a JSON-lines file.

Runs entirely in memory (no database needed) with the product's default
thresholds, so the same file always gives the same events.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from warmline.proactive.trends import replay

REQUIRED = ("id", "customer", "text", "time")


def parse_line(raw: str, number: int) -> dict:
    """One validated record; errors name the line and the field so the file can be fixed."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"line {number}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise CommandError(f"line {number}: expected a JSON object")
    for name in REQUIRED:
        if name not in record or record[name] is None:
            raise CommandError(f"line {number}: field '{name}' is missing")
    if not isinstance(record["id"], str | int) or isinstance(record["id"], bool):
        raise CommandError(f"line {number}: field 'id' must be a string or an integer")
    if not isinstance(record["text"], str):
        raise CommandError(f"line {number}: field 'text' must be a string")
    if not isinstance(record["customer"], str | int) or isinstance(record["customer"], bool):
        raise CommandError(f"line {number}: field 'customer' must be a string or an integer")
    try:
        when = datetime.fromisoformat(str(record["time"]))
    except ValueError as exc:
        raise CommandError(
            f"line {number}: field 'time' is not ISO-8601: {record['time']!r}"
        ) from exc
    if when.tzinfo is None:
        raise CommandError(f"line {number}: field 'time' needs a UTC offset (e.g. 'Z' or '+00:00')")
    return {
        "id": record["id"],
        "customer": str(record["customer"]),
        "text": record["text"],
        "time": when.timestamp(),
    }


def read_records(path: Path) -> list[dict]:
    records: list[dict] = []
    seen: set = set()
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            record = parse_line(raw, number)
            if records and record["time"] < records[-1]["time"]:
                raise CommandError(
                    f"line {number}: field 'time' goes back in time (input must be in time order)"
                )
            if record["id"] in seen:
                raise CommandError(f"line {number}: field 'id' repeats {record['id']!r}")
            seen.add(record["id"])
            records.append(record)
    return records


class Command(BaseCommand):
    help = "Trend detection tools. replay: JSON lines in, one JSON line per trend event out."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rep = sub.add_parser("replay", help="replay messages and print trend events")
        rep.add_argument("--input", required=True, type=Path, help="JSON lines, in time order")
        rep.add_argument("--output", type=Path, help="write events here instead of stdout")
        rep.add_argument(
            "--lifecycle", action="store_true", help="also emit 'confirmed' lifecycle events"
        )

    def handle(self, *args, **options):
        if options["action"] != "replay":  # pragma: no cover - argparse enforces the choice
            raise CommandError(f"unknown action {options['action']}")
        path: Path = options["input"]
        if not path.is_file():
            raise CommandError(f"input file not found: {path}")
        records = read_records(path)
        out = open(options["output"], "w", encoding="utf-8") if options["output"] else None
        stream = out or self.stdout
        try:
            count = 0
            for event in replay(records, lifecycle=options["lifecycle"]):
                stream.write(json.dumps(event, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if out:
                out.close()
        if out:
            sys.stderr.write(
                f"{len(records)} messages, {count} trend events → {options['output']}\n"
            )
