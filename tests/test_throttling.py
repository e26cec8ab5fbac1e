"""Rate limits (throttling.py) through the endpoints, as a client sees them."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from django_jwt_revoke.throttling import username_key
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = reverse("django_jwt_revoke:token_obtain")
LOGIN = get_user_model().USERNAME_FIELD
OBTAIN_5 = {"DEFAULT_THROTTLE_RATES": {"jwt_revoke_obtain": "5/min"}}


@pytest.fixture
def client():
    return APIClient()


def attempt(client, username, password="wrong", *, address=None, **extra):
    """POST token/ as ``username`` (the USERNAME_FIELD's value); ``address``: the
    X-Forwarded-For the client chose to send."""
    if address is not None:
        extra["HTTP_X_FORWARDED_FOR"] = address
    return client.post(TOKEN, {LOGIN: username, "password": password}, format="json", **extra)


def rotating_addresses():
    """A new client address on every request, as a client can claim one."""
    n = 0
    while True:
        n += 1
        yield f"203.0.{n // 250}.{n % 250 + 1}"


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert "throttled" in response.json()["detail"]


def test_a_new_x_forwarded_for_on_each_request_does_not_escape_the_login_limit(client):
    """20 wrong passwords for one user, each from a "new" address: throttled after 5."""
    alice, bob = UserFactory(), UserFactory()
    addresses = rotating_addresses()
    with override_settings(REST_FRAMEWORK=OBTAIN_5):
        name = alice.get_username()
        answers = [attempt(client, name, address=next(addresses)) for _ in range(20)]
        assert [r.status_code for r in answers] == [401] * 5 + [429] * 15
        assert {r.json()["code"] for r in answers[:5]} == {"invalid_credentials"}
        for response in answers[5:]:
            assert_throttled(response)
        # the right password is no way out either, while the limit lasts
        assert_throttled(attempt(client, alice.get_username(), PASSWORD, address=next(addresses)))
        # another username is not throttled by it
        assert attempt(client, bob.get_username(), address=next(addresses)).status_code == 401
        response = attempt(client, bob.get_username(), PASSWORD, address=next(addresses))
        assert response.status_code == 200 and set(response.json()) == {"access", "refresh"}


def test_spellings_of_one_username_share_its_count(client):
    alice = UserFactory(name="alice")
    name = alice.get_username()  # alice, or alice@example.com for an email login
    addresses = rotating_addresses()
    # the last: a fullwidth a
    spellings = [name, name.capitalize(), f" {name}", f"{name.upper()} ", f"\uff41{name[1:]}"]
    with override_settings(REST_FRAMEWORK=OBTAIN_5):
        for spelling in spellings:
            response = attempt(client, spelling, address=next(addresses))
            assert response.status_code == 401, spelling
        assert_throttled(attempt(client, alice.get_username(), PASSWORD, address=next(addresses)))


def test_the_username_is_hashed_with_a_key_in_the_cache(client):
    name = UserFactory(name="alice").get_username()
    with override_settings(REST_FRAMEWORK=OBTAIN_5):
        attempt(client, name)
    keys = list(cache._cache)  # LocMemCache: the default cache, where DRF throttles count
    counted = "throttle_jwt_revoke_obtain_username_" + username_key(name)
    assert any(key.endswith(counted) for key in keys)
    assert not any("alice" in key for key in keys)
    assert not any(hashlib.sha256(name.encode()).hexdigest() in key for key in keys)
    # keyed with SECRET_KEY
    with override_settings(SECRET_KEY="another-secret-key-that-is-long-enough-for-hs256-9876"):
        assert username_key(name) not in "".join(keys)


def test_the_username_limit_may_have_a_rate_of_its_own(client):
    alice, bob = UserFactory(), UserFactory()
    rates = {"jwt_revoke_obtain": "100/min", "jwt_revoke_obtain_username": "3/min"}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        assert [attempt(client, alice.get_username()).status_code for _ in range(3)] == [401] * 3
        assert_throttled(attempt(client, alice.get_username()))
        assert attempt(client, bob.get_username(), PASSWORD).status_code == 200


def test_the_username_limit_can_be_turned_off(client):
    alice = UserFactory()
    rates = {"jwt_revoke_obtain": "100/min", "jwt_revoke_obtain_username": None}
    with override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": rates}):
        assert {attempt(client, alice.get_username()).status_code for _ in range(8)} == {401}


def test_without_a_rate_nothing_is_limited(client):
    alice = UserFactory()
    assert {attempt(client, alice.get_username()).status_code for _ in range(8)} == {401}


@pytest.mark.parametrize(("num_proxies", "throttled_after"), [(None, None), (0, 5), (1, None)])
def test_the_address_limit_trusts_x_forwarded_for_as_num_proxies_says(
    client, num_proxies, throttled_after
):
    """Another username each time, so only the per-address limit can stop them.

    None: the header as sent is the address (forged at will). 0: REMOTE_ADDR,
    the header ignored. 1: the last entry, which the one proxy appended; here
    the client talks to Django directly, so the "proxy's" entry is its own.
    """
    users = UserFactory.create_batch(8)
    addresses = rotating_addresses()
    config = {**OBTAIN_5, "NUM_PROXIES": num_proxies}
    with override_settings(REST_FRAMEWORK=config):
        codes = [
            attempt(client, u.get_username(), address=next(addresses)).status_code for u in users
        ]
    expected = [401] * 8 if throttled_after is None else [401] * 5 + [429] * 3
    assert codes == expected


def test_behind_one_proxy_the_address_it_appended_is_limited(client):
    users = UserFactory.create_batch(7)
    addresses = rotating_addresses()
    config = {**OBTAIN_5, "NUM_PROXIES": 1}
    with override_settings(REST_FRAMEWORK=config):
        answers = [
            # the client's own (forged) entries first, the proxy's last
            attempt(client, u.get_username(), address=f"{next(addresses)}, 198.51.100.7")
            for u in users
        ]
    assert [r.status_code for r in answers] == [401] * 5 + [429] * 2


def test_a_body_without_a_username_is_left_to_the_serializer(client):
    with override_settings(REST_FRAMEWORK=OBTAIN_5):
        responses = [
            client.post(TOKEN, {"password": "x"}, format="json", HTTP_X_FORWARDED_FOR=str(n))
            for n in range(7)
        ]
    assert {r.status_code for r in responses} == {400}
    assert responses[-1].json() == {LOGIN: ["This field is required."]}


def test_a_body_that_does_not_parse_is_answered_as_without_limits(client):
    def post():
        return client.post(TOKEN, "{not json", content_type="application/json")

    unlimited = post()
    with override_settings(REST_FRAMEWORK=OBTAIN_5):
        limited = post()
    assert unlimited.status_code == limited.status_code == 400
    assert limited.json() == unlimited.json()
