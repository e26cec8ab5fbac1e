"""Deprecated alias of ``tests.factories``, the one user factory: no code of its own.

Kept only while ``tests/test_receivers.py`` (being rewritten) still imports
it; delete this module once nothing does. New tests use ``UserFactory``.
"""

from tests.factories import PASSWORD, UserFactory, login_name

__all__ = ["PASSWORD", "login_name", "make_user"]


def make_user(name=None, password=PASSWORD, superuser=False, **extra):
    """``UserFactory(name=name, password=password, superuser=superuser, **extra)``."""
    if name is not None:
        extra["name"] = name
    return UserFactory(password=password, superuser=superuser, **extra)
