"""Users of whatever ``AUTH_USER_MODEL`` is active: the default ``User``, or
the custom models in ``tests/custom_users`` (a UUID primary key, an email
login with no username). Every test makes its users here.

* ``UserFactory()``: an active user with a fresh login name (its
  ``USERNAME_FIELD``: ``user7``, or ``user7@example.com`` for an email login),
  an email address if the model has an email field, and ``PASSWORD``.
* ``UserFactory(name="alice")``: that login name (``alice@example.com`` for an
  email login). Any model field can be given too, e.g. ``is_active=False``.
* ``UserFactory(password="...")``: another password; hashed either way, before
  the first save, so creating a user is never a password change.
* ``UserFactory(staff=True)``: ``is_staff``; ``UserFactory(superuser=True)``:
  ``is_staff`` and ``is_superuser``.
* ``credentials(user)``: the login payload, keyed by the model's
  ``USERNAME_FIELD`` (``{"email": ..., "password": ...}`` for an email login).
* ``json_id(user)``: the id as JSON carries it (a claim, an answer's ``id``);
  ``unused_id()``: an id of the model's id type that no user has.
"""

import uuid

import factory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist

PASSWORD = "correct horse battery staple"


def login_name(name):
    """The ``USERNAME_FIELD`` value for ``name``: itself, or an address for email logins."""
    User = get_user_model()
    if User.USERNAME_FIELD == User.get_email_field_name() and "@" not in name:
        return f"{name}@example.com"
    return name


def credentials(user, password=PASSWORD):
    """What a login posts for ``user``: its ``USERNAME_FIELD`` and ``password``."""
    return {type(user).USERNAME_FIELD: user.get_username(), "password": password}


def json_id(user):
    """``user.pk`` as a token claim or a JSON answer holds it: an int, or a UUID's string."""
    return user.pk if isinstance(user.pk, int) else str(user.pk)


def unused_id():
    """An id of the active user model's id type, in its JSON form, that no user has."""
    if get_user_model()._meta.pk.get_internal_type() == "UUIDField":
        return str(uuid.uuid4())
    return 987_654_321


def _has_field(model, name):
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = settings.AUTH_USER_MODEL

    class Params:
        name = factory.Sequence(lambda n: f"user{n}")
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)

    is_active = True
    # hashed before the first save, so creating a user is not a password change
    password = factory.django.Password(PASSWORD)

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        model = cls._meta.get_model_class()
        login_field = model.USERNAME_FIELD
        kwargs.setdefault(login_field, login_name(kwargs["name"]))
        email_field = model.get_email_field_name()
        if email_field != login_field and _has_field(model, email_field):
            kwargs.setdefault(email_field, f"{kwargs[login_field]}@example.com")
        return kwargs
