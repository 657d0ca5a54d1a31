from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the job kinds of this app)
        from .archive.tables import register as register_archive_tables

        register_archive_tables()
