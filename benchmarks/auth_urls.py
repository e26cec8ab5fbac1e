"""URLs for benchmarks/auth.py: one view per authentication scheme, the token endpoints."""

import redis
from django.conf import settings
from django.db import connection
from django.urls import include, path
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import authentication as simplejwt
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from django_jwt_revoke import authentication as ours


class Me(APIView):
    """The protected view every row serves: who am I."""

    def get(self, request):
        return Response({"id": request.user.pk})


class SelectOneOnly(BaseAuthentication):
    """The floor of any scheme that makes one query per request: ``SELECT 1``, nothing else.

    No token is read or verified (the view allows anyone): what is left is the
    request itself and one database round trip that does nothing.
    """

    def authenticate(self, request):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()


class RedisGetOnly(BaseAuthentication):
    """The floor of any scheme that makes one Redis round trip per request: one ``GET``.

    Over one long-lived redis-py client on the ``redis`` cache's server (the
    client our store keeps is built the same way); no token is read.
    """

    client = None

    def authenticate(self, request):
        cls = RedisGetOnly
        if cls.client is None:
            cls.client = redis.Redis.from_url(settings.CACHES["redis"]["LOCATION"])
        cls.client.get("jwtr-bench-floor")


#: benchmarks/auth.py creates it (one column of text, an automatic primary key).
FLOOR_TABLE = "jwtr_bench_floor"


class ObtainPlusTwoStatements(TokenObtainPairView):
    """The floor of a login with our guarantees: simplejwt's obtain and two statements more.

    A login that kills its own pair when a password change races it must read
    the user's generations before the password is checked (one ``SELECT``), and
    one that can be logged out by session must record the session beside the
    refresh token (one ``INSERT``): here they are as cheap as statements get.
    """

    def post(self, request, *args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        response = super().post(request, *args, **kwargs)
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {FLOOR_TABLE} (note) VALUES (%s)", ["login"])  # noqa: S608
        return response


def view(*classes, allow_any=False):
    attrs = {"authentication_classes": list(classes)}
    if allow_any:
        attrs["permission_classes"] = [AllowAny]
    return type("Me", (Me,), attrs).as_view()


# name -> the authentication scheme of that URL (benchmarks/auth.py uses the names)
urlpatterns = [
    path("none/", view(allow_any=True)),
    path("simplejwt-stateless/", view(simplejwt.JWTStatelessUserAuthentication)),
    path("simplejwt/", view(simplejwt.JWTAuthentication)),
    path("knox/", view(KnoxTokenAuthentication)),
    path("floor-query/", view(SelectOneOnly, allow_any=True)),
    path("floor-redis/", view(RedisGetOnly, allow_any=True)),
    path("ours/", view(ours.JWTAuthentication)),
    path("ours-token-user/", view(ours.JWTTokenUserAuthentication)),
    path("simplejwt/token/", TokenObtainPairView.as_view()),
    path("floor/token/", ObtainPlusTwoStatements.as_view()),
    path("simplejwt/token/refresh/", TokenRefreshView.as_view()),
    path("auth/", include("django_jwt_revoke.urls")),
]
