//! oidc-provider with clients that authenticate by JWT assertion (RFC 7523 §2.2), their
//! keys generated at each start so that none is committed: `private_key_jwt` with RS256,
//! PS256, ES256 or EdDSA (the public key registered in the client's `jwks`), and
//! `client_secret_jwt` with HS256 (a fresh 256-bit secret).
//!
//! [`AssertionServer::start`] generates the keys, writes the clients' metadata to a
//! temporary file, starts oidc-provider with it (`EXTRA_CLIENTS`, read before the server
//! says READY; the file is removed then) beside the usual test clients, and hands out a
//! [`StandardBuilder`] per client. [`OverHttp`] puts the running server behind the
//! emulators' interface, so that the testkit's [`drain`](crate::drain()) drives a
//! [`Driver`](oauth_lifecycle::Driver) against it over real sockets and keeps every
//! request it sent, whose assertions [`client_assertion`] decodes.
//!
//! What oidc-provider checks of an assertion is listed in `tests/peers/oidc/server.mjs`:
//! in short `aud` is its issuer, its token endpoint's URL or the URL of the endpoint
//! called; `exp` and `nbf` within 15 s of its clock; each `jti` once.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use oauth_lifecycle::dialect::assertion::{Assertion, AssertionSource, DecodedAssertion};
use oauth_lifecycle::dialect::{Standard, StandardBuilder};
use oauth_lifecycle::http;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle_emulator::{Emulator, InjectedFailure, Reply, ServerStats};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use serde_json::{json, Value};

use crate::{peers_dir, require, send, Peer};

/// The scopes every assertion client may ask for: `openid offline_access` for the
/// refresh tokens [`AssertionServer::mint_refresh_token`] mints, `api:read` for client
/// credentials.
pub const ASSERTION_CLIENT_SCOPE: &str = "openid offline_access api:read";

/// The id of the assertion client signing with `algorithm`: `lifecycle-jwt-rs256`, …,
/// `lifecycle-jwt-hs256`.
pub fn assertion_client_id(algorithm: Algorithm) -> String {
    format!("lifecycle-jwt-{}", algorithm.as_str().to_ascii_lowercase())
}

/// One client authenticating by JWT assertion, and what signs its assertions.
#[derive(Clone)]
pub struct AssertionClient {
    /// Its `client_id`.
    pub client_id: String,
    /// The algorithm it is registered with (`token_endpoint_auth_signing_alg`).
    pub algorithm: Algorithm,
    /// The `kid` of its registered public key; `None` for HS256.
    pub key_id: Option<String>,
    signer: Arc<JwtSigner>,
    /// Its registration, as oidc-provider reads it.
    metadata: Value,
}

/// Shows no key and no secret: the signer shows its algorithm and key id only, and the
/// registration (which holds the HS256 secret) is left out.
impl std::fmt::Debug for AssertionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionClient")
            .field("client_id", &self.client_id)
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl AssertionClient {
    /// A client for `algorithm`, with a fresh key (or secret).
    fn generate(algorithm: Algorithm) -> Self {
        let client_id = assertion_client_id(algorithm);
        let common = json!({
            "client_id": client_id,
            "token_endpoint_auth_signing_alg": algorithm.as_str(),
            "grant_types": ["client_credentials", "refresh_token"],
            "response_types": [],
            "redirect_uris": [],
            "scope": ASSERTION_CLIENT_SCOPE,
        });
        let (signer, key_id, extra) = if algorithm == Algorithm::Hs256 {
            let secret = random_secret();
            let signer = JwtSigner::client_secret(&secret).expect("a 256-bit secret signs HS256");
            let extra = json!({
                "token_endpoint_auth_method": "client_secret_jwt",
                "client_secret": secret,
            });
            (signer, None, extra)
        } else {
            let key_id = format!("{client_id}-key");
            let (signer, _pem) =
                JwtSigner::generate(algorithm).expect("a key is generated for the algorithm");
            let signer = signer.with_key_id(key_id.clone());
            let jwk = signer
                .public_jwk()
                .expect("an asymmetric key has a public JWK");
            assert_eq!(jwk["kid"], key_id.as_str(), "the JWK names its key: {jwk}");
            let extra = json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": { "keys": [jwk] },
            });
            (signer, Some(key_id), extra)
        };
        let mut metadata = common;
        let fields = metadata.as_object_mut().expect("an object");
        fields.extend(extra.as_object().expect("an object").clone());
        AssertionClient {
            client_id,
            algorithm,
            key_id,
            signer: Arc::new(signer),
            metadata,
        }
    }

    /// What signs its assertions with its registered key (or secret).
    pub fn signer(&self) -> Arc<JwtSigner> {
        Arc::clone(&self.signer)
    }

    /// Its `token_endpoint_auth_method`: `private_key_jwt` or `client_secret_jwt`.
    pub fn auth_method(&self) -> &'static str {
        if self.algorithm == Algorithm::Hs256 {
            "client_secret_jwt"
        } else {
            "private_key_jwt"
        }
    }

    /// A standard configuration for it at `peer`, its assertions signed with its own key:
    /// client credentials with scope `api:read`, revocation at `/token/revocation`, each
    /// assertion naming the token endpoint (the defaults).
    pub fn builder(&self, peer: &Peer) -> StandardBuilder {
        self.builder_signed_by(peer, self.signer())
    }

    /// [`builder`](Self::builder), the assertions signed or supplied by `source` instead:
    /// a key the server does not know, a source that replays.
    pub fn builder_signed_by(&self, peer: &Peer, source: impl AssertionSource) -> StandardBuilder {
        Standard::builder(peer.url("/token"), &self.client_id)
            .client_assertion(source)
            .revocation_url(peer.url("/token/revocation"))
            .scope("api:read")
    }
}

/// oidc-provider running with clients that authenticate by JWT assertion (and the usual
/// test clients, [`OIDC_POST_CLIENT`](crate::OIDC_POST_CLIENT) among them).
pub struct AssertionServer {
    /// The running server.
    pub peer: Peer,
    clients: Vec<AssertionClient>,
}

impl AssertionServer {
    /// A fresh oidc-provider (access tokens for 300 s) knowing one assertion client per
    /// algorithm in `algorithms`, each with a key generated now.
    pub fn start(algorithms: &[Algorithm]) -> Self {
        let dir = peers_dir().join("oidc");
        require(&dir.join("node_modules/oidc-provider"));
        let clients: Vec<_> = algorithms
            .iter()
            .map(|algorithm| AssertionClient::generate(*algorithm))
            .collect();
        let metadata: Vec<&Value> = clients.iter().map(|client| &client.metadata).collect();
        let file = ClientFile::write(&serde_json::to_vec(&metadata).expect("JSON"));
        let peer = crate::start(
            Path::new("node"),
            &[&dir.join("server.mjs")],
            None,
            &[
                ("ACCESS_TOKEN_TTL", "300".to_owned()),
                ("CLIENTS", "all".to_owned()),
                ("EXTRA_CLIENTS", file.path.display().to_string()),
            ],
        );
        // Read before READY: the secrets need not stay on disk.
        drop(file);
        AssertionServer { peer, clients }
    }

    /// The client signing with `algorithm`. Panics if the server was not started with it.
    #[track_caller]
    pub fn client(&self, algorithm: Algorithm) -> &AssertionClient {
        self.clients
            .iter()
            .find(|client| client.algorithm == algorithm)
            .unwrap_or_else(|| panic!("no {algorithm} client was registered"))
    }

    /// [`AssertionClient::builder`] for the client signing with `algorithm`.
    #[track_caller]
    pub fn builder(&self, algorithm: Algorithm) -> StandardBuilder {
        self.client(algorithm).builder(&self.peer)
    }

    /// The issuer identifier: the server's base URL.
    pub fn issuer(&self) -> &str {
        &self.peer.base_url
    }

    /// The token endpoint's URL, the `aud` assertions name by default.
    pub fn token_url(&self) -> String {
        self.peer.url("/token")
    }

    /// A genuine refresh token (scopes `openid offline_access`) for the client signing
    /// with `algorithm`, as if a user had completed the authorization code flow.
    pub fn mint_refresh_token(&self, algorithm: Algorithm) -> String {
        crate::mint_oidc_refresh_token(&self.peer, &self.client(algorithm).client_id)
    }
}

/// 32 random bytes, base64url: a `client_secret_jwt` secret of 43 characters.
fn random_secret() -> String {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The clients' metadata on disk, readable by this user only, removed when dropped.
struct ClientFile {
    path: PathBuf,
}

impl ClientFile {
    fn write(contents: &[u8]) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "oauth-lifecycle-oidc-clients-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        let file_guard = ClientFile { path };
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file_guard.path.display()));
        file_guard
    }
}

impl Drop for ClientFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// oidc-provider behind the emulators' interface: each request is sent to it over a real
/// socket ([`send`]) and its answer returned, so that [`drain`](crate::drain()) drives a
/// driver against it. Keeps every request as sent.
///
/// Only [`handle`](Emulator::handle) and [`is_access_token_valid`](Emulator::is_access_token_valid)
/// (introspection as [`OIDC_POST_CLIENT`](crate::OIDC_POST_CLIENT)) reach the server; a
/// real server's failures are its own, so the other calls panic.
pub struct OverHttp<'a> {
    peer: &'a Peer,
    /// Every request sent, oldest first, as it left.
    pub sent: Vec<http::Request<Vec<u8>>>,
    stats: ServerStats,
}

impl<'a> OverHttp<'a> {
    /// Sends to `peer`.
    pub fn new(peer: &'a Peer) -> Self {
        OverHttp {
            peer,
            sent: Vec::new(),
            stats: ServerStats::default(),
        }
    }

    /// The client assertions the requests sent so far carried, decoded, oldest first;
    /// `None` for a request that carried none.
    pub fn client_assertions(&self) -> Vec<Option<DecodedAssertion>> {
        self.sent.iter().map(client_assertion).collect()
    }
}

impl Emulator for OverHttp<'_> {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, _now: UtcDateTime) -> Reply {
        let answer =
            send(request).unwrap_or_else(|e| panic!("{} does not answer: {e}", self.peer.base_url));
        self.stats.token_requests += 1;
        self.sent.push(copy(request));
        answer
    }

    fn resource_request(&mut self, _request: &http::Request<Vec<u8>>, _now: UtcDateTime) -> Reply {
        panic!("oidc-provider serves no API here");
    }

    fn is_access_token_valid(&self, token: &str, _now: UtcDateTime) -> bool {
        self.peer.oidc_token_active(token)
    }

    fn fail_next(&mut self, _failure: InjectedFailure) {
        panic!("a real server's failures are its own");
    }

    fn revoke_all(&mut self) {
        panic!("a real server's tokens are revoked through its endpoints");
    }

    fn stats(&self) -> &ServerStats {
        &self.stats
    }
}

/// `request`, copied: method, URI, headers and body.
fn copy(request: &http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

/// The `client_assertion` a form-encoded request carries, decoded (header and claims;
/// the signature is the server's to check). `None` if it carries none; panics if it
/// carries one that is not a JWT.
pub fn client_assertion(request: &http::Request<Vec<u8>>) -> Option<DecodedAssertion> {
    let compact = form_urlencoded::parse(request.body())
        .find(|(name, _)| name == "client_assertion")
        .map(|(_, value)| value.into_owned())?;
    let assertion = Assertion::new(compact).expect("a client assertion is a JWT");
    Some(assertion.decode().expect("a JWT decodes"))
}
