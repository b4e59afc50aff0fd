//! Why a key could not be loaded or made.

use std::io;
use std::path::PathBuf;

use crate::Algorithm;

pub(crate) const RSA: &str = "RSA";
pub(crate) const P256: &str = "EC P-256";
pub(crate) const ED25519: &str = "Ed25519";
pub(crate) const OCT: &str = "symmetric (oct)";

/// Why a key could not be loaded or generated.
///
/// No variant holds key material: the texts name the file, the format, the kind of key
/// and what was wrong with it, never a byte of the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    #[error("cannot read the key file {}: {kind}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        kind: io::ErrorKind,
    },
    /// The key file is larger than a key can be.
    #[error("the key file is larger than {limit} bytes")]
    TooLarge {
        /// The most bytes read.
        limit: usize,
    },
    /// The input holds no PEM private key block that can be decoded.
    #[error("not a PEM private key: {reason}")]
    NotPem {
        /// What was missing or broken.
        reason: &'static str,
    },
    /// The input is not a JWK this crate can read.
    #[error("not a usable JWK: {reason}")]
    NotJwk {
        /// What was missing or broken.
        reason: &'static str,
    },
    /// The key is encrypted; decrypt it first (`openssl pkcs8 -nocrypt`).
    #[error("the private key is encrypted; supply it unencrypted")]
    Encrypted,
    /// The input holds a key of a kind no algorithm here signs with, or no private key.
    #[error("unsupported key: {what}")]
    UnsupportedKey {
        /// The kind of key or object found (an `EC P-384` key, a certificate, …).
        what: String,
    },
    /// The algorithm asked for does not sign with the key's kind.
    #[error("{algorithm} cannot sign with a key of type {key}")]
    AlgorithmMismatch {
        /// The algorithm asked for (or the JWK's `alg`).
        algorithm: Algorithm,
        /// The kind of key found.
        key: &'static str,
    },
    /// The algorithm asked for differs from the `alg` the JWK declares.
    #[error("{requested} was asked for, but the JWK declares `alg` {declared}")]
    AlgorithmConflict {
        /// The algorithm asked for.
        requested: Algorithm,
        /// The JWK's `alg`.
        declared: Algorithm,
    },
    /// The key decoded but was rejected: malformed, its parts inconsistent, or an RSA
    /// modulus outside 2048 to 8192 bits.
    #[error("the key ({key}, {format}) was rejected: malformed, inconsistent, or of an unsupported size")]
    InvalidKey {
        /// The kind of key, as far as it could be told.
        key: &'static str,
        /// Where it came from (`PKCS#8`, `PKCS#1`, `SEC1`, `JWK`).
        format: &'static str,
    },
    /// A shared secret shorter than the 256 bits HS256 requires (RFC 7518 §3.2).
    #[error("an HS256 secret must be at least 256 bits; this one has {bits}")]
    WeakSecret {
        /// The secret's length in bits.
        bits: usize,
    },
    /// An `alg` name this crate does not sign with.
    #[error("unknown or unsupported algorithm {name}")]
    UnknownAlgorithm {
        /// The name in backticks when it is a registered JOSE name, else its length only.
        name: String,
    },
    /// [`JwtSigner::generate`](crate::JwtSigner::generate) makes no keys for this
    /// algorithm (HS256: use a secret from the authorization server).
    #[error("cannot generate a key for {algorithm}")]
    CannotGenerate {
        /// The algorithm.
        algorithm: Algorithm,
    },
    /// The random source or key generation failed.
    #[error("key generation failed")]
    Generation,
}

/// Names from the JOSE registries (RFC 7518, RFC 8037, RFC 8812) that errors may echo.
pub(crate) const KNOWN_NAMES: &[&str] = &[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "ES256",
    "ES384",
    "ES512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
    "ES256K",
    "Ed25519",
    "Ed448",
    "none",
    "RSA",
    "EC",
    "oct",
    "OKP",
    "P-256",
    "P-384",
    "P-521",
    "X25519",
    "X448",
    "secp256k1",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA1_5",
    "dir",
    "A128KW",
    "A256KW",
    "ECDH-ES",
];

/// A name from the input, safe to show: echoed only when it is a registered JOSE name
/// (in any case), else described by its length. A key pasted into the wrong member is
/// never echoed.
pub(crate) fn shown_name(name: &str) -> String {
    if KNOWN_NAMES
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name))
    {
        format!("`{name}`")
    } else {
        format!(
            "<an unrecognised name of {} characters>",
            name.chars().count()
        )
    }
}
