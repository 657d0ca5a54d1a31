from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API (/api/v1/) and the exchange formats: the right end of the import chain."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from reviews.navigation import NavItem, register_nav

        from . import (
            activity,
            archive,
            schema,  # noqa: F401  (registers the schema extensions)
            tasks,  # noqa: F401  (registers the job kinds)
        )

        activity.register()
        archive.register()

        register_nav(NavItem("Other tools", "api_pages:exchange", order=90, group="Analysis"))
