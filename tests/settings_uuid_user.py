"""The test settings with a UUID primary key user model (``uuid_user.UUIDUser``)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

# Before django_jwt_revoke: its user admin is registered when ours is imported.
INSTALLED_APPS = [
    *(app for app in INSTALLED_APPS if app != "django_jwt_revoke"),
    "tests.custom_users.uuid_user",
    "django_jwt_revoke",
]
AUTH_USER_MODEL = "uuid_user.UUIDUser"
