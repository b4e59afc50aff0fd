//! The device authorization grant (RFC 8628) as the session runs it, against real servers
//! on 127.0.0.1: panva's oidc-provider (`features.deviceFlow`, its built-in pages) and
//! django-oauth-toolkit (its device views behind Django's login). The session speaks for
//! the device over real sockets; the person's side is the testkit's `people` module,
//! posting each server's own forms as a browser does.
//!
//! Against both servers: a full login (pending polls, the person approves, the token),
//! refresh afterwards and revocation; a denied login; an expired code. Neither server ever
//! answers `slow_down` (see `testkit/src/people.rs`): that path, and every other answer a
//! server may give, is covered against scripted answers in `tests/device_grant.rs`.
//!
//! Time is the real clock, because the servers' is. The loop below is a runtime's: it
//! waits for the session's own next deadline (the protocol's pace, RFC 8628 §3.5) or
//! until the condition a test waits for holds, bounded.

use std::time::Duration as StdDuration;

use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    DevicePrompt, Driver, Error, Event, LoginPrompt, Output, PersonLoginEnd, Policy, Purpose,
    TransportError,
};
use oauth_lifecycle_testkit::people::{approve_device_login, deny_device_login, DeviceServer};
use oauth_lifecycle_testkit::{send, DjangoOauthToolkit, OidcProvider, Peer};

/// A short device code lifetime, for the expiry tests.
const SHORT_LIFETIME: u32 = 2;

/// The longest any test here runs its session: oidc-provider's 5 s interval, a few polls.
const PATIENCE: StdDuration = StdDuration::from_secs(60);

fn start(server: DeviceServer, device_code_ttl_seconds: Option<u32>) -> Peer {
    match server {
        DeviceServer::OidcProvider => OidcProvider {
            device_code_ttl_seconds,
            ..OidcProvider::new(300)
        }
        .start(),
        DeviceServer::DjangoOauthToolkit => DjangoOauthToolkit {
            device_code_ttl_seconds,
            device_interval_seconds: Some(1),
            ..DjangoOauthToolkit::new(300)
        }
        .start(),
    }
}

fn dialect(server: DeviceServer, peer: &Peer) -> Standard {
    let revocation = match server {
        DeviceServer::OidcProvider => peer.url("/token/revocation"),
        DeviceServer::DjangoOauthToolkit => peer.url("/o/revoke_token/"),
    };
    let mut builder = Standard::builder(server.token_url(peer), server.client_id())
        .grant(Grant::DeviceCode)
        .device_authorization_url(server.device_authorization_url(peer))
        .revocation_url(revocation);
    if server == DeviceServer::OidcProvider {
        builder = builder.scope("openid offline_access api:read");
    }
    builder.build().expect("a valid configuration")
}

/// A session and what it has told the test so far.
struct Device {
    driver: Driver<Standard>,
    events: Vec<Event>,
    polls: usize,
}

impl Device {
    fn new(dialect: Standard) -> Self {
        Device {
            driver: Driver::new(dialect, Policy::default()).expect("a valid policy"),
            events: Vec::new(),
            polls: 0,
        }
    }

    /// Runs the session (sending its requests to the server, waiting for its deadlines)
    /// until `done` holds of its events, within [`PATIENCE`].
    #[track_caller]
    fn run_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) {
        let give_up = std::time::Instant::now() + PATIENCE;
        while !done(self) {
            assert!(
                std::time::Instant::now() < give_up,
                "never {what}: {:?}",
                self.events
            );
            let now = UtcDateTime::now();
            self.driver.handle_timeout(now);
            let deadline = self.drain();
            if done(self) {
                break;
            }
            let Some(deadline) = deadline else {
                panic!("the session went idle before {what}: {:?}", self.events);
            };
            let wait = (deadline - UtcDateTime::now()).clamp(
                oauth_lifecycle::time::Duration::ZERO,
                oauth_lifecycle::time::Duration::seconds(1),
            );
            std::thread::sleep(StdDuration::from_millis(wait.whole_milliseconds() as u64));
        }
    }

    /// Takes the driver's outputs until it waits; its deadline, if any.
    fn drain(&mut self) -> Option<UtcDateTime> {
        for _ in 0..64 {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    if request.purpose() == Purpose::Login {
                        self.polls += 1;
                    }
                    let now = UtcDateTime::now();
                    match send(request.request()) {
                        Ok(answer) => self
                            .driver
                            .handle_response(request.id(), &answer, now)
                            .expect("the request is in flight"),
                        Err(_) => self
                            .driver
                            .handle_transport_error(
                                request.id(),
                                TransportError::OutcomeUnknown,
                                now,
                            )
                            .expect("the request is in flight"),
                    }
                }
                Output::Event(event) => self.events.push(event),
                Output::Persist => {}
                Output::Timeout(at) => return Some(at),
                Output::Idle => return None,
            }
        }
        panic!("the driver never settled");
    }

    fn prompt(&self) -> DevicePrompt {
        self.events
            .iter()
            .find_map(|event| match event {
                Event::LoginPrompt(LoginPrompt::EnterCode(prompt)) => Some(prompt.clone()),
                _ => None,
            })
            .expect("a prompt")
    }

    fn ended(&self) -> Option<PersonLoginEnd> {
        ended(&self.events)
    }
}

fn ended(events: &[Event]) -> Option<PersonLoginEnd> {
    events.iter().find_map(|event| match event {
        Event::PersonLoginEnded {
            error: Error::PersonLogin { ended, .. },
        } => *ended,
        _ => None,
    })
}

fn issued(events: &[Event], via: Purpose) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::TokenIssued { via: v, .. } if *v == via))
}

fn prompted(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::LoginPrompt(LoginPrompt::EnterCode(_))))
}

fn full_login(server: DeviceServer) {
    let peer = start(server, None);
    let mut device = Device::new(dialect(server, &peer));
    device
        .driver
        .authorize_device(UtcDateTime::now())
        .expect("a device login starts");
    device.run_until("prompted", |d| prompted(&d.events));
    let prompt = device.prompt();
    assert!(
        prompt.verification_uri.starts_with(&peer.base_url),
        "{prompt:?}"
    );
    // Before the person acts, the server answers authorization_pending: the session keeps
    // polling at the interval.
    device.run_until("polled once", |d| d.polls >= 2);
    approve_device_login(&peer, server, &prompt.user_code);
    device.run_until("logged in", |d| issued(&d.events, Purpose::Login));
    let polls = device.polls;
    assert!(device.driver.access_token(UtcDateTime::now()).is_some());

    // Renewal is a refresh.
    device
        .driver
        .renew(UtcDateTime::now())
        .expect("a renewal starts");
    device.run_until("refreshed", |d| issued(&d.events, Purpose::Refresh));
    assert_eq!(device.polls, polls, "no poll after the login");

    device.driver.revoke(UtcDateTime::now());
    device.run_until("revoked", |d| d.events.contains(&Event::Revoked));
    assert!(
        !device
            .events
            .iter()
            .any(|e| matches!(e, Event::RevocationFailed { .. })),
        "{:?}",
        device.events
    );
}

fn denied_login(server: DeviceServer) {
    let peer = start(server, None);
    let mut device = Device::new(dialect(server, &peer));
    device.driver.authorize_device(UtcDateTime::now()).unwrap();
    device.run_until("prompted", |d| prompted(&d.events));
    deny_device_login(&peer, server, &device.prompt().user_code);
    device.run_until("ended", |d| d.ended().is_some());
    assert_eq!(device.ended(), Some(PersonLoginEnd::Denied));
    assert!(
        device.driver.next_deadline().is_none(),
        "no polling after a denial"
    );
}

fn expired_login(server: DeviceServer) {
    let peer = start(server, Some(SHORT_LIFETIME));
    let mut device = Device::new(dialect(server, &peer));
    device.driver.authorize_device(UtcDateTime::now()).unwrap();
    device.run_until("ended", |d| d.ended().is_some());
    // oidc-provider may say expired_token first; django-oauth-toolkit keeps saying
    // authorization_pending, and the session ends the login at the code's own expiry.
    assert_eq!(device.ended(), Some(PersonLoginEnd::Expired));
    assert!(device.driver.next_deadline().is_none());
}

#[test]
fn oidc_provider_device_login_then_refresh_and_revocation() {
    full_login(DeviceServer::OidcProvider);
}

#[test]
fn django_oauth_toolkit_device_login_then_refresh_and_revocation() {
    full_login(DeviceServer::DjangoOauthToolkit);
}

#[test]
fn oidc_provider_denied_device_login() {
    denied_login(DeviceServer::OidcProvider);
}

#[test]
fn django_oauth_toolkit_denied_device_login() {
    denied_login(DeviceServer::DjangoOauthToolkit);
}

#[test]
fn oidc_provider_expired_device_code() {
    expired_login(DeviceServer::OidcProvider);
}

#[test]
fn django_oauth_toolkit_expired_device_code() {
    expired_login(DeviceServer::DjangoOauthToolkit);
}
