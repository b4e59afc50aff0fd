//! Authlib's `AuthorizationServer` (PyPI `authlib`, in a small Flask app,
//! `tests/peers/authlib/server.py`): a third-party verifier of the JWT bearer grant
//! (RFC 7523 §2.1, Authlib's `JWTBearerGrant`) and of `private_key_jwt` client
//! authentication (§2.2, Authlib's `JWTBearerClientAssertion`), on 127.0.0.1.
//!
//! [`AuthlibServer::start`] generates a key per algorithm asked for, writes the public
//! halves to a temporary file (`AUTHLIB_TRUST`, read before the server says READY; the file
//! is removed then) and starts the server from the peers' virtualenv. Each algorithm gets a
//! trusted issuer for the grant ([`GrantIssuer`]: its own issuer, client and key, subject
//! [`AUTHLIB_SUBJECT`]); an ES256 `private_key_jwt` client ([`AUTHLIB_PKJWT_CLIENT`]) logs in
//! with client credentials. [`OverHttp`](crate::assertion_clients::OverHttp) drives a
//! [`Driver`](oauth_lifecycle::Driver) against it over real sockets.
//!
//! What Authlib checks, and what the glue adds (the `jti` replay cache), is listed in
//! `server.py`: in short `aud` must be the token endpoint's URL, `exp` is required, `exp`,
//! `nbf` and `iat` are checked with 60 s of leeway, and Authlib's JOSE library accepts
//! RS256 and ES256 (and HS256) by default, not EdDSA or PS256.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use oauth_lifecycle::dialect::assertion::AssertionSource;
use oauth_lifecycle::dialect::{Standard, StandardBuilder};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use serde_json::{json, Value};

use crate::{peers_dir, require, send, Peer};

/// The `sub` every grant issuer may assert (Authlib's `authenticate_user` and
/// `has_granted_permission`, as the glue answers them).
pub const AUTHLIB_SUBJECT: &str = "workload-42";

/// The scope every client may ask for.
pub const AUTHLIB_SCOPE: &str = "api";

/// The client that authenticates with `private_key_jwt` (ES256) and logs in with client
/// credentials.
pub const AUTHLIB_PKJWT_CLIENT: &str = "authlib-pkjwt-es256";

/// The harness's introspection client (client_secret_basic), as `server.py` knows it.
const INTROSPECTOR: (&str, &str) = ("authlib-introspector", "introspector-secret-0123");

/// A trusted issuer of the JWT bearer grant: the client Authlib finds by the assertion's
/// `iss`, and the key it trusts for it.
#[derive(Debug, Clone)]
pub struct GrantIssuer {
    /// The assertion's `iss`: `https://workload.example/<alg>`.
    pub issuer: String,
    /// The client Authlib issues the tokens to: `authlib-jwt-bearer-<alg>`. Public: the
    /// grant authenticates no client, the assertion is the credential.
    pub client_id: String,
    /// The algorithm of its key.
    pub algorithm: Algorithm,
    /// The `kid` of its trusted public key.
    pub key_id: String,
    signer: Arc<JwtSigner>,
}

impl GrantIssuer {
    /// An issuer for `algorithm`, with a fresh key.
    fn generate(algorithm: Algorithm) -> Self {
        let name = algorithm.as_str().to_ascii_lowercase();
        let (signer, key_id) = keyed(algorithm, &format!("workload-{name}-key"));
        GrantIssuer {
            issuer: format!("https://workload.example/{name}"),
            client_id: format!("authlib-jwt-bearer-{name}"),
            algorithm,
            key_id,
            signer: Arc::new(signer),
        }
    }

    /// What signs its assertions with the trusted key.
    pub fn signer(&self) -> Arc<JwtSigner> {
        Arc::clone(&self.signer)
    }
}

/// A signer for `algorithm` with a fresh key named `key_id`.
fn keyed(algorithm: Algorithm, key_id: &str) -> (JwtSigner, String) {
    let (signer, _pem) = JwtSigner::generate(algorithm).expect("a key for the algorithm");
    (signer.with_key_id(key_id), key_id.to_owned())
}

/// The public JWK set of `signer`.
fn jwks(signer: &JwtSigner) -> Value {
    json!({ "keys": [signer.public_jwk().expect("an asymmetric key has a public JWK")] })
}

/// Authlib running with a trusted issuer per algorithm and the `private_key_jwt` client.
pub struct AuthlibServer {
    /// The running server.
    pub peer: Peer,
    issuers: Vec<GrantIssuer>,
    pkjwt: Arc<JwtSigner>,
}

impl AuthlibServer {
    /// A fresh server issuing access tokens for `ttl_seconds`, trusting one issuer per
    /// algorithm in `algorithms` (keys generated now), and knowing [`AUTHLIB_PKJWT_CLIENT`].
    pub fn start(ttl_seconds: u32, algorithms: &[Algorithm]) -> Self {
        let dir = peers_dir();
        let python = dir.join(".venv/bin/python");
        require(&python);
        let issuers: Vec<_> = algorithms
            .iter()
            .map(|algorithm| GrantIssuer::generate(*algorithm))
            .collect();
        let (pkjwt, _) = keyed(Algorithm::Es256, &format!("{AUTHLIB_PKJWT_CLIENT}-key"));
        let trust = json!({
            "issuers": issuers.iter().map(|issuer| json!({
                "issuer": issuer.issuer,
                "client_id": issuer.client_id,
                "jwks": jwks(&issuer.signer),
                "subjects": [AUTHLIB_SUBJECT],
                "scope": AUTHLIB_SCOPE,
            })).collect::<Vec<_>>(),
            "assertion_clients": [{
                "client_id": AUTHLIB_PKJWT_CLIENT,
                "jwks": jwks(&pkjwt),
                "scope": AUTHLIB_SCOPE,
            }],
        });
        let file = TrustFile::write(&serde_json::to_vec(&trust).expect("JSON"));
        let peer = crate::start(
            &python,
            &[&dir.join("authlib/server.py")],
            None,
            &[
                ("ACCESS_TOKEN_TTL", ttl_seconds.to_string()),
                ("AUTHLIB_TRUST", file.path.display().to_string()),
            ],
        );
        // Read before READY.
        drop(file);
        AuthlibServer {
            peer,
            issuers,
            pkjwt: Arc::new(pkjwt),
        }
    }

    /// The trusted issuer whose key signs with `algorithm`. Panics if the server was not
    /// started with it.
    #[track_caller]
    pub fn issuer(&self, algorithm: Algorithm) -> &GrantIssuer {
        self.issuers
            .iter()
            .find(|issuer| issuer.algorithm == algorithm)
            .unwrap_or_else(|| panic!("no {algorithm} issuer was trusted"))
    }

    /// The token endpoint's URL, the `aud` assertions name by default and the only one
    /// the server accepts.
    pub fn token_url(&self) -> String {
        self.peer.url("/token")
    }

    /// The revocation endpoint's URL (RFC 7009).
    pub fn revocation_url(&self) -> String {
        self.peer.url("/token/revocation")
    }

    /// A standard configuration logging in with the JWT bearer grant as the issuer of
    /// `algorithm`, its assertions signed with the trusted key: scope [`AUTHLIB_SCOPE`],
    /// revocation configured, `aud` the token endpoint (the default).
    #[track_caller]
    pub fn grant_builder(&self, algorithm: Algorithm) -> StandardBuilder {
        self.grant_builder_signed_by(algorithm, self.issuer(algorithm).signer())
    }

    /// [`grant_builder`](Self::grant_builder), the assertions signed or supplied by
    /// `source` instead: a key the server does not trust.
    #[track_caller]
    pub fn grant_builder_signed_by(
        &self,
        algorithm: Algorithm,
        source: impl AssertionSource,
    ) -> StandardBuilder {
        let issuer = self.issuer(algorithm);
        Standard::builder(self.token_url(), &issuer.client_id)
            .jwt_bearer(source, &issuer.issuer, AUTHLIB_SUBJECT)
            .revocation_url(self.revocation_url())
            .scope(AUTHLIB_SCOPE)
    }

    /// What signs [`AUTHLIB_PKJWT_CLIENT`]'s client assertions with its registered key.
    pub fn pkjwt_signer(&self) -> Arc<JwtSigner> {
        Arc::clone(&self.pkjwt)
    }

    /// A standard configuration for [`AUTHLIB_PKJWT_CLIENT`]: client credentials with
    /// scope [`AUTHLIB_SCOPE`], authenticated by `private_key_jwt`, revocation configured.
    pub fn pkjwt_builder(&self) -> StandardBuilder {
        Standard::builder(self.token_url(), AUTHLIB_PKJWT_CLIENT)
            .client_assertion(self.pkjwt_signer())
            .revocation_url(self.revocation_url())
            .scope(AUTHLIB_SCOPE)
    }

    /// Whether Authlib says `token` is active (RFC 7662 introspection, as the harness's
    /// own client).
    pub fn token_active(&self, token: &str) -> bool {
        let mut request = crate::form(&self.peer.url("/token/introspection"), &[("token", token)]);
        let credentials = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", INTROSPECTOR.0, INTROSPECTOR.1),
        );
        request.headers_mut().insert(
            "authorization",
            format!("Basic {credentials}")
                .parse()
                .expect("a header value"),
        );
        let response = send(&request).expect("Authlib answers");
        assert_eq!(response.status(), 200);
        let body: Value = serde_json::from_slice(response.body()).expect("JSON");
        body["active"].as_bool().expect("an active field")
    }
}

/// The trust file on disk (public keys only), removed when dropped.
struct TrustFile {
    path: PathBuf,
}

impl TrustFile {
    fn write(contents: &[u8]) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "oauth-lifecycle-authlib-trust-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = TrustFile { path };
        std::fs::write(&file.path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.path.display()));
        file
    }
}

impl Drop for TrustFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(Path::new(&self.path));
    }
}
