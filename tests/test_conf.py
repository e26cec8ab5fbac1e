from datetime import timedelta

import pytest
from django.test import override_settings

from django_jwt_revoke.conf import DEFAULTS, jwt_revoke_settings


def test_defaults_documented_in_spec():
    with override_settings(JWT_REVOKE={}):
        s = jwt_revoke_settings
        assert s.ALGORITHM == "HS256"
        assert s.ACCESS_TOKEN_LIFETIME == timedelta(minutes=5)
        assert s.REFRESH_TOKEN_LIFETIME == timedelta(days=1)
        assert s.ROTATE_REFRESH_TOKENS is True
        assert s.REUSE_DETECTION is True
        assert s.ISSUER is None and s.AUDIENCE is None
        assert s.LEEWAY == timedelta(0)
        assert (s.USER_ID_FIELD, s.USER_ID_CLAIM) == ("id", "user_id")
        assert s.AUTH_HEADER_TYPES == ("Bearer",)
        assert s.CACHE_ALIAS is None and s.DATABASE_ALIAS is None
        assert s.VERIFYING_KEYS == {}
        assert s.REVOKE_ON_PASSWORD_CHANGE is True and s.REVOKE_ON_DEACTIVATION is True


def test_signing_key_defaults_to_secret_key():
    with override_settings(SECRET_KEY="x" * 50, JWT_REVOKE={}):
        assert jwt_revoke_settings.SIGNING_KEY == "x" * 50


def test_override_settings_reloads_in_place():
    with override_settings(JWT_REVOKE={"ACCESS_TOKEN_LIFETIME": timedelta(seconds=42)}):
        assert jwt_revoke_settings.ACCESS_TOKEN_LIFETIME == timedelta(seconds=42)
    assert jwt_revoke_settings.ACCESS_TOKEN_LIFETIME == timedelta(minutes=5)


def test_leeway_in_seconds_is_accepted():
    with override_settings(JWT_REVOKE={"LEEWAY": 10}):
        assert jwt_revoke_settings.LEEWAY == timedelta(seconds=10)


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="Invalid JWT_REVOKE setting: 'ALGORITM'"):
        jwt_revoke_settings.ALGORITM


def test_every_default_is_readable():
    for name in DEFAULTS:
        getattr(jwt_revoke_settings, name)
