//! Property test: random secrets (client secret, password, access and refresh tokens),
//! echoed by the server anywhere it can put text — the error code, the description at any
//! offset (across the length cut too), percent-encoded or base64-encoded, as the client's
//! `Basic` credentials — never appear, nor any 8-byte fragment of one, in the `Debug` or
//! `Display` of any output, event, error, status or redacted snapshot.

use base64::Engine as _;
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Driver, Event, Output, Policy, Status};
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

/// How the server echoes a secret.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Raw,
    Form,
    PercentLower,
    Base64,
    Base64UrlNoPad,
}

fn encode(secret: &str, encoding: Encoding) -> String {
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    match encoding {
        Encoding::Raw => secret.to_owned(),
        Encoding::Form => form,
        Encoding::PercentLower => {
            let mut out = String::new();
            let mut escape = 0;
            for c in form.replace('+', "%20").chars() {
                if escape > 0 {
                    out.push(c.to_ascii_lowercase());
                    escape -= 1;
                } else {
                    escape = if c == '%' { 2 } else { 0 };
                    out.push(c);
                }
            }
            out
        }
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(secret),
        Encoding::Base64UrlNoPad => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
    }
}

/// Where the server puts the echo.
#[derive(Debug, Clone, Copy)]
enum Place {
    Description,
    Code,
    /// The client's `Basic` credentials, whole.
    BasicCredentials,
}

#[derive(Debug, Clone)]
struct Echo {
    /// Which of the secrets the session holds or is spending at that moment (its
    /// credentials, its tokens, the tokens it is revoking).
    which: usize,
    encoding: Encoding,
    place: Place,
    /// Text before the echo, so it can straddle the description's length cut.
    padding: usize,
    status: u16,
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9._~+/-]{12,40}"
}

fn password() -> impl Strategy<Value = String> {
    "[ -~]{12,40}"
}

fn echo() -> impl Strategy<Value = Echo> {
    (
        0_usize..8,
        prop_oneof![
            Just(Encoding::Raw),
            Just(Encoding::Form),
            Just(Encoding::PercentLower),
            Just(Encoding::Base64),
            Just(Encoding::Base64UrlNoPad),
        ],
        prop_oneof![
            4 => Just(Place::Description),
            1 => Just(Place::Code),
            1 => Just(Place::BasicCredentials),
        ],
        prop_oneof![0_usize..40, 220_usize..260],
        prop_oneof![Just(400_u16), Just(401), Just(500), Just(503), Just(200)],
    )
        .prop_map(|(which, encoding, place, padding, status)| Echo {
            which,
            encoding,
            place,
            padding,
            status,
        })
}

struct World {
    driver: Driver<Standard>,
    secrets: Vec<String>,
    basic: String,
    now: UtcDateTime,
}

impl World {
    /// Every form a secret may be echoed in: none may show, nor any 8 bytes of one.
    fn forms(&self) -> Vec<String> {
        let encodings = [
            Encoding::Raw,
            Encoding::Form,
            Encoding::PercentLower,
            Encoding::Base64,
            Encoding::Base64UrlNoPad,
        ];
        let mut forms: Vec<String> = self
            .secrets
            .iter()
            .flat_map(|secret| encodings.iter().map(move |e| encode(secret, *e)))
            .collect();
        forms.push(self.basic.clone());
        forms
    }

    fn shown_anywhere(&self, shown: &str) {
        for secret in &self.forms() {
            let bytes = secret.as_bytes();
            for window in bytes.windows(8.min(bytes.len())) {
                let fragment = String::from_utf8_lossy(window);
                assert!(
                    !shown.contains(fragment.as_ref()),
                    "a fragment {fragment:?} of a secret shows in: {shown}"
                );
            }
        }
    }

    /// Drains, checking every output; the request in flight, if any.
    fn drain(&mut self) -> Option<oauth_lifecycle::TokenRequest> {
        let mut request = None;
        for _ in 0..64 {
            let output = self.driver.poll_output();
            self.shown_anywhere(&format!("{output:?}"));
            match output {
                Output::Request(sent) => request = Some(sent),
                Output::Event(event) => {
                    if let Event::RetryScheduled { error, .. }
                    | Event::ReauthenticationRequired { error }
                    | Event::Rejected { error }
                    | Event::RevocationFailed { error, .. } = &event
                    {
                        self.shown_anywhere(&error.to_string());
                    }
                    if let Event::Reauthenticating { cause } = &event {
                        self.shown_anywhere(&cause.to_string());
                    }
                }
                Output::Persist => {
                    let redacted = self.driver.session().snapshot_redacted();
                    self.shown_anywhere(&serde_json::to_string(&redacted).unwrap());
                    self.shown_anywhere(&format!("{redacted:?}"));
                }
                Output::Timeout(_) | Output::Idle => break,
            }
        }
        let status = self.driver.status();
        self.shown_anywhere(&format!("{status:?}"));
        if let Status::NeedsLogin { error } = &status {
            self.shown_anywhere(&error.to_string());
        }
        self.shown_anywhere(&format!("{:?}", self.driver));
        request
    }

    /// The secrets the session holds now: its credentials and current tokens, or, while
    /// revoking, the tokens it revokes.
    fn held(&self, revoking: &[String]) -> Vec<String> {
        let mut held = self.secrets[..2].to_vec();
        match self.driver.session().tokens() {
            Some(tokens) if revoking.is_empty() => {
                held.push(tokens.access_token().to_owned());
                held.extend(tokens.refresh_token().map(|t| t.secret().clone()));
            }
            _ => held.extend(revoking.iter().cloned()),
        }
        held
    }

    fn echo_answer(&self, echo: &Echo, held: &[String]) -> http::Response<Vec<u8>> {
        let text = match echo.place {
            Place::BasicCredentials => self.basic.clone(),
            _ => encode(&held[echo.which % held.len()], echo.encoding),
        };
        let padded = format!("{}{text} was refused", "x".repeat(echo.padding));
        let body = match echo.place {
            Place::Code => serde_json::json!({ "error": padded }),
            _ => serde_json::json!({ "error": "invalid_request", "error_description": padded }),
        };
        http::Response::builder()
            .status(echo.status)
            .body(body.to_string().into_bytes())
            .unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn echoed_secrets_never_show(
        client_secret in password(),
        user_password in password(),
        access_token in token(),
        refresh_token in token(),
        echoes in proptest::collection::vec(echo(), 1..6),
    ) {
        let dialect = Standard::builder("http://127.0.0.1/token", "client")
            .client_secret(&client_secret)
            .password("alice", &user_password)
            .revocation_url("http://127.0.0.1/revoke")
            .build()
            .unwrap();
        let form = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("client:{}", form(&client_secret)));
        let mut world = World {
            driver: Driver::new(dialect, Policy::default()).unwrap(),
            secrets: vec![client_secret, user_password, access_token.clone(), refresh_token.clone()],
            basic,
            now: START,
        };
        world.driver.handle_timeout(world.now);
        let login = world.drain().expect("a login");
        let body = serde_json::json!({
            "access_token": access_token, "refresh_token": refresh_token,
            "token_type": "Bearer", "expires_in": 3600,
        });
        world.driver
            .handle_response(login.id(), &http::Response::new(body.to_string().into_bytes()), world.now)
            .unwrap();
        world.drain();
        // Renewal is due: each echo answers the request in flight (the refresh, then the
        // login standing in for a dead grant, then retries), time moving on when none is.
        world.now += Duration::minutes(55);
        world.driver.handle_timeout(world.now);
        let mut in_flight = world.drain();
        for echo in &echoes {
            match in_flight.take() {
                Some(request) => {
                    let answer = world.echo_answer(echo, &world.held(&[]));
                    world.driver.handle_response(request.id(), &answer, world.now).unwrap();
                    in_flight = world.drain();
                }
                None => {
                    world.now += Duration::minutes(10);
                    world.driver.handle_timeout(world.now);
                    in_flight = world.drain();
                }
            }
        }
        // Revocations answered with echoes of the tokens they revoke.
        let revoking = world.held(&[])[2..].to_vec();
        world.driver.revoke(world.now);
        let mut in_flight = world.drain().or(in_flight);
        for echo in &echoes {
            let Some(request) = in_flight.take() else { break };
            let held = world.held(&revoking);
            let answer = world.echo_answer(&Echo { status: 503, ..echo.clone() }, &held);
            world.driver.handle_response(request.id(), &answer, world.now).unwrap();
            in_flight = world.drain();
        }
    }
}
