"""Custom user models the suite also runs against, one settings module each:

* ``tests.settings_uuid_user``: ``uuid_user.UUIDUser``, a UUID primary key;
* ``tests.settings_email_user``: ``email_user.EmailUser``, the email address
  as ``USERNAME_FIELD`` and no username at all.

``AUTH_USER_MODEL`` cannot change inside one process, so each is its own
pytest run of the whole suite (``.ci/run`` and ``tox.ini`` run them). Tests
make their users with ``tests.factories.UserFactory``, which fits any of them.
"""
