"""URLs of the example project.

The issuer (``EXAMPLE_ROLE=issuer``, the default):

- ``/admin/``: the Django admin, with the app's models and revocation actions;
- ``/api/auth/``: the endpoints of ``django_jwt_revoke`` (token, refresh,
  logout, sessions, revoke, introspect, jwks, and the event feed
  ``events/`` / ``events/snapshot/`` for resource servers);
- ``/api/me/``: a protected endpoint to try an access token against;
- ``/api/me/token-user/``: the same through ``JWTTokenUserAuthentication``;
- ``/``: a demo page: log in, ask ``/api/me/``, list the user's sessions, sign
  one or all out and see the revoked session's next request refused; Bearer
  tokens held in the page's memory by default, HttpOnly cookies with
  ``EXAMPLE_COOKIE_AUTH=1``.

A resource server (``EXAMPLE_ROLE=resource``):

- ``/api/me/``: the same answer, through ``ResourceServerAuthentication``:
  the issuer's tokens, its revocations enforced from its event feed.
"""

from django.conf import settings
from django.urls import include, path

if getattr(settings, "EXAMPLE_ROLE", "issuer") == "resource":
    from . import resource_views

    urlpatterns = [
        path("api/me/", resource_views.me, name="me"),
    ]
else:
    from django.contrib import admin

    from . import views

    urlpatterns = [
        path("", views.demo, name="demo"),
        path("admin/", admin.site.urls),
        path("api/auth/", include("django_jwt_revoke.urls")),
        path("api/me/", views.me, name="me"),
        path("api/me/token-user/", views.token_user_me, name="me-token-user"),
    ]
