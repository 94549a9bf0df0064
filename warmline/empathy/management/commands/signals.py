"""``warmline signals train|score``: train the shipped models, or score text lines as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from warmline.empathy import analyser, datasets, train


class Command(BaseCommand):
    help = "Train the empathy signal models, or score text lines (one JSON object per line)."
    # Pure text work: no system checks, no migrations check, never a database connection.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        t = sub.add_parser("train", help="fit the models from the shared labelled data")
        t.add_argument("--datasets", type=Path, default=None, help="datasets folder")
        t.add_argument("--out", type=Path, default=analyser.MODELS_DIR, help="model folder")
        s = sub.add_parser("score", help="read text lines, write one JSON object per line")
        s.add_argument("--input", type=Path, default=None, help="file to read (default: stdin)")
        s.add_argument("--no-evidence", action="store_true", help="leave out the evidence")
        s.add_argument(
            "--semantic",
            action="store_true",
            help="use the MiniLM semantic analyser (needs the 'semantic' extra; slower)",
        )

    def handle(self, *args, **opts):
        if opts["action"] == "train":
            root = opts["datasets"] or datasets.default_datasets_dir()
            if not root.is_dir():
                raise CommandError(f"datasets folder not found: {root}")
            train.train(root, opts["out"], log=lambda m: self.stderr.write(m))
            return
        self._score(opts["input"], not opts["no_evidence"], opts["semantic"])

    def _score(self, path: Path | None, evidence: bool, use_semantic: bool = False) -> None:
        a = analyser.get()
        if use_semantic:
            from warmline.empathy import semantic

            if not semantic.available():
                raise CommandError(
                    "the semantic extra is not installed: pip install warmline[semantic]"
                )
            a = semantic.get()
        out = self.stdout
        with open(path, encoding="utf-8") if path else _stdin() as fh:
            for line in fh:
                result = a.analyse(line.rstrip("\r\n"))
                if not evidence:
                    result.pop("evidence")
                out.write(json.dumps(result, ensure_ascii=False))


def _stdin():
    """Stdin as UTF-8 whatever the locale; a context manager that leaves stdin open."""
    import contextlib
    import io

    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return contextlib.nullcontext(stream)
