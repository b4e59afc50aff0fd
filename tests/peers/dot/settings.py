"""Django settings for the django-oauth-toolkit peer the integration tests run on 127.0.0.1."""

import os

SECRET_KEY = "test-peer-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
]
# A person logs in through Django's login form (a session cookie, CSRF-protected forms)
# before the toolkit's authorization form; the token endpoints are CSRF-exempt.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")],
        "APP_DIRS": True,
    }
]
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["PEER_DATABASE"],
    }
}
# The origin serve.py listens on: the device flow's verification URI is absolute.
PEER_ORIGIN = os.environ.get("PEER_ORIGIN", "http://127.0.0.1")
# The device code's lifetime, in seconds. The toolkit has no setting for it (its device
# server drops oauthlib's `expires_in`, leaving oauthlib's 1800): urls.py hands it on.
DEVICE_CODE_TTL = int(os.environ.get("DEVICE_CODE_TTL", "1800"))
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("ACCESS_TOKEN_TTL", "300")),
    "REFRESH_TOKEN_EXPIRE_SECONDS": 86400,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "SCOPES": {"read": "Read", "write": "Write"},
    # RFC 9207: the authorization response carries `iss` (and the metadata says so).
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    # RFC 8628: where the person enters the user code (the toolkit's own page, behind
    # Django's login), with the code filled in for the complete URI; the interval the
    # device is told to poll at.
    "OAUTH_DEVICE_VERIFICATION_URI": f"{PEER_ORIGIN}/o/device/",
    "OAUTH_DEVICE_VERIFICATION_URI_COMPLETE": f"{PEER_ORIGIN}/o/device/?user_code={{user_code}}",
    "DEVICE_FLOW_INTERVAL": int(os.environ.get("DEVICE_FLOW_INTERVAL", "5")),
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
