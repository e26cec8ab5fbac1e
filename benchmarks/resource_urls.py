"""URLs for benchmarks/resource.py: one view per authentication scheme."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import authentication as simplejwt

from django_jwt_revoke import authentication as ours
from django_jwt_revoke.resource import authentication as resource
from django_jwt_revoke.resource.authentication import ResourceServerAuthentication


class FirstSight(ResourceServerAuthentication):
    """Every token as if seen for the first time: its signature checked on each request.

    ``ResourceServerAuthentication`` keeps the tokens it verified (by their
    text) and checks only their time claims when they come back, as a
    client's token does on each request of its lifetime. This row empties
    that store first, for the cost of a token's first request.
    """

    def authenticate(self, request):
        resource._verified().clear()
        return super().authenticate(request)


class Me(APIView):
    """The protected view every row serves: who am I."""

    def get(self, request):
        return Response({"id": request.user.pk})


def view(*classes, allow_any=False):
    attrs = {"authentication_classes": list(classes)}
    if allow_any:
        attrs["permission_classes"] = [AllowAny]
    return type("Me", (Me,), attrs).as_view()


urlpatterns = [
    path("none/", view(allow_any=True)),
    path("simplejwt-stateless/", view(simplejwt.JWTStatelessUserAuthentication)),
    path("ours-token-user/", view(ours.JWTTokenUserAuthentication)),
    path("resource/", view(ResourceServerAuthentication)),
    path("resource-first-sight/", view(FirstSight)),
]
