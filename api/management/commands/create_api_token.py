"""Create a personal API token for a user and print its key (shown this once only)."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from api.services import token_create
from reviews.management.base import ReviewflowCommand


class Command(ReviewflowCommand):
    help = "Create an API token for USERNAME and print the key (it is stored only as a hash)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, username: str, name: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user “{username}”.")
        _token, key = token_create(user=user, name=name)
        self.stdout.write(key)
