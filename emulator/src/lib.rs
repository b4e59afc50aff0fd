//! Emulators of the OAuth servers `oauth-lifecycle` speaks to, for testing integrations
//! offline.
//!
//! Emulators are sans-IO, like the `oauth-lifecycle` core: they take an [`http::Request`] and
//! the current (simulated) time and return an [`http::Response`]. They keep their state
//! in memory, are deterministic, and never panic on any input: a hostile request gets an
//! error response.
//!
//! | emulator | provider |
//! |---|---|
//! | [`StandardServer`] | any RFC 6749 / 6750 / 7009 server, with people's logins: RFC 8628 device codes, RFC 7636 PKCE codes, RFC 8414 metadata |
//! | [`StandardServer`] with [`StandardServerConfig::convirza_v2`] | Convirza V2, 10 requests per minute |
//! | [`ConvirzaV3Server`] | Convirza V3: JSON, absolute expiries, sliding tokens, single-use rotation |
//! | [`StandardServer`] with [`StandardServerConfig::keycloak`] | a Convercus Keycloak realm |
//! | [`ConvercusLegacyServer`] | Convercus legacy login, 24-hour tokens |
//!
//! All of them implement [`Emulator`], so one test can drive each in turn.
//!
//! # JWT assertions (RFC 7523)
//!
//! [`StandardServer`] checks JWT assertions with `aws-lc-rs` (RS256, PS256, ES256 with
//! the fixed `r‖s` signature, EdDSA, HS256), in two roles:
//!
//! - **The JWT bearer grant** (§2.1):
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with `assertion`, from the
//!   issuers in [`StandardServerConfig::jwt_bearer_issuers`]
//!   ([`trust_issuer`](StandardServerConfig::trust_issuer): an `iss` and its
//!   [`AssertionKey`], a public JWK or an HS256 secret). It issues an access token and no
//!   refresh token; renewal is a new login with a new assertion. Client authentication is
//!   optional with this grant (§3.1): a request that presents no credentials identifies
//!   its client by `client_id`. The grant is served only when an issuer is trusted.
//!   Refusals are `400 invalid_grant`.
//! - **Client authentication** (§2.2):
//!   `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with
//!   `client_assertion`, for clients in [`StandardServerConfig::client_assertion_keys`]
//!   ([`assertion_client`](StandardServerConfig::assertion_client)): a JWK for
//!   `private_key_jwt`, an HS256 secret for `client_secret_jwt`. `iss` and `sub` must be
//!   the client id. It is accepted wherever the client authenticates: the token,
//!   revocation and device authorization endpoints. Refusals are `401 invalid_client`; an
//!   assertion beside another method is `400 invalid_request`.
//!
//! An assertion is accepted when its signature verifies with the key registered for its
//! `iss` by the `alg` that key signs with (a JWK's `alg` and `kid`, when present, must
//! match); `aud` names the token endpoint's URL (or, with
//! [`AssertionRules::accept_issuer_audience`], the issuer); `exp` is after the server's
//! time (`now` plus [`StandardServer::set_clock_offset`]); `nbf` and `iat`, when present,
//! are not after it; `exp` is at most [`AssertionRules::max_lifetime`] (one hour) after
//! `iat`; `sub` and `jti` are present; and its `(iss, jti)` was never accepted before (a
//! replay cache that forgets each entry once its `exp` has passed). The
//! [`leeway`](AssertionRules::leeway) on the times is zero by default: in tests the client
//! and the emulator read one clock, so skew is something a test sets, not something the
//! emulator forgives. Every part is bounded before use (16 KiB in all, base64url parts,
//! JSON objects, strings, arrays and times of bounded size), a hostile assertion gets a
//! refusal, never a panic, and `error_description` is fixed text that never quotes the
//! assertion. [`ServerStats::assertions_accepted`] and
//! [`ServerStats::assertions_refused`] count the outcomes; metadata lists
//! `private_key_jwt` / `client_secret_jwt` and the grant when configured.
//!
//! No ready-made server with the JWT bearer grant installs in the test suite (panva's
//! `oidc-provider` has no `jwt-bearer` grant, and neither has `django-oauth-toolkit`);
//! Authlib's implementation, in a small Flask app, is the real verifier the suite also
//! runs. The emulator covers what that one cannot: every algorithm (Authlib's defaults
//! refuse EdDSA and PS256), driven time, and a platform's rotating token file.
//!
//! # Over the network
//!
//! [`HttpFront`] serves any emulator over HTTP/1.1 on `127.0.0.1`, so that real HTTP
//! clients, blocking or async, and command-line tools can be tested against every provider
//! over a socket. Requests under `/api/` go to the emulator's resource server, all others
//! to its authentication endpoints. `now` comes from a [`Clock`]: the system's, or a
//! [`DrivenClock`] the test moves, so simulated time runs over real sockets too. The front
//! can also break the transport on demand ([`TransportFault`]: a hang, a reset, a truncated
//! body, a gateway's HTML error page, a huge body), which no provider emulator does by
//! itself.
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! use oauth_lifecycle_emulator::{DrivenClock, HttpFront, StandardServer, StandardServerConfig};
//! use time::macros::utc_datetime;
//!
//! let clock = DrivenClock::new(utc_datetime!(2026-01-01 09:00));
//! let server = StandardServer::new(StandardServerConfig::default());
//! let front = HttpFront::start(server, clock.clone())?;
//!
//! // A blocking exchange with nothing but the standard library.
//! let exchange = |request: String| -> std::io::Result<String> {
//!     let mut stream = TcpStream::connect(front.addr())?;
//!     stream.write_all(request.as_bytes())?;
//!     let mut answer = String::new();
//!     stream.read_to_string(&mut answer)?;
//!     Ok(answer)
//! };
//! let body = "grant_type=client_credentials";
//! let login = exchange(format!(
//!     "POST /token HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
//!      Authorization: Basic ZW11bGF0ZWQtY2xpZW50OmVtdWxhdGVkLXNlY3JldA==\r\n\
//!      Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
//!     front.addr(),
//!     body.len(),
//! ))?;
//! assert!(login.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(login.contains("date: Thu, 01 Jan 2026 09:00:00 GMT\r\n"));
//! let json = &login[login.find("\r\n\r\n").unwrap() + 4..];
//! let token: serde_json::Value = serde_json::from_str(json).unwrap();
//! let token = token["access_token"].as_str().unwrap();
//!
//! let call = |token: &str| {
//!     exchange(format!(
//!         "GET /api/me HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
//!          Connection: close\r\n\r\n",
//!         front.addr(),
//!     ))
//! };
//! assert!(call(token)?.starts_with("HTTP/1.1 200 OK"));
//! clock.advance(time::Duration::hours(1)); // the token's lifetime
//! assert!(call(token)?.starts_with("HTTP/1.1 401 Unauthorized"));
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
// A refusal is the finished error response (`Reply`) the emulator answers with; it is
// returned once per request, so its size costs nothing worth a box.
#![allow(clippy::result_large_err)]

mod clock;
mod convirza;
mod http_front;
mod legacy;
mod server;
mod store;

pub use self::clock::{Clock, DrivenClock};
pub use self::convirza::{ConvirzaAccount, ConvirzaV3Server, ConvirzaV3ServerConfig};
pub use self::http_front::{FrontStats, HttpFront, HttpFrontConfig, TransportFault};
pub use self::legacy::{ConvercusLegacyServer, ConvercusLegacyServerConfig, LegacyTokenShape};
pub use self::server::{
    AssertionKey, AssertionRules, AuthorizationDecision, EmulatedClient, ResponseFlavor,
    StandardServer, StandardServerConfig,
};
pub use self::store::{Emulator, InjectedFailure, Reply, ServerStats};
