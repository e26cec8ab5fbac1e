"""The schema and the server agree: schemathesis sends each operation of the
schema (openapi.py) requests built from it, and checks the views' answers.

Every built-in check of schemathesis runs on every answer (its stateful-phase
checks aside: the schema has no links between operations): no 5xx; every status
code, content type, header and body documented; requests the schema accepts
are not refused with 400; requests it refuses are not answered 2xx; a
protected operation refuses a request without credentials and with made-up
ones; an undocumented method is a 405 with ``Allow``. Requests are built in
every generation mode (valid and invalid) and phase (the schema's examples,
its boundaries, random fuzzing), a bounded number of them, from a fixed seed:
the same run every time. They go straight to the WSGI application, in the
test's database transaction; each carries a fresh access token of a staff user
(introspection needs one, and logging out kills the token it is sent with),
but those to the revocation event feed, which carry a feed consumer's
credential, under an asymmetric signing key (the feed's answers are signed).
"""

from __future__ import annotations

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from django_jwt_revoke import revocation
from django_jwt_revoke.tokens import issue_token_pair
from tests.factories import UserFactory
from tests.keys import pem_pair
from tests.test_openapi import AUTH, generate_schema

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 12,
        # Failure reports show the requests as sent: the tokens are the test's own.
        "output": {"sanitization": {"enabled": False}},
        "generation": {
            "mode": "all",
            "max-examples": 50,
            "deterministic": True,
            "database": "none",
            # The Authorization header is the test's (below), never a generated one.
            "with-security-parameters": False,
        },
    }
)

schema = schemathesis.openapi.from_dict(generate_schema(), config=CONFIG)
schema.app = WSGIHandler()

FORMS = {"application/x-www-form-urlencoded", "multipart/form-data"}

FEED = {AUTH + "events/", AUTH + "events/snapshot/"}
FEED_CREDENTIAL = "conformance-feed-consumer-" + "c" * 24
FEED_KEY = pem_pair("rsa")[0]


def feed_settings():
    return override_settings(
        JWT_REVOKE={
            **settings.JWT_REVOKE,
            "ALGORITHM": "RS256",
            "SIGNING_KEY": FEED_KEY,
            "FEED_CONSUMERS": {"conformance": FEED_CREDENTIAL},
            "FEED_LONG_POLL": 0,
        }
    )


@pytest.fixture
def staff_user(db):
    """A staff user, with the requests kept inside the test's transaction.

    Django's test client does the same: a request must not close the
    connection that holds the transaction the test rolls back.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield UserFactory(is_staff=True)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_schema_and_server_agree(case, staff_user):
    if case.media_type in FORMS and not isinstance(case.body, dict):
        # A form carries fields only: a body that is no object cannot be sent as one
        # (schemathesis would send an empty form, or fail to encode it).
        return
    if case.path in FEED:
        with feed_settings():
            revocation.revoke_token(issue_token_pair(staff_user).access)  # an event to answer
            case.call_and_validate(headers={"Authorization": f"Bearer {FEED_CREDENTIAL}"})
        return
    access = issue_token_pair(staff_user).access
    case.call_and_validate(headers={"Authorization": f"Bearer {access}"})


# Answers the generated requests do not reach, checked the same way (the paths
# are the schema's: AUTH + the endpoint). ---------------------------------------

SID = {"sid": "0" * 32}


@pytest.mark.parametrize(
    ("path", "method", "parameters"),
    [
        (AUTH + "logout/", "POST", {}),
        (AUTH + "logout-all/", "POST", {}),
        (AUTH + "sessions/", "GET", {}),
        (AUTH + "sessions/{sid}/", "DELETE", {"path_parameters": SID}),
        (
            AUTH + "introspect/",
            "POST",
            {"body": {"token": "x"}, "media_type": "application/json"},
        ),
    ],
)
@pytest.mark.parametrize("authorization", ["Bearer", "Bearer a b"])
def test_a_malformed_authorization_header(staff_user, path, method, parameters, authorization):
    case = schema[path][method].Case(headers={"Authorization": authorization}, **parameters)
    answer = case.call_and_validate()
    assert answer.status_code == 400
    assert answer.json()["code"] == "authorization_header_invalid"
    assert 'error="invalid_request"' in answer.headers["www-authenticate"][0]


@pytest.mark.parametrize("path", [AUTH + "token/", AUTH + "token/refresh/", AUTH + "logout/"])
def test_a_body_of_an_undocumented_media_type(staff_user, path):
    access = issue_token_pair(staff_user).access
    case = schema[path]["POST"].Case(
        headers={"Authorization": f"Bearer {access}"}, body="refresh", media_type="text/plain"
    )
    assert case.call_and_validate().status_code == 415


def test_introspection_by_a_user_who_is_not_staff(staff_user):
    access = issue_token_pair(UserFactory()).access
    case = schema[AUTH + "introspect/"]["POST"].Case(
        headers={"Authorization": f"Bearer {access}"},
        body={"token": access},
        media_type="application/json",
    )
    answer = case.call_and_validate()
    assert answer.status_code == 401


def test_a_rate_limited_answer(staff_user):
    rest_framework = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"jwt_revoke_refresh": "1/min"},
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        limited = schemathesis.openapi.from_dict(generate_schema(), config=CONFIG)
        limited.app = schema.app
        refresh = issue_token_pair(staff_user).refresh
        answers = [
            limited[AUTH + "token/refresh/"]["POST"]
            .Case(body={"refresh": refresh}, media_type="application/json")
            .call_and_validate()
            .status_code
            for _ in range(2)
        ]
    assert answers == [200, 429]


@pytest.mark.parametrize("path", sorted(FEED))
def test_the_feed_answers_as_documented(staff_user, path):
    with feed_settings():
        revocation.revoke_token(issue_token_pair(staff_user).access)
        bearer = {"Authorization": f"Bearer {FEED_CREDENTIAL}"}
        answers = [
            schema[path]["POST"]
            .Case(headers=bearer, body=body, media_type="application/json")
            .call_and_validate()
            .status_code
            for body in ({"after": 0, "nonce": "n"}, {"after": 5, "nonce": "n"}, {"after": 0})
        ]
        jwt = issue_token_pair(staff_user).access
        refused = schema[path]["POST"].Case(
            headers={"Authorization": f"Bearer {jwt}"},
            body={"after": 0, "nonce": "n"},
            media_type="application/json",
        )
        assert refused.call_and_validate().status_code == 401
    assert answers == ([200, 409, 400] if path.endswith("events/") else [200, 200, 400])
