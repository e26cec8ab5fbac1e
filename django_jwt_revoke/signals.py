"""Signals this app sends. Their arguments never include a raw token."""

from django.dispatch import Signal

# A token or a whole session was revoked (sent once, when its state changes).
# Arguments: jti (str | None: None when a whole session was revoked),
# sid (str | None), token_type ("access", "refresh" or None for a session),
# user_id (the user's primary key, or None when unknown), reason (str).
token_revoked = Signal()

# Every token of a user issued so far was revoked.
# Arguments: user (the user instance), reason (str),
# generation (int: the user's new revocation generation).
user_tokens_revoked = Signal()

# A refresh token that had already been exchanged was presented again; its
# session has been revoked. Arguments: jti (str), sid (str),
# user_id (the user's primary key), request (the HttpRequest or None).
refresh_token_reused = Signal()

# Every token of every user issued so far was revoked (incident response).
# Arguments: reason (str), generation (int: the new global generation).
all_tokens_revoked = Signal()

# A revocation committed to the database, but the revocation cache
# (CACHE_ALIAS) could not be told of it: until its cached "not revoked"
# entries expire (CACHE_MAX_STALENESS), token-user mode may still accept the
# tokens concerned. Alert on it. Arguments: alias (the CACHES alias),
# kinds (tuple of "jti", "session", "user", "epoch"), error (the exception).
revocation_cache_write_failed = Signal()
