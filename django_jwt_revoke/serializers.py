from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    """Username (the user model's USERNAME_FIELD) and password."""

    password = serializers.CharField(write_only=True, trim_whitespace=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.username_field = get_user_model().USERNAME_FIELD
        self.fields[self.username_field] = serializers.CharField(write_only=True)
        if self.username_field != "username":
            # Accept "username" too, as the SPEC's endpoint table names it.
            self.fields[self.username_field].required = False
            self.fields["username"] = serializers.CharField(write_only=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        username = attrs.get(self.username_field) or attrs.get("username")
        if not username:
            raise serializers.ValidationError(
                {self.username_field: [_("This field is required.")]}, code="required"
            )
        request = self.context.get("request")
        credentials = {self.username_field: username, "password": attrs["password"]}
        # authenticate() refuses inactive users with the default backend; an
        # inactive user from a permissive backend is refused just the same.
        user = authenticate(request, **credentials)
        if user is None or not getattr(user, "is_active", True):
            return {"user": None}
        return {"user": user}
