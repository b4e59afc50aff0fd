"""Starts django-oauth-toolkit on 127.0.0.1 with a fresh database.

Usage: python serve.py <port>
Prints "READY <port>" once it answers HTTP; exits when its stdin closes, so it never
outlives the test process that started it.

DEVICE_CODE_TTL is the lifetime of a device code (RFC 8628), in seconds (oauthlib's 1800
unless given); DEVICE_FLOW_INTERVAL the polling interval the device is told (the
toolkit's 5 unless given). Both short in the tests that wait for them.
"""

import os
import sys
import tempfile
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
# The origin the person's browser reaches: the device flow's verification URI is absolute.
os.environ["PEER_ORIGIN"] = f"http://127.0.0.1:{int(sys.argv[1])}"
database = tempfile.NamedTemporaryFile(prefix="dot-peer-", suffix=".sqlite3", delete=False)
os.environ["PEER_DATABASE"] = database.name

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

USER = ("alice", 'p&ss=w+rd %"é')
CLIENTS = [
    ("dot-password", "dot-password-secret-0123", Application.GRANT_PASSWORD),
    ("dot-machine", "dot-machine-secret-0123", Application.GRANT_CLIENT_CREDENTIALS),
]
# The authorization code grant's client: a person logs in and consents in a browser. Its
# loopback redirect URI takes any port at the time of the request (RFC 8252 §7.3, as the
# toolkit implements it for http://127.0.0.1 and http://[::1]).
CODE_CLIENT = ("dot-code", "dot-code-secret-0123", "http://127.0.0.1/callback")
# The device authorization grant's client (RFC 8628): public, as an app on a device is. It
# asks at /o/device-authorization/ and polls /o/token/ with its client_id alone; a person
# approves at /o/device/ after signing in.
DEVICE_CLIENT = "dot-device"


def bootstrap():
    call_command("migrate", verbosity=0, interactive=False)
    User.objects.create_user(USER[0], password=USER[1])
    for client_id, secret, grant in CLIENTS:
        Application.objects.create(
            name=client_id,
            client_id=client_id,
            client_secret=secret,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
        )
    client_id, secret, redirect_uri = CODE_CLIENT
    Application.objects.create(
        name=client_id,
        client_id=client_id,
        client_secret=secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
    )
    Application.objects.create(
        name=DEVICE_CLIENT,
        client_id=DEVICE_CLIENT,
        client_secret="",
        client_type=Application.CLIENT_PUBLIC,
        authorization_grant_type=Application.GRANT_DEVICE_CODE,
    )


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    port = int(sys.argv[1])
    bootstrap()
    server = make_server("127.0.0.1", port, get_wsgi_application(), ThreadingServer, QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"READY {port}", flush=True)
    sys.stdin.read()  # returns at EOF: the test process is gone
    os.unlink(database.name)
    os._exit(0)


if __name__ == "__main__":
    main()
