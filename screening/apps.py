from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "screening"
    verbose_name = "Screening"

    def ready(self) -> None:
        from reviews.dashboard import register_panel
        from reviews.demo import register_demo_step
        from reviews.models import Role
        from reviews.navigation import NavItem, register_nav
        from reviews.overlap import register_decided_provider

        from . import signals, tasks  # noqa: F401  (the blinding audit; job kinds)
        from .activity import register as register_activity_source
        from .archive import register as register_archive_tables
        from .dashboard import screening_panel
        from .demo import demo_screening
        from .selectors import decided_record_ids

        group = "Screening"
        for item in (
            NavItem("Overview", "screening:overview", order=40, group=group),
            NavItem("Screen titles/abstracts", "screening:screen_ta", Role.REVIEWER, 41, group),
            NavItem("Full texts", "screening:fulltexts", Role.REVIEWER, 42, group),
            NavItem("Conflicts", "screening:conflicts", Role.ADJUDICATOR, 43, group),
            NavItem("Agreement", "screening:agreement", order=44, group=group),
            NavItem("PRISMA diagram", "screening:prisma", order=45, group=group),
            NavItem("Exports", "screening:exports", order=46, group=group),
            NavItem("Screening settings", "screening:settings", Role.LEAD, 47, group),
        ):
            register_nav(item)
        register_panel(screening_panel, order=20)
        register_decided_provider(decided_record_ids)
        register_demo_step(demo_screening, order=20)
        register_archive_tables()
        register_activity_source()
