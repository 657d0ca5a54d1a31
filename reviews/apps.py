from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from . import activity, tasks  # noqa: F401  (this app's activity source; job kinds)
        from .archive.tables import register as register_archive_tables
        from .dashboard import register_panel, scheduled_runs_panel

        register_archive_tables()
        register_panel(scheduled_runs_panel, order=5)
