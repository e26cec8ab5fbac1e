from django.urls import path

from . import views

app_name = "django_jwt_revoke"

urlpatterns = [
    path("token/", views.TokenObtainView.as_view(), name="token_obtain"),
]
