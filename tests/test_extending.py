"""Extending the login (docs/extending.md): TOKEN_OBTAIN_SERIALIZER, EXTRA_CLAIMS,
USER_AUTHENTICATION_RULE and UPDATE_LAST_LOGIN, their checks, and what they
must not break: P2 (a pair issued with the generations read before the
password check), cookie transport (no token in a body), the refresh token's
rotation (a hook failing at refresh must not burn the token).
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from datetime import datetime, timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from django_jwt_revoke import checks
from django_jwt_revoke import serializers as ours
from django_jwt_revoke.claims import reserved_claims
from django_jwt_revoke.conf import jwt_revoke_settings
from django_jwt_revoke.models import BlacklistedToken, EventStream, TokenSession, UserRevocation
from django_jwt_revoke.serializers import TokenObtainSerializer, default_user_authentication_rule
from django_jwt_revoke.signals import user_tokens_revoked
from django_jwt_revoke.tokens import issue_token_pair
from django_jwt_revoke.views import TokenObtainView
from tests import test_debug
from tests.factories import PASSWORD, UserFactory, credentials
from tests.test_debug import assert_hidden, boom

pytestmark = pytest.mark.django_db

#: The fixture making a request fail with a 500, and the error reports of it.
server_error = test_debug.server_error

TOKEN = reverse("django_jwt_revoke:token_obtain")
REFRESH = reverse("django_jwt_revoke:token_refresh")
HERE = __name__


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def configure(settings, **jwt_revoke):
    settings.JWT_REVOKE = {**settings.JWT_REVOKE, **jwt_revoke}


def login(client, user, **extra):
    return client.post(TOKEN, {**credentials(user), **extra}, format="json")


def me(client, access, path="/api/me/"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {access}")


@contextmanager
def signals_sent(signal):
    """What ``signal`` sends inside the block: one dict of arguments per send."""
    calls = []

    def receiver(**kwargs):
        calls.append(kwargs)

    signal.connect(receiver, dispatch_uid=f"{HERE}.signals_sent")
    try:
        yield calls
    finally:
        signal.disconnect(dispatch_uid=f"{HERE}.signals_sent")


# -- hooks the settings below name --------------------------------------------------


class WithUser(TokenObtainSerializer):
    """The simplejwt way to add the user's data to the login answer."""

    def validate(self, attrs):
        data = super().validate(attrs)
        data["user"] = {"id": str(self.user.pk), "name": self.user.get_username()}
        data["sid"] = self.token_pair.sid
        return data


class WithDevice(WithUser):
    """Another request field, and a refusal of its own (a second factor, say)."""

    device = serializers.CharField(required=False)

    def validate(self, attrs):
        if attrs.get("device") == "blocked":
            self.refuse()
        return super().validate(attrs)


class ForgetsSuper(TokenObtainSerializer):
    def validate(self, attrs):
        return {"access": "made up"}


def extra_claims(user):
    return {"name": user.get_username(), "roles": ["reader"], "n": 1}


#: What ``garbage_claims`` returns; set by each test.
GARBAGE: list = [None]


def garbage_claims(user):
    return GARBAGE[0]


def failing_claims(user):
    raise RuntimeError("the hook broke")


def huge_claims(user):
    return {"blob": "x" * 5000}


#: The users ``refuse_listed`` refuses, by pk.
REFUSED: set = set()


def refuse_listed(user):
    return user.pk not in REFUSED  # would fail on None: it is never given None


def allow_everyone(user):
    return True


NOT_CALLABLE = 42


@pytest.fixture(autouse=True)
def _reset():
    REFUSED.clear()
    GARBAGE[:] = [None]
    yield
    REFUSED.clear()


# -- TOKEN_OBTAIN_SERIALIZER ----------------------------------------------------------


def test_the_default_answer_is_the_pair_alone(api_client, user):
    answer = login(api_client, user)
    assert answer.status_code == 200
    assert set(answer.json()) == {"access", "refresh"}
    assert answer["Cache-Control"] == "no-store"


def test_a_subclass_adds_to_the_answer(settings, api_client, user):
    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithUser")
    answer = login(api_client, user)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert set(body) == {"access", "refresh", "user", "sid"}
    assert body["user"] == {"id": str(user.pk), "name": user.get_username()}  # JSON: a UUID too
    assert body["sid"] == claims(body["access"])["sid"] == claims(body["refresh"])["sid"]
    assert me(api_client, body["access"]).status_code == 200
    assert api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json").status_code == 200


def test_the_class_itself_works_too(settings, api_client, user):
    configure(settings, TOKEN_OBTAIN_SERIALIZER=WithUser)
    assert "user" in login(api_client, user).json()


def test_with_cookie_transport_no_token_is_in_the_body(settings, user):
    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithUser", AUTH_COOKIE="access_token")
    client = Client()
    answer = client.post(TOKEN, credentials(user), content_type="application/json")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"user", "sid", "access_expires_at", "refresh_expires_at"}
    access = answer.cookies["access_token"].value
    refresh = answer.cookies["refresh_token"].value
    for token in (access, refresh):
        assert token.encode() not in answer.content
    assert claims(access)["sid"] == body["sid"]
    assert me(client, access).status_code == 200


def test_a_subclass_refusal_is_the_one_401_and_opens_no_session(settings, api_client, user):
    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithDevice")
    sessions = TokenSession.objects.count()
    refused = login(api_client, user, device="blocked")
    wrong = api_client.post(TOKEN, credentials(user, password="wrong"), format="json")
    assert refused.status_code == wrong.status_code == 401
    assert refused.json() == wrong.json()
    assert refused.json()["code"] == "invalid_credentials"
    assert TokenSession.objects.count() == sessions
    assert login(api_client, user, device="phone").status_code == 200


def test_the_schema_describes_the_configured_serializer(settings):
    from tests.test_openapi import generate_schema

    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithDevice")
    schema = generate_schema()
    body = schema["components"]["schemas"]["TokenObtain"]
    assert "device" in body["properties"]
    assert "password" in body["properties"]


def test_a_validate_that_skips_super_fails_loudly(settings, api_client, user):
    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.ForgetsSuper")
    with pytest.raises(ImproperlyConfigured, match=r"super\(\)\.validate"):
        login(api_client, user)


def test_a_view_subclass_or_argument_picks_its_own_serializer(user):
    class View(TokenObtainView):
        serializer_class = WithUser

    for view in (View.as_view(), TokenObtainView.as_view(serializer_class=WithUser)):
        request = RequestFactory().post(TOKEN, credentials(user), content_type="application/json")
        answer = view(request)
        assert answer.status_code == 200
        assert "user" in answer.data


def test_a_subclass_keeps_p2(settings, monkeypatch, user):
    """A password change committing during the check kills the pair, subclass or not."""
    configure(settings, TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithUser")
    real = ours.authenticate

    def authenticating(request=None, **given):
        found = real(request, **given)
        changed = get_user_model().objects.get(pk=user.pk)
        changed.set_password("a brand new password")
        changed.save()
        return found

    monkeypatch.setattr(ours, "authenticate", authenticating)
    client = Client()
    answer = client.post(TOKEN, credentials(user), content_type="application/json")
    monkeypatch.undo()
    assert answer.status_code == 200
    refused = me(client, answer.json()["access"])
    assert (refused.status_code, refused.json()["code"]) == (401, "token_revoked")
    refresh = client.post(
        REFRESH, {"refresh": answer.json()["refresh"]}, content_type="application/json"
    )
    assert refresh.status_code == 401


# -- EXTRA_CLAIMS ---------------------------------------------------------------------


def test_no_hook_adds_nothing(api_client, user):
    body = login(api_client, user).json()
    assert set(claims(body["access"])) == {
        "token_type",
        "exp",
        "iat",
        "jti",
        "sid",
        jwt_revoke_settings.USER_ID_CLAIM,
        "gen",
        "epoch",
    }


def test_access_tokens_carry_the_claims_at_login_and_at_refresh(settings, api_client, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.extra_claims")
    body = login(api_client, user).json()
    access = claims(body["access"])
    assert (access["name"], access["roles"], access["n"]) == (user.get_username(), ["reader"], 1)
    assert "name" not in claims(body["refresh"])  # refresh tokens: only what the app needs
    # The claims follow the user's data: read again at every refresh.
    User = get_user_model()
    User.objects.filter(pk=user.pk).update(**{User.USERNAME_FIELD: "renamed@example.com"})
    rotated = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json").json()
    assert claims(rotated["access"])["name"] == "renamed@example.com"
    assert "name" not in claims(rotated["refresh"])


def test_without_rotation_the_new_access_token_carries_them(settings, api_client, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.extra_claims", ROTATE_REFRESH_TOKENS=False)
    body = login(api_client, user).json()
    again = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json").json()
    assert claims(again["access"])["roles"] == ["reader"]


def test_tokens_with_extra_claims_are_accepted_everywhere(settings, api_client):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.extra_claims")
    staff = UserFactory(staff=True)
    body = login(api_client, staff).json()
    for path in ("/api/me/", "/api/token-user-me/"):
        assert me(api_client, body["access"], path).status_code == 200
    introspected = api_client.post(
        reverse("django_jwt_revoke:token_introspect"),
        {"token": body["access"]},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {body['access']}",
    ).json()
    assert introspected["active"] is True
    assert introspected["roles"] == ["reader"]
    verify = reverse("django_jwt_revoke:token_verify")
    assert api_client.post(verify, {"token": body["access"]}, format="json").status_code == 200


def test_the_admin_path_mints_them_too(settings, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.extra_claims")
    assert claims(issue_token_pair(user).access)["n"] == 1


@pytest.mark.parametrize(
    "name", sorted({"token_type", "exp", "iat", "nbf", "jti", "sid", "gen", "epoch", "iss", "aud"})
)
def test_a_reserved_claim_cannot_be_overwritten(settings, api_client, user, name):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.garbage_claims")
    GARBAGE[0] = {"fine": 1, name: "mine"}
    sessions = TokenSession.objects.count()
    with pytest.raises(ImproperlyConfigured, match=rf"claims the app sets: {name}\."):
        login(api_client, user)
    assert TokenSession.objects.count() == sessions  # the login's writes rolled back


def test_the_user_id_claim_is_reserved_under_its_configured_name(settings, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.garbage_claims", USER_ID_CLAIM="uid")
    assert "uid" in reserved_claims() and "user_id" not in reserved_claims()
    GARBAGE[0] = {"uid": 7, "exp": 0}
    with pytest.raises(ImproperlyConfigured, match="exp, uid"):
        issue_token_pair(user)
    GARBAGE[0] = {"user_id": 7}  # no longer ours: a claim like any other
    assert claims(issue_token_pair(user).access)["user_id"] == 7


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "must return a dict, not NoneType"),
        ([("a", 1)], "must return a dict, not list"),
        ("claims", "must return a dict, not str"),
        ({1: "a"}, r"claim names that are not strings: \[1\]"),
        ({("a",): 1}, "claim names that are not strings"),
        ({"when": datetime(2025, 1, 1)}, "not JSON: Object of type datetime"),
        ({"tags": {"a"}}, "not JSON: Object of type set"),
        ({"ratio": math.nan}, "not JSON"),
        ({"big": math.inf}, "not JSON"),
    ],
)
def test_garbage_from_the_hook_fails_clearly(settings, user, returned, message):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.garbage_claims")
    GARBAGE[0] = returned
    with pytest.raises(ImproperlyConfigured, match=message):
        issue_token_pair(user)


def test_the_error_names_claims_never_values(settings, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.garbage_claims")
    GARBAGE[0] = {"jti": "a secret value", "when": datetime(2031, 2, 3)}
    with pytest.raises(ImproperlyConfigured) as raised:
        issue_token_pair(user)
    assert "a secret value" not in str(raised.value)


def test_claims_too_big_for_our_own_limit_are_refused_at_minting(settings, user):
    configure(settings, EXTRA_CLAIMS=f"{HERE}.huge_claims")
    with pytest.raises(ImproperlyConfigured, match="MAX_TOKEN_BYTES"):
        issue_token_pair(user)
    configure(settings, EXTRA_CLAIMS=f"{HERE}.huge_claims", MAX_TOKEN_BYTES=16384)
    assert len(claims(issue_token_pair(user).access)["blob"]) == 5000


@pytest.mark.parametrize("rotate", [True, False])
def test_a_hook_failing_at_refresh_does_not_burn_the_refresh_token(settings, user, rotate):
    configure(settings, ROTATE_REFRESH_TOKENS=rotate)
    pair = issue_token_pair(user)
    client = Client(raise_request_exception=True)
    configure(settings, EXTRA_CLAIMS=f"{HERE}.failing_claims", ROTATE_REFRESH_TOKENS=rotate)
    with pytest.raises(RuntimeError, match="the hook broke"):
        client.post(REFRESH, {"refresh": pair.refresh}, content_type="application/json")
    configure(settings, EXTRA_CLAIMS=f"{HERE}.extra_claims", ROTATE_REFRESH_TOKENS=rotate)
    again = client.post(REFRESH, {"refresh": pair.refresh}, content_type="application/json")
    assert again.status_code == 200, again.json()
    assert claims(again.json()["access"])["n"] == 1
    assert not TokenSession.objects.get(sid=pair.sid).revoked_at  # no reuse was detected


# -- USER_AUTHENTICATION_RULE -----------------------------------------------------------


def test_the_default_rule():
    class NoFlag:
        pass

    assert default_user_authentication_rule(None) is False
    assert default_user_authentication_rule(UserFactory.build(is_active=False)) is False
    assert default_user_authentication_rule(UserFactory.build()) is True
    assert default_user_authentication_rule(NoFlag()) is True


def test_a_rule_refuses_a_login_as_bad_credentials_are(settings, api_client, user, other_user):
    configure(settings, USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed")
    REFUSED.add(user.pk)
    sessions = TokenSession.objects.count()
    refused = login(api_client, user)
    wrong = api_client.post(TOKEN, credentials(other_user, password="wrong"), format="json")
    assert refused.status_code == wrong.status_code == 401  # the rule never sees None
    assert refused.json() == wrong.json()
    assert TokenSession.objects.count() == sessions
    assert login(api_client, other_user).status_code == 200


def test_a_rule_refuses_the_refresh_without_burning_or_revoking(settings, api_client, user):
    configure(settings, USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed")
    body = login(api_client, user).json()
    REFUSED.add(user.pk)
    refused = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (401, "user_inactive")
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    REFUSED.clear()  # allowed again: the same refresh token still works
    again = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json")
    assert again.status_code == 200, again.json()


def test_a_refused_refresh_cookie_is_dropped(settings, user):
    configure(settings, USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed", AUTH_COOKIE="access")
    client = Client()
    assert client.post(TOKEN, credentials(user), content_type="application/json").status_code == 200
    REFUSED.add(user.pk)
    refused = client.post(REFRESH, HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert refused.status_code == 401
    assert refused.cookies["refresh_token"].value == ""


def test_a_rule_cannot_let_an_inactive_user_in(settings, api_client):
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.AllowAllUsersModelBackend"]
    configure(settings, USER_AUTHENTICATION_RULE=f"{HERE}.allow_everyone")
    inactive = UserFactory(is_active=False)
    assert login(api_client, inactive).status_code == 401
    assert login(api_client, UserFactory()).status_code == 200


def refresh_queries(settings, api_client, user, **jwt_revoke):
    configure(settings, **jwt_revoke)
    pair = issue_token_pair(user)
    EventStream.objects.get_or_create(pk=1)  # as migrate made it (a flush may have removed it)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.post(REFRESH, {"refresh": pair.refresh}, format="json")
    assert response.status_code == 200
    return len(queries)


def test_only_a_rule_of_its_own_costs_the_refresh_a_query(settings, api_client, user):
    default = refresh_queries(settings, api_client, user)
    custom = refresh_queries(
        settings, api_client, user, USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed"
    )
    assert custom == default + 1  # the user's row


# -- UPDATE_LAST_LOGIN ----------------------------------------------------------------


def test_last_login_is_left_alone_by_default(api_client, user):
    assert user.last_login is None
    assert login(api_client, user).status_code == 200
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.django_db(transaction=True)
def test_last_login_is_set_and_nothing_is_revoked(settings, api_client):
    user = UserFactory()
    earlier = issue_token_pair(user)
    configure(settings, UPDATE_LAST_LOGIN=True)
    before = timezone.now()
    with signals_sent(user_tokens_revoked) as sent:
        body = login(api_client, user).json()
        assert api_client.post(TOKEN, credentials(user, "wrong"), format="json").status_code == 401
    user.refresh_from_db()
    assert before <= user.last_login <= timezone.now()
    # A last_login save is no password change: nothing revoked, nothing announced.
    assert sent == []
    assert not UserRevocation.objects.exists()
    assert not BlacklistedToken.objects.exists()
    assert not TokenSession.objects.filter(revoked_at__isnull=False).exists()
    for access in (earlier.access, body["access"]):
        for path in ("/api/me/", "/api/token-user-me/"):
            assert me(api_client, access, path).status_code == 200
    rotated = api_client.post(REFRESH, {"refresh": body["refresh"]}, format="json")
    assert rotated.status_code == 200


def test_a_refused_login_leaves_last_login_alone(settings, api_client, user):
    configure(settings, UPDATE_LAST_LOGIN=True, USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed")
    REFUSED.add(user.pk)
    assert login(api_client, user).status_code == 401
    assert api_client.post(TOKEN, credentials(user, "wrong"), format="json").status_code == 401
    user.refresh_from_db()
    assert user.last_login is None


def test_only_true_turns_it_on(settings, api_client, user):
    configure(settings, UPDATE_LAST_LOGIN="yes")  # check E035 reports it
    assert login(api_client, user).status_code == 200
    user.refresh_from_db()
    assert user.last_login is None


def test_a_password_change_after_last_login_still_revokes(settings, api_client, user):
    """The last_login save must not mask the next save's password change."""
    configure(settings, UPDATE_LAST_LOGIN=True)
    body = login(api_client, user).json()
    fresh = get_user_model().objects.get(pk=user.pk)
    fresh.set_password("another password")
    fresh.save()
    assert me(api_client, body["access"]).status_code == 401


# -- the checks -----------------------------------------------------------------------


def run_checks(**jwt_revoke):
    with override_settings(JWT_REVOKE=jwt_revoke):
        return checks.check_settings()


def hook_messages(**jwt_revoke):
    return [m for m in run_checks(**jwt_revoke) if m.id[-4:] in {"E033", "E034", "E035"}]


def test_the_defaults_and_good_values_pass():
    assert run_checks() == []
    assert (
        run_checks(
            TOKEN_OBTAIN_SERIALIZER=f"{HERE}.WithUser",
            EXTRA_CLAIMS=f"{HERE}.extra_claims",
            USER_AUTHENTICATION_RULE=f"{HERE}.refuse_listed",
            UPDATE_LAST_LOGIN=True,
        )
        == []
    )
    assert run_checks(TOKEN_OBTAIN_SERIALIZER=WithUser, EXTRA_CLAIMS=extra_claims) == []
    assert run_checks(EXTRA_CLAIMS=None, UPDATE_LAST_LOGIN=False) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TOKEN_OBTAIN_SERIALIZER", "myproject.auth.LoginSerializer"),
        ("TOKEN_OBTAIN_SERIALIZER", f"{HERE}.NoSuchSerializer"),
        ("EXTRA_CLAIMS", "extra_claims"),  # not a dotted path
        ("EXTRA_CLAIMS", ""),
        ("USER_AUTHENTICATION_RULE", "tests.no_such_module.rule"),
    ],
)
def test_a_path_that_does_not_import(key, value):
    (message,) = hook_messages(**{key: value})
    assert message.id == "django_jwt_revoke.E033"
    assert f"['{key}'] {value!r} cannot be imported: " in message.msg
    assert re.search(r"imported: (ModuleNotFound|Import)Error: ", message.msg)
    assert "docs/extending.md" in message.hint


def test_a_module_that_fails_to_import(tmp_path, monkeypatch):
    (tmp_path / "broken_hooks.py").write_text("raise ValueError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (message,) = hook_messages(EXTRA_CLAIMS="broken_hooks.extra")
    assert message.id == "django_jwt_revoke.E033"
    assert "ValueError: broken at import" in message.msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TOKEN_OBTAIN_SERIALIZER", "rest_framework.serializers.Serializer"),
        ("TOKEN_OBTAIN_SERIALIZER", f"{HERE}.extra_claims"),  # a function, not a class
        ("TOKEN_OBTAIN_SERIALIZER", None),
        ("TOKEN_OBTAIN_SERIALIZER", WithUser()),  # an instance
        ("EXTRA_CLAIMS", f"{HERE}.NOT_CALLABLE"),
        ("EXTRA_CLAIMS", 42),
        ("EXTRA_CLAIMS", {"role": "admin"}),  # the claims themselves, not a callable
        ("USER_AUTHENTICATION_RULE", None),
        ("USER_AUTHENTICATION_RULE", True),
    ],
)
def test_an_object_of_the_wrong_kind(key, value):
    (message,) = hook_messages(**{key: value})
    assert message.id == "django_jwt_revoke.E034"
    assert f"['{key}']" in message.msg


@pytest.mark.parametrize("value", ["yes", 1, None, "False"])
def test_update_last_login_is_a_bool(value):
    assert hook_messages(UPDATE_LAST_LOGIN=value) == [checks.E035.build(value=value)]


def test_every_hook_setting_is_checked():
    assert {hook.key for hook in checks.HOOKS} == {
        "TOKEN_OBTAIN_SERIALIZER",
        "EXTRA_CLAIMS",
        "USER_AUTHENTICATION_RULE",
    }
    for hook in checks.HOOKS:
        assert hook.accepts(ours.obtain_serializer_class() if "SERIALIZER" in hook.key else len)


def test_a_lifetime_is_still_reported_beside_them():
    found = {m.id[-4:] for m in run_checks(ACCESS_TOKEN_LIFETIME=timedelta(0), EXTRA_CLAIMS=1)}
    assert found == {"E005", "E034"}


# -- error reports ----------------------------------------------------------------------


def test_a_failing_hook_shows_no_password_and_no_token_in_the_report(server_error, settings, user):
    """The hook fails after the refresh token was signed: no report shows it."""
    configure(settings, EXTRA_CLAIMS=boom, TOKEN_OBTAIN_SERIALIZER=WithUser)
    found = server_error("post", TOKEN, data=credentials(user), format="json")
    assert_hidden(found, [PASSWORD], ["mint_access", "boom"])
    for name, report in found.items():
        assert not re.search(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+", report), name
