"""Automatic revocation: password change, deactivation, deletion, a changed id value.

Runs with the default user model and, through separate pytest runs, with
the custom ones in tests/custom_users (UUID primary key, email login).
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminPasswordChangeForm, PasswordChangeForm, SetPasswordForm
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_jwt_revoke import revocation
from django_jwt_revoke.models import Reason, UserRevocation
from django_jwt_revoke.signals import user_tokens_revoked
from django_jwt_revoke.tokens import issue_token_pair, user_key
from tests.custom_users.factories import PASSWORD, login_name, make_user

pytestmark = pytest.mark.django_db(transaction=True)  # revocations reach the cache on commit

NEW_PASSWORD = "an entirely different passphrase 42"


@pytest.fixture
def person(db):
    return make_user("alice")


@pytest.fixture
def http(api_client):
    """Talks to the API the way a client holding a token pair would."""

    class Client:
        def me(self, pair):
            return api_client.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}")

        def token_user_me(self, pair):
            return api_client.get(
                "/api/token-user-me/", HTTP_AUTHORIZATION=f"Bearer {pair.access}"
            )

        def refresh(self, pair):
            return api_client.post(
                "/api/auth/token/refresh/", {"refresh": pair.refresh}, format="json"
            )

        def works(self, pair):
            return self.me(pair).status_code == 200 and self.token_user_me(pair).status_code == 200

        def assert_dead(self, pair, me_code="token_revoked"):
            me = self.me(pair)
            assert me.status_code == 401, me.content
            assert me.json()["code"] == me_code
            token_user = self.token_user_me(pair)
            assert token_user.status_code == 401, token_user.content
            assert token_user.json()["code"] == "token_revoked"
            assert self.refresh(pair).status_code == 401

    return Client()


@pytest.fixture
def revocations():
    """The user_tokens_revoked signals sent, as (user key, reason)."""
    sent = []

    def record(sender, user, reason, **kwargs):
        sent.append((user_key(user), reason))

    user_tokens_revoked.connect(record)
    yield sent
    user_tokens_revoked.disconnect(record)


def reason_of(user_or_key):
    key = user_or_key if isinstance(user_or_key, str) else user_key(user_or_key)
    return UserRevocation.objects.get(user_key=key).reason


def generation_of(user):
    row = UserRevocation.objects.filter(user_key=user_key(user)).first()
    return row.generation if row else 0


def reload(user):
    return get_user_model()._default_manager.get(pk=user.pk)


# -- password changes ------------------------------------------------------------


def test_set_password_and_save_kills_every_token(
    http, person, revocations, django_capture_on_commit_callbacks
):
    first, second = issue_token_pair(person), issue_token_pair(person)
    bystander = issue_token_pair(make_user())
    assert http.works(first) and http.works(second)
    person.set_password(NEW_PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        person.save()
    http.assert_dead(first)
    http.assert_dead(second)
    assert http.works(bystander)
    assert reason_of(person) == Reason.PASSWORD_CHANGE
    assert revocations == [(user_key(person), "password_change")]
    assert http.works(issue_token_pair(person)), "a login after the change works"


def test_set_password_never_saved_changes_nothing(http, person):
    pair = issue_token_pair(person)
    person.set_password(NEW_PASSWORD)
    assert http.works(pair)
    assert reload(person).check_password(PASSWORD)


def test_saving_without_a_password_change_revokes_nothing(http, person, django_assert_num_queries):
    pair = issue_token_pair(person)
    person = reload(person)
    person.last_login = timezone.now()
    with django_assert_num_queries(1):  # the UPDATE, nothing else
        person.save()
    with django_assert_num_queries(1):
        person.save(update_fields=["last_login"])  # what a login does
    assert http.works(pair)
    assert generation_of(person) == 0


def test_password_set_but_saved_through_other_fields_waits_for_its_own_save(http, person):
    pair = issue_token_pair(person)
    person.set_password(NEW_PASSWORD)
    person.save(update_fields=["last_login"])
    assert http.works(pair), "the password was not written yet"
    person.save()
    http.assert_dead(pair)


def test_save_with_update_fields_password(http, person):
    pair = issue_token_pair(person)
    person.set_password(NEW_PASSWORD)
    person.save(update_fields=["password"])
    http.assert_dead(pair)


def test_password_change_form(http, person):
    pair = issue_token_pair(person)
    form = PasswordChangeForm(
        person,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert form.is_valid(), form.errors
    form.save()
    http.assert_dead(pair)


def test_set_password_form(http, person):
    """The password reset's last step."""
    pair = issue_token_pair(person)
    form = SetPasswordForm(person, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert form.is_valid(), form.errors
    form.save()
    http.assert_dead(pair)


def test_admin_password_change_form(http, person):
    pair = issue_token_pair(person)
    form = AdminPasswordChangeForm(
        person, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert form.is_valid(), form.errors
    form.save()
    http.assert_dead(pair)


def test_admin_password_page(http, client, person):
    """Through the admin's own password page, as a superuser would."""
    try:  # UserAdmin names its page so, whatever the user model
        url = reverse("admin:auth_user_password_change", args=[person.pk])
    except NoReverseMatch:
        pytest.skip("this project's user admin has no password page (not a UserAdmin)")
    pair = issue_token_pair(person)
    client.force_login(make_user("root", superuser=True))
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content
    assert reload(person).check_password(NEW_PASSWORD)
    http.assert_dead(pair)


def test_changepassword_command(http, person, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="Password: ", stream=None: NEW_PASSWORD)
    pair = issue_token_pair(person)
    call_command("changepassword", person.get_username(), stdout=open("/dev/null", "w"))
    assert reload(person).check_password(NEW_PASSWORD)
    http.assert_dead(pair)


def test_set_unusable_password(http, person):
    """Turning password login off is a credential change too."""
    pair = issue_token_pair(person)
    person.set_unusable_password()
    person.save()
    http.assert_dead(pair)
    assert reason_of(person) == Reason.PASSWORD_CHANGE


def test_unusable_password_saved_again_unchanged_revokes_nothing(
    http, person, django_assert_num_queries
):
    """No query: the post_init receiver kept the hash as loaded (without it,
    every save of a user with an unusable password would read the row)."""
    person.set_unusable_password()
    person.save()
    person = reload(person)
    pair = issue_token_pair(person)
    with django_assert_num_queries(1):
        person.save()
    assert http.works(pair)


def test_hash_upgrade_on_login_is_not_a_password_change(http, person):
    # A short salt makes the hasher ask for an upgrade at the next check.
    type(person).objects.filter(pk=person.pk).update(
        password=make_password(PASSWORD, salt="short", hasher="md5")
    )
    person = reload(person)
    pair = issue_token_pair(person)
    assert person.check_password(PASSWORD)  # re-hashes and saves the password
    assert "short" not in reload(person).password
    assert http.works(pair)


@override_settings(JWT_REVOKE={"REVOKE_ON_PASSWORD_CHANGE": False})
def test_revoke_on_password_change_off(http, person):
    pair = issue_token_pair(person)
    person.set_password(NEW_PASSWORD)
    person.save()
    assert http.works(pair)


# -- deactivation ------------------------------------------------------------------


def test_deactivation_kills_every_token_for_good(http, person):
    pair = issue_token_pair(person)
    person.is_active = False
    person.save()
    http.assert_dead(pair)
    assert reason_of(person) == Reason.DEACTIVATED
    person.is_active = True
    person.save()
    http.assert_dead(pair)  # reactivation does not bring them back
    assert http.works(issue_token_pair(person))


def test_saving_an_inactive_user_again_revokes_nothing_more(
    person, revocations, django_assert_num_queries
):
    person.is_active = False
    person.save()
    revoked = generation_of(person)
    assert revoked >= 1 and revocations == [(user_key(person), "deactivated")]
    with django_assert_num_queries(2):  # was it active? + the UPDATE
        person.save()
    assert generation_of(person) == revoked and len(revocations) == 1


def test_deactivation_not_written_revokes_nothing(http, person):
    pair = issue_token_pair(person)
    person.is_active = False
    person.save(update_fields=["last_login"])
    assert http.works(pair)


def test_password_change_and_deactivation_in_one_save_revoke_once(person, revocations):
    with transaction.atomic():  # one commit: the revocation after the save is the only one
        person.set_password(NEW_PASSWORD)
        person.is_active = False
        person.save()
    assert generation_of(person) == 1
    assert reason_of(person) == Reason.PASSWORD_CHANGE
    assert revocations == [(user_key(person), "password_change")]


@pytest.mark.parametrize("change", ["password", "deactivation"])
def test_process_dying_between_the_save_and_post_save_loses_no_revocation(
    http, person, revocations, change
):
    """In autocommit the row commits before post_save runs: a process killed
    there (post_save never runs) still leaves every old token dead."""
    from django.db.models.signals import post_save

    from django_jwt_revoke import receivers

    pair = issue_token_pair(person)
    uid = f"django_jwt_revoke.revoke_after_save.{person._meta.label_lower}"
    assert post_save.disconnect(sender=type(person), dispatch_uid=uid)
    try:
        if change == "password":
            person.set_password(NEW_PASSWORD)
        else:
            person.is_active = False
        person.save()  # the row is written and committed; then the "crash"
    finally:
        receivers.connect()
    http.assert_dead(pair)
    assert revocations == []  # the signal is the post_save revocation's, which never ran


@override_settings(JWT_REVOKE={"REVOKE_ON_DEACTIVATION": False})
def test_revoke_on_deactivation_off(http, person):
    pair = issue_token_pair(person)
    person.is_active = False
    person.save()
    assert http.me(pair).json()["code"] == "user_inactive"  # refused, not revoked
    person.is_active = True
    person.save()
    assert http.works(pair)


def test_deactivation_through_update_is_refused_but_not_revoked(http, person):
    """QuerySet.update() sends no signal: docs/automatic-revocation.md says to call
    revoke_user_tokens."""
    pair = issue_token_pair(person)
    get_user_model().objects.filter(pk=person.pk).update(is_active=False)
    assert http.me(pair).json()["code"] == "user_inactive"
    assert http.refresh(pair).status_code == 401
    assert generation_of(person) == 0
    revocation.revoke_user_tokens(person, reason=Reason.DEACTIVATED)
    http.assert_dead(pair)


# -- deletion ----------------------------------------------------------------------


def test_deletion_kills_every_token(http, person):
    pair = issue_token_pair(person)
    key = user_key(person)
    person.delete()
    http.assert_dead(pair, me_code="user_not_found")
    assert reason_of(key) == Reason.DELETED


def test_queryset_delete_kills_every_token(http, person):
    pair = issue_token_pair(person)
    get_user_model().objects.filter(pk=person.pk).delete()
    http.assert_dead(pair, me_code="user_not_found")


def test_new_user_with_the_deleted_users_id_inherits_nothing(http, person):
    """SQLite reuses the highest rowid; any database takes an explicit id."""
    old_pk, name = person.pk, person.get_username()
    old = issue_token_pair(person)
    person.delete()
    newcomer = make_user(name, id=old_pk)
    assert newcomer.pk == old_pk
    assert http.me(old).status_code == 401
    assert http.token_user_me(old).status_code == 401
    assert http.refresh(old).status_code == 401
    fresh = issue_token_pair(newcomer)
    assert http.works(fresh), "the newcomer starts with working tokens"
    assert http.refresh(fresh).status_code == 200


# -- a USER_ID_FIELD that can change --------------------------------------------------


def by_login_name():
    field = get_user_model().USERNAME_FIELD
    return override_settings(JWT_REVOKE={"USER_ID_FIELD": field, "USER_ID_CLAIM": "sub"})


def rename(user, name):
    setattr(user, get_user_model().USERNAME_FIELD, login_name(name))
    user.save()


def test_changed_id_value_revokes_the_old_one(http):
    with by_login_name():
        alice = make_user("alice")
        pair = issue_token_pair(alice)
        assert http.works(pair)
        rename(alice, "alice2")
        http.assert_dead(pair, me_code="user_not_found")
        assert reason_of(login_name("alice")) == Reason.USER_ID_CHANGED
        assert http.works(issue_token_pair(alice)), "tokens under the new value work"


def test_token_never_authenticates_the_next_holder_of_the_value(http):
    with by_login_name():
        alice = make_user("alice")
        pair = issue_token_pair(alice)
        rename(alice, "alice2")
        mallory = make_user("alice")  # takes the freed value
        assert http.me(pair).status_code == 401
        assert http.token_user_me(pair).status_code == 401
        assert http.refresh(pair).status_code == 401
        assert http.works(issue_token_pair(mallory))
        mallory.delete()
        rename(alice, "alice")  # back to the old value: the old tokens stay dead
        http.assert_dead(pair)
        assert http.works(issue_token_pair(alice))


def test_changed_id_value_on_a_deferred_load(http):
    with by_login_name():
        alice = make_user("alice")
        pair = issue_token_pair(alice)
        field = get_user_model().USERNAME_FIELD
        loaded = get_user_model().objects.only("pk").get(pk=alice.pk)
        rename(loaded, "alice2")
        assert getattr(reload(alice), field) == login_name("alice2")
        http.assert_dead(pair, me_code="user_not_found")


def test_unchanged_id_value_costs_no_query(http, django_assert_num_queries):
    """The post_init receiver kept the value as loaded, under the settings of the load."""
    reload(make_user("bob"))  # a load under the default USER_ID_FIELD first
    with by_login_name():
        alice = reload(make_user("alice"))
        pair = issue_token_pair(alice)
        alice.last_login = timezone.now()
        with django_assert_num_queries(1):
            alice.save()
        assert http.works(pair)


def test_id_value_change_is_revoked_even_with_the_settings_off(http):
    with override_settings(
        JWT_REVOKE={
            "USER_ID_FIELD": get_user_model().USERNAME_FIELD,
            "REVOKE_ON_PASSWORD_CHANGE": False,
            "REVOKE_ON_DEACTIVATION": False,
        }
    ):
        alice = make_user("alice")
        pair = issue_token_pair(alice)
        rename(alice, "alice2")
        rename(alice, "alice")
        http.assert_dead(pair)


# -- what a save reads -----------------------------------------------------------------


def user_rows_read(queries):
    table = get_user_model()._meta.db_table
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and table in q["sql"]]


def test_update_fields_leaving_out_the_watched_fields_reads_nothing(
    revocations, django_assert_num_queries
):
    """Every change a detector would confirm with a query is there, but not written."""
    with by_login_name():
        alice = make_user("alice")
        alice.is_active = False
        alice.save()
        alice = reload(alice)
        revocations.clear()
        alice.set_unusable_password()  # a new unusable value
        rename_to = login_name("alice2")
        setattr(alice, get_user_model().USERNAME_FIELD, rename_to)
        alice.last_login = timezone.now()
        with django_assert_num_queries(1):  # the UPDATE, nothing else
            alice.save(update_fields=["last_login"])
        assert revocations == []
        assert reload(alice).get_username() == login_name("alice")


def test_one_read_of_the_stored_row_serves_every_detector(revocations):
    """An unusable password, a deactivation and a new id value in one save: one SELECT."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with by_login_name():
        alice = reload(make_user("alice"))
        alice.set_unusable_password()
        alice.is_active = False
        setattr(alice, get_user_model().USERNAME_FIELD, login_name("alice2"))
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            alice.save()
        assert len(user_rows_read(queries.captured_queries)) == 1
        assert revocations == [
            (login_name("alice"), "user_id_changed"),
            (login_name("alice2"), "password_change"),  # and not "deactivated" as well
        ]


def test_a_save_that_finds_no_row_to_update_revokes_nothing(revocations):
    """An explicit primary key of no row: the deactivation check reads nothing, and
    the save inserts (a new user has no tokens to revoke)."""
    User = get_user_model()
    gone = make_user("gone")
    pk = gone.pk
    gone.delete()
    revocations.clear()
    newcomer = User(pk=pk, is_active=False, **{User.USERNAME_FIELD: login_name("newcomer")})
    newcomer.save()
    assert reload(newcomer).is_active is False
    assert revocations == []
    assert reason_of(newcomer) == Reason.DELETED  # the deleted user's revocation, untouched


# -- other paths --------------------------------------------------------------------


def test_explicit_primary_key_overwrite_is_seen(http, person):
    """``User(pk=existing, ...).save()`` updates the existing row."""
    User = get_user_model()
    if User._meta.pk.has_default():
        pytest.skip("a primary key with a default makes Django always INSERT")
    pair = issue_token_pair(person)
    copy = User(pk=person.pk, **{User.USERNAME_FIELD: person.get_username()})
    copy.set_password(NEW_PASSWORD)
    copy.save()
    http.assert_dead(pair)


def test_new_users_cost_no_extra_query(django_assert_max_num_queries):
    User = get_user_model()
    user = User(**{User.USERNAME_FIELD: login_name("newbie")})
    user.set_password(PASSWORD)
    with django_assert_max_num_queries(1):
        user.save()

