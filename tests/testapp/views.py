from rest_framework.response import Response
from rest_framework.views import APIView

from django_jwt_revoke.authentication import JWTAuthentication, JWTTokenUserAuthentication


class MeView(APIView):
    authentication_classes = [JWTAuthentication]

    def get(self, request):
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.get_username(),
                "jti": request.auth.jti,
            }
        )


class TokenUserMeView(MeView):
    authentication_classes = [JWTTokenUserAuthentication]
