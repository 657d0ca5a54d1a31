"""URLs of the extraction app, mounted at /reviews/<slug>/extraction/."""

from django.urls import path

from . import views

app_name = "extraction"

urlpatterns = [
    path("", views.study_list, name="studies"),
    path("sync/", views.study_sync, name="sync"),
    path("outcomes/", views.outcome_table, name="outcomes"),
    path("template/", views.template_builder, name="template"),
    path("settings/", views.extraction_settings, name="settings"),
    # One study
    path("studies/<int:study_id>/", views.study_detail, name="study"),
    path("studies/<int:study_id>/rename/", views.study_rename, name="study_rename"),
    path("studies/<int:study_id>/merge/", views.study_merge, name="study_merge"),
    path("reports/<int:report_id>/split/", views.report_split, name="report_split"),
    # Structure
    path("studies/<int:study_id>/arms/add/", views.arm_add, name="arm_add"),
    path("studies/<int:study_id>/outcomes/add/", views.outcome_add, name="outcome_add"),
    path("studies/<int:study_id>/timepoints/add/", views.timepoint_add, name="timepoint_add"),
    path("arms/<int:arm_id>/delete/", views.arm_delete, name="arm_delete"),
    path("outcomes/<int:outcome_id>/delete/", views.outcome_delete, name="outcome_delete"),
    path("timepoints/<int:timepoint_id>/delete/", views.timepoint_delete, name="timepoint_delete"),
    # One person's extraction
    path("studies/<int:study_id>/start/", views.extraction_start, name="start"),
    path("studies/<int:study_id>/extract/", views.extraction_form, name="extract"),
    path("studies/<int:study_id>/extract/data/", views.extraction_data, name="data"),
    path(
        "studies/<int:study_id>/extract/data/<int:outcome_id>/<int:timepoint_id>/",
        views.outcome_data_save,
        name="data_save",
    ),
    path("studies/<int:study_id>/extract/submit/", views.extraction_submit, name="submit"),
    # Consensus (or verification)
    path("studies/<int:study_id>/consensus/", views.consensus, name="consensus"),
]

from .rob.urls import urlpatterns as rob_urlpatterns  # noqa: E402

urlpatterns += rob_urlpatterns
