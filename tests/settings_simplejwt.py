"""The test settings with djangorestframework-simplejwt and its blacklist app installed.

For ``tests/test_simplejwt_compat.py``: tokens minted by simplejwt itself,
with the same signing key, and its real ``token_blacklist`` models for the
import command. Importing simplejwt here (not inside a test) makes a run
without it fail at once rather than skip.
"""

import rest_framework_simplejwt  # noqa: F401  (fail here if it is not installed)

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, JWT_REVOKE, SECRET_KEY

# simplejwt's tokens are refused by default; this suite is about accepting them.
JWT_REVOKE = {**JWT_REVOKE, "ACCEPT_SIMPLEJWT_TOKENS": True}
INSTALLED_APPS = [
    *INSTALLED_APPS,
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
]
SIMPLE_JWT = {
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_LIFETIME": JWT_REVOKE["ACCESS_TOKEN_LIFETIME"],
    "REFRESH_TOKEN_LIFETIME": JWT_REVOKE["REFRESH_TOKEN_LIFETIME"],
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}
