from django.urls import path

from . import views

app_name = "django_jwt_revoke"

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="token_obtain"),
    path("token/refresh/", views.TokenRefreshView.as_view(), name="token_refresh"),
    path("token/verify/", views.TokenVerifyView.as_view(), name="token_verify"),
    path("token/blacklist/", views.TokenBlacklistView.as_view(), name="token_blacklist"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("logout-all/", views.LogoutAllView.as_view(), name="logout_all"),
    path("sessions/", views.SessionListView.as_view(), name="session_list"),
    path("sessions/<str:sid>/", views.SessionDetailView.as_view(), name="session_detail"),
    path("revoke/", views.TokenRevokeView.as_view(), name="token_revoke"),
    path("introspect/", views.TokenIntrospectView.as_view(), name="token_introspect"),
    path("jwks/", views.JWKSView.as_view(), name="jwks"),
    path("events/", views.EventFeedView.as_view(), name="event_feed"),
    path("events/snapshot/", views.EventSnapshotView.as_view(), name="event_snapshot"),
]
