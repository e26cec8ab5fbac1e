"""URLs of the example project.

- ``/admin/``: the Django admin, with the app's models and revocation actions;
- ``/api/auth/``: the endpoints of ``django_jwt_revoke`` (token, refresh,
  logout, sessions, revoke, introspect, jwks);
- ``/api/me/``: a protected endpoint to try an access token against;
- ``/api/me/token-user/``: the same through ``JWTTokenUserAuthentication``;
- ``/``: a demo page: log in, ask ``/api/me/``, list the user's sessions, sign
  one or all out and see the revoked session's next request refused; Bearer
  tokens held in the page's memory by default, HttpOnly cookies with
  ``EXAMPLE_COOKIE_AUTH=1``.
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
