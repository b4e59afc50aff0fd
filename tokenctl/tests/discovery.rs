//! `tokenctl init --issuer`: a standard server's profile from its issuer's metadata,
//! against the standard emulator over HTTP and small servers that answer what a test
//! needs (a 404 at the OpenID Connect location, a method no client here can use, a 503),
//! and every way it fails: a clear message naming the issuer, a fix, the documented exit
//! code, and no profile written.

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use oauth_lifecycle_emulator::{
    Clock, Emulator as _, HttpFront, ServerStats, StandardServer, StandardServerConfig,
};
use support::{closed_port, Lab};

fn standard(config: StandardServerConfig) -> HttpFront<StandardServer> {
    HttpFront::start(StandardServer::new(config), Clock::System).expect("the emulator listens")
}

fn stats(front: &HttpFront<StandardServer>) -> ServerStats {
    front.with_emulator(|server| server.stats().clone())
}

/// `init --issuer ISSUER` for the emulator's confidential client, in plaintext, and
/// `extra` options.
fn init<'a>(lab: &Lab, name: &'a str, issuer: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    lab.secret("IDP_SECRET", "emulated-secret");
    let mut args = vec![
        "init",
        "-p",
        name,
        "--issuer",
        issuer,
        "--client-id",
        "emulated-client",
        "--client-secret-env",
        "IDP_SECRET",
        "--plaintext-storage",
    ];
    args.extend_from_slice(extra);
    args
}

fn config(lab: &Lab) -> String {
    std::fs::read_to_string(&lab.config).unwrap()
}

/// The failure's two lines: the message naming what failed, and a fix.
#[track_caller]
fn assert_two_lines(stderr: &str, words: &[&str], fix: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for word in words {
        assert!(lines[0].contains(word), "{word:?} in:\n{stderr}");
    }
    assert!(lines[1].contains(fix), "{fix:?} in:\n{stderr}");
}

#[test]
fn the_discovered_endpoints_log_in_and_revoke() {
    let front = standard(StandardServerConfig::default());
    let lab = Lab::new();
    let issuer = front.base_url();
    // Without --provider: --issuer is for a standard server.
    let written = lab.run(&init(&lab, "idp", &issuer, &[])).ok().stdout;
    let openid = format!("{issuer}/.well-known/openid-configuration");
    for line in [
        format!("discovered {issuer} at {openid} (OpenID Connect Discovery)"),
        format!("  token_url = {issuer}/token (discovered)"),
        "  client_auth = basic (discovered: the server supports client_secret_basic)".to_owned(),
        format!("  revocation_url = {issuer}/revoke (discovered)"),
        "wrote profile `idp`".to_owned(),
    ] {
        assert!(written.contains(&line), "{line}:\n{written}");
    }
    let text = config(&lab);
    for line in [
        "provider = \"standard\"".to_owned(),
        format!("# discovered from {issuer} ({openid})"),
        format!("token_url = \"{issuer}/token\""),
        format!("revocation_url = \"{issuer}/revoke\""),
        "client_auth = \"basic\"".to_owned(),
        "# the token endpoint; discovered".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
    }
    assert!(!text.contains("issuer ="), "no issuer setting:\n{text}");
    assert_eq!(stats(&front).metadata_requests, 1);

    // The profile works as discovered: a login at the token endpoint with HTTP Basic…
    let dry = lab.run(&["token", "-p", "idp", "--dry-run"]).ok().stdout;
    assert!(dry.contains(&format!("POST {issuer}/token")), "{dry}");
    assert!(dry.contains("authorization: Basic [redacted]"), "{dry}");
    let token = lab.run(&["token", "-p", "idp"]).ok().line().to_owned();
    assert!(!token.is_empty());
    assert_eq!(stats(&front).logins, 1);
    // …and a revocation at the revocation endpoint.
    lab.run(&["revoke", "-p", "idp"]).ok();
    assert_eq!(stats(&front).revocations, 1);
    lab.run(&["token", "-p", "idp"]).expect(8);
    // Discovery happened once, at init.
    assert_eq!(stats(&front).metadata_requests, 1);
}

#[test]
fn settings_given_as_flags_win_and_the_output_says_so() {
    let front = standard(StandardServerConfig::default());
    let lab = Lab::new();
    let issuer = front.base_url();
    let revoke = front.url("/revoke");
    let args = init(
        &lab,
        "idp",
        &issuer,
        &[
            "--provider",
            "standard",
            "--client-auth",
            "post",
            "--revocation-url",
            &revoke,
        ],
    );
    let written = lab.run(&args).ok().stdout;
    assert!(
        written.contains("  client_auth = post (given on the command line; discovered: basic)"),
        "{written}"
    );
    assert!(
        written.contains(&format!(
            "  revocation_url = {revoke} (given on the command line; discovered the same)"
        )),
        "{written}"
    );
    let text = config(&lab);
    assert!(text.contains("client_auth = \"post\"\n"), "{text}");
    assert!(
        !text.contains("body (basic or post); optional, default: basic; discovered"),
        "a given setting is not marked discovered:\n{text}"
    );
    let dry = lab.run(&["token", "-p", "idp", "--dry-run"]).ok().stdout;
    assert!(dry.contains("client_secret=[redacted]"), "{dry}");
    assert!(!dry.contains("authorization:"), "{dry}");
    lab.run(&["token", "-p", "idp"]).ok();

    // A public client: no client authentication to choose, nothing written for it.
    lab.run(&[
        "init",
        "-p",
        "public",
        "--provider",
        "standard",
        "--issuer",
        &issuer,
        "--client-id",
        "emulated-public-client",
        "--plaintext-storage",
    ])
    .ok();
    let text = config(&lab);
    let public = &text[text.find("[profiles.public]").unwrap()..];
    assert!(!public.contains("client_auth"), "{public}");
    assert!(public.contains("token_url"), "{public}");
}

#[test]
fn a_dry_run_shows_the_requests_and_sends_nothing() {
    let front = standard(StandardServerConfig::default());
    let lab = Lab::new();
    let issuer = front.base_url();
    let args = init(&lab, "idp", &issuer, &[]);
    let mut dry = vec!["--dry-run"];
    dry.extend(args);
    let shown = lab.run(&dry).ok().stdout;
    assert!(
        shown.contains(&format!(
            "GET {issuer}/.well-known/openid-configuration\naccept: application/json"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "GET {issuer}/.well-known/oauth-authorization-server"
        )),
        "{shown}"
    );
    assert_eq!(stats(&front).metadata_requests, 0);
    assert_eq!(config(&lab), "", "nothing written");
}

/// What a [`Scripted`] server answers: the status, extra header lines, the body.
type Answer = (u16, &'static str, String);

/// A server on 127.0.0.1 answering each path as `answer` says; any other path 404.
struct Scripted {
    base_url: String,
}

impl Scripted {
    fn start(answer: impl Fn(&str, &str) -> Option<Answer> + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let base = base_url.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let path = first.split(' ').nth(1).unwrap_or("").to_owned();
                let (status, headers, body) =
                    answer(&base, &path).unwrap_or((404, "", "{}".to_owned()));
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
            }
        });
        Scripted { base_url }
    }
}

/// Metadata for `issuer`, its token endpoint at `token_endpoint`, and `methods`.
fn metadata(issuer: &str, token_endpoint: &str, methods: &str) -> String {
    format!(
        r#"{{"issuer":"{issuer}","token_endpoint":"{token_endpoint}","token_endpoint_auth_methods_supported":{methods}}}"#
    )
}

#[test]
fn rfc_8414_is_asked_when_the_openid_location_answers_404() {
    let front = standard(StandardServerConfig::default());
    let token_endpoint = front.url("/token");
    // Its issuer has a path: RFC 8414 inserts the well-known name before it.
    let server = Scripted::start(move |base, path| {
        (path == "/.well-known/oauth-authorization-server/tenant").then(|| {
            let issuer = format!("{base}/tenant");
            (
                200,
                "",
                metadata(&issuer, &token_endpoint, r#"["client_secret_post"]"#),
            )
        })
    });
    let lab = Lab::new();
    let issuer = format!("{}/tenant", server.base_url);
    let written = lab.run(&init(&lab, "idp", &issuer, &[])).ok().stdout;
    let rfc8414 = format!(
        "{}/.well-known/oauth-authorization-server/tenant",
        server.base_url
    );
    assert!(
        written.contains(&format!(
            "discovered {issuer} at {rfc8414} (RFC 8414; {issuer}/.well-known/openid-configuration answered 404)"
        )),
        "{written}"
    );
    assert!(
        written.contains("  client_auth = post (discovered: the server supports client_secret_post, not client_secret_basic)"),
        "{written}"
    );
    assert!(
        written.contains("  revocation_url: none (the server names no revocation endpoint)"),
        "{written}"
    );
    let text = config(&lab);
    assert!(
        text.contains(&format!("# discovered from {issuer} ({rfc8414})\n")),
        "{text}"
    );
    assert!(!text.contains("revocation_url ="), "{text}");
    lab.run(&["token", "-p", "idp"]).ok();
    assert_eq!(stats(&front).logins, 1);
}

#[test]
fn a_confidential_client_the_server_cannot_authenticate_is_a_config_error() {
    let server = Scripted::start(|base, path| {
        (path == "/.well-known/openid-configuration").then(|| {
            let token = format!("{base}/token");
            (
                200,
                "",
                metadata(base, &token, r#"["private_key_jwt","tls_client_auth"]"#),
            )
        })
    });
    let lab = Lab::new();
    let refused = lab.run(&init(&lab, "idp", &server.base_url, &[])).expect(3);
    assert_two_lines(
        &refused.stderr,
        &[
            &server.base_url,
            "unsupported client authentication",
            "private_key_jwt, tls_client_auth",
        ],
        "--client-auth",
    );
    assert_eq!(config(&lab), "", "nothing written");
    // Said by hand, it is written: the person knows how the client is registered.
    let written = lab
        .run(&init(
            &lab,
            "idp",
            &server.base_url,
            &["--client-auth", "post"],
        ))
        .ok()
        .stdout;
    assert!(
        written.contains("client_auth = post (given on the command line; the server supports neither client_secret_basic nor client_secret_post)"),
        "{written}"
    );
}

#[test]
fn an_issuer_that_is_down_fails_fast_with_exit_7() {
    let lab = Lab::new();
    let issuer = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let down = lab.run(&init(&lab, "idp", &issuer, &[])).expect(7);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_two_lines(
        &down.stderr,
        &[
            &format!("cannot discover issuer {issuer}: no answer from {issuer}/.well-known/openid-configuration"),
            "(cannot connect)",
        ],
        "or give --token-url",
    );
    assert_eq!(config(&lab), "", "nothing written");

    // One that accepts the connection and never answers: the request ends at --timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let mut args = init(&lab, "idp", &issuer, &[]);
    args.extend(["--timeout", "2s"]);
    let started = Instant::now();
    let silent_run = lab.run(&args).expect(7);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_two_lines(
        &silent_run.stderr,
        &[&issuer, "no answer within 2s"],
        "try again",
    );
    drop(silent);
}

#[test]
fn an_unavailable_or_throttling_issuer_says_when_to_try_again() {
    let server = Scripted::start(|_, path| match path {
        "/busy/.well-known/openid-configuration" => {
            Some((503, "retry-after: 120\r\n", "{}".to_owned()))
        }
        "/slow/.well-known/openid-configuration" => {
            Some((429, "retry-after: 60\r\n", "{}".to_owned()))
        }
        _ => None,
    });
    let lab = Lab::new();
    for (path, code, words) in [
        ("/busy", 7, "status 503: try again later"),
        ("/slow", 6, "status 429: try again later"),
    ] {
        let issuer = format!("{}{path}", server.base_url);
        let failed = lab.run(&init(&lab, "idp", &issuer, &[])).expect(code);
        assert_two_lines(&failed.stderr, &[&issuer, words], "try again after ");
    }
    assert_eq!(config(&lab), "", "nothing written");
}

#[test]
fn metadata_naming_another_issuer_is_refused() {
    // The emulator writes its metadata for another base URL than the one asked.
    let mut lying = StandardServerConfig::default();
    lying.base_url = Some("https://evil.example".into());
    let front = standard(lying);
    let lab = Lab::new();
    let issuer = front.base_url();
    let refused = lab.run(&init(&lab, "idp", &issuer, &[])).expect(3);
    assert_two_lines(
        &refused.stderr,
        &[
            &format!("cannot discover issuer {issuer}"),
            "names the issuer \"https://evil.example\", not the one asked for",
        ],
        "exactly as the server names itself",
    );
    assert!(
        !refused.stderr.contains("evil.example/token"),
        "{}",
        refused.stderr
    );
    assert_eq!(config(&lab), "", "nothing written");

    // An issuer the server does not serve metadata for: 404 at both locations.
    let mut elsewhere = StandardServerConfig::default();
    elsewhere.issuer_path = "/realms/other".into();
    let front = standard(elsewhere);
    let issuer = front.base_url();
    let missing = lab.run(&init(&lab, "idp", &issuer, &[])).expect(3);
    assert_two_lines(
        &missing.stderr,
        &[
            &format!(
                "(asked {issuer}/.well-known/openid-configuration, then {issuer}/.well-known/oauth-authorization-server)"
            ),
            "status 404",
        ],
        "check the issuer URL",
    );
    // Given with a trailing slash the server does not write: told what differs.
    let front = standard(StandardServerConfig::default());
    let slashed = format!("{}/", front.base_url());
    let refused = lab.run(&init(&lab, "idp", &slashed, &[])).expect(3);
    assert!(
        refused
            .stderr
            .contains("they differ only in a trailing slash"),
        "{}",
        refused.stderr
    );
}

#[test]
fn issuer_misuse_is_a_usage_error_before_anything_is_sent() {
    let front = standard(StandardServerConfig::default());
    let lab = Lab::new();
    let issuer = front.base_url();
    let token_url = front.url("/token");
    let v3 = [
        "init",
        "-p",
        "v3",
        "--provider",
        "convirza-v3",
        "--issuer",
        &issuer,
        "--username",
        "u@example.com",
    ];
    let refused = lab.run(&v3).expect(2);
    assert_two_lines(
        &refused.stderr,
        &["--issuer: provider `convirza-v3` is not configured by discovery (only `standard` is)"],
        "leave out --issuer, or give --provider standard",
    );
    for (extra, words, fix) in [
        (
            &["--provider", "standard", "--token-url", &token_url][..],
            "--issuer and --token-url: give one",
            "leave out --token-url",
        ),
        (&["--timeout", "0s"][..], "--timeout 0s", "--timeout"),
    ] {
        let refused = lab.run(&init(&lab, "idp", &issuer, extra)).expect(2);
        assert_two_lines(&refused.stderr, &[words], fix);
    }
    for (bad, words) in [
        (
            "http://auth.example.com",
            "--issuer: the issuer must use https",
        ),
        (
            "https://auth.example.com/?tenant=1",
            "--issuer: the issuer must have no query",
        ),
        (
            "auth.example.com",
            "--issuer: the issuer is not an absolute URL",
        ),
        (
            "https://me:hunter2@auth.example.com",
            "--issuer: the issuer must have no user information",
        ),
    ] {
        let refused = lab.run(&init(&lab, "idp", bad, &[])).expect(2);
        assert_two_lines(&refused.stderr, &[words], "or give --token-url");
        assert!(!refused.stderr.contains("hunter2"), "{}", refused.stderr);
    }
    assert_eq!(stats(&front).metadata_requests, 0);
    assert_eq!(config(&lab), "", "nothing written");
}

#[test]
fn init_help_shows_the_issuer_flag() {
    let lab = Lab::new();
    let help = lab.run(&["init", "--help"]).ok().stdout;
    assert!(help.contains("--issuer <URL>"), "{help}");
    assert!(help.contains("openid-configuration"), "{help}");
    assert!(help.contains("Configure from discovery"), "{help}");
    let short = lab.run(&["init", "-h"]).ok().stdout;
    assert!(short.contains("--issuer <URL>"), "{short}");
}
