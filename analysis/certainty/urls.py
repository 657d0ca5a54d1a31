"""URLs of GRADE certainty and SoF tables, mounted at /reviews/<slug>/certainty/."""

from django.urls import path

from . import views

app_name = "certainty"

urlpatterns = [
    # Certainty per outcome analysis
    path("", views.certainty_index, name="index"),
    path("profile.<str:fmt>", views.profile_export, name="profile_export"),
    path("<int:analysis_id>/", views.certainty_detail, name="detail"),
    path("<int:analysis_id>/rate/", views.certainty_rate, name="rate"),
    path("<int:analysis_id>/confirm/", views.certainty_confirm, name="confirm"),
    path("<int:analysis_id>/delete/", views.certainty_delete, name="delete"),
    # Summary of Findings tables
    path("sof/", views.sof_list, name="sof_list"),
    path("sof/new/", views.sof_create, name="sof_create"),
    path("sof/<int:table_id>/", views.sof_detail, name="sof_detail"),
    path("sof/<int:table_id>/edit/", views.sof_edit, name="sof_edit"),
    path("sof/<int:table_id>/delete/", views.sof_delete, name="sof_delete"),
    path("sof/<int:table_id>/rows/add/", views.sof_row_add, name="sof_row_add"),
    path("sof/<int:table_id>/rows/<int:sof_row_id>/", views.sof_row_save, name="sof_row_save"),
    path("sof/<int:table_id>/rows/<int:sof_row_id>/move/", views.sof_row_move, name="sof_row_move"),
    path(
        "sof/<int:table_id>/rows/<int:sof_row_id>/remove/",
        views.sof_row_remove,
        name="sof_row_remove",
    ),
    path("sof/<int:table_id>/sof.<str:fmt>", views.sof_export, name="sof_export"),
]
