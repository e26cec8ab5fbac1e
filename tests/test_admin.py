"""The admin, through its HTTP views as a logged-in staff member uses it."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import override_settings
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import strip_tags

from django_jwt_revoke import revocation
from django_jwt_revoke.admin import RevokeUserTokensAdminMixin
from django_jwt_revoke.models import BlacklistedToken, OutstandingToken, Reason, UserRevocation
from django_jwt_revoke.tokens import decode_token, issue_token_pair, user_key
from tests.factories import UserFactory
from tests.testapp.views import MeView

pytestmark = pytest.mark.django_db

OUTSTANDING = "admin:django_jwt_revoke_outstandingtoken_changelist"
BLACKLISTED = "admin:django_jwt_revoke_blacklistedtoken_changelist"


def user_changelist(site="admin"):
    opts = get_user_model()._meta
    return reverse(f"{site}:{opts.app_label}_{opts.model_name}_changelist")


@pytest.fixture
def staff(client):
    root = UserFactory(name="root", superuser=True)
    client.force_login(root)
    return client


@pytest.fixture
def alice(db):
    return UserFactory(name="alice")


@pytest.fixture
def bob(db):
    return UserFactory(name="bob")


@pytest.fixture
def me(api_client):
    def get(pair):
        return api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")

    return get


def refresh_jti(pair):
    return decode_token(pair.refresh, token_type="refresh", verify_exp=False).jti


def actions_offered(page):
    form = page.context["action_form"]
    return dict(form.fields["action"].choices) if form is not None else {}


def listed(response):
    """The jti of each row on a changelist page."""
    return {obj.jti for obj in response.context["cl"].result_list}


def messages_of(response):
    """The messages' text, links left out (tests/test_admin_pages.py checks those)."""
    return [strip_tags(str(m)) for m in get_messages(response.wsgi_request)]


def act(client, url, action, objects):
    """Choose the action, then confirm it on its confirmation page (post=yes)."""
    selected = {"action": action, "_selected_action": [str(o.pk) for o in objects]}
    client.post(url, {**selected, "index": "0"})
    return client.post(url, {**selected, "post": "yes"}, follow=True)


# -- read-only, no raw token -----------------------------------------------------------


def test_token_models_are_listed_read_only(staff, alice):
    pair = issue_token_pair(alice)
    revocation.revoke_token(pair.access)
    models = (("outstandingtoken", OutstandingToken), ("blacklistedtoken", BlacklistedToken))
    for name, model in models:
        changelist = staff.get(reverse(f"admin:django_jwt_revoke_{name}_changelist"))
        assert changelist.status_code == 200
        assert "delete_selected" not in actions_offered(changelist)
        assert staff.get(reverse(f"admin:django_jwt_revoke_{name}_add")).status_code == 403
        obj = model.objects.get()
        page = staff.get(reverse(f"admin:django_jwt_revoke_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert b'name="_save"' not in page.content  # a view, not a form
        assert obj.jti.encode() in page.content
        deleting = reverse(f"admin:django_jwt_revoke_{name}_delete", args=[obj.pk])
        assert staff.post(deleting, {"post": "yes"}).status_code == 403
    assert OutstandingToken.objects.count() == BlacklistedToken.objects.count() == 1


def test_no_raw_token_anywhere(staff, alice):
    pair = issue_token_pair(alice)
    revocation.revoke_token(pair.access)
    revocation.revoke_token(pair.refresh)
    pages = [staff.get(reverse(OUTSTANDING)), staff.get(reverse(BLACKLISTED))]
    pages += [
        staff.get(reverse("admin:django_jwt_revoke_outstandingtoken_change", args=[o.pk]))
        for o in OutstandingToken.objects.all()
    ]
    pages += [
        staff.get(reverse("admin:django_jwt_revoke_blacklistedtoken_change", args=[o.pk]))
        for o in BlacklistedToken.objects.all()
    ]
    for page in pages:
        assert page.status_code == 200
        for raw in (pair.access, pair.refresh):
            for part in raw.split("."):  # not even the payload or the signature
                assert part.encode() not in page.content


# -- search, filters, queries ---------------------------------------------------------------


def test_search_by_username_and_jti(staff, alice, bob):
    mine, theirs = issue_token_pair(alice), issue_token_pair(bob)
    by_name = staff.get(reverse(OUTSTANDING), {"q": alice.get_username()})
    assert listed(by_name) == {refresh_jti(mine)}
    by_jti = staff.get(reverse(OUTSTANDING), {"q": refresh_jti(theirs)})
    assert listed(by_jti) == {refresh_jti(theirs)}
    revocation.revoke_token(mine.access)
    blacklisted = staff.get(reverse(BLACKLISTED), {"q": alice.get_username()})
    assert listed(blacklisted) == {decode_token(mine.access).jti}


def test_state_filter(staff, alice, bob):
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=False):
        expired = issue_token_pair(alice)
    active = issue_token_pair(alice)
    by_session = issue_token_pair(alice)
    revocation.revoke_session(by_session.sid)
    by_user = issue_token_pair(bob)
    revocation.revoke_user_tokens(bob)
    after_user = issue_token_pair(bob)
    rotated = issue_token_pair(alice)
    successor = revocation.rotate_refresh_token(rotated.refresh)

    def state(value):
        return listed(staff.get(reverse(OUTSTANDING), {"state": value}))

    assert state("expired") == {refresh_jti(expired)}
    assert state("active") == {refresh_jti(p) for p in (active, after_user, successor)}
    assert state("revoked") == {refresh_jti(p) for p in (by_session, by_user, rotated)}
    cl = staff.get(reverse(OUTSTANDING), {"state": "revoked"}).context["cl"]
    shown = {o.jti: (cl.model_admin.state(o), cl.model_admin.reason(o)) for o in cl.result_list}
    assert shown == {
        refresh_jti(by_session): ("revoked", "logout"),
        refresh_jti(by_user): ("revoked", "logout from all sessions"),
        refresh_jti(rotated): ("revoked", "rotated"),
    }


def test_state_and_reason_after_incident_response(staff, alice, bob):
    before = [issue_token_pair(alice), issue_token_pair(bob)]
    revocation.revoke_all_tokens()
    after = issue_token_pair(alice)

    def listed_with(**params):
        return listed(staff.get(reverse(OUTSTANDING), params))

    assert listed_with(state="revoked") == {refresh_jti(p) for p in before}
    assert listed_with(state="active") == {refresh_jti(after)}
    assert listed_with(reason="incident") == {refresh_jti(p) for p in before}
    cl = staff.get(reverse(OUTSTANDING), {"state": "revoked"}).context["cl"]
    assert {cl.model_admin.reason(o) for o in cl.result_list} == {
        "incident response: every token revoked"
    }


def test_reason_filter(staff, alice, bob):
    logout = issue_token_pair(alice)
    revocation.revoke_token(logout.refresh, reason=Reason.LOGOUT)
    kept = issue_token_pair(alice)
    everything = issue_token_pair(bob)
    bob.set_password("a new password for bob")
    bob.save()

    def reason(value, url=OUTSTANDING):
        return listed(staff.get(reverse(url), {"reason": value}))

    assert reason("logout") == {refresh_jti(logout)}
    assert reason("password_change") == {refresh_jti(everything)}
    assert refresh_jti(kept) not in reason("logout") | reason("password_change")
    revocation.revoke_token(kept.access, reason=Reason.ADMIN)
    assert reason("admin", BLACKLISTED) == {decode_token(kept.access).jti}
    assert reason("logout", BLACKLISTED) == {refresh_jti(logout)}


def test_blacklist_state_filter(staff, alice):
    with time_machine.travel(timezone.now() - timedelta(hours=1), tick=False):
        old = issue_token_pair(alice)
        revocation.revoke_token(old.access)  # its access token expired since
    new = issue_token_pair(alice)
    revocation.revoke_token(new.access)
    expired = listed(staff.get(reverse(BLACKLISTED), {"state": "expired"}))
    revoked = listed(staff.get(reverse(BLACKLISTED), {"state": "revoked"}))
    assert expired == {decode_token(old.access, verify_exp=False).jti}
    assert revoked == {decode_token(new.access).jti}


def test_changelist_queries_do_not_grow_with_rows(staff, alice, bob, django_assert_num_queries):
    for user in (alice, bob):
        pair = issue_token_pair(user)
        revocation.revoke_token(pair.access)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries(url):
        with CaptureQueriesContext(connection) as ctx:
            assert staff.get(reverse(url)).status_code == 200
        return len(ctx.captured_queries)

    few = {url: queries(url) for url in (OUTSTANDING, BLACKLISTED)}
    for _ in range(5):
        user = UserFactory()
        pair = issue_token_pair(user)
        revocation.revoke_token(pair.access)
    assert {url: queries(url) for url in (OUTSTANDING, BLACKLISTED)} == few


# -- actions ----------------------------------------------------------------------------


def test_revoke_selected_tokens(staff, alice, bob, me):
    first, second = issue_token_pair(alice), issue_token_pair(bob)
    already = issue_token_pair(alice)
    revocation.revoke_token(already.refresh)
    untouched = issue_token_pair(alice)
    selected = OutstandingToken.objects.exclude(jti=refresh_jti(untouched))
    response = act(staff, reverse(OUTSTANDING), "revoke_selected_tokens", selected)
    assert response.status_code == 200
    assert messages_of(response) == [
        "2 tokens revoked, with their sessions. See the revoked sessions.",
        "1 token was already revoked or expired.",
    ]
    for pair in (first, second):
        assert me(pair).json()["code"] == "token_revoked"  # the access token too
        with pytest.raises(Exception, match="revoked"):
            revocation.rotate_refresh_token(pair.refresh)
    assert me(untouched).status_code == 200


def test_revoke_one_selected_token(staff, alice, me):
    pair = issue_token_pair(alice)
    everything = OutstandingToken.objects.all()
    response = act(staff, reverse(OUTSTANDING), "revoke_selected_tokens", everything)
    assert messages_of(response) == [
        "1 token revoked, with its session. See the revoked sessions."
    ]
    assert me(pair).json()["code"] == "token_revoked"


def test_user_admin_revokes_all_tokens_of_selected_users(staff, alice, bob, me):
    """The project's user admin (Django's, or its own class) has the action."""
    carol = UserFactory(name="carol")
    pairs = {u: [issue_token_pair(u), issue_token_pair(u)] for u in (alice, bob, carol)}
    response = act(staff, user_changelist(), "revoke_all_user_tokens", [alice, bob])
    assert response.status_code == 200
    assert messages_of(response) == [
        "Revoked every token of 2 users. See their sessions. See the user revocations."
    ]
    for user in (alice, bob):
        for pair in pairs[user]:
            assert me(pair).json()["code"] == "token_revoked"
        assert UserRevocation.objects.get(user_key=user_key(user)).reason == Reason.ADMIN
    assert all(me(pair).status_code == 200 for pair in pairs[carol])
    assert me(issue_token_pair(alice)).status_code == 200


def test_user_admin_action_singular_message(staff, alice):
    response = act(staff, user_changelist(), "revoke_all_user_tokens", [alice])
    assert messages_of(response) == [
        "Revoked every token of 1 user. See their sessions. See the user revocations."
    ]


def test_actions_need_the_change_permission(client, alice, me):
    viewer = UserFactory(name="viewer", is_staff=True)
    User = get_user_model()
    viewer.user_permissions.set(
        Permission.objects.filter(
            codename__in=[
                "view_outstandingtoken",
                f"view_{User._meta.model_name}",
            ]
        )
    )
    client.force_login(viewer)
    pair = issue_token_pair(alice)
    for url, action, objects in (
        (reverse(OUTSTANDING), "revoke_selected_tokens", OutstandingToken.objects.all()),
        (user_changelist(), "revoke_all_user_tokens", [alice]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert action not in actions_offered(page)
        act(client, url, action, objects)
    assert me(pair).status_code == 200
    assert not UserRevocation.objects.exists()


# -- a user admin registered after this app: the mixin ---------------------------------------

other_site = admin.AdminSite(name="other_admin")


class LateUserAdmin(RevokeUserTokensAdminMixin, admin.ModelAdmin):
    search_fields = ()


other_site.register(get_user_model(), LateUserAdmin)

urlpatterns = [
    path("other-admin/", other_site.urls),
    path("api/me/", MeView.as_view()),
]


@override_settings(ROOT_URLCONF=__name__)
def test_mixin_gives_a_late_user_admin_the_action(client, alice, me):
    client.force_login(UserFactory(name="root", superuser=True))
    pair = issue_token_pair(alice)
    response = act(client, user_changelist("other_admin"), "revoke_all_user_tokens", [alice])
    assert messages_of(response) == ["Revoked every token of 1 user."]
    assert me(pair).json()["code"] == "token_revoked"


# -- whatever the order of INSTALLED_APPS ------------------------------------------------------

# Run in a fresh process (the apps are set up once per process): the actions
# of the user admin on the default site once Django is set up.
ACTIONS_AFTER_SETUP = """
import json, sys
import django
from django.conf import settings
from tests import settings as base

settings.configure(
    **{
        **{name: getattr(base, name) for name in dir(base) if name.isupper()},
        "INSTALLED_APPS": sys.argv[1:],
        "AUTH_USER_MODEL": "uuid_user.UUIDUser",
    }
)
django.setup()
from django.contrib import admin
from django.contrib.auth import get_user_model

actions = admin.site._registry[get_user_model()].actions or ()
print(json.dumps([getattr(action, "__name__", action) for action in actions]))
"""
UUID_USERS = "tests.custom_users.uuid_user"  # its own UserAdmin subclass


@pytest.mark.parametrize(
    "order", ["user-admin-app-after-ours", "admin-app-after-ours", "user-admin-app-before-ours"]
)
def test_user_admin_has_the_action_whatever_the_order_of_installed_apps(order):
    """A patch made when our admin module is imported misses the first two orders."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.settings import INSTALLED_APPS

    others = [app for app in INSTALLED_APPS if app != "django_jwt_revoke"]  # admin first
    installed_apps = {
        "user-admin-app-after-ours": [*others, "django_jwt_revoke", UUID_USERS],
        "admin-app-after-ours": ["django_jwt_revoke", UUID_USERS, *others],
        "user-admin-app-before-ours": [*others, UUID_USERS, "django_jwt_revoke"],
    }[order]
    done = subprocess.run(
        [sys.executable, "-c", ACTIONS_AFTER_SETUP, *installed_apps],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "revoke_all_user_tokens" in json.loads(done.stdout)
