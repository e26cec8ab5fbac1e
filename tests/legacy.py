"""Tokens shaped as djangorestframework-simplejwt mints them, without simplejwt.

For the main suite (``tests/test_simplejwt_compat.py`` uses simplejwt itself).
"""

import uuid

import jwt
from django.utils import timezone

from django_jwt_revoke.conf import jwt_revoke_settings


def legacy_token(user, token_type="access", *, user_id=None, headers=None, key=None, **claims):
    """A simplejwt 5.5 token for ``user`` signed with our key: no ``sid``, ``gen`` or
    ``epoch``, the user id as a string, header ``{"alg": "HS256", "typ": "JWT"}``."""
    s = jwt_revoke_settings
    lifetime = s.ACCESS_TOKEN_LIFETIME if token_type == "access" else s.REFRESH_TOKEN_LIFETIME
    now = timezone.now()
    payload = {
        "token_type": token_type,
        "exp": int((now + lifetime).timestamp()),
        "iat": int(now.timestamp()),
        "jti": uuid.uuid4().hex,
        s.USER_ID_CLAIM: str(user.pk) if user_id is None else user_id,
        **claims,
    }
    return jwt.encode(payload, key or s.SIGNING_KEY, algorithm="HS256", headers=headers)
