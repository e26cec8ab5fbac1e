"""The README's Quickstart, as pasted: a new project built from its blocks.

``django-admin startproject mysite`` in a temporary directory, then every
block of the README's Quickstart section that a marker names, verbatim and
in order::

    <!-- quickstart: mysite/settings.py (append) -->   appended to that file
    <!-- quickstart: mysite/views.py (new) -->         a new file
    <!-- quickstart: mysite/urls.py (replace) -->      the file replaced
    <!-- quickstart: shell -->                         run in the project (but runserver)
    <!-- quickstart: python manage.py shell -->        run by ``manage.py shell -c``

The server (``runserver --noreload`` on a free port) then answers the flow
the Quickstart shows: log in, ``/api/me/``, log out, ``/api/me/`` refused as
revoked. No network: the project is SQLite, the package this checkout.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.ports import free_port

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

MARKER = re.compile(
    r"^<!-- quickstart: (?P<target>[^>]+?) -->\n```(?P<lang>\w+)\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
FILE_TARGET = re.compile(r"(?P<path>[\w/.]+\.py) \((?P<how>append|new|replace)\)")
EXPECTED_TARGETS = [
    "mysite/settings.py (append)",
    "mysite/views.py (new)",
    "mysite/urls.py (replace)",
    "shell",
    "python manage.py shell",
    "mysite/views.py (append)",
]
NO_ISSUES = "System check identified no issues (0 silenced)."
OUR_CHECK_ID = re.compile(r"django_jwt_revoke\.[EW]\d{3}")


def quickstart_section() -> str:
    text = README.read_text()
    start = text.index("\n## Quickstart\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def quickstart_blocks() -> list[tuple[str, str]]:
    """``(target, code)`` of each marked block of the Quickstart, in order."""
    return [(m["target"], m["code"]) for m in MARKER.finditer(quickstart_section())]


def test_the_quickstart_marks_each_block_it_applies():
    assert [target for target, _ in quickstart_blocks()] == EXPECTED_TARGETS
    section = quickstart_section()
    # Every marker is followed by its block (a marker the regex missed would drift silently).
    assert section.count("<!-- quickstart:") == len(EXPECTED_TARGETS)
    assert "pip install django-jwt-revoke" in section  # says it works once published
    assert "pip install /path/to/django-jwt-revoke" in section
    assert "python -m build" in section


class Project:
    """The new project: its directory and how to run its ``manage.py``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "mysite"
        bin_dir = root / "bin"
        bin_dir.mkdir()
        # `python` in the README's commands is this interpreter (a script, not a
        # symlink: a venv's python finds its site-packages from where it lives).
        python = bin_dir / "python"
        python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
        python.chmod(0o755)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(
            DJANGO_SETTINGS_MODULE="mysite.settings",
            PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            # This checkout's package, whatever the environment has installed.
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            PYTHONDONTWRITEBYTECODE="1",
        )
        self.env = env

    def run(self, args: list[str], *, cwd: Path | None = None) -> str:
        done = subprocess.run(
            args,
            cwd=cwd or self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{args}:\n{output}"
        return output

    def manage(self, *args: str) -> str:
        return self.run([sys.executable, "manage.py", *args])


def _apply(project: Project, target: str, code: str) -> None:
    found = FILE_TARGET.fullmatch(target)
    assert found, target
    path = project.dir / found["path"]
    if found["how"] == "append":
        assert path.exists(), target
        path.write_text(path.read_text() + "\n\n" + code)
    elif found["how"] == "new":
        assert not path.exists(), target
        path.write_text(code)
    else:
        assert path.exists(), target
        path.write_text(code)


class Client:
    """HTTP to the server, never through a proxy the environment names."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def request(self, method, path, *, body=None, token=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _wait_until_serving(client: Client, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            client.request("GET", "/api/me/")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise AssertionError(f"the server did not answer:\n{log.read_text()}")


def test_the_quickstart_as_pasted(tmp_path):
    blocks = quickstart_blocks()
    assert [target for target, _ in blocks] == EXPECTED_TARGETS
    project = Project(tmp_path)
    project.run([sys.executable, "-m", "django", "startproject", "mysite"], cwd=tmp_path)
    assert (project.dir / "manage.py").exists()

    shell_commands, python_shell = [], []
    for target, code in blocks:
        if target == "shell":
            shell_commands = [line for line in code.splitlines() if line.strip()]
        elif target == "python manage.py shell":
            python_shell.append(code)
        else:
            _apply(project, target, code)

    # The shell block, but for runserver, which the test runs on a port of its own.
    assert shell_commands[-1] == "python manage.py runserver"
    outputs = {}
    for command in shell_commands[:-1]:
        outputs[command] = project.run(["bash", "-euo", "pipefail", "-c", command])
    # No message of this app anywhere (migrate runs the database checks first, too).
    for command, output in outputs.items():
        assert not OUR_CHECK_ID.search(output), f"{command}:\n{output}"
    assert outputs["python manage.py check"].strip() == NO_ISSUES
    assert outputs["python manage.py check --database default"].strip() == NO_ISSUES

    port = free_port()
    log = tmp_path / "runserver.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=project.dir,
            env=project.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        client = Client(port)
        _wait_until_serving(client, server, log)
        credentials = {"username": "admin", "password": "change-me"}
        status, body = client.request("POST", "/api/auth/token/", body=credentials)
        assert status == 200, body
        pair = json.loads(body)
        assert set(pair) == {"access", "refresh"}
        status, body = client.request("GET", "/api/me/", token=pair["access"])
        assert (status, json.loads(body)) == (200, {"id": 1, "username": "admin"})
        status, body = client.request("POST", "/api/auth/logout/", token=pair["access"])
        assert status == 204, body
        status, body = client.request("GET", "/api/me/", token=pair["access"])
        assert status == 401
        assert json.loads(body)["code"] == "token_revoked"
        status, _ = client.request("GET", "/admin/")  # the admin route is kept
        assert status == 302
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    server_log = log.read_text()
    assert pair["access"] not in server_log

    # The Python API block, then the login helper appended to views.py.
    [api] = python_shell
    check_helper = (
        "\nfrom mysite.views import log_in\n"
        "assert log_in(None, 'admin', 'wrong') is None\n"
        "assert log_in(None, 'nobody', 'change-me') is None\n"
        "pair = log_in(None, 'admin', 'change-me')\n"
        "from django_jwt_revoke.tokens import decode_token\n"
        "print('helper', decode_token(pair.access)['sid'] == pair.sid)\n"
    )
    output = project.manage("shell", "-c", api + check_helper)
    assert output.strip().splitlines()[-1] == "helper True"
