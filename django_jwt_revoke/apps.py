from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class JWTRevokeConfig(AppConfig):
    name = "django_jwt_revoke"
    label = "django_jwt_revoke"
    verbose_name = _("JWT revocation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and signal handlers)

        self._give_user_admins_the_action()
        self._register_openapi_extensions()

    def _give_user_admins_the_action(self) -> None:
        """Give the project's user admin, whatever its class, the revoke action.

        Here rather than when our admin module is imported: at that moment a
        user admin of an app listed after this one is not registered yet.
        ``AdminConfig.ready()`` imports every app's admin module; when it
        runs after this (``django.contrib.admin`` listed after this app), the
        same ``autodiscover()`` runs here first. It is idempotent (a module
        is imported once), so when the admin's ``ready()`` already ran it
        costs nothing. With ``SimpleAdminConfig`` (no autodiscovery) nothing
        is imported here: the project registers its admins itself, and a
        user admin gets the action from ``RevokeUserTokensAdminMixin``.
        """
        if not apps.is_installed("django.contrib.admin"):
            return
        from django.contrib import admin
        from django.contrib.admin.apps import AdminConfig

        installed = (c for c in apps.get_app_configs() if c.name == "django.contrib.admin")
        if not isinstance(next(installed), AdminConfig):
            return
        admin.autodiscover()
        from .admin import give_user_admins_the_action

        give_user_admins_the_action()

    def _register_openapi_extensions(self) -> None:
        # drf-spectacular is optional (the [openapi] extra). Its extensions
        # register themselves when imported, and its documentation asks for
        # the import in ready(), once settings are set up.
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        from . import openapi  # noqa: F401
