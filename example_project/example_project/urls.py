"""URLs of the example project.

- ``/admin/``: the Django admin, with the app's models and revocation actions;
- ``/api/auth/``: the endpoints of ``django_jwt_revoke`` (token, refresh,
  logout, sessions, revoke, introspect, jwks);
- ``/api/me/``: a protected endpoint to try an access token against;
- ``/api/me/token-user/``: the same through ``JWTTokenUserAuthentication``;
- ``/``: a demo page for cookie transport (run with ``EXAMPLE_COOKIE_AUTH=1``):
  log in, ask ``/api/me/``, log out, from a browser.
"""

from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.demo, name="demo"),
    path("admin/", admin.site.urls),
    path("api/auth/", include("django_jwt_revoke.urls")),
    path("api/me/", views.me, name="me"),
    path("api/me/token-user/", views.token_user_me, name="me-token-user"),
]
