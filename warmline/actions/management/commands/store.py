"""``warmline store import DIR`` / ``warmline store export DIR``: the store connector's data.

The store is kept in the retail reference's JSON shape under ``<DATA_DIR>/store``:
import validates and keeps a lossless copy, export writes it back unchanged. With
``--workspace SLUG`` import also mirrors it into that workspace's database rows
(customers with payment methods, orders, products; see ``warmline.actions.store_db``),
which is what the store connector acts on.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from warmline.actions.store import StoreData


def store_dir() -> Path:
    return Path(settings.DATA_DIR) / "store"


class Command(BaseCommand):
    help = "Import or export the built-in store (users, orders, products JSON)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        imp = sub.add_parser("import", help="load a store folder (users/orders/products.json)")
        imp.add_argument("directory", type=Path)
        imp.add_argument(
            "--strict", action="store_true", help="refuse a store with dangling references"
        )
        imp.add_argument(
            "--workspace", help="also load it into this workspace's database (its slug)"
        )
        exp = sub.add_parser("export", help="write the imported store back to a folder")
        exp.add_argument("directory", type=Path)
        exp.add_argument(
            "--source", type=Path, help="export this store folder instead of the imported one"
        )

    def handle(self, *args, **options) -> None:
        if options["subcommand"] == "import":
            self._import(
                options["directory"], strict=options["strict"], workspace=options["workspace"]
            )
        else:
            self._export(options["directory"], options["source"])

    def _load(self, directory: Path) -> StoreData:
        try:
            return StoreData.load(directory)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _import(self, directory: Path, *, strict: bool, workspace: str | None = None) -> None:
        data = self._load(directory)
        problems = data.integrity_problems()
        for problem in problems[:20]:
            self.stderr.write(f"warning: {problem}")
        if problems and strict:
            raise CommandError(f"{len(problems)} dangling references; nothing imported")
        data.dump(store_dir())
        self.stdout.write(
            f"imported {len(data.users)} users, {len(data.orders)} orders, "
            f"{len(data.products)} products into {store_dir()}"
        )
        if workspace:
            from warmline.actions.store_db import import_store
            from warmline.tenancy.models import Workspace

            ws = Workspace.objects.filter(slug=workspace).first()
            if ws is None:
                raise CommandError(f"no workspace '{workspace}'")
            counts = import_store(workspace=ws, actor=None, data=data)
            self.stdout.write(
                f"loaded into workspace {ws.slug}: {counts['customers']} customers, "
                f"{counts['orders']} orders, {counts['products']} products"
            )

    def _export(self, directory: Path, source: Path | None) -> None:
        source = source or store_dir()
        if not (source / "orders.json").is_file():
            raise CommandError(f"no store at {source}: run `warmline store import DIR` first")
        data = self._load(source)
        written = data.dump(directory)
        self.stdout.write(f"exported {', '.join(p.name for p in written)} to {directory}")
