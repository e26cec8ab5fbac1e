from django.contrib import admin

from .models import EmailUser


@admin.register(EmailUser)
class EmailUserAdmin(admin.ModelAdmin):
    """A project's own user admin that is not a UserAdmin at all."""

    list_display = ("email", "is_active", "is_staff")
    search_fields = ("email",)
