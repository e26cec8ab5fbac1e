"""A resource server's settings: ``django_jwt_revoke.resource`` without ``django_jwt_revoke``.

For the subprocess tests of tests/test_resource.py (``tests/resource_processes.py``):
no issuer app, so no issuer model may be imported. ``RESOURCE_TEST_BAD=1``
gives settings the checks must report.
"""

import os

SECRET_KEY = "tests-only-resource-server-secret-key-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "tests.resource_processes"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "django_jwt_revoke.resource",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

JWT_REVOKE_RESOURCE = {
    # Placeholders: resource_processes points them at a fake issuer it starts.
    "ISSUER_URL": "http://127.0.0.1:9/api/auth/",
    "FEED_CREDENTIAL": "resource-test-credential-" + "x" * 16,
}
if os.environ.get("RESOURCE_TEST_BAD") == "1":
    JWT_REVOKE_RESOURCE = {
        "ISSUER_URL": "http://127.0.0.1:9/api/auth/",
        "FEED_CREDENTIAL": "short",
        "ALGORITHMS": ("HS256",),
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "django_jwt_revoke.resource.authentication.ResourceServerAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
