//! The JWS algorithms a [`JwtSigner`](crate::JwtSigner) signs with (RFC 7518 §3).

use std::fmt;
use std::str::FromStr;

use crate::KeyError;

/// A JWS signing algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, an RSA key of 2048 to 8192 bits.
    Rs256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256, an RSA key of 2048 to 8192 bits.
    Ps256,
    /// ECDSA on P-256 with SHA-256; the signature is `r ‖ s`, 64 bytes (RFC 7518 §3.4).
    Es256,
    /// EdDSA with an Ed25519 key (RFC 8037).
    EdDsa,
    /// HMAC with SHA-256 over a shared secret of at least 256 bits (`client_secret_jwt`).
    Hs256,
}

impl Algorithm {
    /// Every algorithm, in a fixed order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::Es256,
        Algorithm::EdDsa,
        Algorithm::Hs256,
    ];

    /// The algorithm's `alg` name: `RS256`, `PS256`, `ES256`, `EdDSA` or `HS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Hs256 => "HS256",
        }
    }

    /// The kind of key the algorithm signs with, as errors name it.
    pub(crate) fn key_kind(self) -> &'static str {
        match self {
            Algorithm::Rs256 | Algorithm::Ps256 => crate::error::RSA,
            Algorithm::Es256 => crate::error::P256,
            Algorithm::EdDsa => crate::error::ED25519,
            Algorithm::Hs256 => crate::error::OCT,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = KeyError;

    /// Parses an `alg` name exactly as RFC 7518 spells it (`RS256`, `PS256`, `ES256`,
    /// `EdDSA`, `HS256`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == name)
            .ok_or_else(|| KeyError::UnknownAlgorithm {
                name: crate::error::shown_name(name),
            })
    }
}
