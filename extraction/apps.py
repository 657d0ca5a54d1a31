from django.apps import AppConfig


class ExtractionConfig(AppConfig):
    name = "extraction"
    verbose_name = "Extraction"

    def ready(self) -> None:
        from reviews.dashboard import register_panel
        from reviews.demo import register_demo_step
        from reviews.models import Role
        from reviews.navigation import NavItem, register_nav

        from . import signals  # noqa: F401  (review setup, studies follow full-text inclusion)
        from .activity import register as register_activity_source
        from .archive import register as register_archive_tables
        from .dashboard import extraction_panel
        from .demo import demo_extraction, demo_extraction_dichotomous

        group = "Extraction"
        for item in (
            NavItem("Studies", "extraction:studies", order=50, group=group),
            NavItem("Outcome table", "extraction:outcomes", order=52, group=group),
            NavItem("Extraction form", "extraction:template", Role.LEAD, 54, group),
            NavItem("Extraction settings", "extraction:settings", Role.LEAD, 56, group),
        ):
            register_nav(item)
        register_panel(extraction_panel, order=30)
        register_demo_step(demo_extraction, order=30)
        register_demo_step(demo_extraction_dichotomous, order=31)
        register_archive_tables()
        register_activity_source()
        from .rob.views import register_rob_nav  # RoB 2: nav items, dashboard panel, demo step

        register_rob_nav()
        try:
            from screening.prisma import register_included_studies_provider
        except ImportError:  # screening without the PRISMA registry: it counts reports itself
            return
        from .selectors import prisma_included_provider

        register_included_studies_provider(prisma_included_provider)
