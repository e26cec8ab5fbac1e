"""The test settings with a UUID primary key user model (``uuid_user.UUIDUser``)."""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

# After django_jwt_revoke, on purpose: its user admin gains the revoke action
# whatever the order (tests.settings_email_user lists its app before ours).
INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_users.uuid_user"]
AUTH_USER_MODEL = "uuid_user.UUIDUser"
