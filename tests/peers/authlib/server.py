"""Authlib's AuthorizationServer, in a small Flask app, on 127.0.0.1: a third-party verifier of
the JWT bearer grant (RFC 7523 §2.1) and of private_key_jwt client authentication (§2.2).

Usage: python server.py <port>
Prints "READY <port>" once it listens; exits when its stdin closes, so it never outlives the
test process that started it. All state is in memory, fresh at each start.

Environment:
- AUTHLIB_TRUST names a JSON file the harness wrote (read at start; the harness removes it
  once READY is printed):
    {"issuers": [{"issuer", "client_id", "jwks": {"keys": [...]}, "subjects": [...],
                  "scope"}],
     "assertion_clients": [{"client_id", "jwks": {"keys": [...]}, "scope"}]}
  Each issuer is the JWT bearer grant's client (Authlib finds the grant's client by the
  assertion's `iss`); each assertion client logs in with client credentials, authenticated
  by private_key_jwt.
- ACCESS_TOKEN_TTL: the access tokens' lifetime, in seconds (3600 unless given).

Endpoints: POST /token (the JWT bearer grant; client credentials for the assertion clients),
POST /token/revocation (RFC 7009), POST /token/introspection (RFC 7662, for the harness, as
INTROSPECTOR with client_secret_basic).

What verifies, and what this file adds
--------------------------------------
The JWT bearer grant is Authlib's `JWTBearerGrant` (authlib/oauth2/rfc7523/jwt_bearer.py):
- it reads `iss` before verifying anything and asks `resolve_issuer_client` for the client
  (this glue: the configured issuer's client, else None, which Authlib refuses);
- it verifies the signature with joserfc's `jwt.decode` against the key
  `resolve_client_public_key` gives (this glue: the issuer's configured JWK set; joserfc picks
  the key by `kid`, checks that `alg` fits it, and by default accepts only its "recommended"
  algorithms, HS256, RS256 and ES256: EdDSA and PS256 are refused as "not recommended");
- it requires `iss`, `aud` and `exp` (JWTClaimsRegistry, essential), checks `aud` against
  `get_audiences` (this glue: the token endpoint's URL, nothing else), `exp`, and `nbf` and
  `iat` if present, each with its LEEWAY of 60 s;
- it checks that the client may use the grant (`check_grant_type`), the scope
  (`get_allowed_scope`, this glue: the configured scope), and, if `sub` is present,
  `authenticate_user(sub)` and `has_granted_permission(client, user)` (this glue: the
  issuer's configured subjects);
- it authenticates no client: the client is the one `iss` names, so the grant's client is
  public here (`client_id` in the body, no secret; Authlib ignores it at /token). It issues
  no refresh token.
Authlib leaves `jti` alone in this grant: it neither requires it nor remembers it. This glue
adds both (JwtBearerGrant.verify_claims below): after Authlib's own checks pass, a `jti` is
required and refused if the same issuer used it before, remembered until its `exp` plus
Authlib's leeway. Refusals are Authlib's `invalid_grant` (400), with its own descriptions.

private_key_jwt is Authlib's `JWTBearerClientAssertion` (authlib/oauth2/rfc7523/client.py),
registered as the client authentication method "client_assertion_jwt" for client
credentials, revocation and introspection: it finds the client by `sub`, verifies the
signature the same way (the client's configured JWK set), requires `iss`, `sub`, `aud` and
`exp`, checks `aud` against `get_audiences` (this glue: the token endpoint's URL), `exp`,
`nbf` and `iat` with 60 s of leeway, and that `iss` equals `sub`; it requires `jti` and asks
`validate_jti`, which this glue answers from the same replay cache. Refusals are
`invalid_client` (400, Authlib's status for a client not using HTTP Basic).
"""

import json
import logging
import os
import secrets
import sys
import threading
import time

from flask import Flask
from joserfc.jwk import KeySet
from werkzeug.serving import make_server

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

PORT = int(sys.argv[1])
ORIGIN = f"http://127.0.0.1:{PORT}"
TOKEN_URL = f"{ORIGIN}/token"
TTL = int(os.environ.get("ACCESS_TOKEN_TTL", "3600"))
# The harness's client for introspection (client_secret_basic).
INTROSPECTOR = ("authlib-introspector", "introspector-secret-0123")

with open(os.environ["AUTHLIB_TRUST"], encoding="utf-8") as trust_file:
    TRUST = json.load(trust_file)


class Client(ClientMixin):
    def __init__(self, client_id, grant_types, auth_methods, scope="", jwks=None, secret=None,
                 issuer=None, subjects=()):
        self.client_id = client_id
        self.grant_types = grant_types
        self.auth_methods = auth_methods
        self.scope = scope
        self.jwks = jwks
        self.secret = secret
        self.issuer = issuer
        self.subjects = set(subjects)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return self.secret is not None and secrets.compare_digest(self.secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in self.auth_methods

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


class Token(TokenMixin):
    def __init__(self, client_id, access_token, scope, expires_in, subject):
        self.client_id = client_id
        self.access_token = access_token
        self.scope = scope
        self.issued_at = int(time.time())
        self.expires_in = expires_in
        self.subject = subject
        self.revoked = False

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked


LOCK = threading.Lock()
CLIENTS = {}
ISSUERS = {}
TOKENS = {}
# (issuer, jti) -> until when it is remembered (its exp plus the leeway).
SEEN_JTIS = {}

for entry in TRUST.get("issuers", []):
    client = Client(
        entry["client_id"],
        grant_types={JWTBearerGrant.GRANT_TYPE},
        auth_methods={"none"},
        scope=entry.get("scope", ""),
        jwks=entry["jwks"],
        issuer=entry["issuer"],
        subjects=entry.get("subjects", []),
    )
    CLIENTS[client.client_id] = client
    ISSUERS[client.issuer] = client
for entry in TRUST.get("assertion_clients", []):
    client = Client(
        entry["client_id"],
        grant_types={"client_credentials"},
        auth_methods={JWTBearerClientAssertion.CLIENT_AUTH_METHOD},
        scope=entry.get("scope", ""),
        jwks=entry["jwks"],
    )
    CLIENTS[client.client_id] = client
CLIENTS[INTROSPECTOR[0]] = Client(
    INTROSPECTOR[0], grant_types=set(), auth_methods={"client_secret_basic"},
    secret=INTROSPECTOR[1],
)


def first_use(issuer, jti, exp, leeway):
    """Remembers (issuer, jti); False if it was seen before. Forgets entries whose exp (plus
    the leeway) has passed: by then Authlib refuses the assertion as expired anyway."""
    now = time.time()
    with LOCK:
        for key in [key for key, until in SEEN_JTIS.items() if until < now]:
            del SEEN_JTIS[key]
        if (issuer, jti) in SEEN_JTIS:
            return False
        SEEN_JTIS[(issuer, jti)] = exp + leeway
        return True


class JwtBearerGrant(JWTBearerGrant):
    def get_audiences(self):
        return [TOKEN_URL]

    def resolve_issuer_client(self, issuer):
        return ISSUERS.get(issuer)

    def resolve_client_public_key(self, client):
        return KeySet.import_key_set(client.jwks)

    def authenticate_user(self, subject):
        # A user is the subject itself; whether this client may speak for it is
        # has_granted_permission's question.
        return subject

    def has_granted_permission(self, client, user):
        return user in client.subjects

    def verify_claims(self, claims):
        super().verify_claims(claims)  # Authlib's checks first: iss, aud, exp, nbf, iat
        # The glue's: Authlib leaves jti to the server.
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise InvalidGrantError(description="Missing claim: 'jti'")
        if not first_use(claims["iss"], jti, claims["exp"], self.LEEWAY):
            raise InvalidGrantError(description="The assertion's 'jti' was used before")


class ClientAssertion(JWTBearerClientAssertion):
    def get_audiences(self):
        return [TOKEN_URL]

    def validate_jti(self, claims, jti):
        return first_use(claims["iss"], jti, claims["exp"], self.leeway)

    def resolve_client_public_key(self, client):
        return KeySet.import_key_set(client.jwks)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [JWTBearerClientAssertion.CLIENT_AUTH_METHOD]


def find_token(token_string):
    with LOCK:
        return TOKENS.get(token_string)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["none", JWTBearerClientAssertion.CLIENT_AUTH_METHOD]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string)

    def revoke_token(self, token, request):
        token.revoked = True


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic"]

    def query_token(self, token_string, token_type_hint):
        return find_token(token_string)

    def check_permission(self, token, client, request):
        return client.client_id == INTROSPECTOR[0]

    def introspect_token(self, token):
        return {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "sub": token.subject,
            "iat": token.issued_at,
            "exp": token.issued_at + token.expires_in,
        }


def save_token(token, req):
    entry = Token(
        req.client.client_id,
        token["access_token"],
        token.get("scope", ""),
        token["expires_in"],
        req.user if isinstance(req.user, str) else None,
    )
    with LOCK:
        TOKENS[entry.access_token] = entry


app = Flask(__name__)
app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
    JWTBearerGrant.GRANT_TYPE: TTL,
    "client_credentials": TTL,
}
server = AuthorizationServer(app, query_client=CLIENTS.get, save_token=save_token)
server.register_grant(JwtBearerGrant)
server.register_grant(ClientCredentialsGrant)
server.register_client_auth_method(JWTBearerClientAssertion.CLIENT_AUTH_METHOD, ClientAssertion())
server.register_endpoint(Revocation)
server.register_endpoint(Introspection)


@app.post("/token")
def issue_token():
    return server.create_token_response()


@app.post("/token/revocation")
def revoke_token():
    return server.create_endpoint_response(Revocation.ENDPOINT_NAME)


@app.post("/token/introspection")
def introspect_token():
    return server.create_endpoint_response(Introspection.ENDPOINT_NAME)


def main():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    http = make_server("127.0.0.1", PORT, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    print(f"READY {PORT}", flush=True)
    sys.stdin.read()  # returns at EOF: the test process is gone
    os._exit(0)


if __name__ == "__main__":
    main()
