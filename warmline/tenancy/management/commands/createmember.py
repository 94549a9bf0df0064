from django.core.management.base import BaseCommand, CommandError

from warmline.errors import DomainError
from warmline.tenancy import services
from warmline.tenancy.models import Role


class Command(BaseCommand):
    help = "Add a member to a workspace; --token prints a new API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="Workspace slug")
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", choices=Role.values, default=Role.AGENT)
        parser.add_argument("--password")
        parser.add_argument("--name", default="")
        parser.add_argument("--token", action="store_true", help="Also issue an API token")
        parser.add_argument("--staff", action="store_true", help="Allow the back-office admin")

    def handle(self, *args, workspace, email, role, password, name, token, staff, **opts):
        try:
            ws = services.get_workspace(workspace)
            member = services.create_member(
                workspace=ws, email=email, role=role, password=password, display_name=name
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if staff:
            member.user.is_staff = True
            member.user.save(update_fields=["is_staff"])
        self.stdout.write(f"Added {member.user.email} to {ws.slug} as {member.role}.")
        if token:
            _, secret = services.issue_token(member=member, name="cli")
            self.stdout.write("API token (shown once):")
            self.stdout.write(secret)
