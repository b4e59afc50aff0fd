//! The key material a signer holds, whichever format it came from (PEM, JWK, a client
//! secret): read by `pem.rs` and `jwk.rs`, used by `signer.rs`.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};

use crate::error::{ED25519, OCT, P256, RSA};
use crate::{Algorithm, KeyError, MIN_SECRET_LEN};

/// The key a signer holds. aws-lc keeps the private parts in memory it cleanses when
/// the key is dropped.
pub(crate) enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    // Boxed: an HMAC context is over a kilobyte, the others a pointer or two.
    Hmac(Box<hmac::Key>),
}

impl Key {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Key::Rsa(_) => RSA,
            Key::Ecdsa(_) => P256,
            Key::Ed25519(_) => ED25519,
            Key::Hmac(_) => OCT,
        }
    }

    pub(crate) fn default_algorithm(&self) -> Algorithm {
        match self {
            Key::Rsa(_) => Algorithm::Rs256,
            Key::Ecdsa(_) => Algorithm::Es256,
            Key::Ed25519(_) => Algorithm::EdDsa,
            Key::Hmac(_) => Algorithm::Hs256,
        }
    }
}

/// An HS256 key over `secret`, refused when shorter than 256 bits.
pub(crate) fn hmac_key(secret: &[u8]) -> Result<Key, KeyError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(KeyError::WeakSecret {
            bits: secret.len().saturating_mul(8),
        });
    }
    Ok(Key::Hmac(Box::new(hmac::Key::new(
        hmac::HMAC_SHA256,
        secret,
    ))))
}
