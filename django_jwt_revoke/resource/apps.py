from django.apps import AppConfig
from django.core import checks


class ResourceServerConfig(AppConfig):
    """The resource-server role, installed without ``django_jwt_revoke`` (no models)."""

    name = "django_jwt_revoke.resource"
    label = "django_jwt_revoke_resource"
    verbose_name = "JWT revocation (resource server)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .checks import check_settings

        checks.register(check_settings, checks.Tags.security, checks.Tags.compatibility)
