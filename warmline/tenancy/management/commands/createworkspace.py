from django.core.management.base import BaseCommand, CommandError

from warmline.errors import DomainError
from warmline.tenancy import services


class Command(BaseCommand):
    help = "Create a workspace (one brand or client)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--time-zone", default="UTC")
        parser.add_argument("--languages", default="en", help="Comma-separated, e.g. en,es")

    def handle(self, *args, name, slug, time_zone, languages, **opts):
        import zoneinfo

        from django.utils.text import slugify

        if slugify(slug) != slug:
            raise CommandError(f"--slug '{slug}' must be lower-case letters, digits and dashes.")
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"--time-zone '{time_zone}' is not a known time zone.") from None
        try:
            ws = services.create_workspace(
                name=name,
                slug=slug,
                time_zone=time_zone,
                languages=[x.strip() for x in languages.split(",") if x.strip()],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Created workspace {ws.slug} (id {ws.pk}).")
