//! `JwtSigner`: every algorithm signs what a server can verify, every key format loads,
//! and every bad input is a typed error that shows no part of the key.

mod common;

use std::collections::HashSet;
use std::io::ErrorKind;

use common::*;
use oauth_lifecycle::dialect::assertion::{AssertionMethod, AssertionSource};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner, KeyError, MAX_KEY_FILE_LEN};
use serde_json::{json, Value};

const SECRET: &str = "0123456789abcdef0123456789abcdef-client-secret";

/// Signs with `signer`, verifies with `jwk` (or the HS256 secret), and checks the header
/// and every claim.
fn check_round_trip(signer: &JwtSigner, jwk: Option<&Value>, secret: Option<&[u8]>) {
    let claims = claims();
    let assertion = signer.assertion(&claims).unwrap();
    assert_eq!(assertion.expires_at(), Some(claims.expires_at));
    let decoded = assertion.decode().unwrap();
    let compact = assertion.into_compact();
    let (header, payload, input, signature) = split(&compact);
    let alg = signer.algorithm().as_str();
    assert!(
        verify(alg, jwk, secret, input.as_bytes(), &signature),
        "{alg} does not verify"
    );
    // A changed payload does not.
    let mut tampered = input.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert!(
        !verify(alg, jwk, secret, &tampered, &signature),
        "{alg} verifies a changed payload"
    );

    let mut expected_header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = signer.key_id() {
        expected_header["kid"] = kid.into();
    }
    assert_eq!(header, expected_header);
    assert_eq!(Value::Object(decoded.header), expected_header);
    let jti = payload["jti"].as_str().unwrap();
    assert_eq!(unb64(jti).len(), 16, "a jti of 128 bits");
    assert_eq!(
        payload,
        json!({
            "iss": "client-1",
            "sub": "client-1",
            "aud": "https://as.example/token",
            "jti": jti,
            "iat": 1_700_000_000,
            "nbf": 1_700_000_000,
            "exp": 1_700_000_060,
        })
    );
    // The claims come in the core's fixed order.
    let text = String::from_utf8(unb64(compact.split('.').nth(1).unwrap())).unwrap();
    assert!(
        text.starts_with(r#"{"iss":"client-1","sub":"client-1","aud":"#),
        "{text}"
    );
    match alg {
        "ES256" | "EdDSA" => assert_eq!(signature.len(), 64),
        "HS256" => assert_eq!(signature.len(), 32),
        _ => assert_eq!(signature.len(), 256),
    }
}

#[test]
fn every_algorithm_signs_what_its_public_key_verifies() {
    for algorithm in [
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ] {
        let (signer, pem) = JwtSigner::generate(algorithm).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert_eq!(signer.algorithm(), algorithm);
        assert_eq!(signer.method(), AssertionMethod::PrivateKeyJwt);
        // Without a kid, the header has none.
        let jwk = signer.public_jwk().unwrap();
        assert!(jwk.get("kid").is_none());
        check_round_trip(&signer, Some(&jwk), None);

        let signer = signer.with_key_id("key-7");
        assert_eq!(signer.key_id(), Some("key-7"));
        let jwk = signer.public_jwk().unwrap();
        assert_eq!(jwk["kid"], "key-7");
        assert_eq!(jwk["alg"], algorithm.as_str());
        assert_eq!(jwk["use"], "sig");
        assert!(
            jwk.get("d").is_none(),
            "the public JWK holds no private part"
        );
        let expected_kty = match algorithm {
            Algorithm::Es256 => "EC",
            Algorithm::EdDsa => "OKP",
            _ => "RSA",
        };
        assert_eq!(jwk["kty"], expected_kty);
        check_round_trip(&signer, Some(&jwk), None);
    }

    let signer = JwtSigner::client_secret(SECRET).unwrap().with_key_id("s");
    assert_eq!(signer.algorithm(), Algorithm::Hs256);
    assert_eq!(signer.method(), AssertionMethod::ClientSecretJwt);
    assert_eq!(signer.public_jwk(), None);
    check_round_trip(&signer, None, Some(SECRET.as_bytes()));
}

#[test]
fn pkcs8_pkcs1_and_sec1_pem_load() {
    // PKCS#8 as generated, for every kind; an RSA key serves RS256 and PS256 alike.
    for (algorithm, other) in [
        (Algorithm::Rs256, Some(Algorithm::Ps256)),
        (Algorithm::Es256, None),
        (Algorithm::EdDsa, None),
    ] {
        let (signer, pem) = JwtSigner::generate(algorithm).unwrap();
        let loaded = JwtSigner::from_pem(algorithm, pem.as_bytes()).unwrap();
        assert_eq!(loaded.public_jwk(), signer.public_jwk());
        check_round_trip(&loaded, signer.public_jwk().as_ref(), None);
        if let Some(other) = other {
            let loaded = JwtSigner::from_pem(other, pem.as_bytes()).unwrap();
            assert_eq!(loaded.algorithm(), other);
            check_round_trip(&loaded, loaded.public_jwk().as_ref(), None);
        }
    }

    // PKCS#1.
    let (pkcs8, jwk) = rsa_key();
    let pkcs1 = pem("RSA PRIVATE KEY", &inner_key(&pkcs8));
    let signer = JwtSigner::from_pem(Algorithm::Rs256, pkcs1.as_bytes()).unwrap();
    let public = signer.public_jwk().unwrap();
    assert_eq!((&public["n"], &public["e"]), (&jwk["n"], &jwk["e"]));
    check_round_trip(&signer, Some(&public), None);
    let signer =
        JwtSigner::from_pem(Algorithm::Ps256, pem("PRIVATE KEY", &pkcs8).as_bytes()).unwrap();
    check_round_trip(&signer, Some(&public), None);

    // SEC1, with its curve named, alone or after the `EC PARAMETERS` block `openssl
    // ecparam -genkey` writes; and the SEC1 key inside a PKCS#8, which names none.
    let (pkcs8, sec1, jwk) = ec_key();
    let params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
    for text in [
        pem("EC PRIVATE KEY", &sec1),
        format!("{params}{}", pem("EC PRIVATE KEY", &sec1)),
        pem("EC PRIVATE KEY", &inner_key(&pkcs8)),
        pem("PRIVATE KEY", &pkcs8),
    ] {
        let signer = JwtSigner::from_pem(Algorithm::Es256, text.as_bytes()).unwrap();
        let public = signer.public_jwk().unwrap();
        assert_eq!((&public["x"], &public["y"]), (&jwk["x"], &jwk["y"]));
        check_round_trip(&signer, Some(&public), None);
    }

    // CRLF line ends and surrounding text are fine.
    let (pkcs8, jwk) = ed25519_key();
    let text = format!(
        "a comment\r\n{}",
        pem("PRIVATE KEY", &pkcs8).replace('\n', "\r\n")
    );
    let signer = JwtSigner::from_pem(Algorithm::EdDsa, text.as_bytes()).unwrap();
    assert_eq!(signer.public_jwk().unwrap()["x"], jwk["x"]);
}

#[test]
fn jwks_load_for_every_key_type() {
    let (_, rsa) = rsa_key();
    let (_, _, ec) = ec_key();
    let (_, ed) = ed25519_key();
    let oct = json!({"kty": "oct", "k": b64(SECRET.as_bytes())});
    for (jwk, algorithm, public) in [
        (&rsa, Algorithm::Rs256, &["n", "e"][..]),
        (&ec, Algorithm::Es256, &["crv", "x", "y"][..]),
        (&ed, Algorithm::EdDsa, &["crv", "x"][..]),
        (&oct, Algorithm::Hs256, &[][..]),
    ] {
        // The algorithm by `kty`, no kid.
        let signer = JwtSigner::from_jwk(jwk.to_string().as_bytes()).unwrap();
        assert_eq!(signer.algorithm(), algorithm);
        assert_eq!(signer.key_id(), None);
        let exported = signer.public_jwk();
        for (member, value) in public_part(jwk, public) {
            assert_eq!(exported.as_ref().unwrap()[&member], value, "{member}");
        }
        check_round_trip(&signer, exported.as_ref(), Some(SECRET.as_bytes()));

        // `alg` and `kid` from the JWK, `use: sig` accepted, unknown members ignored.
        let mut with = jwk.clone();
        with["alg"] = algorithm.as_str().into();
        with["kid"] = "the \"kid\"".into();
        with["use"] = "sig".into();
        with["key_ops"] = json!(["sign"]);
        let signer = JwtSigner::from_jwk(with.to_string().as_bytes()).unwrap();
        assert_eq!(signer.key_id(), Some("the \"kid\""));
        check_round_trip(
            &signer,
            signer.public_jwk().as_ref(),
            Some(SECRET.as_bytes()),
        );
    }
    let mut ps = rsa.clone();
    ps["alg"] = "PS256".into();
    let signer = JwtSigner::from_jwk(ps.to_string().as_bytes()).unwrap();
    assert_eq!(signer.algorithm(), Algorithm::Ps256);
    check_round_trip(&signer, signer.public_jwk().as_ref(), None);
    // An oct JWK signs `client_secret_jwt`.
    assert_eq!(
        JwtSigner::from_jwk(oct.to_string().as_bytes())
            .unwrap()
            .method(),
        AssertionMethod::ClientSecretJwt
    );
}

fn with(jwk: &Value, changes: Value) -> Vec<u8> {
    let mut jwk = jwk.clone();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            jwk.as_object_mut().unwrap().remove(name);
        } else {
            jwk[name] = value.clone();
        }
    }
    jwk.to_string().into_bytes()
}

type Check = fn(&KeyError) -> bool;

#[test]
fn malformed_and_mismatched_keys_are_typed_errors() {
    let (rsa8, rsa) = rsa_key();
    let (ec8, _, ec) = ec_key();
    let (ed8, ed) = ed25519_key();
    let (_, _, other_ec) = ec_key();
    let rsa_pem = pem("PRIVATE KEY", &rsa8);
    let ec_pem = pem("PRIVATE KEY", &ec8);
    let ed_pem = pem("PRIVATE KEY", &ed8);
    let mut corrupt = rsa8.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    // A P-384 key, in PKCS#8 and SEC1.
    let p384 = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P384_SHA384_FIXED_SIGNING,
    )
    .unwrap();
    let p384_pkcs8 = p384.to_pkcs8v1().unwrap().as_ref().to_vec();
    let p384_sec1: aws_lc_rs::encoding::EcPrivateKeyRfc5915Der<'static> =
        aws_lc_rs::encoding::AsDer::as_der(&p384.private_key()).unwrap();

    let not_pem: Check = |e| matches!(e, KeyError::NotPem { .. });
    let unsupported: Check = |e| matches!(e, KeyError::UnsupportedKey { .. });
    let invalid: Check = |e| matches!(e, KeyError::InvalidKey { .. });
    let pem_cases: Vec<(&str, Algorithm, Vec<u8>, Check)> = vec![
        ("empty", Algorithm::Rs256, vec![], not_pem),
        ("binary", Algorithm::Rs256, vec![0xff, 0xfe, 0x00], not_pem),
        ("no block", Algorithm::Rs256, b"hello".to_vec(), not_pem),
        ("unterminated", Algorithm::Rs256, rsa_pem.replace("-----END PRIVATE KEY-----", "").into_bytes(), not_pem),
        ("not base64", Algorithm::Rs256, pem("PRIVATE KEY", &rsa8).replacen('M', "*", 1).into_bytes(), not_pem),
        ("empty DER", Algorithm::Rs256, pem("PRIVATE KEY", &[]).into_bytes(), invalid),
        ("truncated DER", Algorithm::Rs256, pem("PRIVATE KEY", &rsa8[..rsa8.len() / 2]).into_bytes(), invalid),
        ("corrupt DER", Algorithm::Rs256, pem("PRIVATE KEY", &corrupt).into_bytes(), invalid),
        ("corrupt PKCS#1", Algorithm::Rs256, pem("RSA PRIVATE KEY", &inner_key(&corrupt)).into_bytes(), invalid),
        ("garbage SEC1", Algorithm::Es256, pem("EC PRIVATE KEY", b"garbage").into_bytes(), invalid),
        ("RSA for ES256", Algorithm::Es256, rsa_pem.clone().into_bytes(), |e| *e == KeyError::AlgorithmMismatch { algorithm: Algorithm::Es256, key: "RSA" }),
        ("RSA for EdDSA", Algorithm::EdDsa, rsa_pem.clone().into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { algorithm: Algorithm::EdDsa, .. })),
        ("RSA for HS256", Algorithm::Hs256, rsa_pem.clone().into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { algorithm: Algorithm::Hs256, .. })),
        ("PKCS#1 for ES256", Algorithm::Es256, pem("RSA PRIVATE KEY", &inner_key(&rsa8)).into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { key: "RSA", .. })),
        ("EC for RS256", Algorithm::Rs256, ec_pem.clone().into_bytes(), |e| *e == KeyError::AlgorithmMismatch { algorithm: Algorithm::Rs256, key: "EC P-256" }),
        ("EC for PS256", Algorithm::Ps256, ec_pem.clone().into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { .. })),
        ("EC for EdDSA", Algorithm::EdDsa, ec_pem.clone().into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { .. })),
        ("Ed25519 for ES256", Algorithm::Es256, ed_pem.clone().into_bytes(), |e| *e == KeyError::AlgorithmMismatch { algorithm: Algorithm::Es256, key: "Ed25519" }),
        ("Ed25519 for RS256", Algorithm::Rs256, ed_pem.clone().into_bytes(), |e| matches!(e, KeyError::AlgorithmMismatch { .. })),
        ("P-384 PKCS#8", Algorithm::Es256, pem("PRIVATE KEY", &p384_pkcs8).into_bytes(), unsupported),
        ("P-384 SEC1", Algorithm::Es256, pem("EC PRIVATE KEY", p384_sec1.as_ref()).into_bytes(), unsupported),
        ("encrypted", Algorithm::Rs256, pem("ENCRYPTED PRIVATE KEY", &rsa8).into_bytes(), |e| *e == KeyError::Encrypted),
        ("legacy encrypted", Algorithm::Rs256, b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n".to_vec(), |e| *e == KeyError::Encrypted),
        ("public key", Algorithm::Rs256, pem("PUBLIC KEY", &rsa8).into_bytes(), unsupported),
        ("certificate", Algorithm::Rs256, pem("CERTIFICATE", &rsa8).into_bytes(), unsupported),
        ("OpenSSH", Algorithm::EdDsa, pem("OPENSSH PRIVATE KEY", b"openssh-key-v1").into_bytes(), unsupported),
    ];
    for (name, algorithm, input, expected) in pem_cases {
        let error = JwtSigner::from_pem(algorithm, &input).unwrap_err();
        assert!(expected(&error), "{name}: {error:?}");
        assert!(!error.to_string().is_empty());
    }

    let not_jwk: Check = |e| matches!(e, KeyError::NotJwk { .. });
    let d = ec["d"].as_str().unwrap();
    let escaped_d = format!("\\u{:04x}{}", d.as_bytes()[0], &d[1..]);
    let jwk_cases: Vec<(&str, Vec<u8>, Check)> = vec![
        ("empty", vec![], not_jwk),
        ("not JSON", b"{kty: RSA}".to_vec(), not_jwk),
        ("an array", b"[]".to_vec(), not_jwk),
        ("no kty", b"{}".to_vec(), not_jwk),
        ("kty a number", br#"{"kty":1}"#.to_vec(), not_jwk),
        ("unknown kty", br#"{"kty":"XYZ"}"#.to_vec(), unsupported),
        ("EC without crv", with(&ec, json!({"crv": null})), not_jwk),
        ("EC P-384", with(&ec, json!({"crv": "P-384"})), unsupported),
        (
            "OKP X25519",
            with(&ed, json!({"crv": "X25519"})),
            unsupported,
        ),
        ("public RSA", with(&rsa, json!({"d": null})), not_jwk),
        ("public EC", with(&ec, json!({"d": null})), not_jwk),
        ("public OKP", with(&ed, json!({"d": null})), not_jwk),
        ("RSA without p", with(&rsa, json!({"p": null})), not_jwk),
        ("RSA without qi", with(&rsa, json!({"qi": null})), not_jwk),
        (
            "multi-prime RSA",
            with(&rsa, json!({"oth": []})),
            unsupported,
        ),
        ("oct without k", br#"{"kty":"oct"}"#.to_vec(), not_jwk),
        (
            "RSA inconsistent qi",
            with(&rsa, json!({"qi": rsa["dp"]})),
            invalid,
        ),
        (
            "RSA inconsistent d",
            with(&rsa, json!({"d": rsa["dp"]})),
            invalid,
        ),
        (
            "EC mismatched x, y",
            with(&ec, json!({"x": other_ec["x"], "y": other_ec["y"]})),
            invalid,
        ),
        ("EC short d", with(&ec, json!({"d": "AAAA"})), invalid),
        (
            "Ed25519 mismatched x",
            with(&ed, json!({"x": ec["x"]})),
            invalid,
        ),
        ("Ed25519 short d", with(&ed, json!({"d": "AAAA"})), invalid),
        (
            "d not base64url",
            with(&ec, json!({"d": "not/base64+"})),
            not_jwk,
        ),
        (
            "d escaped",
            with(&ec, json!({"d": null}))
                .into_iter()
                .take_while(|&b| b != b'}')
                .chain(format!(",\"d\":\"{escaped_d}\"}}").into_bytes())
                .collect(),
            not_jwk,
        ),
        (
            "d twice",
            format!(
                "{{\"kty\":\"oct\",\"k\":\"{}\",\"k\":\"{}\"}}",
                b64(SECRET.as_bytes()),
                b64(SECRET.as_bytes())
            )
            .into_bytes(),
            not_jwk,
        ),
        ("use enc", with(&ec, json!({"use": "enc"})), unsupported),
        ("alg none", with(&ec, json!({"alg": "none"})), |e| {
            matches!(e, KeyError::UnknownAlgorithm { .. })
        }),
        ("alg RS512", with(&rsa, json!({"alg": "RS512"})), |e| {
            matches!(e, KeyError::UnknownAlgorithm { .. })
        }),
        ("alg RS256 on EC", with(&ec, json!({"alg": "RS256"})), |e| {
            *e == KeyError::AlgorithmMismatch {
                algorithm: Algorithm::Rs256,
                key: "EC P-256",
            }
        }),
        (
            "alg ES256 on RSA",
            with(&rsa, json!({"alg": "ES256"})),
            |e| matches!(e, KeyError::AlgorithmMismatch { .. }),
        ),
        (
            "alg HS256 on OKP",
            with(&ed, json!({"alg": "HS256"})),
            |e| matches!(e, KeyError::AlgorithmMismatch { .. }),
        ),
        (
            "alg EdDSA on oct",
            format!(
                "{{\"kty\":\"oct\",\"alg\":\"EdDSA\",\"k\":\"{}\"}}",
                b64(SECRET.as_bytes())
            )
            .into_bytes(),
            |e| matches!(e, KeyError::AlgorithmMismatch { .. }),
        ),
        (
            "short oct",
            format!("{{\"kty\":\"oct\",\"k\":\"{}\"}}", b64(&[7; 31])).into_bytes(),
            |e| *e == KeyError::WeakSecret { bits: 248 },
        ),
    ];
    for (name, input, expected) in jwk_cases {
        let error = JwtSigner::from_jwk(&input).unwrap_err();
        assert!(expected(&error), "{name}: {error:?}");
    }

    assert_eq!(
        JwtSigner::client_secret("too short").unwrap_err(),
        KeyError::WeakSecret { bits: 72 }
    );
    assert!(JwtSigner::client_secret(&"s".repeat(32)).is_ok());
    assert_eq!(
        JwtSigner::generate(Algorithm::Hs256).unwrap_err(),
        KeyError::CannotGenerate {
            algorithm: Algorithm::Hs256
        }
    );
}

#[test]
fn algorithm_names_round_trip() {
    for algorithm in Algorithm::ALL {
        assert_eq!(algorithm.as_str().parse::<Algorithm>().unwrap(), algorithm);
        assert_eq!(algorithm.to_string(), algorithm.as_str());
    }
    for name in ["", "none", "rs256", "ES384", "HS512", "eddsa"] {
        assert!(
            matches!(
                name.parse::<Algorithm>(),
                Err(KeyError::UnknownAlgorithm { .. })
            ),
            "{name}"
        );
    }
    // A registered name is echoed; anything else, a key pasted in the wrong place
    // included, only by its length.
    assert!("RS512"
        .parse::<Algorithm>()
        .unwrap_err()
        .to_string()
        .contains("`RS512`"));
    let error = format!("{}\n{}", "A".repeat(100), "x")
        .parse::<Algorithm>()
        .unwrap_err();
    assert!(error.to_string().len() < 80, "{error}");
}

/// A directory for one test's files, under Cargo's per-target temporary directory.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("signer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn keys_load_from_files() {
    let dir = scratch("files");
    let (generated, pem_text) = JwtSigner::generate(Algorithm::Es256).unwrap();
    let pem_path = dir.join("key.pem");
    std::fs::write(&pem_path, pem_text.as_bytes()).unwrap();
    let loaded = JwtSigner::from_file(&pem_path, None).unwrap();
    assert_eq!(loaded.algorithm(), Algorithm::Es256);
    assert_eq!(loaded.public_jwk(), generated.public_jwk());
    assert!(JwtSigner::from_file(&pem_path, Some(Algorithm::Es256)).is_ok());
    assert!(matches!(
        JwtSigner::from_file(&pem_path, Some(Algorithm::Rs256)),
        Err(KeyError::AlgorithmMismatch { .. })
    ));

    // An RSA PEM is RS256 unless asked for PS256.
    let (rsa8, rsa) = rsa_key();
    let rsa_path = dir.join("rsa.pem");
    std::fs::write(&rsa_path, pem("RSA PRIVATE KEY", &inner_key(&rsa8))).unwrap();
    assert_eq!(
        JwtSigner::from_file(&rsa_path, None).unwrap().algorithm(),
        Algorithm::Rs256
    );
    assert_eq!(
        JwtSigner::from_file(&rsa_path, Some(Algorithm::Ps256))
            .unwrap()
            .algorithm(),
        Algorithm::Ps256
    );

    // A JWK, after blank lines, with its kid; its alg against the one asked for.
    let jwk_path = dir.join("key.json");
    std::fs::write(
        &jwk_path,
        format!(
            "\n  {}\n",
            String::from_utf8(with(&rsa, json!({"kid": "k1"}))).unwrap()
        ),
    )
    .unwrap();
    let signer = JwtSigner::from_file(&jwk_path, None).unwrap();
    assert_eq!(
        (signer.algorithm(), signer.key_id()),
        (Algorithm::Rs256, Some("k1"))
    );
    let signer = JwtSigner::from_file(&jwk_path, Some(Algorithm::Ps256)).unwrap();
    assert_eq!(signer.algorithm(), Algorithm::Ps256);
    check_round_trip(&signer, signer.public_jwk().as_ref(), None);
    std::fs::write(&jwk_path, with(&rsa, json!({"alg": "RS256"}))).unwrap();
    assert_eq!(
        JwtSigner::from_file(&jwk_path, Some(Algorithm::Ps256)).unwrap_err(),
        KeyError::AlgorithmConflict {
            requested: Algorithm::Ps256,
            declared: Algorithm::Rs256
        }
    );

    // Missing, a directory, too large, neither PEM nor JWK.
    let missing = dir.join("missing.pem");
    assert_eq!(
        JwtSigner::from_file(&missing, None).unwrap_err(),
        KeyError::Unreadable {
            path: missing.clone(),
            kind: ErrorKind::NotFound
        }
    );
    assert!(matches!(
        JwtSigner::from_file(&dir, None),
        Err(KeyError::Unreadable { .. })
    ));
    let large = dir.join("large.pem");
    let mut text = pem_text.to_string();
    text.push_str(&"\n".repeat(MAX_KEY_FILE_LEN));
    std::fs::write(&large, text).unwrap();
    assert_eq!(
        JwtSigner::from_file(&large, None).unwrap_err(),
        KeyError::TooLarge {
            limit: MAX_KEY_FILE_LEN
        }
    );
    let empty = dir.join("empty");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        JwtSigner::from_file(&empty, None),
        Err(KeyError::NotPem { .. })
    ));
    std::fs::write(&empty, "{ not json").unwrap();
    assert!(matches!(
        JwtSigner::from_file(&empty, None),
        Err(KeyError::NotJwk { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_thousand_assertions_carry_a_thousand_jtis() {
    let (signer, _) = JwtSigner::generate(Algorithm::EdDsa).unwrap();
    let claims = claims();
    let jtis: HashSet<String> = (0..1000)
        .map(|_| {
            let decoded = signer.assertion(&claims).unwrap().decode().unwrap();
            decoded.claims["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), 1000);
    assert!(jtis.iter().all(|jti| jti.len() == 22));
}

/// Every 12-character window of `secret`.
fn fragments(secret: &str) -> Vec<&str> {
    let secret = secret.trim();
    (0..secret.len().saturating_sub(12))
        .map(|i| &secret[i..i + 12])
        .collect()
}

fn assert_hides(shown: &str, secrets: &[&str]) {
    for secret in secrets {
        for fragment in fragments(secret) {
            assert!(!shown.contains(fragment), "{shown:?} shows {fragment:?}");
        }
    }
}

#[test]
fn debug_and_errors_show_no_part_of_a_key() {
    let (rsa8, rsa) = rsa_key();
    let (_, _, ec) = ec_key();
    let rsa_pem = pem("PRIVATE KEY", &rsa8);
    let body: String = rsa_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut secrets = vec![body.as_str(), SECRET];
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        secrets.push(rsa[member].as_str().unwrap());
    }
    secrets.push(ec["d"].as_str().unwrap());

    let signers = [
        JwtSigner::from_pem(Algorithm::Rs256, rsa_pem.as_bytes())
            .unwrap()
            .with_key_id("k"),
        JwtSigner::from_jwk(rsa.to_string().as_bytes()).unwrap(),
        JwtSigner::from_jwk(ec.to_string().as_bytes()).unwrap(),
        JwtSigner::client_secret(SECRET).unwrap(),
    ];
    for signer in &signers {
        let shown = format!("{signer:?} {signer:#?}");
        assert!(
            shown.contains(&format!("{:?}", signer.algorithm())),
            "{shown}"
        );
        assert_hides(&shown, &secrets);
    }
    assert_eq!(
        format!("{:?}", signers[0]),
        "JwtSigner { algorithm: Rs256, key_id: Some(\"k\"), .. }"
    );

    let errors = [
        JwtSigner::from_pem(Algorithm::Es256, rsa_pem.as_bytes()).unwrap_err(),
        JwtSigner::from_pem(Algorithm::Rs256, rsa_pem.replacen('M', "*", 1).as_bytes())
            .unwrap_err(),
        JwtSigner::from_jwk(with(&rsa, json!({"qi": rsa["dp"]})).as_slice()).unwrap_err(),
        JwtSigner::from_jwk(with(&rsa, json!({"alg": rsa["d"]})).as_slice()).unwrap_err(),
        JwtSigner::from_jwk(with(&rsa, json!({"kty": rsa["p"]})).as_slice()).unwrap_err(),
        JwtSigner::from_jwk(with(&ec, json!({"crv": ec["d"]})).as_slice()).unwrap_err(),
        JwtSigner::from_jwk(with(&ec, json!({"d": 5})).as_slice()).unwrap_err(),
        JwtSigner::from_jwk(&with(&ec, json!({}))[..40]).unwrap_err(),
        JwtSigner::client_secret(&SECRET[..20]).unwrap_err(),
    ];
    for error in &errors {
        assert_hides(&format!("{error:?} {error}"), &secrets);
    }
}

#[test]
fn a_signer_is_send_sync_and_static() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<JwtSigner>();
    shareable::<oauth_lifecycle_jwt::AssertionFile>();
    shareable::<KeyError>();
    // And it serves where the core wants a source.
    let (signer, _) = JwtSigner::generate(Algorithm::Es256).unwrap();
    let source: std::sync::Arc<dyn AssertionSource> = std::sync::Arc::new(signer);
    assert!(source.assertion(&claims()).is_ok());
}
