"""The resource-server role: verify the issuer's tokens, enforce its revocations.

Installed as ``"django_jwt_revoke.resource"`` in ``INSTALLED_APPS``, without
``"django_jwt_revoke"``: a resource server has no access to the issuer's
database or cache. It verifies tokens with the keys the issuer publishes at
``jwks/`` and keeps an in-process copy of every revocation that still matters,
followed from the issuer's signed event feed (``events/``, ``events/snapshot/``;
the wire format is ``django_jwt_revoke.secevents``). Nothing here imports the
issuer's models.

* ``conf``: the ``JWT_REVOKE_RESOURCE`` settings object;
* ``checks``: its system checks (``django_jwt_revoke.E1xx`` / ``W1xx``);
* ``transport``: HTTP to the issuer (urllib; no redirect, bounded answers);
* ``keys``: the issuer's JWKS, fetched over HTTP, looked up by ``kid``;
* ``copy``: ``RevocationCopy``, the revocations this process knows of;
* ``follower``: the thread that keeps the copy current;
* ``authentication``: ``ResourceServerAuthentication``, the DRF class.
"""
