"""Create a personal API token for a user and print its key (shown this once only)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api.services import token_create
from reviews.errors import DomainError


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print the key (it is stored only as a hash)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user “{username}”.")
        try:
            _token, key = token_create(user=user, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(key)
