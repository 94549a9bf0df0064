from django.urls import path

from . import views

app_name = "trends"

urlpatterns = [
    path("", views.trend_list, name="list"),
    path("topics/", views.topic_list, name="topics"),
    path("topics/<int:pk>/", views.topic_action, name="topic_action"),
    path("<int:pk>/", views.trend_detail, name="detail"),
    path("<int:pk>/report.md", views.report_md, name="report_md"),
]
