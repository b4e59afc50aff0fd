//! [`JwtSigner`]: signs a fresh client assertion for every request.

use std::fmt;
use std::path::Path;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
};
use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionClaims, AssertionError, AssertionMethod, AssertionSource,
};
use serde::Serialize;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::der::{self, oid};
use crate::error::{ED25519, P256, RSA};
use crate::jwk::{self, base64url};
use crate::key::{hmac_key, Key};
use crate::pem::{self, PemKind};
use crate::{Algorithm, KeyError};

/// The most bytes of a key file [`JwtSigner::from_file`] reads: an 8192-bit RSA key in
/// PEM is under 7 KiB.
pub const MAX_KEY_FILE_LEN: usize = 64 * 1024;

/// The shortest HS256 key, in bytes: 256 bits (RFC 7518 §3.2).
pub const MIN_SECRET_LEN: usize = 32;

/// Signs client assertions (`private_key_jwt`, `client_secret_jwt`) and JWT bearer
/// grants (RFC 7523) with a key it holds: RS256, PS256, ES256, EdDSA or HS256.
///
/// Each [`assertion`](AssertionSource::assertion) is a compact JWS whose header is
/// `{"alg":…,"typ":"JWT","kid":…}` (`kid` only when set) and whose payload is the
/// session's claims with a `jti` of 128 random bits.
///
/// The key never leaves it: `Debug` shows the algorithm and `kid` only, errors name no
/// part of a key, and the key's memory is cleansed when the signer is dropped.
pub struct JwtSigner {
    algorithm: Algorithm,
    key: Key,
    key_id: Option<String>,
    rng: SystemRandom,
}

impl fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtSigner")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The JOSE header, in a fixed order.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

impl JwtSigner {
    fn new(algorithm: Algorithm, key: Key, key_id: Option<String>) -> Result<Self, KeyError> {
        if algorithm.key_kind() != key.kind() {
            return Err(KeyError::AlgorithmMismatch {
                algorithm,
                key: key.kind(),
            });
        }
        Ok(JwtSigner {
            algorithm,
            key,
            key_id,
            rng: SystemRandom::new(),
        })
    }

    /// A signer over a PEM private key: PKCS#8 (`PRIVATE KEY`) for every kind, PKCS#1
    /// (`RSA PRIVATE KEY`) for RSA, SEC1 (`EC PRIVATE KEY`) for P-256. Blocks before the
    /// key that hold none (`EC PARAMETERS`) are skipped.
    ///
    /// `algorithm` must sign with the key's kind: RS256 or PS256 with RSA, ES256 with
    /// P-256, EdDSA with Ed25519; HS256 takes no PEM key
    /// ([`KeyError::AlgorithmMismatch`]).
    pub fn from_pem(algorithm: Algorithm, pem: &[u8]) -> Result<Self, KeyError> {
        Self::pem(pem, Some(algorithm))
    }

    fn pem(text: &[u8], algorithm: Option<Algorithm>) -> Result<Self, KeyError> {
        let (kind, der) = pem::decode(text)?;
        let key = parse_der(kind, &der)?;
        let algorithm = algorithm.unwrap_or_else(|| key.default_algorithm());
        Self::new(algorithm, key, None)
    }

    /// A signer over a private JWK (RFC 7517): `kty` `RSA` (`n`, `e`, `d`, `p`, `q`,
    /// `dp`, `dq`, `qi`), `EC` on `P-256` (`x`, `y`, `d`), `OKP` `Ed25519` (`x`, `d`)
    /// or `oct` (`k`, at least 256 bits).
    ///
    /// The algorithm is the JWK's `alg` when it has one (it must fit the key), else
    /// RS256, ES256, EdDSA or HS256 by `kty`; the key id is its `kid`. A `use` other
    /// than `sig` is refused.
    pub fn from_jwk(jwk_json: &[u8]) -> Result<Self, KeyError> {
        Self::jwk(jwk_json, None)
    }

    fn jwk(json: &[u8], algorithm: Option<Algorithm>) -> Result<Self, KeyError> {
        let parsed = jwk::parse(json, algorithm)?;
        Self::new(parsed.algorithm, parsed.key, parsed.key_id)
    }

    /// A signer over the key in a file: a JWK when its first non-blank character is `{`,
    /// else PEM. At most [`MAX_KEY_FILE_LEN`] bytes are read, into a buffer wiped
    /// afterwards.
    ///
    /// `algorithm`, when given, must fit the key (and agree with a JWK's `alg`); when
    /// not, a JWK's `alg` or else the key's kind decides: RS256 for RSA, ES256 for
    /// P-256, EdDSA for Ed25519, HS256 for `oct`.
    pub fn from_file(
        path: impl AsRef<Path>,
        algorithm: Option<Algorithm>,
    ) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let unreadable = |error: std::io::Error| KeyError::Unreadable {
            path: path.to_owned(),
            kind: error.kind(),
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let mut buffer = Zeroizing::new(vec![0u8; MAX_KEY_FILE_LEN + 1]);
        let len = crate::read_bounded(file, &mut buffer).map_err(unreadable)?;
        if len > MAX_KEY_FILE_LEN {
            return Err(KeyError::TooLarge {
                limit: MAX_KEY_FILE_LEN,
            });
        }
        let text = &buffer[..len];
        let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
        let start = text.iter().position(|b| !b.is_ascii_whitespace());
        if start.is_some_and(|start| text[start] == b'{') {
            Self::jwk(text, algorithm)
        } else {
            Self::pem(text, algorithm)
        }
    }

    /// An HS256 signer over the client's secret, for `client_secret_jwt` (its
    /// [`method`](AssertionSource::method) is [`AssertionMethod::ClientSecretJwt`]).
    ///
    /// A secret shorter than 256 bits (32 bytes) is refused
    /// ([`KeyError::WeakSecret`]): RFC 7518 §3.2 requires a key at least as long as the
    /// hash.
    pub fn client_secret(secret: &str) -> Result<Self, KeyError> {
        Self::new(Algorithm::Hs256, hmac_key(secret.as_bytes())?, None)
    }

    /// A new key for `algorithm` and the signer over it, with the key as a PKCS#8
    /// `PRIVATE KEY` PEM block (to store, or to give [`from_pem`](Self::from_pem) later).
    /// RSA keys are 2048 bits. HS256 keys are the server's to issue
    /// ([`KeyError::CannotGenerate`]).
    pub fn generate(algorithm: Algorithm) -> Result<(JwtSigner, Zeroizing<String>), KeyError> {
        let failed = |_| KeyError::Generation;
        let (key, pem) = match algorithm {
            Algorithm::Rs256 | Algorithm::Ps256 => {
                let key = RsaKeyPair::generate(KeySize::Rsa2048).map_err(failed)?;
                let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = key.as_der().map_err(failed)?;
                let pem = pem::encode_pkcs8(der.as_ref());
                (Key::Rsa(key), pem)
            }
            Algorithm::Es256 => {
                let key =
                    EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
                let pem = pem::encode_pkcs8(key.to_pkcs8v1().map_err(failed)?.as_ref());
                (Key::Ecdsa(key), pem)
            }
            Algorithm::EdDsa => {
                let key = Ed25519KeyPair::generate().map_err(failed)?;
                let pem = pem::encode_pkcs8(key.to_pkcs8v1().map_err(failed)?.as_ref());
                (Key::Ed25519(key), pem)
            }
            Algorithm::Hs256 => return Err(KeyError::CannotGenerate { algorithm }),
        };
        Ok((Self::new(algorithm, key, None)?, pem))
    }

    /// The same signer with `kid` set: every assertion's header names it, and
    /// [`public_jwk`](Self::public_jwk) carries it.
    #[must_use]
    pub fn with_key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// The key id, if set.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key as a JWK, to register the client with a server: `kty` and `n`/`e`
    /// (RSA), `crv`/`x`/`y` (EC) or `crv`/`x` (OKP), with `alg`, `use: "sig"` and the
    /// `kid` when set. `None` for HS256, whose key is secret.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = Map::new();
        match &self.key {
            Key::Rsa(key) => {
                let (n, e) = der::rsa_public_components(key.public_key().as_ref())?;
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert("n".into(), base64url(n).into());
                jwk.insert("e".into(), base64url(e).into());
            }
            Key::Ecdsa(key) => {
                let point = key.public_key().as_ref();
                let (x, y) = match point {
                    [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return None,
                };
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), "P-256".into());
                jwk.insert("x".into(), base64url(x).into());
                jwk.insert("y".into(), base64url(y).into());
            }
            Key::Ed25519(key) => {
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert("x".into(), base64url(key.public_key().as_ref()).into());
            }
            Key::Hmac(_) => return None,
        }
        jwk.insert("alg".into(), self.algorithm.as_str().into());
        jwk.insert("use".into(), "sig".into());
        if let Some(kid) = &self.key_id {
            jwk.insert("kid".into(), kid.clone().into());
        }
        Some(Value::Object(jwk))
    }

    /// The JWS signature over `input`.
    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, aws_lc_rs::error::Unspecified> {
        Ok(match &self.key {
            Key::Rsa(key) => {
                let padding = match self.algorithm {
                    Algorithm::Ps256 => &RSA_PSS_SHA256,
                    _ => &RSA_PKCS1_SHA256,
                };
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(padding, &self.rng, input, &mut signature)?;
                signature
            }
            Key::Ecdsa(key) => key.sign(&self.rng, input)?.as_ref().to_vec(),
            Key::Ed25519(key) => key.sign(input).as_ref().to_vec(),
            Key::Hmac(key) => hmac::sign(key, input).as_ref().to_vec(),
        })
    }

    /// The signature's length in bytes.
    fn signature_len(&self) -> usize {
        match &self.key {
            Key::Rsa(key) => key.public_modulus_len(),
            Key::Ecdsa(_) | Key::Ed25519(_) => 64,
            Key::Hmac(_) => 32,
        }
    }
}

impl AssertionSource for JwtSigner {
    fn method(&self) -> AssertionMethod {
        match self.algorithm {
            Algorithm::Hs256 => AssertionMethod::ClientSecretJwt,
            _ => AssertionMethod::PrivateKeyJwt,
        }
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        let signing = |reason: &str| AssertionError::Signing {
            reason: format!("{} with {} key: {reason}", self.algorithm, self.key.kind()),
        };
        let mut jti = [0u8; 16];
        self.rng
            .fill(&mut jti)
            .map_err(|_| signing("the random source failed"))?;
        let jti = base64url(&jti);
        let header = serde_json::to_vec(&Header {
            alg: self.algorithm.as_str(),
            typ: "JWT",
            kid: self.key_id.as_deref(),
        })
        .map_err(|_| signing("the header could not be encoded"))?;
        let payload = Zeroizing::new(claims.to_json(&jti));
        let encoded = |len: usize| len.div_ceil(3) * 4;
        let capacity =
            encoded(header.len()) + encoded(payload.len()) + encoded(self.signature_len()) + 2;
        let mut compact = Zeroizing::new(String::with_capacity(capacity));
        compact.push_str(&base64url(&header));
        compact.push('.');
        append_base64url(&payload, &mut compact);
        let signature = self
            .sign(compact.as_bytes())
            .map_err(|_| signing("the key refused to sign"))?;
        compact.push('.');
        compact.push_str(&base64url(&signature));
        Assertion::new(std::mem::take(&mut *compact))
    }
}

/// Appends `bytes` as unpadded base64url to `out`, which must have room (it is a wiped
/// buffer and is not to be reallocated).
fn append_base64url(bytes: &[u8], out: &mut String) {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(bytes, out);
}

/// Parses a private key's DER, its kind told by the PEM label and, for PKCS#8, by the
/// algorithm it names.
fn parse_der(kind: PemKind, der: &[u8]) -> Result<Key, KeyError> {
    let format = kind.format();
    let invalid = |key| move |_| KeyError::InvalidKey { key, format };
    let unsupported = |what: &str| KeyError::UnsupportedKey { what: what.into() };
    match kind {
        PemKind::Pkcs1 => Ok(Key::Rsa(RsaKeyPair::from_der(der).map_err(invalid(RSA))?)),
        PemKind::Sec1 => {
            match der::sec1_curve(der) {
                None | Some(oid::P256) => {}
                Some(curve) => return Err(unsupported(curve_name(curve))),
            }
            ec_key(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map_err(invalid(P256))
        }
        PemKind::Pkcs8 => {
            let Some((algorithm, curve)) = der::pkcs8_algorithm(der) else {
                return Err(KeyError::InvalidKey {
                    key: "unknown",
                    format,
                });
            };
            match algorithm {
                oid::RSA_ENCRYPTION => {
                    Ok(Key::Rsa(RsaKeyPair::from_pkcs8(der).map_err(invalid(RSA))?))
                }
                oid::ED25519 => Ok(Key::Ed25519(
                    Ed25519KeyPair::from_pkcs8(der).map_err(invalid(ED25519))?,
                )),
                oid::EC_PUBLIC_KEY => match curve {
                    Some(oid::P256) => Ok(Key::Ecdsa(
                        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                            .map_err(invalid(P256))?,
                    )),
                    Some(curve) => Err(unsupported(curve_name(curve))),
                    None => Err(unsupported("an EC key without a named curve")),
                },
                oid::RSASSA_PSS => Err(unsupported(
                    "an RSASSA-PSS-restricted RSA key (use an rsaEncryption key for PS256)",
                )),
                oid::ED448 => Err(unsupported("an Ed448 key")),
                oid::X25519 | oid::X448 => Err(unsupported("a key-agreement key (X25519 or X448)")),
                _ => Err(unsupported("a PKCS#8 key of an unknown algorithm")),
            }
        }
    }
}

/// A SEC1 or PKCS#8 EC key for `algorithm`.
fn ec_key(
    algorithm: &'static EcdsaSigningAlgorithm,
    der: &[u8],
) -> Result<Key, aws_lc_rs::error::KeyRejected> {
    EcdsaKeyPair::from_private_key_der(algorithm, der).map(Key::Ecdsa)
}

/// What an EC key on a curve other than P-256 is.
fn curve_name(curve: &[u8]) -> &'static str {
    match curve {
        oid::P384 => "an EC P-384 key (ES384 is not supported)",
        oid::P521 => "an EC P-521 key (ES512 is not supported)",
        oid::SECP256K1 => "an EC secp256k1 key (ES256K is not supported)",
        _ => "an EC key on an unknown curve",
    }
}
