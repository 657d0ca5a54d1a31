"""URLs of RoB 2, appended to the extraction app's (mounted at /reviews/<slug>/extraction/).

Every name starts with ``rob_``. Assessments are addressed by their *target*
(study, or study × outcome); an assessor's own assessment is found from the
request's user, so no URL can name somebody else's assessment.
"""

from django.urls import path

from . import views

urlpatterns = [
    path("rob/", views.rob_overview, name="rob_overview"),
    path("rob/settings/", views.rob_settings, name="rob_settings"),
    path("rob/start/", views.rob_start, name="rob_start"),
    # One assessor's own assessment of a target
    path("rob/<int:rob_target_id>/", views.rob_assess, name="rob_assess"),
    path("rob/<int:rob_target_id>/answer/", views.rob_answer, name="rob_answer"),
    path("rob/<int:rob_target_id>/support/", views.rob_support, name="rob_support"),
    path("rob/<int:rob_target_id>/judge/", views.rob_judge, name="rob_judge"),
    path("rob/<int:rob_target_id>/overall/", views.rob_overall, name="rob_overall"),
    path("rob/<int:rob_target_id>/submit/", views.rob_submit, name="rob_submit"),
    # Consensus (and adjudication)
    path("rob/<int:rob_target_id>/consensus/", views.rob_consensus, name="rob_consensus"),
    path(
        "rob/<int:rob_target_id>/consensus/answer/",
        views.rob_consensus_answer,
        name="rob_consensus_answer",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/support/",
        views.rob_consensus_support,
        name="rob_consensus_support",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/judge/",
        views.rob_consensus_judge,
        name="rob_consensus_judge",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/overall/",
        views.rob_consensus_overall,
        name="rob_consensus_overall",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/finalise/",
        views.rob_consensus_finalise,
        name="rob_consensus_finalise",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/refer/",
        views.rob_consensus_refer,
        name="rob_consensus_refer",
    ),
    path(
        "rob/<int:rob_target_id>/consensus/reopen/",
        views.rob_consensus_reopen,
        name="rob_consensus_reopen",
    ),
    # Figures from final consensus judgements
    path("rob/figures/", views.rob_figures, name="rob_figures"),
    path(
        "rob/figures/traffic-light.svg",
        views.rob_figure_download,
        {"plot": "traffic-light", "fmt": "svg"},
        name="rob_traffic_light_svg",
    ),
    path(
        "rob/figures/traffic-light.png",
        views.rob_figure_download,
        {"plot": "traffic-light", "fmt": "png"},
        name="rob_traffic_light_png",
    ),
    path(
        "rob/figures/summary.svg",
        views.rob_figure_download,
        {"plot": "summary", "fmt": "svg"},
        name="rob_summary_svg",
    ),
    path(
        "rob/figures/summary.png",
        views.rob_figure_download,
        {"plot": "summary", "fmt": "png"},
        name="rob_summary_png",
    ),
    path("rob/figures/robvis.csv", views.rob_robvis_csv, name="rob_robvis_csv"),
]
