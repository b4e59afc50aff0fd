//! A token request as `--dry-run` prints it: method, URL, headers and body, with every
//! secret replaced by `[redacted]`, and every assertion (RFC 7523) by its decoded header
//! and claims.

use std::fmt::Write as _;

use oauth_lifecycle::dialect::assertion::{Assertion, DecodedAssertion};
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::TokenRequest;

use crate::time_format;

const REDACTED: &str = "[redacted]";

/// Fields whose values are secrets, in form and JSON bodies (compared without case,
/// `_` and `-`): passwords, client secrets, tokens, assertions, codes.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "clientsecret",
    "secret",
    "refreshtoken",
    "accesstoken",
    "token",
    "idtoken",
    "assertion",
    "clientassertion",
    "code",
    "codeverifier",
    "subjecttoken",
    "actortoken",
];

/// Headers whose values are credentials; their scheme word is kept.
const SECRET_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

fn is_secret_field(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_FIELDS.contains(&folded.as_str())
}

/// Renders `request` with secrets redacted: by header, by field name, and, as a last
/// net, every occurrence of each of `secrets` (the dialect's credentials and the
/// session's tokens) anywhere in the text.
pub(crate) fn request(request: &TokenRequest, secrets: &[String]) -> String {
    let http = request.request();
    let mut out = format!("{} {}\n", http.method(), http.uri());
    for (name, value) in http.headers() {
        let value = if SECRET_HEADERS.contains(&name.as_str()) {
            let scheme = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' ').map(|(scheme, _)| scheme.to_owned()));
            match scheme {
                Some(scheme) => format!("{scheme} {REDACTED}"),
                None => REDACTED.to_owned(),
            }
        } else {
            value.to_str().unwrap_or("[not text]").to_owned()
        };
        let _ = writeln!(out, "{name}: {value}");
    }
    let body = http.body();
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&self::body(http, body));
        out.push('\n');
    }
    scrub(out, secrets)
}

fn body(http: &oauth_lifecycle::http::Request<Vec<u8>>, body: &[u8]) -> String {
    let content_type = http
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/json") {
        if let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(body) {
            redact_json(&mut json);
            return serde_json::to_string(&json).unwrap_or_default();
        }
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let encoded = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect();
        let fields: Vec<String> = form_urlencoded::parse(body)
            .map(|(name, value)| {
                // The markers read better unencoded.
                let shown = if is_assertion_field(&name) {
                    assertion(&value)
                } else if is_secret_field(&name) {
                    REDACTED.to_owned()
                } else {
                    encoded(&value)
                };
                format!("{}={shown}", encoded(&name))
            })
            .collect();
        return fields.join("&");
    }
    format!("[{} bytes of {content_type:?}, redacted]", body.len())
}

/// Form fields that carry a JWT assertion (RFC 7523): the client's (`client_assertion`,
/// §2.2) and the JWT bearer grant's (`assertion`, §2.1).
const ASSERTION_FIELDS: &[&str] = &["client_assertion", "assertion"];

fn is_assertion_field(name: &str) -> bool {
    ASSERTION_FIELDS.contains(&name)
}

/// An assertion as a dry run shows it: its header and claims, decoded; never its
/// signature, nor the compact JWT. One that cannot be read is only `[redacted]`.
fn assertion(compact: &str) -> String {
    let decoded = Assertion::new(compact).and_then(|assertion| assertion.decode());
    match decoded {
        Ok(DecodedAssertion { header, claims, .. }) => {
            // Its times as every moment is shown (RFC 3339), beside the claims' seconds.
            let moment = |claim: &str| {
                claims
                    .get(claim)
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|seconds| UtcDateTime::from_unix_timestamp(seconds).ok())
                    .map(|moment| format!("{claim} {}", time_format::rfc3339(moment)))
            };
            let times: Vec<String> = ["iat", "exp"].into_iter().filter_map(moment).collect();
            let json = |map| serde_json::to_string(&map).unwrap_or_default();
            let mut shown = format!(
                "[assertion: header {} claims {}",
                json(header),
                json(claims)
            );
            if !times.is_empty() {
                let _ = write!(shown, " ({})", times.join(", "));
            }
            shown.push_str(", signature redacted]");
            shown
        }
        Err(_) => REDACTED.to_owned(),
    }
}

fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                if is_secret_field(name) {
                    *value = serde_json::Value::String(REDACTED.into());
                } else {
                    redact_json(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

/// Replaces every occurrence of each secret, longest first (so that a secret containing
/// another is replaced whole), as it is and as form and Basic encodings would write it.
fn scrub(mut text: String, secrets: &[String]) -> String {
    let mut forms: Vec<String> = secrets
        .iter()
        .filter(|secret| secret.len() >= 4)
        .flat_map(|secret| {
            let encoded: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            [secret.clone(), encoded]
        })
        .collect();
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    for form in forms {
        text = text.replace(&form, REDACTED);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use oauth_lifecycle::dialect::{ConvirzaV3, Standard};
    use oauth_lifecycle::{Driver, Output, Policy};

    fn first_request<D: oauth_lifecycle::Dialect>(dialect: D) -> TokenRequest {
        let mut driver = Driver::new(dialect, Policy::default()).unwrap();
        driver.handle_timeout(
            oauth_lifecycle::time::UtcDateTime::from_unix_timestamp(1_795_000_000).unwrap(),
        );
        loop {
            if let Output::Request(request) = driver.poll_output() {
                return request;
            }
        }
    }

    /// Every provider's login, with secrets full of characters that encodings change:
    /// none survives, in any form, and the rest of the request is shown.
    #[test]
    fn no_secret_survives_in_any_encoding() {
        let secret = "s3cr&t=+ %é\"x";
        let password = "p@ss/w:rd\\\"'";
        let basic = Standard::builder("http://127.0.0.1/token", "client")
            .client_secret(secret)
            .password("alice", password)
            .build()
            .unwrap();
        let post = Standard::builder("http://127.0.0.1/token", "client")
            .client_secret(secret)
            .client_auth(oauth_lifecycle::dialect::ClientAuth::Post)
            .password("alice", password)
            .build()
            .unwrap();
        let v3 = ConvirzaV3::builder("me@example.com", password)
            .base_url("http://127.0.0.1")
            .build()
            .unwrap();
        let requests = [first_request(basic), first_request(post), first_request(v3)];
        for request in &requests {
            // The field-name rules alone, without the net.
            let shown = super::request(request, &[]);
            let encoded: String = form_urlencoded::byte_serialize(password.as_bytes()).collect();
            for leak in [secret, password, &encoded] {
                assert!(!shown.contains(leak), "{leak:?} in\n{shown}");
            }
            assert!(shown.starts_with("POST http://127.0.0.1/"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
        let shown = super::request(&requests[0], &[]);
        assert!(shown.contains("authorization: Basic [redacted]"), "{shown}");
        assert!(shown.contains("grant_type=password"), "{shown}");
        assert!(shown.contains("username=alice"), "{shown}");
        let shown = super::request(&requests[2], &[]);
        assert!(shown.contains("\"email\":\"me@example.com\""), "{shown}");
    }

    /// An assertion shows as its decoded header and claims: no part of the compact JWT,
    /// of its signature or of the key is left, whichever field carries it; one that is no
    /// JWT is only redacted.
    #[test]
    fn assertions_show_decoded_without_signature() {
        use oauth_lifecycle::dialect::assertion::{AssertionClaims, AssertionSource as _};
        use oauth_lifecycle_jwt::{Algorithm, JwtSigner};

        let (signer, pem) = JwtSigner::generate(Algorithm::Es256).unwrap();
        let signer = signer.with_key_id("k1");
        let now = oauth_lifecycle::time::UtcDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let claims = AssertionClaims {
            issuer: "client".into(),
            subject: "client".into(),
            audience: "http://127.0.0.1/token".into(),
            issued_at: now,
            expires_at: now + oauth_lifecycle::time::Duration::seconds(60),
        };
        let compact = signer.assertion(&claims).unwrap().into_compact();
        let signature = compact.rsplit('.').next().unwrap().to_owned();
        for field in ["client_assertion", "assertion"] {
            let request = oauth_lifecycle::http::Request::post("http://127.0.0.1/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=x&{field}={}&scope=a+b", compact.as_str()).into_bytes())
                .unwrap();
            let shown = body(&request, request.body());
            assert!(
                shown.starts_with(&format!(
                    "grant_type=x&{field}=[assertion: header {{\"alg\":\"ES256\",\"kid\":\"k1\",\"typ\":\"JWT\"}} claims {{\"aud\":\"http://127.0.0.1/token\",\"exp\":1795000060,\"iat\":1795000000,\"iss\":\"client\",\"jti\":"
                )),
                "{shown}"
            );
            assert!(
                shown.ends_with(
                    "(iat 2026-11-18T11:06:40Z, exp 2026-11-18T11:07:40Z), signature redacted]&scope=a+b"
                ),
                "{shown}"
            );
            for part in compact.split('.') {
                assert!(!shown.contains(part), "{shown}");
            }
            assert!(!shown.contains(&signature[..16]), "{shown}");
            for line in pem.lines().filter(|line| !line.starts_with("-----")) {
                assert!(!shown.contains(line), "{shown}");
            }
        }
        // Not a JWT: redacted whole.
        let request = oauth_lifecycle::http::Request::post("http://127.0.0.1/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"client_assertion=not-a-jwt-hunter2".to_vec())
            .unwrap();
        assert_eq!(
            body(&request, request.body()),
            "client_assertion=[redacted]"
        );
    }

    #[test]
    fn the_net_catches_secrets_in_fields_of_any_name() {
        let text = "x=abc%26def&y=abc&def&z=other".to_owned();
        let scrubbed = scrub(text, &["abc&def".to_owned()]);
        assert_eq!(scrubbed, "x=[redacted]&y=[redacted]&z=other");
    }
}
