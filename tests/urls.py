from django.contrib import admin
from django.urls import include, path

from tests.testapp.views import MeView, TokenUserMeView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_jwt_revoke.urls")),
    path("api/me/", MeView.as_view()),
    path("api/token-user-me/", TokenUserMeView.as_view()),
]
