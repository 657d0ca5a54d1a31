from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _tally_triggers(sender, using: str = "default", **kwargs) -> None:
    from .tally import ensure

    ensure(connections[using])


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from . import activity, tasks  # noqa: F401  (this app's activity source; job kinds)
        from .archive.tables import register as register_archive_tables
        from .dashboard import register_panel, scheduled_runs_panel

        register_archive_tables()
        # The record tally's triggers: installed again after any migration that rebuilt
        # the records' table (SQLite drops a table's triggers with it).
        post_migrate.connect(_tally_triggers, sender=self)
        register_panel(scheduled_runs_panel, order=5)
