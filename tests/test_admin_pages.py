"""The admin pages beyond the token lists: sessions, user-wide and global
revocations, the revoke actions' confirmation pages and their history, and
the width of every list in a real browser (docs/admin.md)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags

from django_jwt_revoke import revocation
from django_jwt_revoke.models import (
    BlacklistedToken,
    GlobalRevocation,
    OutstandingToken,
    Reason,
    TokenSession,
    UserRevocation,
)
from django_jwt_revoke.tokens import decode_token, issue_token_pair, user_key
from tests.factories import UserFactory
from tests.test_browser import CHROMIUM_ARGS, chromium  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

SESSIONS = "admin:django_jwt_revoke_tokensession_changelist"
OUTSTANDING = "admin:django_jwt_revoke_outstandingtoken_changelist"
BLACKLISTED = "admin:django_jwt_revoke_blacklistedtoken_changelist"
USER_REVOCATIONS = "admin:django_jwt_revoke_userrevocation_changelist"
GLOBAL_REVOCATIONS = "admin:django_jwt_revoke_globalrevocation_changelist"
CHANGELISTS = (OUTSTANDING, SESSIONS, BLACKLISTED, USER_REVOCATIONS, GLOBAL_REVOCATIONS)
CONFIRMATION = "admin/django_jwt_revoke/revoke_confirmation.html"
LONG_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0 <b>OPR/111.0.0.0</b> "
    "YaBrowser/24.6.0.0 Vivaldi/6.8.3381.48 SamsungBrowser/25.0 "
    "Mobile/15E148 FxiOS/127.0 Unbroken" + "x" * 40
)[:256]


def user_changelist():
    opts = get_user_model()._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


@pytest.fixture
def root(db):
    return UserFactory(name="root", superuser=True)


@pytest.fixture
def staff(client, root):
    client.force_login(root)
    return client


@pytest.fixture
def alice(db):
    return UserFactory(name="alice")


@pytest.fixture
def bob(db):
    return UserFactory(name="bob")


def login(user, agent=LONG_AGENT, ip="203.0.113.7"):
    """A login from a device: a session with that user agent and IP address."""
    request = RequestFactory().post("/", HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    return issue_token_pair(user, request)


def session_of(pair):
    return TokenSession.objects.get(sid=pair.sid)


def rows(response):
    return list(response.context["cl"].result_list)


def sids(response):
    return {row.sid for row in rows(response)}


def actions_offered(page):
    form = page.context["action_form"]
    return dict(form.fields["action"].choices) if form is not None else {}


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def choose(client, url, action, objects, **extra):
    """The first step of an action: the changelist's form, as a browser posts it."""
    data = {"action": action, "_selected_action": [str(o.pk) for o in objects], "index": "0"}
    return client.post(url, {**data, **extra})


def confirm(client, url, page):
    """The second step: post the confirmation page's form back as it is."""
    context = page.context
    data = {
        "action": context["action"],
        "_selected_action": [str(pk) for pk in context["selected"]],
        "post": "yes",
    }
    return client.post(url, data, follow=True)


def changes_logged(model):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(model), action_flag=CHANGE
    )


# -- the sessions page ---------------------------------------------------------------------


def test_sessions_page_is_read_only(staff, alice):
    session = session_of(login(alice))
    changelist = staff.get(reverse(SESSIONS))
    assert changelist.status_code == 200
    actions = actions_offered(changelist)
    assert "revoke_selected_sessions" in actions
    assert "delete_selected" not in actions
    assert staff.get(reverse("admin:django_jwt_revoke_tokensession_add")).status_code == 403
    detail = staff.get(reverse("admin:django_jwt_revoke_tokensession_change", args=[session.pk]))
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    deleting = reverse("admin:django_jwt_revoke_tokensession_delete", args=[session.pk])
    assert staff.post(deleting, {"post": "yes"}).status_code == 403
    assert TokenSession.objects.count() == 1


def test_sessions_show_state_and_reason_of_every_level(staff, alice, bob):
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        expired = login(alice)
    active = login(alice)
    logged_out = login(alice)
    revocation.revoke_session(logged_out.sid, Reason.LOGOUT)
    by_user = login(bob)
    revocation.revoke_user_tokens(bob, Reason.PASSWORD_CHANGE)
    page = staff.get(reverse(SESSIONS))
    cl = page.context["cl"]
    shown = {row.sid: (cl.model_admin.state(row), cl.model_admin.reason(row)) for row in rows(page)}
    assert shown == {
        expired.sid: ("expired", ""),
        active.sid: ("active", ""),
        logged_out.sid: ("revoked", "logout"),
        by_user.sid: ("revoked", "password change"),
    }
    revocation.revoke_all_tokens()
    after = login(bob)
    page = staff.get(reverse(SESSIONS), {"state": "revoked"})
    shown = {row.sid: cl.model_admin.reason(row) for row in rows(page)}
    assert shown == {
        active.sid: "incident response: every token revoked",
        logged_out.sid: "logout",  # its own revocation came first
        by_user.sid: "password change",
    }
    assert sids(staff.get(reverse(SESSIONS), {"state": "active"})) == {after.sid}
    assert sids(staff.get(reverse(SESSIONS), {"state": "expired"})) == {expired.sid}
    incident = {active.sid, expired.sid}  # an expired session keeps its reason
    assert sids(staff.get(reverse(SESSIONS), {"reason": "incident"})) == incident
    assert sids(staff.get(reverse(SESSIONS), {"reason": "logout"})) == {logged_out.sid}


def test_sessions_search_by_username_and_sid(staff, alice, bob):
    mine, theirs = login(alice), login(bob)
    assert sids(staff.get(reverse(SESSIONS), {"q": alice.get_username()})) == {mine.sid}
    assert sids(staff.get(reverse(SESSIONS), {"q": theirs.sid})) == {theirs.sid}


def test_last_refreshed_is_the_newest_refresh_token(staff, alice):
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        pair = login(alice)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        never = login(alice)
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        pair = revocation.rotate_refresh_token(pair.refresh)
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        revocation.rotate_refresh_token(pair.refresh)
    page = staff.get(reverse(SESSIONS))
    last = {row.sid: (row.created_at, row._jwtr_last_refreshed) for row in rows(page)}
    assert last == {
        pair.sid: (start, start + timedelta(hours=2)),
        never.sid: (start + timedelta(minutes=1), start + timedelta(minutes=1)),
    }
    newest_first = staff.get(reverse(SESSIONS), {"o": "-4"})  # the 4th column, descending
    assert [row.sid for row in rows(newest_first)] == [pair.sid, never.sid]


def queries_of(client, url):
    from django.db import connection

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse(url)).status_code == 200
    return len(ctx.captured_queries)


def every_kind_of_row(users):
    """For each user: sessions refreshed and not, revoked at each level, a blacklisted jti."""
    for user in users:
        pair = login(user)
        revocation.rotate_refresh_token(pair.refresh)
        login(user)
        revocation.revoke_token(login(user).access)
        revocation.revoke_session(login(user).sid, Reason.ADMIN)
        revocation.revoke_user_tokens(user)


@pytest.mark.parametrize("url", CHANGELISTS)
def test_changelist_queries_do_not_grow_with_rows(staff, url, django_assert_num_queries):
    every_kind_of_row([UserFactory() for _ in range(2)])
    revocation.revoke_all_tokens()
    expected = queries_of(staff, url)
    every_kind_of_row([UserFactory() for _ in range(8)])
    with django_assert_num_queries(expected):
        assert staff.get(reverse(url)).status_code == 200


# -- user agents: short in lists, whole on the detail page --------------------------------


def escaped(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_long_user_agents_are_shortened_in_lists(staff, alice):
    pair = login(alice)
    session, token = session_of(pair), OutstandingToken.objects.get()
    page = staff.get(reverse(SESSIONS)).content.decode()
    cell = page.split('<td class="field-device">')[1].split("</td>")[0]
    assert cell == (
        f'<span title="{escaped(LONG_AGENT)}">{LONG_AGENT[:39]}…</span>'
        '<br><span class="quiet">203.0.113.7</span>'
    )
    assert "<b>OPR" not in page  # escaped, in the title too
    assert LONG_AGENT[:39] not in staff.get(reverse(OUTSTANDING)).content.decode()
    for name, obj in (("tokensession", session), ("outstandingtoken", token)):
        page = staff.get(reverse(f"admin:django_jwt_revoke_{name}_change", args=[obj.pk]))
        text = page.content.decode()
        assert escaped(LONG_AGENT) in text  # the whole of it
        assert "<b>OPR" not in text


def test_short_user_agents_and_ids(staff, alice):
    pair = login(alice, agent="curl/8.5.0", ip="")
    page = staff.get(reverse(SESSIONS)).content.decode()
    assert '<td class="field-device">curl/8.5.0</td>' in page
    jti = decode_token(pair.refresh, token_type="refresh").jti
    page = staff.get(reverse(OUTSTANDING)).content.decode()
    assert f'<span title="{jti}">{jti[:8]}…</span>' in page
    assert f'<span title="{pair.sid}">{pair.sid[:8]}…</span>' in page


# -- the revoke actions: confirmation, revocation, history ---------------------------------


def test_revoke_sessions_asks_first(staff, alice, bob):
    live, other = login(alice), login(bob)
    gone = login(alice)
    revocation.revoke_session(gone.sid, Reason.LOGOUT)
    kept = login(alice)
    selected = [session_of(p) for p in (live, other, gone)]
    listing = staff.get(reverse(SESSIONS))  # GET, then the form on it is posted
    assert listing.status_code == 200
    page = choose(staff, reverse(SESSIONS), "revoke_selected_sessions", selected)
    assert page.status_code == 200
    assert page.templates[0].name == CONFIRMATION
    html = page.content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<input type="hidden" name="post" value="yes">' in html
    assert '<input type="hidden" name="action" value="revoke_selected_sessions">' in html
    for session in selected:
        assert f'name="_selected_action" value="{session.pk}"' in html
    assert [label.split(" (")[0] for label in page.context["chosen"]] == [
        f"session {s.sid} of {s.user.get_username()}"
        for s in TokenSession.objects.filter(sid__in=[live.sid, other.sid])
    ]
    (left_alone,) = page.context["left_alone"]
    assert left_alone.startswith(f"session {gone.sid} of {alice.get_username()} (Mozilla/5.0")
    assert left_alone.endswith(", 203.0.113.7): revoked (logout)")
    assert TokenSession.objects.live().count() == 3  # nothing revoked yet
    assert not changes_logged(TokenSession).exists()

    done = confirm(staff, reverse(SESSIONS), page)
    assert done.status_code == 200
    assert [strip_tags(m) for m in messages_of(done)] == [
        "2 sessions revoked. See the revoked sessions.",
        "1 session was already revoked or expired.",
    ]
    assert set(TokenSession.objects.live().values_list("sid", flat=True)) == {kept.sid}
    assert session_of(live).revoke_reason == session_of(other).revoke_reason == Reason.ADMIN
    assert session_of(gone).revoke_reason == Reason.LOGOUT
    logged = changes_logged(TokenSession)
    assert {(e.object_id, e.user_id) for e in logged} == {
        (str(session_of(p).pk), done.wsgi_request.user.pk) for p in (live, other)
    }
    entry = logged.get(object_id=str(session_of(live).pk))
    assert entry.change_message.startswith(f"Revoked (admin): session {live.sid} of ")
    assert entry.object_repr == f"session {live.sid}"


def test_cancelling_revokes_nothing(staff, alice):
    pair = login(alice)
    page = choose(staff, reverse(SESSIONS), "revoke_selected_sessions", [session_of(pair)])
    back = page.context["changelist_url"]
    assert f'href="{back}" class="button cancel-link"' in page.content.decode()
    assert staff.get(back).status_code == 200
    assert TokenSession.objects.live().count() == 1
    assert not LogEntry.objects.exists()


def test_cancel_link_keeps_the_filters(staff, alice):
    pair = login(alice)
    url = f"{reverse(SESSIONS)}?state=active"
    page = choose(staff, url, "revoke_selected_sessions", [session_of(pair)])
    assert page.context["changelist_url"] == url


def test_the_success_message_links_to_what_was_revoked(staff, alice, bob):
    pairs = [login(alice), login(bob)]
    login(alice)  # not selected
    selected = [session_of(p) for p in pairs]
    page = choose(staff, reverse(SESSIONS), "revoke_selected_sessions", selected)
    (message,) = messages_of(confirm(staff, reverse(SESSIONS), page))
    href = message.split('href="')[1].split('"')[0]
    assert href.startswith(reverse(SESSIONS) + "?sid__in=")
    shown = staff.get(href.replace("&amp;", "&"))
    assert shown.status_code == 200
    cl = shown.context["cl"]
    admin = cl.model_admin
    assert {(row.sid, admin.state(row), admin.reason(row)) for row in rows(shown)} == {
        (p.sid, "revoked", "revoked by an administrator") for p in pairs
    }


def test_revoke_tokens_asks_first_and_is_logged(staff, alice, bob):
    first, second = login(alice), login(bob)
    already = login(alice)
    revocation.revoke_token(already.refresh)
    tokens = list(OutstandingToken.objects.select_related("session"))
    page = choose(staff, reverse(OUTSTANDING), "revoke_selected_tokens", tokens)
    assert page.templates[0].name == CONFIRMATION
    jti = {p.sid: decode_token(p.refresh, token_type="refresh").jti for p in (first, second)}
    assert sorted(page.context["chosen"]) == sorted(
        f"refresh token {jti[p.sid]} of {u.get_username()}, session {p.sid}"
        for p, u in ((first, alice), (second, bob))
    )
    assert len(page.context["left_alone"]) == 1
    for raw in (first.access, first.refresh, already.refresh):
        for part in raw.split("."):
            assert part.encode() not in page.content
    assert TokenSession.objects.live().count() == 2
    done = confirm(staff, reverse(OUTSTANDING), page)
    assert [strip_tags(m) for m in messages_of(done)] == [
        "2 tokens revoked, with their sessions. See the revoked sessions.",
        "1 token was already revoked or expired.",
    ]
    assert not TokenSession.objects.live().exists()
    logged = changes_logged(OutstandingToken)
    assert {e.object_repr for e in logged} == {f"refresh token {j}" for j in jti.values()}
    assert {e.change_message for e in logged} == {
        f"Revoked (admin): refresh token {jti[p.sid]} of {u.get_username()}, session {p.sid}"
        for p, u in ((first, alice), (second, bob))
    }


def test_revoke_users_asks_first_and_is_logged_on_the_user_model(staff, alice, bob):
    pairs = [login(alice), login(bob)]
    page = choose(staff, user_changelist(), "revoke_all_user_tokens", [alice, bob])
    assert page.templates[0].name == CONFIRMATION
    assert sorted(page.context["chosen"]) == sorted(
        f"every token of user {u.get_username()}" for u in (alice, bob)
    )
    assert not UserRevocation.objects.exists()
    done = confirm(staff, user_changelist(), page)
    (message,) = messages_of(done)
    assert strip_tags(message) == (
        "Revoked every token of 2 users. See their sessions. See the user revocations."
    )
    assert not TokenSession.objects.filter(sid__in=[p.sid for p in pairs]).live().exists()
    logged = changes_logged(get_user_model())
    assert {e.object_id for e in logged} == {str(alice.pk), str(bob.pk)}
    assert {e.change_message for e in logged} == {
        f"Revoked (admin): every token of user {u.get_username()}" for u in (alice, bob)
    }
    # both links lead to pages that show the revocations
    sessions_href, keys_href = (
        part.split('"')[0].replace("&amp;", "&") for part in message.split('href="')[1:]
    )
    cl = staff.get(sessions_href).context["cl"]
    assert {(row.sid, cl.model_admin.reason(row)) for row in cl.result_list} == {
        (p.sid, "revoked by an administrator") for p in pairs
    }
    shown = staff.get(keys_href)
    assert {(row.user_key, row.reason) for row in rows(shown)} == {
        (user_key(u), Reason.ADMIN) for u in (alice, bob)
    }


def test_recent_actions_show_the_revocations(staff, alice):
    pair = login(alice)
    page = choose(staff, reverse(SESSIONS), "revoke_selected_sessions", [session_of(pair)])
    confirm(staff, reverse(SESSIONS), page)
    page = choose(staff, user_changelist(), "revoke_all_user_tokens", [alice])
    confirm(staff, user_changelist(), page)
    index = staff.get(reverse("admin:index")).content.decode()
    recent = index.split('id="recent-actions-module"')[1]
    assert f"session {pair.sid}" in recent
    assert str(alice) in recent
    session_url = reverse("admin:django_jwt_revoke_tokensession_change", args=[session_of(pair).pk])
    assert f'href="{session_url}"' in recent


def test_a_confirmation_with_nothing_to_revoke(staff, alice):
    pair = login(alice)
    revocation.revoke_session(pair.sid)
    page = choose(staff, reverse(SESSIONS), "revoke_selected_sessions", [session_of(pair)])
    assert page.context["chosen"] == []
    assert 'type="submit"' not in page.content.decode().split('id="content"')[1]
    done = confirm(staff, reverse(SESSIONS), page)
    assert messages_of(done) == ["1 session was already revoked or expired."]
    assert not LogEntry.objects.exists()


def staff_member(client, *codenames, app_label="django_jwt_revoke"):
    """A staff member with only these permissions, signed in on ``client``."""
    member = UserFactory(staff=True)
    member.user_permissions.set(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )
    client.force_login(member)
    return member


def test_actions_need_the_change_permission(client, alice):
    staff_member(client, "view_tokensession", "view_outstandingtoken")
    pair = login(alice)
    for url, action, objects in (
        (reverse(SESSIONS), "revoke_selected_sessions", [session_of(pair)]),
        (reverse(OUTSTANDING), "revoke_selected_tokens", OutstandingToken.objects.all()),
    ):
        page = client.get(url)
        assert action not in actions_offered(page)
        refused = choose(client, url, action, objects)
        assert CONFIRMATION not in {t.name for t in refused.templates}
        choose(client, url, action, objects, post="yes")
    assert TokenSession.objects.live().count() == 1
    assert not LogEntry.objects.exists()


def test_links_only_to_pages_the_user_may_see(client, alice):
    staff_member(client, "view_tokensession", "change_tokensession")
    pair = login(alice)
    page = choose(client, reverse(SESSIONS), "revoke_selected_sessions", [session_of(pair)])
    (message,) = messages_of(confirm(client, reverse(SESSIONS), page))
    assert f"?sid__in={pair.sid}" in message
    # may change users, may see neither sessions nor user revocations: no link
    opts = get_user_model()._meta
    users = (f"view_{opts.model_name}", f"change_{opts.model_name}")
    staff_member(client, *users, app_label=opts.app_label)
    page = choose(client, user_changelist(), "revoke_all_user_tokens", [alice])
    assert messages_of(confirm(client, user_changelist(), page)) == [
        "Revoked every token of 1 user."
    ]


# -- user-wide and global revocations ------------------------------------------------------


def test_user_revocations_page(staff, alice, bob):
    revocation.revoke_user_tokens(alice, Reason.PASSWORD_CHANGE)
    revocation.revoke_user_tokens(bob)
    gone = UserFactory(name="gone")
    revocation.revoke_user_tokens(gone, Reason.DEACTIVATED)
    gone_key = user_key(gone)
    gone.delete()
    page = staff.get(reverse(USER_REVOCATIONS))
    admin = page.context["cl"].model_admin
    shown = {(admin.user_display(r), r.get_reason_display()) for r in rows(page)}
    assert shown == {
        (alice.get_username(), "password change"),
        (bob.get_username(), "logout from all sessions"),
        ("(no such user)", "user deleted"),  # the row outlives the user
    }
    found = staff.get(reverse(USER_REVOCATIONS), {"q": alice.get_username()})
    assert [r.user_key for r in rows(found)] == [user_key(alice)]
    by_key = staff.get(reverse(USER_REVOCATIONS), {"q": gone_key})
    assert [r.user_key for r in rows(by_key)] == [gone_key]
    by_reason = staff.get(reverse(USER_REVOCATIONS), {"reason__exact": "password_change"})
    assert [r.user_key for r in rows(by_reason)] == [user_key(alice)]
    row = UserRevocation.objects.get(user_key=user_key(alice))
    detail = staff.get(reverse("admin:django_jwt_revoke_userrevocation_change", args=[row.pk]))
    assert detail.status_code == 200
    assert alice.get_username().encode() in detail.content
    assert b'name="_save"' not in detail.content


def test_global_revocations_page(staff):
    revocation.revoke_all_tokens()
    page = staff.get(reverse(GLOBAL_REVOCATIONS))
    assert [r.generation for r in rows(page)] == [1]
    assert b"incident response: every token revoked" in page.content
    assert staff.get(reverse("admin:django_jwt_revoke_globalrevocation_add")).status_code == 403
    assert GlobalRevocation.objects.get().generation == 1


def test_blacklist_page_says_where_the_other_revocations_are(staff, alice):
    pair = login(alice)
    revocation.revoke_session(pair.sid, Reason.ADMIN)
    page = staff.get(reverse(BLACKLISTED)).content.decode()
    assert not BlacklistedToken.objects.exists()  # a session revocation writes no row here
    note = page.split('class="help revocation-pages"')[1].split("</p>")[0]
    for url, query in (
        (reverse(SESSIONS), "?state=revoked"),
        (reverse(USER_REVOCATIONS), ""),
        (reverse(GLOBAL_REVOCATIONS), ""),
    ):
        assert f'href="{url}{query}"' in note


def test_no_raw_token_on_the_new_pages(staff, alice):
    pair = login(alice)
    revocation.revoke_user_tokens(alice)
    session = session_of(pair)
    pages = [staff.get(reverse(url)) for url in CHANGELISTS]
    detail = reverse("admin:django_jwt_revoke_tokensession_change", args=[session.pk])
    pages.append(staff.get(detail))
    pages.append(choose(staff, reverse(SESSIONS), "revoke_selected_sessions", [session]))
    for page in pages:
        assert page.status_code == 200
        for raw in (pair.access, pair.refresh):
            for part in raw.split("."):
                assert part.encode() not in page.content


# -- the width of the pages, in a real browser ----------------------------------------------

WIDTH = 1280
SCREENSHOTS = os.environ.get("JWT_REVOKE_ADMIN_SCREENSHOTS")  # a folder to keep them in


@pytest.fixture
def wide_rows(transactional_db):
    """Rows of every kind with long user agents, user names and IPv6 addresses.

    Returns the detail pages of a session and a token with a user agent of
    256 characters and no space.
    """
    users = [UserFactory(name=f"someone.with.a.long.name{n}") for n in range(3)]
    for n, user in enumerate(users):
        for agent in (LONG_AGENT, "x" * 256, "curl/8.5.0"):
            pair = login(user, agent=agent, ip=f"2001:db8:85a3::8a2e:370:{n}")
            refreshing = RequestFactory().post("/", HTTP_USER_AGENT=agent)
            revocation.rotate_refresh_token(pair.refresh, refreshing)
        revocation.revoke_token(login(user).access, Reason.ADMIN)
        revocation.revoke_session(login(user).sid, Reason.REUSE_DETECTED)
    revocation.revoke_user_tokens(users[0], Reason.PASSWORD_CHANGE)
    revocation.revoke_all_tokens()
    unbroken = login(users[1], agent="y" * 256)  # live, as are the next two
    login(users[2], agent=LONG_AGENT)
    login(users[2], agent="")
    jti = decode_token(unbroken.refresh, token_type="refresh").jti
    token = OutstandingToken.objects.get(jti=jti)
    return [
        reverse("admin:django_jwt_revoke_tokensession_change", args=[token.session_id]),
        reverse("admin:django_jwt_revoke_outstandingtoken_change", args=[token.pk]),
    ]


@pytest.fixture
def admin_browser(chromium, live_server, settings, client, root, wide_rows):  # noqa: F811
    """A Chromium page at 1280 x 800, signed in to the admin as a superuser.

    The rows are made first (``wide_rows``): no ORM call can run once
    Playwright's event loop does.
    """
    import django
    from playwright.sync_api import sync_playwright

    # The live server serves static files from STATIC_ROOT: the admin's own.
    settings.STATIC_ROOT = str(Path(django.__file__).parent / "contrib" / "admin" / "static")
    client.force_login(root)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                base_url=live_server.url, viewport={"width": WIDTH, "height": 800}
            )
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            context.set_default_timeout(10_000)
            yield context.new_page()
        finally:
            browser.close()


@pytest.fixture
def screenshots(tmp_path):
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def overflow(page):
    """How far the page scrolls sideways, and the widest text cut off (0: none).

    The admin's ".results" box scrolls a list too wide for it, and a value
    too wide for its field is cut off, instead of widening the page: the
    page alone would not tell.
    """
    assert page.evaluate(
        "[...document.styleSheets].some(s => s.href && s.href.endsWith('/base.css')"
        " && s.cssRules.length > 0)"
    ), "the admin's CSS is served"
    return page.evaluate(
        """() => {
            const clipping = el => getComputedStyle(el).overflowX !== "visible";
            const inside = [...document.querySelectorAll("#content *")]
                .filter(el => el.clientWidth > 0 && clipping(el))
                .filter(el => !["SELECT", "INPUT", "TEXTAREA"].includes(el.tagName))
                // Headings for screen readers only (Django 6: "visually-hidden",
                // a 1-pixel box that clips on purpose).
                .filter(el => !el.closest(".visually-hidden"))
                .map(el => el.scrollWidth - el.clientWidth);
            return [document.documentElement.scrollWidth - window.innerWidth,
                    Math.max(0, ...inside)];
        }"""
    )


@pytest.mark.django_db(transaction=True)
def test_pages_fit_1280_pixels(admin_browser, wide_rows, screenshots):
    shown = {}
    for url in [*(reverse(name) for name in CHANGELISTS), *wide_rows]:
        admin_browser.goto(url)
        shown[url] = overflow(admin_browser)
        name = url.strip("/").replace("/", "-")
        admin_browser.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
    assert shown == {url: [0, 0] for url in shown}


@pytest.mark.django_db(transaction=True)
def test_revoking_sessions_in_the_browser(admin_browser, screenshots):
    page = admin_browser
    page.goto(f"{reverse(SESSIONS)}?state=active")
    assert page.locator("#result_list tbody tr").count() == 3
    page.check("#action-toggle")
    page.select_option("select[name=action]", "revoke_selected_sessions")
    page.click("button[name=index]")
    page.wait_for_selector("body.revoke-confirmation")
    assert page.locator("ul.revoke-chosen li").count() == 3
    assert overflow(page) == [0, 0]
    page.screenshot(path=str(screenshots / "revoke-confirmation.png"), full_page=True)
    page.click("text=Yes, revoke")
    page.wait_for_selector("ul.messagelist")
    assert page.locator("ul.messagelist li.success").inner_text() == (
        "3 sessions revoked. See the revoked sessions."
    )
    page.screenshot(path=str(screenshots / "revoked.png"), full_page=True)
    with page.expect_navigation():
        page.click("ul.messagelist a")
    assert page.locator("#result_list tbody tr").count() == 3
    states = page.locator("#result_list td.field-state_and_reason").all_inner_texts()
    assert states == ["revoked\nrevoked by an administrator"] * 3
    page.goto(reverse("admin:index"))
    assert page.locator("#recent-actions-module li").count() == 3
