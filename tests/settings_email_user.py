"""The test settings with an email-login user model (``email_user.EmailUser``)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

# Before django_jwt_revoke: its user admin is registered when ours is imported.
INSTALLED_APPS = [
    *(app for app in INSTALLED_APPS if app != "django_jwt_revoke"),
    "tests.custom_users.email_user",
    "django_jwt_revoke",
]
AUTH_USER_MODEL = "email_user.EmailUser"
