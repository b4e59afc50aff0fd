//! `AssertionFile`: the platform's assertion, cached until the file changes or the
//! assertion nears its `exp`, with the session's `now` as the only clock.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use common::b64;
use oauth_lifecycle::dialect::assertion::{
    AssertionClaims, AssertionError, AssertionMethod, AssertionSource, MAX_ASSERTION_LEN,
};
use oauth_lifecycle_jwt::AssertionFile;
use time::{Duration, UtcDateTime};

const EXP: i64 = 1_700_003_600;

fn at(seconds: i64) -> UtcDateTime {
    UtcDateTime::from_unix_timestamp(seconds).unwrap()
}

/// Claims formed at `now`; the file source reads only `issued_at`.
fn claims_at(now: UtcDateTime) -> AssertionClaims {
    AssertionClaims {
        issuer: "ignored".into(),
        subject: "ignored".into(),
        audience: "ignored".into(),
        issued_at: now,
        expires_at: now + Duration::seconds(60),
    }
}

/// A platform token: a JWT with `sub` and `exp`, its signature a placeholder.
fn token(sub: &str, exp: i64) -> String {
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(br#"{"alg":"RS256","kid":"platform"}"#),
        b64(
            format!(r#"{{"iss":"https://kubernetes.default.svc","sub":"{sub}","exp":{exp}}}"#)
                .as_bytes()
        )
    )
}

/// A directory for one test's files, under Cargo's per-target temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("file-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rewrites `path` in place (same inode) and gives it back its former modification
/// time, so that only its contents could tell it changed.
fn rewrite_keeping_stamp(path: &Path, contents: &str) {
    let before = fs::metadata(path).unwrap();
    assert_eq!(before.len(), contents.len() as u64, "same length");
    fs::write(path, contents).unwrap();
    File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(before.modified().unwrap())
        .unwrap();
    let after = fs::metadata(path).unwrap();
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
}

fn served(source: &AssertionFile, now: UtcDateTime) -> Result<String, AssertionError> {
    source
        .assertion(&claims_at(now))
        .map(|assertion| assertion.into_compact().to_string())
}

#[test]
fn the_file_is_served_trimmed_and_its_claims_are_its_own() {
    let dir = scratch("served");
    let path = dir.join("token");
    fs::write(
        &path,
        format!("\n {}\r\n", token("system:serviceaccount:ns:app", EXP)),
    )
    .unwrap();
    let source = AssertionFile::new(&path);
    assert_eq!(source.method(), AssertionMethod::PrivateKeyJwt);
    assert_eq!(source.path(), path);
    let assertion = source.assertion(&claims_at(at(EXP - 3000))).unwrap();
    assert_eq!(assertion.expires_at(), Some(at(EXP)));
    let decoded = assertion.decode().unwrap();
    assert_eq!(decoded.claims["sub"], "system:serviceaccount:ns:app");
    assert!(
        decoded.claims.get("jti").is_none(),
        "the platform's claims, untouched"
    );
    assert_eq!(
        assertion.into_compact().as_str(),
        token("system:serviceaccount:ns:app", EXP)
    );
    let source = AssertionFile::new(&path).with_method(AssertionMethod::ClientSecretJwt);
    assert_eq!(source.method(), AssertionMethod::ClientSecretJwt);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cached_assertion_is_served_until_the_margin_then_the_file_is_read_again() {
    let dir = scratch("cache");
    let path = dir.join("token");
    let first = token("aaaa", EXP);
    let second = token("bbbb", EXP + 3600);
    fs::write(&path, &first).unwrap();
    let source = AssertionFile::new(&path);
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), first);

    // New contents, but the same length, inode and modification time: nothing tells the
    // file changed, so the cached assertion is served without reading it.
    rewrite_keeping_stamp(&path, &second);
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), first);
    assert_eq!(served(&source, at(EXP - 61)).unwrap(), first);
    // Within the 60 s margin of its `exp`, the file is read again.
    assert_eq!(served(&source, at(EXP - 60)).unwrap(), second);
    // And the new one is cached in turn.
    rewrite_keeping_stamp(&path, &first);
    assert_eq!(served(&source, at(EXP)).unwrap(), second);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_configured_margin_is_kept() {
    let dir = scratch("margin");
    let path = dir.join("token");
    fs::write(&path, token("aaaa", EXP)).unwrap();
    let source = AssertionFile::new(&path).refresh_margin(StdDuration::from_secs(600));
    assert_eq!(served(&source, at(EXP - 601)).unwrap(), token("aaaa", EXP));
    rewrite_keeping_stamp(&path, &token("bbbb", EXP + 1000));
    assert_eq!(served(&source, at(EXP - 601)).unwrap(), token("aaaa", EXP));
    assert_eq!(
        served(&source, at(EXP - 600)).unwrap(),
        token("bbbb", EXP + 1000)
    );

    // No margin: served from the cache up to the last second.
    let source = AssertionFile::new(&path).refresh_margin(StdDuration::ZERO);
    assert_eq!(served(&source, at(EXP)).unwrap(), token("bbbb", EXP + 1000));
    rewrite_keeping_stamp(&path, &token("cccc", EXP + 2000));
    assert_eq!(
        served(&source, at(EXP + 999)).unwrap(),
        token("bbbb", EXP + 1000)
    );
    assert_eq!(
        served(&source, at(EXP + 1000)).unwrap(),
        token("cccc", EXP + 2000)
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_changed_file_is_read_at_once() {
    let dir = scratch("changed");
    let path = dir.join("token");
    fs::write(&path, token("aaaa", EXP)).unwrap();
    let source = AssertionFile::new(&path);
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), token("aaaa", EXP));

    // A different length.
    fs::write(&path, token("a-longer-subject", EXP)).unwrap();
    assert_eq!(
        served(&source, at(EXP - 3000)).unwrap(),
        token("a-longer-subject", EXP)
    );

    // The same length, a new modification time.
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    fs::write(&path, token("b-longer-subject", EXP)).unwrap();
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(modified + StdDuration::from_secs(1))
        .unwrap();
    assert_eq!(
        served(&source, at(EXP - 3000)).unwrap(),
        token("b-longer-subject", EXP)
    );

    // Rotated by rename, as the kubelet does: a new inode, the same length and time.
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    let staged = dir.join("token.new");
    fs::write(&staged, token("c-longer-subject", EXP)).unwrap();
    File::options()
        .write(true)
        .open(&staged)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    fs::rename(&staged, &path).unwrap();
    let expected = if cfg!(unix) {
        token("c-longer-subject", EXP)
    } else {
        token("b-longer-subject", EXP)
    };
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), expected);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_file_is_unavailable_until_it_appears() {
    let dir = scratch("missing");
    let path = dir.join("token");
    let source = AssertionFile::new(&path);
    let Err(AssertionError::Unavailable { reason }) = served(&source, at(EXP - 3000)) else {
        panic!("a missing file is Unavailable");
    };
    assert!(reason.contains(&path.display().to_string()), "{reason}");
    assert!(
        reason.contains(&std::io::ErrorKind::NotFound.to_string()),
        "{reason}"
    );

    fs::write(&path, token("aaaa", EXP)).unwrap();
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), token("aaaa", EXP));
    // Removed again: nothing is served from the cache.
    fs::remove_file(&path).unwrap();
    assert!(matches!(
        served(&source, at(EXP - 3000)),
        Err(AssertionError::Unavailable { .. })
    ));
    // A directory in its place.
    fs::create_dir(&path).unwrap();
    assert!(matches!(
        served(&source, at(EXP - 3000)),
        Err(AssertionError::Unavailable { .. })
    ));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_expired_assertion_is_refused_and_a_near_one_still_served() {
    let dir = scratch("expired");
    let path = dir.join("token");
    fs::write(&path, token("aaaa", EXP)).unwrap();
    let source = AssertionFile::new(&path);
    // Not yet rotated, within the margin: read again, and still valid.
    assert_eq!(served(&source, at(EXP - 10)).unwrap(), token("aaaa", EXP));
    assert_eq!(served(&source, at(EXP - 1)).unwrap(), token("aaaa", EXP));
    assert_eq!(
        served(&source, at(EXP)).unwrap_err(),
        AssertionError::Expired {
            expired_at: at(EXP)
        }
    );
    assert_eq!(
        AssertionFile::new(&path)
            .assertion(&claims_at(at(EXP + 100)))
            .unwrap_err(),
        AssertionError::Expired {
            expired_at: at(EXP)
        }
    );
    // Rotated at last.
    fs::write(&path, token("bbbb", EXP + 3600)).unwrap();
    assert_eq!(
        served(&source, at(EXP + 100)).unwrap(),
        token("bbbb", EXP + 3600)
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_contents_are_malformed() {
    let dir = scratch("malformed");
    let path = dir.join("token");
    let source = AssertionFile::new(&path);
    let no_exp = format!("{}.{}.c2ln", b64(b"{}"), b64(br#"{"sub":"x"}"#));
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        b"\n\n".to_vec(),
        b"not a jwt".to_vec(),
        vec![0xff, 0xfe, b'.', b'a', b'.', b'b'],
        no_exp.into_bytes(),
        "a".repeat(MAX_ASSERTION_LEN + 1).into_bytes(),
        format!("{}{}", token("aaaa", EXP), " ".repeat(MAX_ASSERTION_LEN)).into_bytes(),
    ];
    for contents in cases {
        fs::write(&path, &contents).unwrap();
        let error = served(&source, at(EXP - 3000)).unwrap_err();
        assert!(
            matches!(error, AssertionError::Malformed { .. }),
            "{:?}: {error:?}",
            String::from_utf8_lossy(&contents[..contents.len().min(40)])
        );
    }
    // The longest assertion allowed is served.
    let long = token(&"s".repeat(MAX_ASSERTION_LEN / 2), EXP);
    assert!(long.len() <= MAX_ASSERTION_LEN);
    fs::write(&path, format!("{long}\n")).unwrap();
    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), long);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_shows_the_path_only() {
    let dir = scratch("debug");
    let path = dir.join("token");
    let text = token("secret-subject", EXP);
    fs::write(&path, &text).unwrap();
    let source = AssertionFile::new(&path);
    served(&source, at(EXP - 3000)).unwrap();
    let shown = format!("{source:?}");
    assert!(shown.contains("token"), "{shown}");
    for part in text.split('.') {
        assert!(!shown.contains(part), "{shown}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_source_serves_many_threads() {
    let dir = scratch("threads");
    let path = dir.join("token");
    fs::write(&path, token("aaaa", EXP)).unwrap();
    let source = std::sync::Arc::new(AssertionFile::new(&path));
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let source = source.clone();
            scope.spawn(move || {
                for _ in 0..50 {
                    assert_eq!(served(&source, at(EXP - 3000)).unwrap(), token("aaaa", EXP));
                }
            });
        }
    });
    fs::remove_dir_all(&dir).unwrap();
}
