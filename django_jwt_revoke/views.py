"""HTTP endpoints. Views stay thin: each calls one function of revocation.py."""

from __future__ import annotations

from typing import Any

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_post_parameters
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .serializers import TokenObtainSerializer
from .tokens import issue_token_pair

_sensitive = method_decorator(sensitive_post_parameters("password", "refresh", "token"), "dispatch")


@_sensitive
class TokenObtainView(APIView):
    """POST username and password; answers a new session's token pair."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_scope = "jwt_revoke_obtain"

    def get_authenticate_header(self, request: Request) -> str:
        # Bad credentials are a 401 (RFC 7235 wants a challenge with it), not a 403.
        return 'Bearer realm="api"'

    def post(self, request: Request) -> Response:
        serializer = TokenObtainSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if user is None:
            raise AuthenticationFailed(
                {
                    "detail": _("No active account found with the given credentials."),
                    "code": "invalid_credentials",
                }
            )
        pair = issue_token_pair(user, request=request._request)
        return Response({"access": pair.access, "refresh": pair.refresh}, status=status.HTTP_200_OK)
