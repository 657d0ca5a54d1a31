from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("", views.review_list, name="list"),
    path("reviews/new/", views.review_create, name="create"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    # One review
    path("reviews/<slug:slug>/", views.dashboard, name="dashboard"),
    path("reviews/<slug:slug>/protocol/", views.review_edit, name="edit"),
    path("reviews/<slug:slug>/activity/", views.activity, name="activity"),
    path("reviews/<slug:slug>/activity.csv", views.activity_csv, name="activity_csv"),
    path("reviews/<slug:slug>/archive/export/", views.review_export, name="archive_export"),
    path("reviews/<slug:slug>/archive/import/", views.review_import, name="archive_import"),
    path("reviews/<slug:slug>/archive/exports/", views.archive_prepare, name="archive_prepare"),
    path(
        "reviews/<slug:slug>/archive/exports/<int:job_id>/",
        views.archive_download,
        name="archive_download",
    ),
    # Team
    path("reviews/<slug:slug>/members/", views.member_list, name="members"),
    path("reviews/<slug:slug>/members/invite/", views.invitation_create, name="invite"),
    path("reviews/<slug:slug>/members/<int:member_id>/", views.member_update, name="member_update"),
    # Exclusion reasons
    path("reviews/<slug:slug>/reasons/", views.exclusion_reason_list, name="exclusion_reasons"),
    path(
        "reviews/<slug:slug>/reasons/new/",
        views.exclusion_reason_create,
        name="exclusion_reason_create",
    ),
    path(
        "reviews/<slug:slug>/reasons/<int:reason_id>/",
        views.exclusion_reason_edit,
        name="exclusion_reason_edit",
    ),
    path(
        "reviews/<slug:slug>/reasons/<int:reason_id>/toggle/",
        views.exclusion_reason_toggle,
        name="exclusion_reason_toggle",
    ),
    # Search log
    path("reviews/<slug:slug>/searches/", views.search_list, name="searches"),
    path("reviews/<slug:slug>/searches/new/", views.search_edit, name="search_create"),
    path("reviews/<slug:slug>/rounds/open/", views.round_open, name="round_open"),
    path(
        "reviews/<slug:slug>/searches/<int:search_id>/schedule/",
        views.search_schedule,
        name="search_schedule",
    ),
    path("reviews/<slug:slug>/searches/<int:search_id>/", views.search_edit, name="search_edit"),
    # Imports
    path("reviews/<slug:slug>/imports/", views.import_list, name="imports"),
    path("reviews/<slug:slug>/imports/upload/", views.import_upload, name="import_upload"),
    path("reviews/<slug:slug>/imports/map/<str:token>/", views.import_map, name="import_map"),
    path("reviews/<slug:slug>/imports/<int:batch_id>/", views.import_detail, name="import_detail"),
    path(
        "reviews/<slug:slug>/imports/<int:batch_id>/confirm/",
        views.import_confirm,
        name="import_confirm",
    ),
    # Background jobs
    path("reviews/<slug:slug>/jobs/<int:job_id>/", views.job_detail, name="job"),
    path("reviews/<slug:slug>/jobs/<int:job_id>/retry/", views.job_retry, name="job_retry"),
    # Records and duplicates
    path("reviews/<slug:slug>/records/", views.record_list, name="records"),
    path("reviews/<slug:slug>/records/<int:record_id>/", views.record_detail, name="record"),
    path("reviews/<slug:slug>/duplicates/", views.duplicate_list, name="duplicates"),
    path("reviews/<slug:slug>/duplicates/rerun/", views.duplicate_rerun, name="duplicates_rerun"),
    path(
        "reviews/<slug:slug>/duplicates/<int:link_id>/",
        views.duplicate_decide,
        name="duplicate_decide",
    ),
]
