from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import UUIDUser


@admin.register(UUIDUser)
class UUIDUserAdmin(UserAdmin):
    """A project's own subclass of Django's UserAdmin, registered before our app."""

    list_display = ("username", "email", "is_active")
