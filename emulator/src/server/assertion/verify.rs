//! Verifying one assertion: its shape, every bounded claim, its audience and times, and
//! its signature with the key of its issuer.

use aws_lc_rs::{hmac, signature};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};
use time::{Duration, UtcDateTime};

use super::*;

/// Why an assertion was refused. Its description is fixed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Longer than [`MAX_ASSERTION_LEN`].
    TooLarge,
    /// Not three base64url parts whose first two are JSON objects.
    Malformed,
    /// The header names an extension (`crit`) or a type the server does not take.
    UnsupportedHeader,
    /// `client_assertion_type` is not the JWT bearer type.
    UnsupportedType,
    /// No key is registered for the issuer (or client).
    UnknownIssuer,
    /// The `alg` is not one the key signs with.
    WrongAlgorithm,
    /// The header's `kid` is not the key's.
    WrongKey,
    /// The registered key is not one the server can use.
    UnusableKey,
    /// The signature does not verify.
    BadSignature,
    /// A required claim is missing.
    Missing(&'static str),
    /// A claim is of the wrong type or out of bounds.
    Invalid(&'static str),
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInTheFuture,
    /// Valid for longer than the rules allow.
    TooLongLived,
    /// `aud` names another server.
    WrongAudience,
    /// Its `jti` was seen before.
    Replayed,
    /// A client assertion whose `iss` and `sub` are not both the client id.
    NotTheClient,
    /// Too many assertions are remembered to take another.
    Busy,
}

impl Refusal {
    /// A short description for `error_description`.
    pub(crate) fn description(self) -> String {
        match self {
            Refusal::TooLarge => "the assertion is too large".into(),
            Refusal::Malformed => "the assertion is not a well-formed JWT".into(),
            Refusal::UnsupportedHeader => "the assertion's header is not supported".into(),
            Refusal::UnsupportedType => "the client_assertion_type is not supported".into(),
            Refusal::UnknownIssuer => "the assertion's issuer is not trusted".into(),
            Refusal::WrongAlgorithm => "the assertion's alg does not fit the key".into(),
            Refusal::WrongKey => "the assertion's kid names another key".into(),
            Refusal::UnusableKey => "the key registered for the issuer is unusable".into(),
            Refusal::BadSignature => "the assertion's signature does not verify".into(),
            Refusal::Missing(claim) => format!("the assertion has no `{claim}`"),
            Refusal::Invalid(claim) => format!("the assertion's `{claim}` is invalid"),
            Refusal::Expired => "the assertion has expired".into(),
            Refusal::NotYetValid => "the assertion is not valid yet".into(),
            Refusal::IssuedInTheFuture => "the assertion was issued in the future".into(),
            Refusal::TooLongLived => "the assertion is valid for too long".into(),
            Refusal::WrongAudience => "the assertion is meant for another audience".into(),
            Refusal::Replayed => "the assertion was used before".into(),
            Refusal::NotTheClient => {
                "the client assertion's iss and sub must be the client id".into()
            }
            Refusal::Busy => "too many assertions in flight".into(),
        }
    }
}

/// An assertion that passed every check but the replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) jti: String,
    pub(crate) expires_at: UtcDateTime,
}

/// What one verification accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expectations<'a> {
    /// The `aud` values accepted; one of them must be among the assertion's.
    pub(crate) audiences: &'a [&'a str],
    pub(crate) rules: &'a AssertionRules,
    /// The server's time.
    pub(crate) now: UtcDateTime,
}

/// Verifies `compact` with the key `key_for` gives for its (not yet verified) `iss`.
pub(crate) fn verify<'k>(
    compact: &str,
    key_for: impl FnOnce(&str) -> Option<&'k AssertionKey>,
    expect: &Expectations<'_>,
) -> Result<Verified, Refusal> {
    if compact.len() > MAX_ASSERTION_LEN {
        return Err(Refusal::TooLarge);
    }
    let mut parts = compact.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header = json_object(header_b64)?;
    let claims = json_object(payload_b64)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| Refusal::Malformed)?;

    if header.contains_key("crit") {
        return Err(Refusal::UnsupportedHeader);
    }
    if let Some(typ) = header.get("typ") {
        let typ = bounded_str(Some(typ), "typ", MAX_HEADER_VALUE)?;
        if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("application/jwt") {
            return Err(Refusal::UnsupportedHeader);
        }
    }
    let alg = bounded_str(header.get("alg"), "alg", MAX_HEADER_VALUE)?;
    let kid = match header.get("kid") {
        Some(kid) => Some(bounded_str(Some(kid), "kid", MAX_HEADER_VALUE)?),
        None => None,
    };
    let issuer = bounded_str(claims.get("iss"), "iss", MAX_NAME)?;
    let key = key_for(issuer).ok_or(Refusal::UnknownIssuer)?;
    let signing_input = &compact[..header_b64.len() + 1 + payload_b64.len()];
    check_signature(key, alg, kid, signing_input.as_bytes(), &signature)?;

    let subject = bounded_str(claims.get("sub"), "sub", MAX_NAME)?;
    let jti = bounded_str(claims.get("jti"), "jti", MAX_JTI)?;
    check_audience(claims.get("aud"), expect.audiences)?;
    let expires_at = time_claim(&claims, "exp")?.ok_or(Refusal::Missing("exp"))?;
    let not_before = time_claim(&claims, "nbf")?;
    let issued_at = time_claim(&claims, "iat")?;

    let now = expect.now;
    let leeway = expect.rules.leeway.max(Duration::ZERO);
    if expires_at.saturating_add(leeway) <= now {
        return Err(Refusal::Expired);
    }
    if not_before.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err(Refusal::NotYetValid);
    }
    if issued_at.is_some_and(|iat| iat > now.saturating_add(leeway)) {
        return Err(Refusal::IssuedInTheFuture);
    }
    let start = issued_at.or(not_before).unwrap_or(now);
    if expires_at - start > expect.rules.max_lifetime {
        return Err(Refusal::TooLongLived);
    }
    Ok(Verified {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        jti: jti.to_owned(),
        expires_at,
    })
}

/// A base64url part decoded into a JSON object.
fn json_object(part: &str) -> Result<Map<String, Value>, Refusal> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Refusal::Malformed)?;
    // serde_json bounds nesting (128 levels); the size is bounded by the caller.
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(Refusal::Malformed),
    }
}

/// A required, non-empty string of at most `max` bytes.
fn bounded_str<'v>(
    value: Option<&'v Value>,
    name: &'static str,
    max: usize,
) -> Result<&'v str, Refusal> {
    match value {
        None => Err(Refusal::Missing(name)),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= max => Ok(s),
        Some(_) => Err(Refusal::Invalid(name)),
    }
}

/// A NumericDate claim (RFC 7519 §2): whole seconds between the epoch and year 9999.
fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<UtcDateTime>, Refusal> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_i64()
        .filter(|s| (0..=MAX_TIME).contains(s))
        .ok_or(Refusal::Invalid(name))?;
    UtcDateTime::from_unix_timestamp(seconds)
        .map(Some)
        .map_err(|_| Refusal::Invalid(name))
}

/// `aud`, a string or an array of strings (RFC 7519 §4.1.3), must hold an accepted value.
fn check_audience(aud: Option<&Value>, accepted: &[&str]) -> Result<(), Refusal> {
    let matches = |value: &Value| match value {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_AUDIENCE => {
            Ok(accepted.contains(&s.as_str()))
        }
        _ => Err(Refusal::Invalid("aud")),
    };
    let found = match aud {
        None => return Err(Refusal::Missing("aud")),
        Some(Value::Array(values)) if !values.is_empty() && values.len() <= MAX_AUDIENCES => {
            let mut found = false;
            for value in values {
                found |= matches(value)?;
            }
            found
        }
        Some(Value::Array(_)) => return Err(Refusal::Invalid("aud")),
        Some(value) => matches(value)?,
    };
    if found {
        Ok(())
    } else {
        Err(Refusal::WrongAudience)
    }
}

/// Checks the signature over `input` with `key` by `alg`.
fn check_signature(
    key: &AssertionKey,
    alg: &str,
    kid: Option<&str>,
    input: &[u8],
    signature: &[u8],
) -> Result<(), Refusal> {
    let jwk = match key {
        AssertionKey::Hs256(secret) => {
            if alg != "HS256" {
                return Err(Refusal::WrongAlgorithm);
            }
            if secret.len() < MIN_HMAC_SECRET {
                return Err(Refusal::UnusableKey);
            }
            let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
            return hmac::verify(&key, input, signature).map_err(|_| Refusal::BadSignature);
        }
        AssertionKey::Jwk(Value::Object(jwk)) => jwk,
        AssertionKey::Jwk(_) => return Err(Refusal::UnusableKey),
    };
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    if let Some(wanted) = member("alg") {
        if wanted != alg {
            return Err(Refusal::WrongAlgorithm);
        }
    }
    if let (Some(ours), Some(theirs)) = (member("kid"), kid) {
        if ours != theirs {
            return Err(Refusal::WrongKey);
        }
    }
    let bytes = |name: &str, range: std::ops::RangeInclusive<usize>| {
        member(name)
            .filter(|text| text.len() <= 2048)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .filter(|bytes| range.contains(&bytes.len()))
            .ok_or(Refusal::UnusableKey)
    };
    let verified = match (member("kty"), member("crv"), alg) {
        (Some("RSA"), _, "RS256" | "PS256") => {
            let n = bytes("n", 256..=1025)?;
            let e = bytes("e", 1..=8)?;
            let strip = |b: &[u8]| b[b.iter().take_while(|&&x| x == 0).count()..].to_vec();
            let (n, e) = (strip(&n), strip(&e));
            if n.is_empty() || e.is_empty() {
                return Err(Refusal::UnusableKey);
            }
            let params = if alg == "RS256" {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PSS_2048_8192_SHA256
            };
            signature::RsaPublicKeyComponents { n: &n, e: &e }.verify(params, input, signature)
        }
        (Some("EC"), Some("P-256"), "ES256") => {
            let x = bytes("x", 32..=32)?;
            let y = bytes("y", 32..=32)?;
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(input, signature)
        }
        (Some("OKP"), Some("Ed25519"), "EdDSA" | "Ed25519") => {
            let x = bytes("x", 32..=32)?;
            signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(input, signature)
        }
        (Some("RSA" | "EC" | "OKP"), _, _) => return Err(Refusal::WrongAlgorithm),
        _ => return Err(Refusal::UnusableKey),
    };
    verified.map_err(|_| Refusal::BadSignature)
}
