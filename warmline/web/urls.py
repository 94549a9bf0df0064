from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", views.sign_out, name="logout"),
    path("workspaces/", views.pick_workspace, name="pick_workspace"),
    path("workspace/<slug:slug>/", views.switch_workspace, name="switch_workspace"),
    path("inbox/rows/", views.inbox_rows, name="inbox_rows"),
    path("inbox/bulk/", views.inbox_bulk, name="inbox_bulk"),
    path("c/<int:number>/", views.conversation, name="conversation"),
    path("c/<int:number>/timeline/", views.conversation_timeline, name="timeline"),
    path("c/<int:number>/panel/", views.conversation_panel, name="panel"),
    path("c/<int:number>/reply/", views.reply, name="reply"),
    path("c/<int:number>/update/", views.update, name="update_conversation"),
    path("c/<int:number>/merge/", views.merge, name="merge_conversation"),
    path("c/<int:number>/saved-replies/<int:reply_id>/", views.saved_reply, name="saved_reply"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/<int:pk>/", views.customer_detail, name="customer"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/merge/", views.customer_merge, name="customer_merge"),
    path("notifications/", views.notifications, name="notifications"),
    path("preferences/", views.preferences, name="preferences"),
    path("saved-replies/", views.saved_replies, name="saved_replies"),
]
