"""Views of the example project."""

from django.views.generic import TemplateView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_revoke.authentication import JWTTokenUserAuthentication
from django_jwt_revoke.conf import jwt_revoke_settings


class MeView(APIView):
    """Who the access token belongs to.

    Authentication comes from ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``
    (``JWTAuthentication``), so a revoked token is refused here on the very
    next request. The permission is repeated on the view so the endpoint stays
    protected even if the project-wide default is loosened.
    """

    http_method_names = ("get", "head", "options")
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.pk, "username": user.get_username()})


me = MeView.as_view()


class TokenUserMeView(MeView):
    """The same answer without loading the user row.

    ``JWTTokenUserAuthentication`` builds ``request.user`` from the token's
    claims and checks revocation from the cache when ``EXAMPLE_REDIS_URL`` is
    set (no database query at all once the cache knows the token).
    """

    authentication_classes = (JWTTokenUserAuthentication,)


token_user_me = TokenUserMeView.as_view()


class DemoView(TemplateView):
    """The demo page: log in, "who am I", the user's sessions, sign-outs.

    It lists the signed-in user's live sessions (``sessions/``), signs out one
    of them (``DELETE sessions/<id>/``) or all (``logout-all/``), and logs
    every request's status and ``code``, so that a revoked session's next
    request is seen refused (``401 token_revoked``).

    By default (no cookie transport) the page holds the access and refresh
    tokens in JavaScript variables only, sends ``Authorization: Bearer`` and
    never shows a token. With ``EXAMPLE_COOKIE_AUTH=1`` the tokens stay in
    HttpOnly cookies that the page's JavaScript cannot read; it sends only
    Django's CSRF token (from the ``csrftoken`` cookie) in ``X-CSRFToken`` on
    unsafe requests.
    """

    template_name = "example_project/demo.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["cookie_mode"] = bool(jwt_revoke_settings.AUTH_COOKIE)
        return context


demo = DemoView.as_view()


def token_claims(user) -> dict:
    """``JWT_REVOKE["EXTRA_CLAIMS"]`` once the issuer signs with a key pair.

    A resource server (``EXAMPLE_ROLE=resource``) has no user table: what it
    shows of the user is in the access token.
    """
    return {"username": user.get_username()}
