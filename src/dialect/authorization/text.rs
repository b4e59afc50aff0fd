//! The text the pieces are made of: endpoints, the URL, base64url secrets, the S256
//! challenge, character classes, constant-time comparison and bounded excerpts.

use super::*;

/// The authorization endpoint, checked.
pub(super) fn authorization_endpoint(text: &str) -> Result<Endpoint, AuthorizationRequestError> {
    if text.contains('#') || text.len() > MAX_URL_BYTES {
        return Err(AuthorizationRequestError::InvalidAuthorizationEndpoint);
    }
    Endpoint::parse(text, "authorization").map_err(|error| match error {
        ConfigError::InsecureUrl { .. } => AuthorizationRequestError::InsecureAuthorizationEndpoint,
        _ => AuthorizationRequestError::InvalidAuthorizationEndpoint,
    })
}

/// An issuer, checked as discovery checks one.
pub(super) fn check_issuer(issuer: &str) -> Result<(), AuthorizationRequestError> {
    match Discovery::new(issuer) {
        Ok(_) => Ok(()),
        Err(DiscoveryError::InvalidIssuer { reason }) => {
            Err(AuthorizationRequestError::InvalidIssuer { reason })
        }
        Err(_) => Err(AuthorizationRequestError::InvalidIssuer {
            reason: IssuerProblem::NotAbsolute,
        }),
    }
}

/// The authorization URL: the endpoint as given, then the request's parameters.
pub(super) fn authorization_url(
    parts: &Parts,
    endpoint: &Endpoint,
    state: &str,
    challenge: &str,
) -> Result<Uri, AuthorizationRequestError> {
    let base = parts.authorization_endpoint.as_str();
    let separator = match endpoint.uri().query() {
        None => "?",
        Some(query) if query.is_empty() || query.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(7 + parts.params.len());
    pairs.push(("response_type", "code"));
    pairs.push(("client_id", &parts.client_id));
    pairs.push(("redirect_uri", &parts.redirect_uri));
    if let Some(scope) = &parts.scope {
        pairs.push(("scope", scope));
    }
    pairs.push(("state", state));
    pairs.push(("code_challenge", challenge));
    pairs.push(("code_challenge_method", "S256"));
    pairs.extend(parts.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let length = base.len() + separator.len() + query.len();
    if length > MAX_URL_BYTES {
        return Err(AuthorizationRequestError::UrlTooLong {
            limit: MAX_URL_BYTES,
        });
    }
    // One buffer of the exact size, so no reallocation leaves a copy of the state.
    let mut url = String::with_capacity(length);
    url.push_str(base);
    url.push_str(separator);
    url.push_str(&query);
    let mut query = query;
    query.zeroize();
    let bytes = bytes::Bytes::from_owner(WipedBytes(url.into_bytes()));
    Uri::from_maybe_shared(bytes)
        .map_err(|_| AuthorizationRequestError::InvalidAuthorizationEndpoint)
}

/// Bytes wiped when the last `Bytes` handle to them is dropped.
pub(super) struct WipedBytes(Vec<u8>);

impl AsRef<[u8]> for WipedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WipedBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `bytes` in base64url without padding, in a buffer of the exact size.
pub(super) fn base64url(bytes: &[u8]) -> WipedString {
    let mut buffer = Zeroizing::new([0u8; SECRET_CHARS]);
    let written = URL_SAFE_NO_PAD
        .encode_slice(bytes, &mut buffer[..])
        .unwrap_or(0);
    let text = std::str::from_utf8(&buffer[..written]).unwrap_or("");
    let mut out = String::with_capacity(SECRET_CHARS);
    out.push_str(text);
    WipedString(out)
}

/// The `S256` code challenge of `verifier`: `BASE64URL(SHA256(verifier))` (RFC 7636
/// §4.2), with `oauth2`'s implementation. The verifier has been checked to be 43
/// characters, the length `oauth2` requires.
pub(super) fn s256_challenge(verifier: &str) -> String {
    let mut verifier = PkceCodeVerifier::new(verifier.to_owned());
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier)
        .as_str()
        .to_owned();
    wipe_secret(
        &mut verifier,
        || PkceCodeVerifier::new(String::new()),
        PkceCodeVerifier::into_secret,
    );
    challenge
}

/// Whether `entropy` is what no random source gives: a half of one repeated byte, or
/// two equal halves.
pub(super) fn is_weak(entropy: &[u8; ENTROPY_BYTES]) -> bool {
    let (verifier, state) = entropy.split_at(ENTROPY_BYTES / 2);
    let repeated = |half: &[u8]| half.iter().all(|&byte| byte == half[0]);
    repeated(verifier) || repeated(state) || verifier == state
}

/// Whether `text` is a secret this module makes: 43 base64url characters.
pub(super) fn is_secret_text(text: &str) -> bool {
    text.len() == SECRET_CHARS
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `text` is one or more RFC 6749 `VSCHAR`s (`%x20-7E`).
pub(super) fn is_vschar_text(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Whether `scope` is one RFC 6749 §3.3 `scope-token` (`%x21 / %x23-5B / %x5D-7E`).
pub(super) fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths only.
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a
        .iter()
        .zip(b)
        .fold(0u8, |difference, (x, y)| difference | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// A server's text as an error quotes it: `secrets` redacted first, then an
/// [`excerpt`].
pub(super) fn quote(text: &str, secrets: &Secrets, max: usize) -> String {
    excerpt(&secrets.redact(text), max)
}

pub(super) use crate::dialect::quote::excerpt;
