"""Users of whatever ``AUTH_USER_MODEL`` is active (default, UUID pk or email login)."""

import itertools

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"
_numbers = itertools.count()


def login_name(name):
    """The ``USERNAME_FIELD`` value for ``name``: itself, or an address for email logins."""
    User = get_user_model()
    if User.USERNAME_FIELD == "email" and "@" not in name:
        return f"{name}@example.com"
    return name


def make_user(name=None, password=PASSWORD, superuser=False, **extra):
    User = get_user_model()
    name = login_name(name or f"person{next(_numbers)}")
    fields = {User.USERNAME_FIELD: name, **extra}
    if User.USERNAME_FIELD != "email" and hasattr(User, "email"):
        fields.setdefault("email", f"{name}@example.com")
    create = User.objects.create_superuser if superuser else User.objects.create_user
    return create(password=password, **fields)
