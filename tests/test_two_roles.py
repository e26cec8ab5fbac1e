"""An issuer and a resource server, two processes of the example project.

The issuer (``EXAMPLE_ROLE=issuer``, an RSA key made for the run, its event
feed open to one credential) and a resource server (``EXAMPLE_ROLE=resource``:
no ``django_jwt_revoke`` app, no access to the issuer's database) each run
``manage.py runserver --noreload`` with a database of its own
(``tests/example_servers.py``). SQLite files by default; with
``JWT_REVOKE_TEST_DB=postgres`` two PostgreSQL databases made for the run,
and the issuer with the Redis cache of ``JWT_REVOKE_TEST_REDIS_URL``.

What a user of the two roles would notice:

* every way of revoking at the issuer (logout, logout-all, password change,
  RFC 7009 ``revoke/``, ``revoke_all_tokens``) is refused by the resource
  server within ``MAX_STALENESS`` of the revoking call's return (measured,
  printed with ``-s``), and what is not revoked is still served;
* the issuer down: the resource server serves until the bound, then answers
  503 with ``Retry-After``; the issuer back, it recovers, and a token revoked
  while the issuer was down (in its database) is refused;
* the resource server lagging (frozen with SIGSTOP) while the events it
  missed are purged: it resyncs from the snapshot and never accepts the
  token revoked meanwhile;
* the README's two-role section, as pasted (``test_readme_two_roles``).

The example project's settings for the roles (errors for what is missing)
are checked in-process first.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.example_servers import ROOT, TwoRoles, free_port, http_client
from tests.keys import pem_pair
from tests.settings import TEST_REDIS_URL

SETTINGS_FILE = ROOT / "example_project" / "example_project" / "settings.py"
README = ROOT / "README.md"

try:  # the resource role's defaults, when the module is there to say them
    from django_jwt_revoke.resource.conf import DEFAULTS as _RESOURCE_DEFAULTS

    MAX_STALENESS = _RESOURCE_DEFAULTS["MAX_STALENESS"].total_seconds()
    POLL_INTERVAL = _RESOURCE_DEFAULTS["POLL_INTERVAL"].total_seconds()
except ImportError:  # pragma: no cover
    MAX_STALENESS, POLL_INTERVAL = 5.0, 1.0

#: Slack for one HTTP round trip and a busy machine, on top of the bounds.
SLACK = 1.0

USERS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


# -- the example project's settings for the two roles ---------------------------------


def _settings(monkeypatch, **env):
    for name in list(os.environ):
        if name.startswith(("EXAMPLE_", "DJANGO_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def test_default_role_is_the_issuer_unchanged(monkeypatch):
    s = _settings(monkeypatch)
    assert s["EXAMPLE_ROLE"] == "issuer"
    assert "django_jwt_revoke" in s["INSTALLED_APPS"]
    assert "django_jwt_revoke.resource" not in s["INSTALLED_APPS"]
    assert s["JWT_REVOKE"]["ALGORITHM"] == "HS256"
    assert "SIGNING_KEY" not in s["JWT_REVOKE"]
    assert "ISSUER" not in s["JWT_REVOKE"]
    assert "FEED_CONSUMERS" not in s["JWT_REVOKE"]
    assert "JWT_REVOKE_RESOURCE" not in s


@pytest.mark.parametrize(
    "kind,algorithm", [("rsa", "RS256"), ("ec", "ES256"), ("ed25519", "EdDSA")]
)
def test_issuer_signs_with_the_key_file(monkeypatch, tmp_path, kind, algorithm):
    private, _public = pem_pair(kind)
    key = tmp_path / "key.pem"
    key.write_text(private)
    credential = "c" * 40
    s = _settings(
        monkeypatch, EXAMPLE_SIGNING_KEY_FILE=str(key), EXAMPLE_FEED_CREDENTIAL=credential
    )
    jwt_revoke = s["JWT_REVOKE"]
    assert (jwt_revoke["ALGORITHM"], jwt_revoke["SIGNING_KEY"]) == (algorithm, private)
    assert jwt_revoke["ISSUER"] == "django-jwt-revoke-example"
    assert jwt_revoke["FEED_CONSUMERS"] == {"example-resource": credential}


def test_resource_role(monkeypatch, tmp_path):
    s = _settings(
        monkeypatch,
        EXAMPLE_ROLE="resource",
        EXAMPLE_ISSUER_URL="http://127.0.0.1:8000/api/auth/",
        EXAMPLE_FEED_CREDENTIAL="c" * 40,
        EXAMPLE_REDIS_URL="redis://127.0.0.1:6379/5",  # not for this role
    )
    assert "django_jwt_revoke" not in s["INSTALLED_APPS"]
    assert "django_jwt_revoke.resource" in s["INSTALLED_APPS"]
    assert "JWT_REVOKE" not in s
    assert s["JWT_REVOKE_RESOURCE"] == {
        "ISSUER_URL": "http://127.0.0.1:8000/api/auth/",
        "FEED_CREDENTIAL": "c" * 40,
        "ISSUER": "django-jwt-revoke-example",
    }
    assert s["REST_FRAMEWORK"]["DEFAULT_AUTHENTICATION_CLASSES"] == [
        "django_jwt_revoke.resource.authentication.ResourceServerAuthentication"
    ]
    assert set(s["CACHES"]) == {"default"}
    # Its own SQLite file, never the issuer's default one.
    assert Path(s["DATABASES"]["default"]["NAME"]).name == "resource.sqlite3"


@pytest.mark.parametrize(
    "env,message",
    [
        ({"EXAMPLE_ROLE": "worker"}, "EXAMPLE_ROLE must be 'issuer' or 'resource', not 'worker'"),
        (
            {"EXAMPLE_ROLE": "resource", "EXAMPLE_FEED_CREDENTIAL": "c" * 40},
            "EXAMPLE_ROLE=resource needs EXAMPLE_ISSUER_URL",
        ),
        (
            {"EXAMPLE_ROLE": "resource", "EXAMPLE_ISSUER_URL": "http://127.0.0.1:8000/api/auth/"},
            "EXAMPLE_ROLE=resource needs EXAMPLE_FEED_CREDENTIAL",
        ),
        ({"EXAMPLE_SIGNING_KEY_FILE": "{tmp}/missing.pem"}, "cannot be read: No such file"),
        ({"EXAMPLE_SIGNING_KEY_FILE": "{tmp}"}, "cannot be read"),  # a directory
        ({"EXAMPLE_SIGNING_KEY_FILE": "{tmp}/public.pem"}, "does not hold an unencrypted PEM"),
        ({"EXAMPLE_SIGNING_KEY_FILE": "{tmp}/p384.pem"}, "must be RSA, EC P-256 or Ed25519"),
    ],
)
def test_settings_errors(monkeypatch, tmp_path, env, message):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from django.core.exceptions import ImproperlyConfigured

    (tmp_path / "public.pem").write_text(pem_pair("rsa")[1])
    p384 = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "p384.pem").write_bytes(p384)
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    with pytest.raises(ImproperlyConfigured) as raised:
        _settings(monkeypatch, **env)
    assert message in str(raised.value)
    assert "BEGIN" not in str(raised.value)  # nothing of a key file is repeated


# -- the two processes ------------------------------------------------------------------


@pytest.fixture(scope="module")
def roles(tmp_path_factory):
    backend = os.environ.get("JWT_REVOKE_TEST_DB", "sqlite")
    redis_url = TEST_REDIS_URL  # JWT_REVOKE_TEST_REDIS_URL's DB, one per xdist worker
    cluster = TwoRoles(tmp_path_factory.mktemp("two-roles"), backend=backend, redis_url=redis_url)
    try:
        cluster.start(users=USERS)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def http():
    with http_client() as client:
        yield client


@pytest.fixture(scope="module")
def propagation():
    """Seconds from each revoking call's return to the first refusal, by kind."""
    found: dict[str, float] = {}
    yield found
    if found:
        print("\npropagation to the resource server (s):", json.dumps(found))


@pytest.fixture
def running(roles):
    """Both servers up (as a test that stopped one must leave them)."""
    assert roles.issuer.proc is not None and roles.resource.proc is not None
    assert not roles.resource.paused
    yield roles
    if roles.resource.paused:
        roles.resource.resume()
    if roles.issuer.proc is None:
        roles.issuer.start()


def served(roles, http, access) -> dict:
    answer = roles.me(http, access)
    assert answer.status_code == 200, (answer.status_code, answer.text)
    return answer.json()


def wait_refused(roles, http, access, since: float, *, allow_stale: bool = False) -> float:
    """Ask until ``access`` is refused as revoked; the seconds since ``since``.

    Until then, every answer must be 200 (the token not yet known revoked),
    or 503 when ``allow_stale`` (a resource server catching up): never
    anything else, and never past ``MAX_STALENESS``.
    """
    statuses = (200, 503) if allow_stale else (200,)
    while True:
        answer = roles.me(http, access)
        elapsed = time.monotonic() - since
        if answer.status_code == 401:
            assert answer.json()["code"] == "token_revoked", answer.text
            challenge = answer.headers["WWW-Authenticate"]
            assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
            return elapsed
        assert answer.status_code in statuses, (answer.status_code, answer.text)
        assert elapsed < MAX_STALENESS + SLACK, f"still {answer.status_code} after {elapsed:.2f} s"
        time.sleep(0.02)


def shell_revoke(roles, code: str) -> float:
    """Run ``code`` in the issuer's ``manage.py shell``; the monotonic time it returned.

    ``time.monotonic()`` is the system's monotonic clock, the same in every
    process: the shell prints it right after the revoking call returns.
    """
    output = roles.issuer.shell(f"{code}\nimport time\nprint('returned', time.monotonic())")
    return float(re.search(r"^returned (\S+)$", output, re.MULTILINE)[1])


def test_the_resource_server_serves_the_issuers_tokens(running, http):
    roles = running
    pair = roles.login(http, "alice")
    assert served(roles, http, pair["access"]) == {"id": 1, "username": "alice"}
    # A refresh token is not an access token; no token, a forged one: refused.
    assert roles.me(http, pair["refresh"]).status_code == 401
    assert roles.me(http, pair["access"][:-4] + "AAAA").status_code == 401
    assert http.get(f"{roles.resource.url}/api/me/").status_code in (401, 403)
    # The resource role has no issuer endpoints, and never loads the issuer's models.
    assert http.post(f"{roles.resource.url}/api/auth/token/").status_code == 404
    output = roles.resource.shell(
        "import sys\n"
        "import django_jwt_revoke.resource.authentication\n"
        "from django.urls import resolve\n"
        "resolve('/api/me/')\n"
        "print('issuer models loaded:', 'django_jwt_revoke.models' in sys.modules)\n"
    )
    assert "issuer models loaded: False" in output


def test_logout(running, http, propagation):
    roles = running
    phone, laptop = roles.login(http, "bob"), roles.login(http, "bob")
    served(roles, http, phone["access"])
    answer = roles.issuer_post(http, "logout/", phone["access"])
    assert answer.status_code == 204
    propagation["logout"] = wait_refused(roles, http, phone["access"], time.monotonic())
    served(roles, http, laptop["access"])  # another session of the same user


def test_logout_all(running, http, propagation):
    roles = running
    phone, laptop = roles.login(http, "carol"), roles.login(http, "carol")
    other = roles.login(http, "dave")
    answer = roles.issuer_post(http, "logout-all/", phone["access"])
    assert answer.status_code == 204
    returned = time.monotonic()
    propagation["logout-all"] = wait_refused(roles, http, phone["access"], returned)
    wait_refused(roles, http, laptop["access"], returned)
    served(roles, http, other["access"])


def test_password_change_at_the_issuer(running, http, propagation):
    roles = running
    first, second = roles.login(http, "erin"), roles.login(http, "erin")
    other = roles.login(http, "dave")
    served(roles, http, first["access"])
    returned = shell_revoke(
        roles,
        "from django.contrib.auth import get_user_model\n"
        "user = get_user_model().objects.get(username='erin')\n"
        "user.set_password('a-new-password-for-erin')\n"
        "user.save()",
    )
    propagation["password change"] = wait_refused(roles, http, first["access"], returned)
    wait_refused(roles, http, second["access"], returned)
    served(roles, http, other["access"])


@pytest.mark.parametrize("which", ["access", "refresh"])
def test_rfc7009_revoke(running, http, propagation, which):
    roles = running
    pair, other = roles.login(http, "frank"), roles.login(http, "frank")
    answer = roles.issuer_post(http, "revoke/", data={"token": pair[which]})
    assert answer.status_code == 200
    propagation[f"revoke/ ({which})"] = wait_refused(roles, http, pair["access"], time.monotonic())
    served(roles, http, other["access"])
    if which == "access":
        # The access token alone: its session goes on with a new access token.
        answer = roles.issuer_post(http, "token/refresh/", json={"refresh": pair["refresh"]})
        assert answer.status_code == 200, answer.text
        served(roles, http, answer.json()["access"])


def test_revoke_all_tokens(running, http, propagation):
    roles = running
    before = [roles.login(http, name) for name in ("grace", "heidi")]
    returned = shell_revoke(
        roles,
        "from django.core.management import call_command\n"
        "call_command('revoke_all_tokens', interactive=False)",
    )
    propagation["revoke_all_tokens"] = wait_refused(roles, http, before[0]["access"], returned)
    wait_refused(roles, http, before[1]["access"], returned)
    served(roles, http, roles.login(http, "grace")["access"])  # issued after: served


def test_issuer_down_then_back(running, http):
    roles = running
    revoked, kept = roles.login(http, "alice"), roles.login(http, "bob")
    served(roles, http, revoked["access"])
    roles.issuer.kill()
    killed = time.monotonic()

    # Served until the copy is MAX_STALENESS old, then refused as stale: 503.
    while True:
        answer = roles.me(http, kept["access"])
        elapsed = time.monotonic() - killed
        if answer.status_code != 200:
            break
        assert elapsed < MAX_STALENESS + SLACK, "still served past the bound"
        time.sleep(0.05)
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "revocation_state_stale"
    assert int(answer.headers["Retry-After"]) >= 1
    # The last confirmation was at most a poll interval (and a round trip) before the kill.
    assert MAX_STALENESS - POLL_INTERVAL - SLACK <= elapsed <= MAX_STALENESS + SLACK, elapsed

    # Revoked in the issuer's database while its server is down.
    roles.issuer.shell(
        "from django_jwt_revoke.revocation import revoke_token\n"
        f"assert revoke_token({revoked['access']!r}, reason='logout')"
    )
    for pair in (revoked, kept):
        assert roles.me(http, pair["access"]).status_code == 503

    roles.issuer.start()
    restarted = time.monotonic()
    # Never served: stale (503) until the copy has caught up, then revoked.
    wait_refused(roles, http, revoked["access"], restarted, allow_stale=True)
    served(roles, http, kept["access"])
    assert time.monotonic() - restarted < MAX_STALENESS + SLACK


def test_resync_after_the_missed_events_were_purged(running, http):
    roles = running
    revoked, kept = roles.login(http, "carol"), roles.login(http, "carol")
    served(roles, http, revoked["access"])
    roles.resource.pause()
    paused = time.monotonic()

    assert roles.issuer_post(http, "logout/", revoked["access"]).status_code == 204
    # Every event committed so far made old enough to purge (retention:
    # the longest token lifetime + LEEWAY + 5 minutes), then purged.
    output = roles.issuer.shell(
        "from datetime import timedelta\n"
        "from django.core.management import call_command\n"
        "from django.utils import timezone\n"
        "from django_jwt_revoke.models import RevocationEvent\n"
        "RevocationEvent.objects.update(created_at=timezone.now() - timedelta(days=3))\n"
        "call_command('purge_expired_tokens')\n"
        "print('left', RevocationEvent.objects.count())\n"
    )
    assert "left 0" in output, output
    # The feed no longer holds what the resource server would ask for.
    answer = roles.feed(http, {"after": 0, "nonce": "probe-0001"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["err"] == "resync_required"

    # Frozen past the bound, so that its copy is stale when it wakes.
    time.sleep(max(0.0, MAX_STALENESS + 0.2 - (time.monotonic() - paused)))
    log_before = len(roles.resource.log_text())
    roles.resource.resume()
    resumed = time.monotonic()
    wait_refused(roles, http, revoked["access"], resumed, allow_stale=True)
    served(roles, http, kept["access"])
    assert time.monotonic() - resumed < MAX_STALENESS + SLACK
    assert roles.feed(http, {"after": 0, "nonce": "probe-0002"}).status_code == 409
    # It caught up through a snapshot: the events it missed are gone.
    assert "resync" in roles.resource.log_text()[log_before:].lower()


def test_no_token_or_credential_in_the_logs(roles):
    """After everything above: neither server logged a token or the feed credential."""
    for server in (roles.issuer, roles.resource):
        log = server.log_text()
        assert log, server.name
        assert "eyJ" not in log, server.name
        assert roles.credential not in log, server.name


# -- the README's two-role section, as pasted ---------------------------------------------

SECTION = "\n## An issuer and a resource server\n"
BLOCK = re.compile(r"^<!-- two-roles: (?P<name>[\w-]+) -->\n```sh\n(?P<code>.*?)^```$", re.M | re.S)


def readme_blocks() -> dict[str, str]:
    text = README.read_text()
    start = text.index(SECTION)
    section = text[start : text.index("\n## ", start + 1)]
    return {m["name"]: m["code"] for m in BLOCK.finditer(section)}


def try_it_setup() -> list[str]:
    """The commands of the README's "Try it" that make the issuer's database and user."""
    text = README.read_text()
    start = text.index("\n## Try it\n")
    opening = text.index("```sh\n", start) + len("```sh\n")
    block = text[opening : text.index("\n```", opening)]
    steps = [step.strip() for step in block.strip().split(" && ")]
    first = next(i for i, step in enumerate(steps) if "manage.py migrate" in step)
    assert steps[-1] == "python example_project/manage.py runserver"
    return steps[first:-1]


def commands(code: str) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` of a block: ``# `` lines after a command."""
    found: list[tuple[str, list[str]]] = []
    lines = iter(code.splitlines())
    for line in lines:
        while line.endswith("\\"):
            line = line[:-1] + next(lines).lstrip()
        if not line.strip():
            continue
        if line.startswith("# "):
            if found:
                found[-1][1].append(line[2:])
            continue
        found.append((line, []))
    return found


def _expected_json(line: str):
    return json.loads(line[: line.rindex("}") + 1])


def test_readme_two_roles(tmp_path):
    """The README's section, in a copy of the example project (so that its files
    land there), with ``python`` this interpreter and free ports for 8000 / 8001."""
    blocks = readme_blocks()
    assert list(blocks) == ["keys", "keys-python", "issuer", "resource", "client"]
    if not shutil.which("openssl") or not shutil.which("curl"):
        pytest.skip("the README's commands need openssl and curl")
    shutil.copytree(
        ROOT / "example_project",
        tmp_path / "example_project",
        ignore=shutil.ignore_patterns("*.sqlite3", "__pycache__", "staticfiles"),
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EXAMPLE_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT),  # this checkout's package
        PYTHONUNBUFFERED="1",
    )
    ports = {"8000": str(free_port()), "8001": str(free_port())}

    def local(code: str) -> str:
        for readme_port, port in ports.items():
            code = code.replace(readme_port, port)
        return code

    def bash(script: str, timeout: float = 60) -> str:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"{script}\n{done.stdout}{done.stderr}"
        return done.stdout

    for step in try_it_setup():  # the state "Try it" leaves: the database and user admin
        bash(step)
    bash(blocks["keys"])
    assert "PRIVATE KEY" in (tmp_path / "signing-key.pem").read_text()
    assert len((tmp_path / "feed-credential").read_text().strip()) >= 32
    alternative = tmp_path / "alternative"  # the key made without openssl
    alternative.mkdir()
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", blocks["keys-python"]],
        cwd=alternative, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key((alternative / "signing-key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048

    servers = []
    try:
        with http_client() as client:
            for name, port in (("issuer", ports["8000"]), ("resource", ports["8001"])):
                lines = [line for line in blocks[name].splitlines() if line.strip()]
                assert lines[-1].startswith("python example_project/manage.py runserver ")
                script = "\n".join(lines[:-1]) + f"\nexec {local(lines[-1])} --noreload\n"
                log = (tmp_path / f"{name}.log").open("w")
                servers.append(
                    subprocess.Popen(
                        ["bash", "-euo", "pipefail", "-c", local(script)],
                        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
                deadline = time.monotonic() + 60
                while True:
                    try:
                        client.get(f"http://127.0.0.1:{port}/api/me/", timeout=1)
                        break
                    except httpx.TransportError:
                        logs = (tmp_path / f"{name}.log").read_text()
                        assert servers[-1].poll() is None, logs
                        assert time.monotonic() < deadline, logs
                        time.sleep(0.1)

            # The client's commands, one at a time in one shell, each output
            # beside the README's "# ..." line after it.
            steps = commands(blocks["client"])
            script = "".join(
                f"{local(command)}\necho; echo '@@ {i}'\n" for i, (command, _) in enumerate(steps)
            )
            outputs = re.split(r"^@@ \d+$\n?", bash(script), flags=re.M)[:-1]
            assert len(outputs) == len(steps)
            checked = 0
            for (command, expected), output in zip(steps, outputs):
                if expected:
                    [want] = expected
                    assert json.loads(output) == _expected_json(want), (command, output)
                    checked += 1
            assert checked == 2  # served, then refused as revoked
        logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert "eyJ" not in logs  # no token in either server's log
    finally:
        for server in servers:
            server.kill()
            server.wait(timeout=10)
