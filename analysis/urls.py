"""URLs of the analysis app, mounted at /reviews/<slug>/analysis/."""

from django.urls import path

from . import views

app_name = "analysis"

urlpatterns = [
    path("", views.analysis_index, name="index"),
    path("new/", views.analysis_create, name="create"),
    path("windows/", views.window_list, name="windows"),
    path("windows/<int:window_id>/delete/", views.window_delete, name="window_delete"),
    path("<int:analysis_id>/", views.analysis_detail, name="detail"),
    path("<int:analysis_id>/table/", views.analysis_table, name="table"),
    path("<int:analysis_id>/edit/", views.analysis_edit, name="edit"),
    path("<int:analysis_id>/delete/", views.analysis_delete, name="delete"),
    path("<int:analysis_id>/model/", views.analysis_save_settings, name="save_settings"),
    path("<int:analysis_id>/forest.<str:fmt>", views.forest, name="forest"),
    path("<int:analysis_id>/funnel.<str:fmt>", views.funnel, name="funnel"),
    path("<int:analysis_id>/bubble.<str:fmt>", views.bubble, name="bubble"),
    path("<int:analysis_id>/figures/", views.figure_prepare, name="figure_prepare"),
    path("<int:analysis_id>/data.csv", views.data_csv, name="data_csv"),
    path("<int:analysis_id>/results.csv", views.results, {"fmt": "csv"}, name="results_csv"),
    path("<int:analysis_id>/results.xlsx", views.results, {"fmt": "xlsx"}, name="results_xlsx"),
    path("<int:analysis_id>/script.R", views.r_script, name="r_script"),
]

# Published versions (a package of its own: analysis/versions/).
from .versions.urls import urlpatterns as version_urlpatterns  # noqa: E402

urlpatterns += version_urlpatterns
