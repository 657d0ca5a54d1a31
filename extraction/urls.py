from django.urls import path

app_name = "extraction"

urlpatterns: list = []
