//! What the tests share: claims, a verifier built from a public JWK, just enough DER to
//! take keys apart, and JWKs built from generated keys.

#![allow(dead_code)]

use aws_lc_rs::encoding::{AsBigEndian as _, AsDer as _, Pkcs8V1Der};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents,
    UnparsedPublicKey, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use oauth_lifecycle::dialect::assertion::AssertionClaims;
use serde_json::{json, Value};
use time::{Duration, UtcDateTime};

pub fn now() -> UtcDateTime {
    UtcDateTime::from_unix_timestamp(1_700_000_000).unwrap()
}

pub fn claims() -> AssertionClaims {
    AssertionClaims {
        issuer: "client-1".into(),
        subject: "client-1".into(),
        audience: "https://as.example/token".into(),
        issued_at: now(),
        expires_at: now() + Duration::seconds(60),
    }
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Splits a compact JWS into its header, claims, signing input and signature.
pub fn split(compact: &str) -> (Value, Value, String, Vec<u8>) {
    let parts: Vec<&str> = compact.split('.').collect();
    assert_eq!(parts.len(), 3, "{compact}");
    let header = serde_json::from_slice(&unb64(parts[0])).unwrap();
    let claims = serde_json::from_slice(&unb64(parts[1])).unwrap();
    (
        header,
        claims,
        format!("{}.{}", parts[0], parts[1]),
        unb64(parts[2]),
    )
}

/// Verifies a JWS signature with the public key in `jwk` (or the HS256 `secret`).
pub fn verify(
    alg: &str,
    jwk: Option<&Value>,
    secret: Option<&[u8]>,
    input: &[u8],
    signature: &[u8],
) -> bool {
    let member = |name: &str| unb64(jwk.unwrap()[name].as_str().unwrap());
    match alg {
        "RS256" | "PS256" => {
            let key = RsaPublicKeyComponents {
                n: member("n"),
                e: member("e"),
            };
            let algorithm = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            key.verify(algorithm, input, signature).is_ok()
        }
        "ES256" => {
            let mut point = vec![4];
            point.extend(member("x"));
            point.extend(member("y"));
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input, signature)
                .is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, member("x"))
            .verify(input, signature)
            .is_ok(),
        "HS256" => {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.unwrap());
            aws_lc_rs::hmac::verify(&key, input, signature).is_ok()
        }
        other => panic!("no verifier for {other}"),
    }
}

/// One DER element: its tag, contents and what follows.
pub fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = if input[1] < 0x80 {
        (input[1] as usize, 2)
    } else {
        let count = (input[1] & 0x7f) as usize;
        let len = input[2..2 + count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | b as usize);
        (len, 2 + count)
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The key inside a PKCS#8 `PrivateKeyInfo`: PKCS#1 for RSA, SEC1 for EC.
pub fn inner_key(pkcs8: &[u8]) -> Vec<u8> {
    let (_, info, _) = tlv(pkcs8);
    let (_, _version, rest) = tlv(info);
    let (_, _algorithm, rest) = tlv(rest);
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04);
    key.to_vec()
}

/// The INTEGERs of a PKCS#1 `RSAPrivateKey` after its version: n, e, d, p, q, dp, dq, qi.
pub fn rsa_integers(pkcs1: &[u8]) -> Vec<Vec<u8>> {
    let (_, mut rest, _) = tlv(pkcs1);
    let mut integers = Vec::new();
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest);
        assert_eq!(tag, 0x02);
        let value = match value {
            [0, tail @ ..] if !tail.is_empty() => tail,
            _ => value,
        };
        integers.push(value.to_vec());
        rest = next;
    }
    integers.remove(0);
    integers
}

/// A PEM block with `label` around `der`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A generated RSA key: its PKCS#8 DER and its private JWK.
pub fn rsa_key() -> (Vec<u8>, Value) {
    let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: Pkcs8V1Der<'static> = key.as_der().unwrap();
    let pkcs8 = der.as_ref().to_vec();
    let ints = rsa_integers(&inner_key(&pkcs8));
    let jwk = json!({
        "kty": "RSA",
        "n": b64(&ints[0]), "e": b64(&ints[1]), "d": b64(&ints[2]),
        "p": b64(&ints[3]), "q": b64(&ints[4]),
        "dp": b64(&ints[5]), "dq": b64(&ints[6]), "qi": b64(&ints[7]),
    });
    (pkcs8, jwk)
}

/// A generated P-256 key: its PKCS#8 DER, its SEC1 DER and its private JWK.
pub fn ec_key() -> (Vec<u8>, Vec<u8>, Value) {
    let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let pkcs8 = key.to_pkcs8v1().unwrap().as_ref().to_vec();
    let sec1: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'static> =
        key.private_key().as_der().unwrap();
    let d: aws_lc_rs::encoding::EcPrivateKeyBin<'static> = key.private_key().as_be_bytes().unwrap();
    let point = key.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256",
        "x": b64(&point[1..33]), "y": b64(&point[33..]), "d": b64(d.as_ref()),
    });
    (pkcs8, sec1.as_ref().to_vec(), jwk)
}

/// A generated Ed25519 key: its PKCS#8 DER and its private JWK.
pub fn ed25519_key() -> (Vec<u8>, Value) {
    let key = Ed25519KeyPair::generate().unwrap();
    let pkcs8 = key.to_pkcs8v1().unwrap().as_ref().to_vec();
    let seed: aws_lc_rs::encoding::Curve25519SeedBin<'static> =
        key.seed().unwrap().as_be_bytes().unwrap();
    let jwk = json!({
        "kty": "OKP", "crv": "Ed25519",
        "x": b64(key.public_key().as_ref()), "d": b64(seed.as_ref()),
    });
    (pkcs8, jwk)
}

/// The public members of a private JWK.
pub fn public_part(jwk: &Value, members: &[&str]) -> Vec<(String, Value)> {
    members
        .iter()
        .map(|m| (m.to_string(), jwk[*m].clone()))
        .collect()
}
