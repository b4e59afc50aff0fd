use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use aws_lc_rs::{hmac, signature};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use time::macros::utc_datetime;
use time::UtcDateTime;

use super::*;

const NOW: UtcDateTime = utc_datetime!(2026-03-01 12:00:00);
const AUD: &str = "http://127.0.0.1/token";
const ISSUER: &str = "https://issuer.example";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A key pair that signs test assertions.
enum Signer {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair, &'static str),
    Hs256(Vec<u8>),
}

impl Signer {
    fn es256() -> Self {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Signer::Es256(pair)
    }

    fn ed25519() -> Self {
        Signer::Ed25519(Ed25519KeyPair::generate().unwrap())
    }

    fn rsa(alg: &'static str) -> Self {
        Signer::Rsa(RsaKeyPair::generate(KeySize::Rsa2048).unwrap(), alg)
    }

    fn hs256() -> Self {
        Signer::Hs256(b"an HS256 secret of at least 32 bytes!".to_vec())
    }

    fn alg(&self) -> &'static str {
        match self {
            Signer::Es256(_) => "ES256",
            Signer::Ed25519(_) => "EdDSA",
            Signer::Rsa(_, alg) => alg,
            Signer::Hs256(_) => "HS256",
        }
    }

    /// The key the server verifies with.
    fn key(&self) -> AssertionKey {
        match self {
            Signer::Es256(pair) => {
                let point = pair.public_key().as_ref();
                AssertionKey::jwk(json!({
                    "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
                    "x": b64(&point[1..33]), "y": b64(&point[33..65]),
                }))
            }
            Signer::Ed25519(pair) => AssertionKey::jwk(json!({
                "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
            })),
            Signer::Rsa(pair, _) => {
                let (n, e) = rsa_components(pair.public_key().as_ref());
                AssertionKey::jwk(json!({ "kty": "RSA", "n": b64(n), "e": b64(e) }))
            }
            Signer::Hs256(secret) => AssertionKey::hs256(secret.clone()),
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match self {
            Signer::Es256(pair) => pair
                .sign(&SystemRandom::new(), input)
                .unwrap()
                .as_ref()
                .to_vec(),
            Signer::Ed25519(pair) => pair.sign(input).as_ref().to_vec(),
            Signer::Rsa(pair, alg) => {
                let padding: &'static dyn signature::RsaEncoding = if *alg == "RS256" {
                    &signature::RSA_PKCS1_SHA256
                } else {
                    &signature::RSA_PSS_SHA256
                };
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &SystemRandom::new(), input, &mut out)
                    .unwrap();
                out
            }
            Signer::Hs256(secret) => {
                let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
                hmac::sign(&key, input).as_ref().to_vec()
            }
        }
    }

    /// A compact JWT with this header and these claims.
    fn jwt_with(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }

    fn jwt(&self, claims: &Value) -> String {
        self.jwt_with(&json!({ "alg": self.alg(), "typ": "JWT" }), claims)
    }
}

/// `n` and `e` from a DER RSAPublicKey (PKCS #1): SEQUENCE { INTEGER n, INTEGER e }.
fn rsa_components(der: &[u8]) -> (&[u8], &[u8]) {
    fn element(der: &[u8], tag: u8) -> (&[u8], &[u8]) {
        assert_eq!(der[0], tag);
        let (len, start) = match der[1] {
            short @ 0..=0x7f => (usize::from(short), 2),
            long => {
                let count = usize::from(long & 0x7f);
                let len = der[2..2 + count]
                    .iter()
                    .fold(0, |acc, &b| (acc << 8) | usize::from(b));
                (len, 2 + count)
            }
        };
        (&der[start..start + len], &der[start + len..])
    }
    let (sequence, _) = element(der, 0x30);
    let (n, rest) = element(sequence, 0x02);
    let (e, _) = element(rest, 0x02);
    (n, e)
}

fn claims(jti: &str) -> Value {
    let now = NOW.unix_timestamp();
    json!({
        "iss": ISSUER, "sub": "service-account", "aud": AUD, "jti": jti,
        "iat": now, "nbf": now, "exp": now + 60,
    })
}

fn check(
    key: &AssertionKey,
    compact: &str,
    rules: &AssertionRules,
    now: UtcDateTime,
) -> Result<Verified, Refusal> {
    let expect = Expectations {
        audiences: &[AUD],
        rules,
        now,
    };
    verify(compact, |iss| (iss == ISSUER).then_some(key), &expect)
}

fn verify_now(key: &AssertionKey, compact: &str) -> Result<Verified, Refusal> {
    check(key, compact, &AssertionRules::default(), NOW)
}

#[test]
fn each_algorithm_verifies_with_its_key() {
    for signer in [
        Signer::es256(),
        Signer::ed25519(),
        Signer::rsa("RS256"),
        Signer::rsa("PS256"),
        Signer::hs256(),
    ] {
        let verified = verify_now(&signer.key(), &signer.jwt(&claims("a"))).unwrap();
        assert_eq!(verified.issuer, ISSUER, "{}", signer.alg());
        assert_eq!(verified.subject, "service-account");
        assert_eq!(verified.jti, "a");
        assert_eq!(verified.expires_at, NOW + Duration::seconds(60));
    }
}

#[test]
fn bad_assertions_are_refused_with_their_reason() {
    let signer = Signer::es256();
    let key = signer.key();
    let other = Signer::es256();
    let now = NOW.unix_timestamp();
    let with = |changes: Value| {
        let mut claims = claims("j");
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        signer.jwt(&claims)
    };
    let good = signer.jwt(&claims("j"));
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    let header = |h: Value| signer.jwt_with(&h, &claims("j"));
    let huge = with(json!({ "pad": "x".repeat(MAX_ASSERTION_LEN) }));
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));

    let table: Vec<(&str, String, Refusal)> = vec![
        (
            "signed by another key",
            other.jwt(&claims("j")),
            Refusal::BadSignature,
        ),
        (
            "signature of other content",
            format!("{head}.{}.{sig}", b64(claims("k").to_string().as_bytes())),
            Refusal::BadSignature,
        ),
        (
            "signature cut short",
            format!("{head}.{payload}.{}", &sig[..20]),
            Refusal::BadSignature,
        ),
        (
            "empty signature",
            format!("{head}.{payload}."),
            Refusal::BadSignature,
        ),
        (
            "alg none",
            header(json!({ "alg": "none" })),
            Refusal::WrongAlgorithm,
        ),
        (
            "alg HS256 on an EC key",
            header(json!({ "alg": "HS256" })),
            Refusal::WrongAlgorithm,
        ),
        (
            "alg RS256 on an EC key",
            header(json!({ "alg": "RS256" })),
            Refusal::WrongAlgorithm,
        ),
        (
            "no alg",
            header(json!({ "typ": "JWT" })),
            Refusal::Missing("alg"),
        ),
        (
            "alg not a string",
            header(json!({ "alg": 256 })),
            Refusal::Invalid("alg"),
        ),
        (
            "another kid",
            header(json!({ "alg": "ES256", "kid": "k2" })),
            Refusal::WrongKey,
        ),
        (
            "crit",
            header(json!({ "alg": "ES256", "crit": ["exp"] })),
            Refusal::UnsupportedHeader,
        ),
        (
            "typ of another kind",
            header(json!({ "alg": "ES256", "typ": "at+jwt" })),
            Refusal::UnsupportedHeader,
        ),
        (
            "expired",
            with(json!({ "exp": now - 1, "iat": now - 60, "nbf": now - 60 })),
            Refusal::Expired,
        ),
        (
            "expiring now",
            with(json!({ "exp": now, "iat": now - 60, "nbf": now - 60 })),
            Refusal::Expired,
        ),
        (
            "nbf in the future",
            with(json!({ "nbf": now + 1 })),
            Refusal::NotYetValid,
        ),
        (
            "iat in the future",
            with(json!({ "iat": now + 1, "nbf": null })),
            Refusal::IssuedInTheFuture,
        ),
        (
            "valid too long",
            with(json!({ "exp": now + 3601 })),
            Refusal::TooLongLived,
        ),
        (
            "valid too long, no iat",
            with(json!({ "exp": now + 3601, "iat": null, "nbf": null })),
            Refusal::TooLongLived,
        ),
        (
            "another audience",
            with(json!({ "aud": "http://127.0.0.1/other" })),
            Refusal::WrongAudience,
        ),
        (
            "the issuer as audience",
            with(json!({ "aud": ISSUER })),
            Refusal::WrongAudience,
        ),
        (
            "audiences without ours",
            with(json!({ "aud": ["a", "b"] })),
            Refusal::WrongAudience,
        ),
        (
            "empty audience array",
            with(json!({ "aud": [] })),
            Refusal::Invalid("aud"),
        ),
        (
            "too many audiences",
            with(json!({ "aud": vec![AUD; 17] })),
            Refusal::Invalid("aud"),
        ),
        (
            "audience not a string",
            with(json!({ "aud": [AUD, 1] })),
            Refusal::Invalid("aud"),
        ),
        (
            "no audience",
            with(json!({ "aud": null })),
            Refusal::Missing("aud"),
        ),
        (
            "no sub",
            with(json!({ "sub": null })),
            Refusal::Missing("sub"),
        ),
        (
            "empty sub",
            with(json!({ "sub": "" })),
            Refusal::Invalid("sub"),
        ),
        (
            "huge sub",
            with(json!({ "sub": "s".repeat(MAX_NAME + 1) })),
            Refusal::Invalid("sub"),
        ),
        (
            "no jti",
            with(json!({ "jti": null })),
            Refusal::Missing("jti"),
        ),
        (
            "jti a number",
            with(json!({ "jti": 7 })),
            Refusal::Invalid("jti"),
        ),
        (
            "no exp",
            with(json!({ "exp": null })),
            Refusal::Missing("exp"),
        ),
        (
            "exp a string",
            with(json!({ "exp": "tomorrow" })),
            Refusal::Invalid("exp"),
        ),
        (
            "exp a fraction",
            with(json!({ "exp": 1.5e9 })),
            Refusal::Invalid("exp"),
        ),
        (
            "exp huge",
            with(json!({ "exp": 1e300 })),
            Refusal::Invalid("exp"),
        ),
        (
            "exp past year 9999",
            with(json!({ "exp": MAX_TIME + 1 })),
            Refusal::Invalid("exp"),
        ),
        (
            "exp u64::MAX",
            with(json!({ "exp": u64::MAX })),
            Refusal::Invalid("exp"),
        ),
        (
            "iat negative",
            with(json!({ "iat": -1 })),
            Refusal::Invalid("iat"),
        ),
        (
            "no iss",
            with(json!({ "iss": null })),
            Refusal::Missing("iss"),
        ),
        (
            "unknown iss",
            with(json!({ "iss": "https://other.example" })),
            Refusal::UnknownIssuer,
        ),
        ("two parts", format!("{head}.{payload}"), Refusal::Malformed),
        ("four parts", format!("{good}.{sig}"), Refusal::Malformed),
        ("one part", head.to_owned(), Refusal::Malformed),
        ("empty", String::new(), Refusal::Malformed),
        ("dots only", "..".into(), Refusal::Malformed),
        (
            "padded base64",
            format!("{head}=.{payload}.{sig}"),
            Refusal::Malformed,
        ),
        (
            "standard base64",
            format!(
                "{}.{payload}.{sig}",
                b64(br#"{"alg":"ES256","x":"??>"}"#)
                    .replace('_', "/")
                    .replace('-', "+")
            ),
            Refusal::Malformed,
        ),
        (
            "bad byte in signature",
            format!("{head}.{payload}.{sig}*"),
            Refusal::Malformed,
        ),
        (
            "header not JSON",
            format!("{}.{payload}.{sig}", b64(b"alg=ES256")),
            Refusal::Malformed,
        ),
        (
            "header an array",
            format!("{}.{payload}.{sig}", b64(b"[\"ES256\"]")),
            Refusal::Malformed,
        ),
        (
            "payload a string",
            format!("{head}.{}.{sig}", b64(b"\"claims\"")),
            Refusal::Malformed,
        ),
        (
            "payload deeply nested",
            format!("{head}.{}.{sig}", b64(deep.as_bytes())),
            Refusal::Malformed,
        ),
        (
            "payload not UTF-8",
            format!("{head}.{}.{sig}", b64(&[0xff, 0xfe, b'{', b'}'])),
            Refusal::Malformed,
        ),
        ("huge", huge, Refusal::TooLarge),
    ];
    for (case, compact, refusal) in table {
        assert_eq!(verify_now(&key, &compact), Err(refusal), "{case}");
        // The description is fixed text: it never quotes the assertion.
        let description = refusal.description();
        assert!(description.len() < 80, "{case}: {description}");
        if compact.len() > 8 {
            for part in compact.split('.').filter(|p| p.len() > 8) {
                assert!(!description.contains(part), "{case}");
            }
        }
    }
}

#[test]
fn a_jti_is_accepted_once_and_forgotten_when_it_expires() {
    let signer = Signer::ed25519();
    let key = signer.key();
    let rules = AssertionRules::default();
    let mut cache = ReplayCache::default();
    let first = verify_now(&key, &signer.jwt(&claims("once"))).unwrap();
    assert_eq!(cache.admit(&first, &rules, NOW), Ok(()));
    // The same jti again, even in a freshly signed assertion, is a replay.
    let again = verify_now(&key, &signer.jwt(&claims("once"))).unwrap();
    assert_eq!(cache.admit(&again, &rules, NOW), Err(Refusal::Replayed));
    assert_eq!(
        cache.admit(&again, &rules, NOW + Duration::seconds(59)),
        Err(Refusal::Replayed)
    );
    let other = verify_now(&key, &signer.jwt(&claims("twice"))).unwrap();
    assert_eq!(cache.admit(&other, &rules, NOW), Ok(()));
    assert_eq!(cache.len(), 2);
    // Once both have expired they are forgotten: the cache is bounded by `exp`.
    let later = NOW + Duration::minutes(5);
    let mut fresh = claims("late");
    fresh["iat"] = later.unix_timestamp().into();
    fresh["nbf"] = later.unix_timestamp().into();
    fresh["exp"] = (later.unix_timestamp() + 60).into();
    let late = check(&key, &signer.jwt(&fresh), &rules, later).unwrap();
    assert_eq!(cache.admit(&late, &rules, later), Ok(()));
    assert_eq!(cache.len(), 1);
}

#[test]
fn the_leeway_forgives_that_much_skew_and_no_more() {
    let signer = Signer::es256();
    let key = signer.key();
    let rules = AssertionRules {
        leeway: Duration::seconds(30),
        ..AssertionRules::default()
    };
    let assertion = signer.jwt(&claims("skewed"));
    // The client's clock runs 30 s ahead of the server's: accepted; 31 s: not.
    let behind = NOW - Duration::seconds(30);
    assert!(check(&key, &assertion, &rules, behind).is_ok());
    let further = NOW - Duration::seconds(31);
    assert_eq!(
        check(&key, &assertion, &rules, further),
        Err(Refusal::NotYetValid)
    );
    // Expired 30 s ago: still accepted; 30 s and more after `exp` plus the leeway: not.
    let after = NOW + Duration::seconds(89);
    assert!(check(&key, &assertion, &rules, after).is_ok());
    let past = NOW + Duration::seconds(90);
    assert_eq!(check(&key, &assertion, &rules, past), Err(Refusal::Expired));
    // With the default (zero) leeway one second of skew is refused.
    let strict = AssertionRules::default();
    assert_eq!(
        check(&key, &assertion, &strict, NOW - Duration::seconds(1)),
        Err(Refusal::NotYetValid)
    );
}

#[test]
fn unusable_keys_are_refused_not_trusted() {
    let signer = Signer::es256();
    let assertion = signer.jwt(&claims("k"));
    let keys = [
        AssertionKey::jwk(json!("not an object")),
        AssertionKey::jwk(json!({ "kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA" })),
        AssertionKey::jwk(json!({ "kty": "EC", "crv": "P-256" })),
        AssertionKey::jwk(json!({ "kty": "EC", "crv": "P-384", "x": "AA", "y": "AA" })),
        AssertionKey::jwk(json!({ "kty": "oct", "k": "c2VjcmV0" })),
        AssertionKey::jwk(json!({ "kty": "EC", "crv": "P-256", "x": 1, "y": [] })),
    ];
    for key in &keys {
        let refusal = verify_now(key, &assertion).unwrap_err();
        assert!(
            matches!(refusal, Refusal::UnusableKey | Refusal::WrongAlgorithm),
            "{key:?}: {refusal:?}"
        );
    }
    // A point not on the curve, of the right length, fails as a signature would.
    let off_curve = AssertionKey::jwk(json!({
        "kty": "EC", "crv": "P-256", "x": b64(&[1; 32]), "y": b64(&[2; 32]),
    }));
    assert_eq!(
        verify_now(&off_curve, &assertion),
        Err(Refusal::BadSignature)
    );
    // HS256 with a short secret is refused even when the MAC matches.
    let short = Signer::Hs256(b"short".to_vec());
    assert_eq!(
        verify_now(&short.key(), &short.jwt(&claims("s"))),
        Err(Refusal::UnusableKey)
    );
    // A JWK's `alg` pins it: an RSA key for PS256 refuses RS256.
    let rsa = Signer::rsa("RS256");
    let AssertionKey::Jwk(mut jwk) = rsa.key() else {
        unreachable!()
    };
    jwk["alg"] = "PS256".into();
    assert_eq!(
        verify_now(&AssertionKey::jwk(jwk), &rsa.jwt(&claims("r"))),
        Err(Refusal::WrongAlgorithm)
    );
    // The secret is not shown.
    assert!(!format!("{:?}", Signer::hs256().key()).contains("secret"));
}

#[test]
fn mangled_assertions_never_panic() {
    let signer = Signer::es256();
    let key = signer.key();
    let good = signer.jwt(&claims("m")).into_bytes();
    // A deterministic walk over single-byte changes, cuts and splices of a valid
    // assertion: every one is answered, none panics, none but the original passes.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"ABCxyz019-_.=+/ \0\xff{}\"";
    for _ in 0..2_000 {
        let mut mangled = good.clone();
        let at = (next() % mangled.len() as u64) as usize;
        match next() % 3 {
            0 => mangled[at] = alphabet[(next() % alphabet.len() as u64) as usize],
            1 => mangled.truncate(at),
            _ => {
                let extra = mangled[..at].to_vec();
                mangled.extend_from_slice(&extra);
            }
        }
        let text = String::from_utf8_lossy(&mangled);
        if text.as_bytes() != good.as_slice() {
            assert!(verify_now(&key, &text).is_err());
        }
    }
}

mod served {
    //! The grant and client authentication as the server answers them.

    use http::header::{AUTHORIZATION, CONTENT_TYPE};

    use super::*;
    use crate::server::{
        StandardServer, StandardServerConfig, CLIENT_ASSERTION_TYPE, JWT_BEARER_GRANT,
    };
    use crate::store::Reply;
    use crate::Emulator;

    const CLIENT: &str = "keyed-client";

    fn post(path: &str, body: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1{path}"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(reply.body()).unwrap()
    }

    fn client_claims(jti: &str) -> Value {
        let mut claims = claims(jti);
        claims["iss"] = CLIENT.into();
        claims["sub"] = CLIENT.into();
        claims
    }

    fn client_auth(compact: &str) -> String {
        format!(
            "client_assertion_type={}&client_assertion={compact}",
            form_urlencoded::byte_serialize(CLIENT_ASSERTION_TYPE.as_bytes()).collect::<String>()
        )
    }

    #[test]
    fn the_jwt_bearer_grant_issues_an_access_token_and_no_refresh_token() {
        let signer = Signer::es256();
        let config = StandardServerConfig::default().trust_issuer(ISSUER, signer.key());
        let mut server = StandardServer::new(config);
        let assertion = signer.jwt(&claims("g1"));
        let login = format!(
            "grant_type={}&scope=api&client_id=emulated-client&assertion={assertion}",
            form_urlencoded::byte_serialize(JWT_BEARER_GRANT.as_bytes()).collect::<String>()
        );
        let reply = server.handle(&post("/token", &login), NOW);
        assert_eq!(reply.status(), 200, "{:?}", body(&reply));
        let token = body(&reply);
        assert!(token.get("refresh_token").is_none());
        assert_eq!(token["scope"], "api");
        let access = token["access_token"].as_str().unwrap();
        assert!(server.is_access_token_valid(access, NOW));
        assert_eq!(server.stats().logins, 1);
        assert_eq!(server.stats().assertions_accepted, 1);

        // The same assertion again is a replay: invalid_grant, without the assertion.
        let reply = server.handle(&post("/token", &login), NOW);
        assert_eq!(reply.status(), 400);
        let error = body(&reply);
        assert_eq!(error["error"], "invalid_grant");
        assert_eq!(error["error_description"], "the assertion was used before");
        assert!(!String::from_utf8_lossy(reply.body()).contains(&assertion[..20]));
        assert_eq!(server.stats().assertions_refused, 1);

        // Without an assertion: invalid_request.
        let bare = format!(
            "grant_type={}&client_id=emulated-client",
            form_urlencoded::byte_serialize(JWT_BEARER_GRANT.as_bytes()).collect::<String>()
        );
        let reply = server.handle(&post("/token", &bare), NOW);
        assert_eq!(body(&reply)["error"], "invalid_request");

        // With no trusted issuer the grant is not served at all.
        let mut plain = StandardServer::new(StandardServerConfig::default());
        let reply = plain.handle(&post("/token", &login), NOW);
        assert_eq!(body(&reply)["error"], "invalid_client");
        let mut authenticated = post("/token", &login.replace("&client_id=emulated-client", ""));
        authenticated.headers_mut().insert(
            AUTHORIZATION,
            "Basic ZW11bGF0ZWQtY2xpZW50OmVtdWxhdGVkLXNlY3JldA=="
                .parse()
                .unwrap(),
        );
        let reply = plain.handle(&authenticated, NOW);
        assert_eq!(body(&reply)["error"], "unsupported_grant_type");
    }

    #[test]
    fn the_server_clock_offset_applies_to_assertions() {
        let signer = Signer::hs256();
        let config = StandardServerConfig::default().trust_issuer(ISSUER, signer.key());
        let mut server = StandardServer::new(config);
        server.set_clock_offset(Duration::minutes(2));
        let login = format!(
            "grant_type={}&client_id=emulated-client&assertion={}",
            form_urlencoded::byte_serialize(JWT_BEARER_GRANT.as_bytes()).collect::<String>(),
            signer.jwt(&claims("skew"))
        );
        let reply = server.handle(&post("/token", &login), NOW);
        assert_eq!(
            body(&reply)["error_description"],
            "the assertion has expired"
        );
    }

    #[test]
    fn clients_authenticate_by_assertion_on_every_endpoint() {
        let signer = Signer::ed25519();
        let config = StandardServerConfig::default().assertion_client(CLIENT, signer.key());
        let mut server = StandardServer::new(config);

        let login = format!(
            "grant_type=client_credentials&client_id={CLIENT}&{}",
            client_auth(&signer.jwt(&client_claims("c1")))
        );
        let reply = server.handle(&post("/token", &login), NOW);
        assert_eq!(reply.status(), 200, "{:?}", body(&reply));
        let access = body(&reply)["access_token"].as_str().unwrap().to_owned();

        let device = client_auth(&signer.jwt(&client_claims("c2")));
        let reply = server.handle(&post("/device_authorization", &device), NOW);
        assert_eq!(reply.status(), 200, "{:?}", body(&reply));

        let revoke = format!(
            "token={access}&{}",
            client_auth(&signer.jwt(&client_claims("c3")))
        );
        let reply = server.handle(&post("/revoke", &revoke), NOW);
        assert_eq!(reply.status(), 200);
        assert!(!server.is_access_token_valid(&access, NOW));
        assert_eq!(server.stats().revocations, 1);

        // Refusals are invalid_client, 401, on each endpoint.
        let other = Signer::ed25519();
        let cases = [
            (
                "/token",
                format!(
                    "grant_type=client_credentials&{}",
                    client_auth(&other.jwt(&client_claims("x1")))
                ),
            ),
            (
                "/revoke",
                format!(
                    "token={access}&{}",
                    client_auth(&other.jwt(&client_claims("x2")))
                ),
            ),
            (
                "/device_authorization",
                client_auth(&other.jwt(&client_claims("x3"))),
            ),
            // A replayed assertion.
            (
                "/token",
                format!(
                    "grant_type=client_credentials&{}",
                    client_auth(&signer.jwt(&client_claims("c1")))
                ),
            ),
            // `sub` is not the client.
            ("/token", {
                let mut claims = client_claims("x4");
                claims["sub"] = "someone-else".into();
                format!(
                    "grant_type=client_credentials&{}",
                    client_auth(&signer.jwt(&claims))
                )
            }),
            // `client_id` names another client.
            (
                "/token",
                format!(
                    "grant_type=client_credentials&client_id=emulated-client&{}",
                    client_auth(&signer.jwt(&client_claims("x5")))
                ),
            ),
            // Another assertion type.
            (
                "/token",
                format!(
                    "grant_type=client_credentials&client_assertion_type=saml&client_assertion={}",
                    signer.jwt(&client_claims("x6"))
                ),
            ),
        ];
        for (path, body_text) in cases {
            let reply = server.handle(&post(path, &body_text), NOW);
            assert_eq!(reply.status(), 401, "{path} {:?}", body(&reply));
            assert_eq!(body(&reply)["error"], "invalid_client");
        }

        // A keyed client without a secret cannot pass as a public client.
        let reply = server.handle(
            &post(
                "/token",
                &format!("grant_type=client_credentials&client_id={CLIENT}"),
            ),
            NOW,
        );
        assert_eq!(reply.status(), 401);
        let reply = server.handle(
            &post(
                "/token",
                &format!("grant_type=client_credentials&client_id={CLIENT}&client_secret="),
            ),
            NOW,
        );
        assert_eq!(reply.status(), 401);

        // Two methods at once: invalid_request.
        let mut both = post(
            "/token",
            &format!(
                "grant_type=client_credentials&{}",
                client_auth(&signer.jwt(&client_claims("x7")))
            ),
        );
        both.headers_mut().insert(
            AUTHORIZATION,
            "Basic ZW11bGF0ZWQtY2xpZW50OmVtdWxhdGVkLXNlY3JldA=="
                .parse()
                .unwrap(),
        );
        assert_eq!(body(&server.handle(&both, NOW))["error"], "invalid_request");
        // Half an assertion: invalid_request.
        let half = format!(
            "grant_type=client_credentials&client_assertion={}",
            signer.jwt(&client_claims("x8"))
        );
        assert_eq!(
            body(&server.handle(&post("/token", &half), NOW))["error"],
            "invalid_request"
        );
    }

    #[test]
    fn client_secret_jwt_and_the_issuer_audience() {
        let signer = Signer::hs256();
        let mut config = StandardServerConfig::default().assertion_client(CLIENT, signer.key());
        config.assertion_rules.accept_issuer_audience = true;
        let mut server = StandardServer::new(config);
        let mut claims = client_claims("h1");
        claims["aud"] = "http://127.0.0.1".into();
        let login = format!(
            "grant_type=client_credentials&{}",
            client_auth(&signer.jwt(&claims))
        );
        let reply = server.handle(&post("/token", &login), NOW);
        assert_eq!(reply.status(), 200, "{:?}", body(&reply));
    }

    #[test]
    fn metadata_names_the_assertion_methods_and_the_grant() {
        let signer = Signer::es256();
        let config = StandardServerConfig::default()
            .trust_issuer(ISSUER, signer.key())
            .assertion_client(CLIENT, signer.key())
            .assertion_client("hmac-client", Signer::hs256().key());
        let mut server = StandardServer::new(config);
        let request = http::Request::builder()
            .uri("http://127.0.0.1/.well-known/oauth-authorization-server")
            .body(Vec::new())
            .unwrap();
        let metadata = body(&server.handle(&request, NOW));
        let methods = metadata["token_endpoint_auth_methods_supported"].clone();
        assert_eq!(
            methods,
            json!([
                "client_secret_basic",
                "client_secret_post",
                "none",
                "private_key_jwt",
                "client_secret_jwt"
            ])
        );
        let grants = metadata["grant_types_supported"].as_array().unwrap();
        assert!(grants.contains(&JWT_BEARER_GRANT.into()));
        assert_eq!(
            metadata["token_endpoint_auth_signing_alg_values_supported"][2],
            "ES256"
        );
        // Without assertions configured, the defaults are unchanged.
        let mut plain = StandardServer::new(StandardServerConfig::default());
        let metadata = body(&plain.handle(&request, NOW));
        assert!(!metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&JWT_BEARER_GRANT.into()));
        assert!(metadata
            .get("token_endpoint_auth_signing_alg_values_supported")
            .is_none());
    }
}
