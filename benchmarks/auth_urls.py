"""URLs for benchmarks/auth.py: one view per authentication scheme, the token endpoints."""

from django.urls import include, path
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
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
    path("ours/", view(ours.JWTAuthentication)),
    path("ours-token-user/", view(ours.JWTTokenUserAuthentication)),
    path("simplejwt/token/", TokenObtainPairView.as_view()),
    path("simplejwt/token/refresh/", TokenRefreshView.as_view()),
    path("auth/", include("django_jwt_revoke.urls")),
]
