from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        from reviews.dashboard import register_panel
        from reviews.demo import register_demo_step
        from reviews.models import Role
        from reviews.navigation import NavItem, register_nav
        from screening.prisma import register_previous_version_provider

        from . import tasks  # noqa: F401  (registers the job kinds of this app)
        from .activity import register as register_activity_source
        from .archive import register as register_archive_tables
        from .certainty.activity import register as register_certainty_activity
        from .certainty.archive import register as register_certainty_tables
        from .certainty.demo import demo_certainty
        from .dashboard import analysis_panel
        from .demo import demo_analyses, demo_models
        from .versions.selectors import previous_version_included

        group = "Analysis"
        for item in (
            NavItem("Analyses", "analysis:index", order=80, group=group),
            NavItem("New analysis", "analysis:create", Role.LEAD, 81, group),
            NavItem("Timepoint windows", "analysis:windows", Role.LEAD, 82, group),
            NavItem("Certainty (GRADE)", "certainty:index", order=83, group=group),
            NavItem("Summary of findings", "certainty:sof_list", order=84, group=group),
            NavItem("Versions", "analysis:versions", order=85, group=group),
        ):
            register_nav(item)
        register_panel(analysis_panel, order=40)
        # after extraction (30) and RoB 2 (60): the demo's consensus data exist by then
        register_demo_step(demo_analyses, order=300)
        register_demo_step(demo_models, order=305)  # every comparison, three-level (issue 21)
        register_demo_step(demo_certainty, order=310)  # rates the analyses defined above
        register_archive_tables()
        register_previous_version_provider(previous_version_included)
        register_certainty_tables()
        register_activity_source()
        register_certainty_activity()
