from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JWTRevokeConfig(AppConfig):
    name = "django_jwt_revoke"
    label = "django_jwt_revoke"
    verbose_name = _("JWT revocation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401  (registers checks and signal handlers)

        # drf-spectacular is optional (the [openapi] extra). Its extensions
        # register themselves when imported, and its documentation asks for
        # the import in ready(), once settings are set up.
        try:
            import drf_spectacular  # noqa: F401
        except ImportError:
            return
        from . import openapi  # noqa: F401
