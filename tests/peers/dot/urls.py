from django.conf import settings
from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider.urls import metadata_urlpatterns
from oauth2_provider.views import DeviceAuthorizationView
from oauthlib.oauth2 import DeviceApplicationServer


class DeviceServer(DeviceApplicationServer):
    """oauthlib's device authorization server, told the device code's lifetime.

    The toolkit builds its device server from its settings, but the server drops
    oauthlib's `expires_in`: every device code would live oauthlib's 1800 s. This one hands
    settings.DEVICE_CODE_TTL on; the toolkit stores the expiry from the response as ever.
    """

    @property
    def expires_in(self):
        return settings.DEVICE_CODE_TTL


class DeviceAuthorization(DeviceAuthorizationView):
    """The toolkit's device authorization view, with that server (the toolkit builds its
    server from the class attribute)."""

    server_class = DeviceServer


urlpatterns = [
    # At the toolkit's own path, matched before the toolkit's routes below.
    path("o/device-authorization/", DeviceAuthorization.as_view()),
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
