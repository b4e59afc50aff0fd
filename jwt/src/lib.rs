//! The crypto of [`oauth-lifecycle`](oauth_lifecycle)'s JWT assertions (RFC 7523), which
//! the core deliberately leaves out: it sets what an assertion says and when, and asks an
//! [`AssertionSource`](oauth_lifecycle::dialect::assertion::AssertionSource) for each
//! one. This crate provides two:
//!
//! - [`JwtSigner`] signs a fresh assertion per request with a key the application holds,
//!   for `private_key_jwt` (RS256, PS256, ES256, EdDSA) and `client_secret_jwt` (HS256),
//!   and for the JWT bearer grant. Keys come from PEM (PKCS#8, PKCS#1, SEC1), from a JWK,
//!   from a file holding either, from the client secret, or are generated
//!   ([`JwtSigner::generate`]); [`JwtSigner::public_jwk`] gives the public half to
//!   register with a server.
//! - [`AssertionFile`] supplies an assertion the platform issued into a file (a
//!   Kubernetes projected service-account token, a CI system's OIDC token), re-read when
//!   the file changes or the assertion nears its `exp`.
//!
//! ```
//! use oauth_lifecycle::dialect::assertion::{AssertionClaims, AssertionSource};
//! use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
//!
//! let (signer, _pkcs8_pem) = JwtSigner::generate(Algorithm::Es256)?;
//! let signer = signer.with_key_id("key-1");
//! let now = time::UtcDateTime::from_unix_timestamp(1_700_000_000).unwrap();
//! let claims = AssertionClaims {
//!     issuer: "client".into(),
//!     subject: "client".into(),
//!     audience: "https://as.example/token".into(),
//!     issued_at: now,
//!     expires_at: now + time::Duration::seconds(60),
//! };
//! let assertion = signer.assertion(&claims)?;
//! assert_eq!(assertion.decode()?.header["kid"], "key-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The crates it is built on, and why
//! - **[`aws-lc-rs`](aws_lc_rs)** does every signature, the random `jti` and key
//!   generation. Its primitives are constant-time, it is maintained by AWS with a
//!   FIPS-validated lineage, and it is already in the dependency tree as rustls's
//!   provider, so this crate adds no second crypto stack. The keys live in AWS-LC's
//!   memory, which it cleanses when a key is freed. It is used without its default
//!   `ring-io` features, which would pull a second version of `untrusted`.
//! - **Not RustCrypto's `rsa`**: its 0.9 line carries RUSTSEC-2023-0071 (the Marvin
//!   attack: RSA private-key operations whose timing leaks the key), still unresolved.
//! - **Not `jsonwebtoken`**: its keys are plain byte vectors that are not wiped, and it
//!   brings its own crypto backend.
//! - [`zeroize`] wipes every buffer this crate fills with key text or DER; `serde_json`
//!   and `base64` encode the JWS and read JWKs; `time` for the claims' instants. PEM is
//!   decoded here rather than by `rustls-pki-types`, so that its intermediate buffers are
//!   ones this crate wipes, and the little DER read (a PKCS#8 key's algorithm, an RSA
//!   public key's `n` and `e`) is done here too: aws-lc-rs builds an RSA key from a JWK's
//!   components itself, so no DER encoder is needed.
//!
//! # How a key is kept
//! - A signer's `Debug` shows its algorithm and `kid` only; [`KeyError`] and the
//!   assertion errors name files, formats and kinds of key, never a byte of one.
//! - The key itself is held by aws-lc and cleansed when the signer is dropped. Key
//!   files, PEM bodies, DER and decoded JWK members pass through [`Zeroizing`] buffers,
//!   sized up front so that no copy is left behind by a reallocation; a JWK's key members
//!   are read in place from its text, never copied by the JSON parser.
//! - The key text a caller passes in ([`JwtSigner::from_pem`], [`JwtSigner::from_jwk`])
//!   remains the caller's to wipe; [`JwtSigner::from_file`] reads into its own wiped
//!   buffer.
//!
//! [`Zeroizing`]: zeroize::Zeroizing

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
mod der;
mod error;
mod file;
mod jwk;
mod key;
mod pem;
mod signer;

pub use algorithm::Algorithm;
pub use error::KeyError;
pub use file::{AssertionFile, DEFAULT_REFRESH_MARGIN};
pub use signer::{JwtSigner, MAX_KEY_FILE_LEN, MIN_SECRET_LEN};

/// Reads `reader` into `buffer` until its end or until `buffer` is full; returns the
/// bytes read. `buffer` is never grown, so nothing read is copied elsewhere.
pub(crate) fn read_bounded(
    mut reader: impl std::io::Read,
    buffer: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}
