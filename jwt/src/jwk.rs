//! Private keys as JWKs (RFC 7517, RFC 7518 §6, RFC 8037).
//!
//! The key's members are borrowed from the input, never copied: base64url needs no JSON
//! escapes, so a member that has any is refused rather than unescaped into a buffer
//! that would not be wiped. Each is decoded straight into a wiped buffer.

use std::borrow::Cow;

use aws_lc_rs::rsa::{KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::error::{shown_name, ED25519, OCT, P256, RSA};
use crate::key::{hmac_key, Key};
use crate::{Algorithm, KeyError};

/// base64url, with or without padding (RFC 7515 §2 says without; some tools pad).
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A JWK's members this crate reads; the rest are ignored.
#[derive(Deserialize)]
struct Jwk<'a> {
    #[serde(borrow)]
    kty: Cow<'a, str>,
    #[serde(borrow, default)]
    alg: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(rename = "use", borrow, default)]
    use_: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    crv: Option<Cow<'a, str>>,
    #[serde(default)]
    n: Option<&'a str>,
    #[serde(default)]
    e: Option<&'a str>,
    #[serde(default)]
    d: Option<&'a str>,
    #[serde(default)]
    p: Option<&'a str>,
    #[serde(default)]
    q: Option<&'a str>,
    #[serde(default)]
    dp: Option<&'a str>,
    #[serde(default)]
    dq: Option<&'a str>,
    #[serde(default)]
    qi: Option<&'a str>,
    #[serde(default)]
    oth: Option<IgnoredAny>,
    #[serde(default)]
    x: Option<&'a str>,
    #[serde(default)]
    y: Option<&'a str>,
    #[serde(default)]
    k: Option<&'a str>,
}

/// A key read from a JWK: its algorithm, the key and its `kid`.
pub(crate) struct ParsedJwk {
    pub(crate) algorithm: Algorithm,
    pub(crate) key: Key,
    pub(crate) key_id: Option<String>,
}

/// Reads a private JWK. `requested`, when given, must agree with the JWK's `alg` if it
/// has one, and must fit the key's type.
pub(crate) fn parse(json: &[u8], requested: Option<Algorithm>) -> Result<ParsedJwk, KeyError> {
    let not_jwk = |reason| KeyError::NotJwk { reason };
    let jwk: Jwk<'_> = serde_json::from_slice(json).map_err(|error| {
        not_jwk(if error.is_syntax() || error.is_eof() {
            "it is not JSON"
        } else {
            "it is not a JWK object with string members (`kty` is required; key members must be base64url without escapes; no member twice)"
        })
    })?;
    let kind = match (&*jwk.kty, jwk.crv.as_deref()) {
        ("RSA", _) => RSA,
        ("EC", Some("P-256")) => P256,
        ("OKP", Some("Ed25519")) => ED25519,
        ("oct", _) => OCT,
        ("EC" | "OKP", Some(crv)) => {
            return Err(KeyError::UnsupportedKey {
                what: format!("a {} key on the curve {}", jwk.kty, shown_name(crv)),
            })
        }
        ("EC" | "OKP", None) => return Err(not_jwk("it has no `crv`")),
        (kty, _) => {
            return Err(KeyError::UnsupportedKey {
                what: format!("a JWK of `kty` {}", shown_name(kty)),
            })
        }
    };
    if jwk.use_.as_deref().is_some_and(|use_| use_ != "sig") {
        return Err(KeyError::UnsupportedKey {
            what: "a JWK whose `use` is not `sig`".into(),
        });
    }
    let declared = jwk
        .alg
        .as_deref()
        .map(str::parse::<Algorithm>)
        .transpose()?;
    let algorithm = match (requested, declared) {
        (Some(requested), Some(declared)) if requested != declared => {
            return Err(KeyError::AlgorithmConflict {
                requested,
                declared,
            })
        }
        (Some(algorithm), _) | (None, Some(algorithm)) => algorithm,
        (None, None) => match kind {
            RSA => Algorithm::Rs256,
            P256 => Algorithm::Es256,
            ED25519 => Algorithm::EdDsa,
            _ => Algorithm::Hs256,
        },
    };
    if algorithm.key_kind() != kind {
        return Err(KeyError::AlgorithmMismatch {
            algorithm,
            key: kind,
        });
    }
    let member = |value: Option<&str>, name| {
        let value = value.ok_or(KeyError::NotJwk { reason: name })?;
        crate::pem::decode_base64(value, BASE64URL).map_err(|_| KeyError::NotJwk {
            reason: "a key member is not base64url",
        })
    };
    let invalid = KeyError::InvalidKey {
        key: kind,
        format: "JWK",
    };
    let key = match kind {
        RSA => {
            if jwk.oth.is_some() {
                return Err(KeyError::UnsupportedKey {
                    what: "a multi-prime RSA key (`oth`)".into(),
                });
            }
            let d = member(jwk.d, "it has no private member `d`")?;
            let n = member(jwk.n, "it has no `n`")?;
            let e = member(jwk.e, "it has no `e`")?;
            let crt = "it lacks one of the CRT members `p`, `q`, `dp`, `dq`, `qi`";
            let p = member(jwk.p, crt)?;
            let q = member(jwk.q, crt)?;
            let dp = member(jwk.dp, crt)?;
            let dq = member(jwk.dq, crt)?;
            let qi = member(jwk.qi, crt)?;
            let components = KeyPairComponents {
                public_key: PublicKeyComponents {
                    n: without_leading_zeros(&n),
                    e: without_leading_zeros(&e),
                },
                d: &d[..],
                p: &p[..],
                q: &q[..],
                dP: &dp[..],
                dQ: &dq[..],
                qInv: &qi[..],
            };
            Key::Rsa(RsaKeyPair::from_components(&components).map_err(|_| invalid)?)
        }
        P256 => {
            let d = member(jwk.d, "it has no private member `d`")?;
            let x = member(jwk.x, "it has no `x`")?;
            let y = member(jwk.y, "it has no `y`")?;
            if d.len() != 32 || x.len() != 32 || y.len() != 32 {
                return Err(invalid);
            }
            let mut point = [0u8; 65];
            point[0] = 4;
            point[1..33].copy_from_slice(&x);
            point[33..].copy_from_slice(&y);
            Key::Ecdsa(
                EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    &d,
                    &point,
                )
                .map_err(|_| invalid)?,
            )
        }
        ED25519 => {
            let d = member(jwk.d, "it has no private member `d`")?;
            let x = member(jwk.x, "it has no `x`")?;
            Key::Ed25519(Ed25519KeyPair::from_seed_and_public_key(&d, &x).map_err(|_| invalid)?)
        }
        _ => {
            let k = member(jwk.k, "it has no `k`")?;
            hmac_key(&k)?
        }
    };
    Ok(ParsedJwk {
        algorithm,
        key,
        key_id: jwk.kid.map(Cow::into_owned),
    })
}

/// A big-endian integer without its leading zero bytes (a JWK's `n` and `e` should have
/// none; some encoders add one).
fn without_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Encodes bytes as unpadded base64url.
pub(crate) fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    BASE64URL.encode(bytes)
}
