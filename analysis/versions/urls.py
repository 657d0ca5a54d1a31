"""URLs of published versions, mounted with the analysis app at /reviews/<slug>/analysis/."""

from django.urls import path

from . import views

urlpatterns = [
    path("versions/", views.version_list, name="versions"),
    path("versions/publish/", views.version_publish, name="version_publish"),
    path("versions/compare/", views.version_compare, name="version_compare"),
    path("versions/<int:number>/", views.version_detail, name="version_detail"),
]
