"""Views of the example project."""

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


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
