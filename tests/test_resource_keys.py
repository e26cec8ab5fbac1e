"""The resource server's keys (resource/keys.py) and HTTP (resource/transport.py).

The JWKS client against the fake issuer's ``jwks/``: kid lookups, the rate
limit on refetches that unknown kids cause, rotation, failures; ``verify``'s
header rules; the transport never following a redirect with the credential.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest

from django_jwt_revoke.resource import transport
from django_jwt_revoke.resource.keys import (
    JWKSClient,
    KeysUnavailable,
    VerificationError,
    header,
    verify,
)
from tests.keys import pem_pair
from tests.resource_issuer import FakeIssuer, Key, rsa_pem, unsigned

ALGORITHMS = ("RS256", "ES256", "EdDSA")


@pytest.fixture
def issuer():
    fake = FakeIssuer().start()
    yield fake
    fake.close()


def client(issuer, **kwargs):
    return JWKSClient(issuer.url + "jwks/", algorithms=ALGORITHMS, **kwargs)


def test_keys_are_found_by_kid(issuer):
    keys = client(issuer)
    assert keys.get("key-1").key_id == "key-1"
    assert issuer.jwks_fetches == 1
    for _ in range(10):
        assert keys.get("key-1") is not None
    assert issuer.jwks_fetches == 1 and keys.ok and "key-1" in keys


def test_unknown_kids_refetch_at_most_once_per_min_refresh(issuer):
    keys = client(issuer, min_refresh=0.3)
    assert keys.get("key-1") is not None
    for n in range(100):
        assert keys.get(f"random-{n}") is None
    assert issuer.jwks_fetches == 1  # the first fetch was under min_refresh ago
    time.sleep(0.35)
    for n in range(100):
        assert keys.get(f"random-{n}") is None
    assert issuer.jwks_fetches == 2


def test_concurrent_unknown_kids_fetch_once(issuer):
    keys = client(issuer, min_refresh=60)
    threads = [threading.Thread(target=keys.get, args=(f"k{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert issuer.jwks_fetches == 1


def test_a_rotation_appears_after_a_refetch_and_a_removed_key_disappears(issuer):
    keys = client(issuer, min_refresh=0)
    assert keys.get("key-1") is not None
    issuer.rotate(keep_old=False)
    assert keys.get("key-2") is not None  # unknown: refetched
    assert keys.kids() == {"key-2"}
    assert keys.get("key-1") is None


def test_a_failed_fetch_keeps_the_known_keys_and_cannot_judge_unknown_ones(issuer, caplog):
    keys = client(issuer, min_refresh=0)
    assert keys.get("key-1") is not None
    issuer.down("jwks")
    with pytest.raises(KeysUnavailable):
        keys.get("key-2")
    assert keys.get("key-1") is not None and not keys.ok
    assert sum("could not be fetched" in r.getMessage() for r in caplog.records) == 1
    issuer.up()
    assert keys.get("key-2") is None and keys.ok  # known not to exist: a 401, not a 503


@pytest.mark.parametrize(
    "jwks",
    [
        {"keys": []},
        {"keys": "x"},
        [],
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h", "alg": "HS256"}]},
    ],
)
def test_a_jwk_set_with_nothing_usable_is_an_error(jwks):
    with pytest.raises((ValueError, jwt.PyJWTError)):
        JWKSClient(None, algorithms=ALGORITHMS).parse(jwks)


def test_only_signature_keys_with_a_kid_of_an_accepted_algorithm_are_kept():
    rsa = Key("a", *rsa_pem(0)).jwk()
    ec_private, ec_public = pem_pair("ec")
    ec = Key("e", ec_private, ec_public, alg="ES256").jwk()
    jwks = {
        "keys": [
            rsa,
            {**rsa, "kid": "enc", "use": "enc"},
            {k: v for k, v in rsa.items() if k != "kid"},
            {**rsa, "kid": "rs512", "alg": "RS512"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
            {**rsa, "kid": "hs-on-rsa", "alg": "HS256"},
            ec,
            "junk",
        ]
    }
    assert set(JWKSClient(None, algorithms=ALGORITHMS).parse(jwks)) == {"a", "e"}
    assert set(JWKSClient(None, algorithms=("ES256",)).parse(jwks)) == {"e"}


def test_no_url_is_no_keys():
    keys = JWKSClient(None, algorithms=ALGORITHMS)
    with pytest.raises(KeysUnavailable):
        keys.get("any")


def test_a_clone_has_the_keys_and_a_lock_of_its_own(issuer):
    keys = client(issuer)
    keys.get("key-1")
    other = keys.clone()
    assert other.kids() == {"key-1"} and other.ok and other._lock is not keys._lock


# -- verify ------------------------------------------------------------------------------


def test_verify_pins_the_algorithm_to_the_key_and_checks_the_typ(issuer):
    keys = client(issuer)
    good = issuer.sign({"a": 1}, "secevent+jwt")
    assert verify(good, keys, typ="secevent+jwt")[1] == {"a": 1}
    with pytest.raises(VerificationError):
        verify(good, keys, typ="feed-receipt+jwt")
    with pytest.raises(VerificationError):
        verify(good, keys, refused_types=frozenset({"secevent+jwt"}))
    for forged in (
        unsigned({"alg": "none", "kid": "key-1"}, {"a": 1}),
        unsigned({"alg": "RS256", "kid": "key-1", "x5u": "https://e/x"}, {"a": 1}),
        unsigned({"alg": "RS256", "kid": 7}, {"a": 1}),
        "a.b",
        "",
    ):
        with pytest.raises(VerificationError):
            verify(forged, keys)


def test_headers_are_decoded_once_and_bounded():
    token = unsigned({"alg": "RS256", "kid": "k"}, {})
    assert header(token) == {"alg": "RS256", "kid": "k"}
    assert header(token) is header(token)
    assert header("not-a-jwt") is None
    assert header(unsigned([1], {})) is None


# -- transport ---------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []
    location = ""

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", type(self).location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = b"x" * 100
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    _Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_redirect_is_never_followed_with_the_credential(recorder):
    _Recorder.location = recorder + "/elsewhere"
    answer = transport.request(
        recorder + "/redirect", headers={"Authorization": "Bearer secret"}, timeout=2, limit=10
    )
    assert answer.status == 302
    assert [path for path, _auth in _Recorder.seen] == ["/redirect"]


def test_an_answer_over_the_limit_is_an_error(recorder):
    assert transport.request(recorder + "/x", timeout=2, limit=100).body == b"x" * 100
    with pytest.raises(transport.TransportError):
        transport.request(recorder + "/x", timeout=2, limit=99)


def test_no_connection_and_other_schemes_are_transport_errors():
    with pytest.raises(transport.TransportError):
        transport.request("http://127.0.0.1:9/", timeout=1, limit=10)
    with pytest.raises(transport.TransportError):
        transport.request("file:///etc/passwd", timeout=1, limit=10)


def test_urls_in_logs_lose_their_user_information():
    assert transport.display_url("https://u:p@auth.example:8443/api/auth/?q=1") == (
        "https://auth.example:8443/api/auth/"
    )
    assert transport.display_url("http://[::1]:80/x/") == "http://[::1]:80/x/"


def test_the_jwks_answer_is_json(issuer):
    answer = transport.request(issuer.url + "jwks/", timeout=2, limit=1 << 20)
    assert answer.status == 200 and json.loads(answer.body)["keys"][0]["kid"] == "key-1"
