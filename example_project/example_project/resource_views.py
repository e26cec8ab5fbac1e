"""Views of the example project's resource role (``EXAMPLE_ROLE=resource``).

Apart from the issuer's views (``views.py``): this role does not install
``django_jwt_revoke``, so nothing here may import its models, its
authentication classes or its settings object.
"""

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ResourceMeView(APIView):
    """Who the access token belongs to, as the token says.

    Authentication comes from ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``
    (``ResourceServerAuthentication``): the token's signature is checked with
    the issuer's ``jwks/`` keys and its revocation against the copy of the
    issuer's revocations this process follows from the event feed, without
    a query to any database. ``request.auth`` holds the token's claims.
    """

    http_method_names = ("get", "head", "options")
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request) -> Response:
        claims = request.auth
        username = claims.get("username") if claims is not None else None
        return Response(
            {"id": request.user.pk, "username": username if isinstance(username, str) else ""}
        )


me = ResourceMeView.as_view()
