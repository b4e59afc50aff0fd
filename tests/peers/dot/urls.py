from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider.urls import metadata_urlpatterns

urlpatterns = [
    # Django's own login form, where the toolkit's authorization view sends a person who
    # is not logged in (settings.LOGIN_URL).
    path("accounts/login/", LoginView.as_view(template_name="login.html"), name="login"),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    # RFC 8414 §3.1: the metadata of the issuer http://127.0.0.1:<port>/o is at the
    # origin's /.well-known/oauth-authorization-server/o, outside the "o/" prefix.
    # django-oauth-toolkit asks prefixed deployments to mount its metadata routes at the
    # root as well; its other routes keep reversing to the "o/" instance.
    path("", include((metadata_urlpatterns, "oauth2_provider"), namespace="oauth2_metadata")),
]
