"""The shipped catalogues (django_jwt_revoke/locale): German, French and Spanish.

- Complete: ``makemessages`` runs over a copy of the package (Python modules and
  templates, never the repository's catalogues) and every message it finds
  must have a translation, not fuzzy, in each language; the failure lists the
  missing ones. Run ``makemessages`` in the package directory, translate, and
  ``compilemessages`` (see CHANGELOG.md and the command in ``MAKEMESSAGES``).
- Compiled: each ``.mo`` holds exactly the translations of its ``.po``.
- Used: an API refusal and an admin action speak German to a German client.

The checks that run the gettext tools are skipped when they are missing,
except under CI (``CI=true``), where that is a failure: ``.ci/run`` installs
them.
"""

from __future__ import annotations

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "django_jwt_revoke"
LOCALE = PACKAGE / "locale"
LANGUAGES = {"de": 2, "fr": 2, "es": 3}  # language -> number of plural forms
# Run in the package directory (Django's own tooling; templates included).
MAKEMESSAGES = ["makemessages", "-l", "de", "-l", "fr", "-l", "es", "--no-obsolete"]
MAKEMESSAGES += ["-e", "html,txt,py"]
_FORMAT = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]|%[diouxXeEfFgGcrsa%]")
_BRACES = re.compile(r"\{\w*\}")


def _tools_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason} (CI=true: the catalogue checks must run; .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def gettext_tools() -> None:
    for tool in ("xgettext", "msgmerge", "msgfmt"):
        if shutil.which(tool) is None:
            _tools_unavailable(f"GNU gettext is not installed ({tool}; apt-get install gettext)")


# -- a small PO reader (no polib) ---------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return (self.msgctxt, self.msgid, self.msgid_plural)

    @property
    def catalog_id(self) -> str:
        """The id in a compiled catalogue: ``context\\x04msgid``, or the msgid."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"

    def label(self) -> str:
        text = repr(self.msgid)
        if self.msgid_plural is not None:
            text += f" / {self.msgid_plural!r}"
        return text if self.msgctxt is None else f"[{self.msgctxt}] {text}"


def read_po(path: Path) -> tuple[str, list[Entry]]:
    """The header (the msgstr of ""), and the entries (obsolete ones left out)."""
    entries: list[Entry] = []
    current: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            assert current is not None and target is not None, f"{path}:{number}: {line}"
            value = ast.literal_eval(line)
            kind, index = target
            if kind == "msgstr":
                current.msgstr[index] += value
            else:
                setattr(current, kind, getattr(current, kind) + value)
            continue
        keyword, _, rest = line.partition(" ")
        value = ast.literal_eval(rest.strip())
        if keyword in {"msgctxt", "msgid"} and (current is None or current.msgstr):
            current = Entry(msgid="", flags=flags, line=number)
            flags = set()
            entries.append(current)
        assert current is not None, f"{path}:{number}: {line}"
        if keyword.startswith("msgstr"):
            index = int(keyword[len("msgstr[") : -1]) if "[" in keyword else 0
            current.msgstr[index] = value
            target = ("msgstr", index)
        else:
            setattr(current, keyword, value)
            target = (keyword, 0)
    header = [entry for entry in entries if entry.msgid == "" and entry.msgctxt is None]
    assert len(header) == 1, f"{path}: no header entry"
    return header[0].msgstr[0], [entry for entry in entries if entry is not header[0]]


def _catalogue(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "django.po"


def _nplurals(header: str) -> int:
    found = re.search(r"^Plural-Forms:\s*nplurals\s*=\s*(\d+)\s*;", header, re.MULTILINE)
    assert found, "no Plural-Forms header"
    return int(found.group(1))


def _translated(entry: Entry, nplurals: int) -> bool:
    if "fuzzy" in entry.flags:
        return False
    forms = 1 if entry.msgid_plural is None else nplurals
    return sorted(entry.msgstr) == list(range(forms)) and all(entry.msgstr.values())


# -- complete -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marked(gettext_tools, tmp_path_factory) -> list[Entry]:
    """Every message marked for translation in the package, as makemessages finds them.

    makemessages runs in a copy of the package, without its catalogues, in its
    own process (no settings: it needs none for an app directory); the
    template it writes (``--keep-pot``) is read.
    """
    copy = tmp_path_factory.mktemp("makemessages") / PACKAGE.name
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (copy / "locale").mkdir()
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "django", *MAKEMESSAGES, "--keep-pot"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _header, entries = read_po(copy / "locale" / "django.pot")
    assert len(entries) > 50, "makemessages found almost nothing: is the package there?"
    return entries


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_marked_string_is_translated(marked, language):
    path = _catalogue(language)
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    header, entries = read_po(path)
    nplurals = _nplurals(header)
    catalogue = {entry.key: entry for entry in entries}
    missing = [entry.label() for entry in marked if entry.key not in catalogue]
    untranslated = [
        entry.label()
        for entry in marked
        if entry.key in catalogue and not _translated(catalogue[entry.key], nplurals)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} marked string(s) with no entry: {', '.join(missing)}.")
    if untranslated:
        problems.append(f"{len(untranslated)} empty or fuzzy: {', '.join(untranslated)}.")
    assert not problems, (
        f"{path.relative_to(REPO)}: {' '.join(problems)} "
        f"Run `cd django_jwt_revoke && django-admin {' '.join(MAKEMESSAGES)}`, translate, "
        "then `django-admin compilemessages`."
    )


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_catalogue_is_well_formed(gettext_tools, language):
    """msgfmt --check: the header, plural forms and python-format placeholders."""
    done = subprocess.run(
        ["msgfmt", "--check", "--output-file=/dev/null", str(_catalogue(language))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_header_placeholders_and_no_fuzzy(language):
    """No tool needed: plural forms as Django's own catalogue for the language, no
    fuzzy entry, and each translation keeps the placeholders of its msgid."""
    header, entries = read_po(_catalogue(language))
    assert f"Language: {language}\n" in header
    assert "charset=UTF-8" in header
    assert _nplurals(header) == LANGUAGES[language]
    assert not [entry.label() for entry in entries if "fuzzy" in entry.flags]
    wrong = []
    for entry in entries:
        sources = [entry.msgid] + ([entry.msgid_plural] if entry.msgid_plural else [])
        for index, text in entry.msgstr.items():
            if not text:
                continue
            source = sources[min(index, len(sources) - 1)]
            for pattern in (_FORMAT, _BRACES):
                if sorted(pattern.findall(text)) != sorted(pattern.findall(source)):
                    wrong.append(f"{entry.label()} msgstr[{index}]: {text!r}")
    assert not wrong, "placeholders differ from the msgid: " + "; ".join(wrong)


# -- compiled ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_mo_matches_po(language):
    """The .mo holds the translated, non-fuzzy entries of the .po, and nothing else."""
    po = _catalogue(language)
    mo = po.with_suffix(".mo")
    assert mo.is_file(), f"{mo.relative_to(REPO)} is missing: run compilemessages"
    header, entries = read_po(po)
    nplurals = _nplurals(header)
    expected: dict[object, str] = {}
    for entry in entries:
        if not _translated(entry, nplurals):
            continue
        if entry.msgid_plural is None:
            expected[entry.catalog_id] = entry.msgstr[0]
        else:
            for index, text in entry.msgstr.items():
                expected[(entry.catalog_id, index)] = text
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    catalog = dict(compiled._catalog)
    mo_header = catalog.pop("", "")
    keys = expected.keys() | catalog.keys()
    stale = sorted(repr(key) for key in keys if expected.get(key) != catalog.get(key))
    assert not stale, (
        f"{mo.relative_to(REPO)} is out of date with its .po "
        f"(run `cd django_jwt_revoke && django-admin compilemessages`): {', '.join(stale)}"
    )
    plural_forms = re.compile(r"^Plural-Forms:.*$", re.MULTILINE)
    assert plural_forms.findall(mo_header) == plural_forms.findall(header)


# -- used ----------------------------------------------------------------------------------


@pytest.fixture
def locale_middleware(settings):
    middleware = list(settings.MIDDLEWARE)
    after = middleware.index("django.contrib.sessions.middleware.SessionMiddleware") + 1
    middleware.insert(after, "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware


@pytest.mark.django_db
def test_api_refusal_speaks_german(locale_middleware, api_client):
    with translation.override("en"):  # whatever the request activates is undone after
        response = api_client.get(
            "/api/me/", HTTP_AUTHORIZATION="Bearer not-a-token", HTTP_ACCEPT_LANGUAGE="de"
        )
        english = api_client.get("/api/me/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    assert response.json() == {"detail": "Das Token ist ungültig.", "code": "token_invalid"}
    assert response["Content-Language"] == "de"
    assert english.json()["detail"] == "Token is invalid."


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_translated_refusal_keeps_its_bearer_challenge(
    locale_middleware, api_client, pair, language
):
    """The refusal's description is in the WWW-Authenticate header too: a translation
    outside Latin-1 (a typographic apostrophe) would have Django MIME-encode the
    whole header (``=?utf-8?b?...?=``), and the challenge would be lost."""
    with translation.override("en"):
        response = api_client.get(
            "/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.refresh}", HTTP_ACCEPT_LANGUAGE=language
        )
    assert response.status_code == 401
    assert response.json()["code"] == "token_wrong_type"
    assert response.json()["detail"] != "Token has the wrong type."  # translated
    # RFC 6750 section 3: error_description is printable ASCII, so it stays English.
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="Token has the wrong type."'
    )


@pytest.mark.django_db
def test_login_refusal_speaks_french_and_spanish(locale_middleware, api_client, user):
    url = reverse("django_jwt_revoke:token_obtain")
    body = {get_user_model().USERNAME_FIELD: user.get_username(), "password": "wrong"}
    with translation.override("en"):
        french = api_client.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="fr")
        spanish = api_client.post(url, body, format="json", HTTP_ACCEPT_LANGUAGE="es")
    assert french.status_code == spanish.status_code == 401
    assert french.json()["detail"] == (
        "Aucun compte actif n'a été trouvé avec les identifiants fournis."
    )
    assert spanish.json()["detail"] == (
        "No se encontró ninguna cuenta activa con las credenciales proporcionadas."
    )


def test_admin_labels_speak_german():
    from django_jwt_revoke.admin import (
        OutstandingTokenAdmin,
        TokenSessionAdmin,
        revoke_all_user_tokens,
    )
    from django_jwt_revoke.apps import JWTRevokeConfig
    from django_jwt_revoke.models import Reason, TokenSession

    with translation.override("de"):
        assert str(TokenSessionAdmin.revoke_selected_sessions.short_description) == (
            "Ausgewählte Sitzungen widerrufen"
        )
        assert str(OutstandingTokenAdmin.revoke_selected_tokens.short_description) == (
            "Ausgewählte Tokens widerrufen"
        )
        assert str(revoke_all_user_tokens.short_description) == (
            "Alle Tokens der ausgewählten Benutzer widerrufen"
        )
        assert str(TokenSession._meta.verbose_name_plural) == "Token-Sitzungen"
        assert str(Reason.ADMIN.label) == "von einem Administrator widerrufen"
        assert str(JWTRevokeConfig.verbose_name) == "JWT-Widerruf"
    with translation.override("es"):
        assert str(TokenSessionAdmin.revoke_selected_sessions.short_description) == (
            "Revocar las sesiones seleccionadas"
        )
