//! A person's login with `tokenctl login`: the device grant (the code and address on
//! stderr, approved or denied on the emulator's verification page) and the
//! authorization code grant in a browser (`--no-browser`: the test is the browser, and
//! reads the URL from stderr), each configured by `init --issuer … --grant …`; then
//! `token` serving and refreshing the session silently, and a dead refresh grant ending
//! in exit 4 with the one-line fix. Against the standard emulator over HTTP on
//! 127.0.0.1; every wait is bounded, and nothing secret reaches stderr.

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, ChildStderr};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use oauth_lifecycle::time::Duration;
use oauth_lifecycle_emulator::{
    Clock, Emulator as _, HttpFront, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_testkit::{eventually, PATIENCE};
use support::{closed_port, Lab, Outcome};

/// The emulator's public client, registered for the device and authorization code
/// grants, with loopback redirects on any port.
const PUBLIC_CLIENT: &str = "emulated-public-client";

/// The standard emulator over HTTP, polled for device logins every second.
fn emulator() -> HttpFront<StandardServer> {
    let mut config = StandardServerConfig::default();
    config.device_poll_interval = Duration::SECOND;
    HttpFront::start(StandardServer::new(config), Clock::System).expect("the emulator listens")
}

/// `init -p NAME --issuer … --grant GRANT` for the public client, stored in plaintext.
fn init(lab: &Lab, front: &HttpFront<StandardServer>, name: &str, grant: &str) -> String {
    let issuer = front.base_url();
    lab.run(&[
        "init",
        "-p",
        name,
        "--issuer",
        &issuer,
        "--client-id",
        PUBLIC_CLIENT,
        "--grant",
        grant,
        "--plaintext-storage",
    ])
    .ok()
    .stdout
}

/// A `tokenctl` run in the background whose stderr is read line by line as it comes.
struct Background {
    child: Option<Child>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<()>>,
}

impl Background {
    fn start(lab: &Lab, args: &[&str]) -> Self {
        let mut child = lab.command(args, &[]).spawn().expect("tokenctl starts");
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let (sender, lines) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Background {
            child: Some(child),
            lines,
            seen: Vec::new(),
            stderr: Some(reader),
        }
    }

    /// The first line of stderr, from those not yet read, that `wanted` picks; waits for
    /// it at most [`PATIENCE`].
    #[track_caller]
    fn line_with<T>(&mut self, mut wanted: impl FnMut(&str) -> Option<T>) -> T {
        loop {
            let line = self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!(
                    "the line looked for never came; stderr so far:\n{}",
                    self.seen.join("\n")
                )
            });
            self.seen.push(line.clone());
            if let Some(found) = wanted(&line) {
                return found;
            }
        }
    }

    /// Waits (at most [`PATIENCE`]) for the run to end, and checks it leaked nothing.
    fn finish(mut self, lab: &Lab) -> Outcome {
        let mut child = self.child.take().unwrap();
        let status = eventually("tokenctl to end", || child.try_wait().expect("wait"));
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.stderr.take().unwrap().join().unwrap();
        self.seen.extend(self.lines.try_iter());
        let mut stderr = self.seen.join("\n");
        stderr.push('\n');
        let outcome = Outcome {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        };
        lab.check(&outcome, false);
        outcome
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One HTTP/1.1 exchange over a plain socket: the status and the whole answer.
fn exchange(port: u16, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the server listens");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {answer}"));
    (status, answer)
}

/// `GET url` (an `http://127.0.0.1:PORT/…` URL) as a browser would send it.
fn get(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .expect("a loopback URL");
    let (port, target) = rest.split_at(rest.find('/').expect("a path"));
    let port: u16 = port.parse().unwrap();
    exchange(
        port,
        &format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"),
    )
}

/// The `Location` of an answer.
fn location(answer: &str) -> String {
    answer
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("a Location: {answer}"))
}

/// Posts the decision on `user_code` to the emulator's verification page, as the person
/// would with its form.
fn decide_on_page(front: &HttpFront<StandardServer>, user_code: &str, decision: &str) {
    let body = format!("user_code={user_code}&decision={decision}");
    let (status, answer) = exchange(
        front.addr().port(),
        &format!(
            "POST /device HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            front.addr(),
            body.len()
        ),
    );
    assert_eq!(status, 200, "{answer}");
}

/// The code a device login printed, and the line that said where to enter it.
fn code_line(line: &str) -> Option<(String, String)> {
    let rest = line.split("enter code ").nth(1)?;
    let code = rest.split_whitespace().next()?.to_owned();
    Some((code, line.to_owned()))
}

/// A query parameter of `url`.
fn parameter(url: &str, name: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("{name} in {url}"))
}

#[test]
fn a_device_login_prints_the_code_then_token_serves_and_refreshes_silently() {
    let front = emulator();
    let lab = Lab::new();
    let written = init(&lab, &front, "dev", "device");
    let base = front.base_url();
    assert!(
        written.contains(&format!(
            "device_authorization_url = {base}/device_authorization (discovered)"
        )),
        "{written}"
    );
    // Nothing stored yet: `token` says to log in, in one line.
    let before = lab.run(&["token", "-p", "dev"]).expect(4);
    assert_eq!(
        before.stderr,
        "error: profile `dev` is not logged in; run: tokenctl login -p dev\n"
    );

    // No flag: the profile's grant.
    let mut login = Background::start(&lab, &["login", "-p", "dev"]);
    let (code, line) = login.line_with(code_line);
    assert!(
        line.starts_with(&format!(
            "To log in, open {base}/device and enter code {code} (expires at "
        )),
        "{line}"
    );
    let complete = login.line_with(|line| line.starts_with("or open ").then(|| line.to_owned()));
    assert!(
        complete.contains(&format!("{base}/device?user_code={code}")),
        "{complete}"
    );
    decide_on_page(&front, &code, "approve");
    let done = login.finish(&lab).ok();
    assert!(
        done.stdout
            .starts_with("logged in (standard): generation 1, valid until "),
        "{}",
        done.stdout
    );
    assert!(
        !done.stderr.contains("dc-"),
        "no device code:\n{}",
        done.stderr
    );
    assert_eq!(
        front.with_emulator(|server| server.stats().device_authorizations),
        1
    );

    // `token` serves the stored session without sending anything…
    let first = lab.run(&["token", "-p", "dev"]).ok().line().to_owned();
    assert!(!first.is_empty());
    let again = lab.run(&["token", "-p", "dev"]).ok().line().to_owned();
    assert_eq!(again, first);
    // …and renews by refresh, silently.
    let refreshes = front.with_emulator(|server| server.stats().refreshes);
    let renewed = lab.run(&["token", "-p", "dev", "--force-refresh"]).ok();
    assert_eq!(renewed.stderr, "", "silently");
    assert_ne!(renewed.line(), first);
    assert_eq!(
        front.with_emulator(|server| server.stats().refreshes),
        refreshes + 1
    );
    let refreshed = lab.run(&["refresh", "-p", "dev"]).ok();
    assert!(
        refreshed
            .stdout
            .starts_with("renewed: generation 3, valid until "),
        "{}",
        refreshed.stdout
    );
}

#[test]
fn a_denied_device_login_exits_4_and_keeps_the_stored_session() {
    let front = emulator();
    let lab = Lab::new();
    init(&lab, &front, "dev", "device");
    let mut login = Background::start(&lab, &["login", "-p", "dev", "--device"]);
    let (code, _) = login.line_with(code_line);
    decide_on_page(&front, &code, "approve");
    login.finish(&lab).ok();
    let token = lab.run(&["token", "-p", "dev"]).ok().line().to_owned();

    // A second login, denied (by the emulator's hook this time): exit 4, one line with
    // the reason and the fix, and the session stored before is still the one served.
    let mut login = Background::start(&lab, &["login", "-p", "dev"]);
    let (code, _) = login.line_with(code_line);
    assert!(front.with_emulator(|server| server.deny_user_code(&code)));
    let denied = login.finish(&lab).expect(4);
    assert_eq!(
        denied.stderr.lines().last(),
        Some("error: the login was denied; run tokenctl login -p dev again"),
        "{}",
        denied.stderr
    );
    assert_eq!(denied.stdout, "");
    assert_eq!(lab.run(&["token", "-p", "dev"]).ok().line(), token);
}

#[test]
fn a_dead_refresh_grant_exits_4_with_the_one_line_fix() {
    let front = emulator();
    let lab = Lab::new();
    init(&lab, &front, "dev", "device");
    let mut login = Background::start(&lab, &["login", "-p", "dev"]);
    let (code, _) = login.line_with(code_line);
    assert!(front.with_emulator(|server| server.approve_user_code(&code)));
    login.finish(&lab).ok();
    lab.run(&["token", "-p", "dev"]).ok();

    // The server forgets every grant: the refresh token is dead.
    front.with_emulator(|server| server.revoke_all());
    for args in [
        &["token", "-p", "dev", "--force-refresh"][..],
        &["refresh", "-p", "dev"],
    ] {
        let dead = lab.run(args).expect(4);
        assert_eq!(
            dead.stderr, "error: the login expired; run: tokenctl login -p dev\n",
            "{args:?}"
        );
    }
    // A new login brings the session back.
    let mut login = Background::start(&lab, &["login", "-p", "dev"]);
    let (code, _) = login.line_with(code_line);
    assert!(front.with_emulator(|server| server.approve_user_code(&code)));
    login.finish(&lab).ok();
    lab.run(&["token", "-p", "dev", "--force-refresh"]).ok();
}

/// A browser login with `--no-browser`: the test reads the URL on stderr, asks the
/// emulator's authorization endpoint (which redirects at once, as a logged-in person's
/// browser would be), and follows the redirect to tokenctl's listener.
fn browser_login(lab: &Lab, name: &str, args: &[&str]) -> (Outcome, String) {
    let mut command = vec!["login", "-p", name];
    command.extend_from_slice(args);
    let mut login = Background::start(lab, &command);
    login.line_with(|line| (line == "To log in, open this URL in your browser:").then_some(()));
    let url = login.line_with(|line| line.strip_prefix("  ").map(str::to_owned));
    let (status, answer) = get(&url);
    assert_eq!(status, 302, "{answer}");
    let redirect = location(&answer);
    let (status, page) = get(&redirect);
    assert_eq!(status, 200, "{page}");
    let outcome = login.finish(lab);
    // Neither the code nor the state is shown anywhere but in the URL to open.
    let code = parameter(&redirect, "code");
    assert!(!outcome.stderr.contains(&code), "{}", outcome.stderr);
    let state = parameter(&url, "state");
    assert_eq!(
        outcome.stderr.matches(&state).count(),
        1,
        "{}",
        outcome.stderr
    );
    (outcome, url)
}

#[test]
fn a_browser_login_takes_the_redirect_on_its_listener_then_token_refreshes() {
    let front = emulator();
    let lab = Lab::new();
    let written = init(&lab, &front, "web", "authorization-code");
    let base = front.base_url();
    for line in [
        format!("authorization_url = {base}/authorize (discovered)"),
        format!("issuer = {base} (discovered)"),
    ] {
        assert!(written.contains(&line), "{line}:\n{written}");
    }
    let (outcome, url) = browser_login(&lab, "web", &["--browser", "--no-browser"]);
    let outcome = outcome.ok();
    assert!(url.starts_with(&format!("{base}/authorize?")), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        outcome
            .stdout
            .starts_with("logged in (standard): generation 1"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stderr
            .contains("Waiting for the browser to come back to http://127.0.0.1:"),
        "{}",
        outcome.stderr
    );
    let first = lab.run(&["token", "-p", "web"]).ok().line().to_owned();
    let renewed = lab.run(&["token", "-p", "web", "--force-refresh"]).ok();
    assert_eq!(renewed.stderr, "");
    assert_ne!(renewed.line(), first);
    assert_eq!(
        front.with_emulator(|server| server.stats().authorization_codes),
        1
    );
}

#[test]
fn a_fixed_redirect_port_is_the_one_listened_on() {
    let front = emulator();
    let lab = Lab::new();
    init(&lab, &front, "web", "authorization-code");
    let port = closed_port();
    // The profile is the last table of the file: its line goes at the end.
    let mut text = std::fs::read_to_string(&lab.config).unwrap();
    text.push_str(&format!("redirect_port = {port}\n"));
    std::fs::write(&lab.config, text).unwrap();
    // The profile's own grant, without a flag; every trace on stderr, none of them
    // showing the code or the state.
    let (outcome, url) = browser_login(&lab, "web", &["--no-browser", "--verbose"]);
    outcome.ok();
    assert_eq!(
        parameter(&url, "redirect_uri"),
        format!("http://127.0.0.1:{port}/callback")
    );
}

#[test]
fn flags_the_profile_cannot_do_are_usage_errors_before_anything_is_sent() {
    let front = emulator();
    let lab = Lab::new();
    init(&lab, &front, "dev", "device");
    lab.standard_profile("cc", &front.url("/token"));
    let table: &[(&str, &[&str], &str)] = &[
        (
            "dev",
            &["--browser"],
            "--browser: profile `dev` cannot log in in a browser",
        ),
        (
            "dev",
            &["--no-browser"],
            "--no-browser: profile `dev` does not log in in a browser",
        ),
        (
            "cc",
            &["--device"],
            "--device: profile `cc` cannot log in with a code on another device",
        ),
        ("dev", &["--device", "--browser"], "cannot be used with"),
    ];
    for (name, flags, expected) in table {
        let mut args = vec!["login", "-p", name];
        args.extend_from_slice(flags);
        let refused = lab.run(&args).expect(2);
        assert!(
            refused.stderr.contains(expected),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        front.with_emulator(|server| server.stats().device_authorizations),
        0
    );
    // `redirect_port` is for a browser login only.
    lab.profile(
        "port",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"{PUBLIC_CLIENT}\"\ngrant = \"device\"\ndevice_authorization_url = \"{}\"\nredirect_port = 8765\nplaintext_storage = true",
            front.url("/token"),
            front.url("/device_authorization")
        ),
    );
    let refused = lab.run(&["token", "-p", "dev"]).expect(3);
    assert!(
        refused
            .stderr
            .contains("`redirect_port` is used only when `grant` is `authorization-code`"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_browser_login_the_person_refuses_exits_4_and_stores_nothing() {
    let front = emulator();
    let lab = Lab::new();
    init(&lab, &front, "web", "authorization-code");
    front.with_emulator(|server| {
        server.set_authorization_decision(oauth_lifecycle_emulator::AuthorizationDecision::Deny)
    });
    let mut login = Background::start(&lab, &["login", "-p", "web", "--no-browser"]);
    let url = login.line_with(|line| line.strip_prefix("  ").map(str::to_owned));
    let (status, answer) = get(&url);
    assert_eq!(status, 302, "{answer}");
    let redirect = location(&answer);
    assert!(redirect.contains("error=access_denied"), "{redirect}");
    get(&redirect);
    let denied = login.finish(&lab).expect(4);
    assert_eq!(
        denied.stderr.lines().last(),
        Some("error: the login was denied; run tokenctl login -p web again"),
        "{}",
        denied.stderr
    );
    assert!(lab.session_files().is_empty(), "nothing stored");
    assert_eq!(
        front.with_emulator(|server| server.stats().code_exchanges),
        0
    );
}
