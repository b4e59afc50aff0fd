//! `tokenctl init --issuer`: a standard server's token endpoint, revocation endpoint and
//! client authentication, from the metadata its issuer publishes. The core's sans-IO
//! [`Discovery`] builds the request and checks the answer (the issuer must be the one
//! asked for, every endpoint `https` or loopback `http`, the body bounded); this module
//! sends it, first to the OpenID Connect location and, if that answers 404, to RFC 8414's.
//!
//! The request goes out the way the token requests do: the blocking runtime's
//! [`send_request`](oauth_lifecycle_blocking::send_request) with its default agent,
//! under the adapters' one transport policy: no redirect followed (a document served
//! elsewhere is an answer, never a place to go), every status an answer, a connect
//! timeout shorter than the request's, the whole exchange within the command's
//! `--timeout`, the body read no further than one byte past the core's cap.

use std::fmt;
use std::time::{Duration, Instant};

use oauth_lifecycle::dialect::discovery::{
    Discovery, DiscoveryError, ServerMetadata, WellKnown, MAX_LISTED_METHODS, MAX_METADATA_BYTES,
};
use oauth_lifecycle::dialect::Settings;
use oauth_lifecycle::http::{self, StatusCode};
use oauth_lifecycle::{Policy, TransportError};
use oauth_lifecycle_blocking::ureq;

use crate::failure::{Exit, Failure};

/// The settings discovery fills, by the provider's keys.
pub(crate) const TOKEN_URL: &str = "token_url";
pub(crate) const REVOCATION_URL: &str = "revocation_url";
pub(crate) const CLIENT_AUTH: &str = "client_auth";
const CLIENT_SECRET: &str = "client_secret";
const GRANT: &str = "grant";
const DEVICE_AUTHORIZATION_URL: &str = "device_authorization_url";
const AUTHORIZATION_URL: &str = "authorization_url";
const ISSUER: &str = "issuer";
const ISS_PARAMETER: &str = "iss_parameter";

/// The `grant` values of a person's login, and the endpoint setting each needs.
const DEVICE_GRANT: &str = "device";
const BROWSER_GRANT: &str = crate::config::BROWSER_GRANT;

/// The token endpoint's client authentications `client_auth` can name, in the order
/// preferred, with the method each is in metadata.
const AUTH_METHODS: &[(&str, &str)] = &[
    ("basic", "client_secret_basic"),
    ("post", "client_secret_post"),
];

/// The fix for every failure to discover: the same profile can be written by hand.
const BY_HAND: &str = "or give --token-url (and --revocation-url) by hand instead of --issuer";

/// An issuer's metadata, read and checked, and what `init` tells the person about the
/// settings it filled.
#[derive(Debug)]
pub(crate) struct Discovered {
    issuer: String,
    /// Where the metadata was found.
    well_known: WellKnown,
    url: String,
    /// The OpenID Connect location, when it answered 404 and RFC 8414's was used.
    not_found_at: Option<String>,
    metadata: ServerMetadata,
    /// One line a setting discovery had a say in, in the provider's order.
    notes: Vec<String>,
}

impl Discovered {
    /// The profile's comment line: `discovered from <issuer> (<metadata URL>)`.
    pub(crate) fn comment(&self) -> String {
        format!("discovered from {} ({})", self.issuer, self.url)
    }

    /// What `init` prints: where the metadata came from, then a line per setting.
    pub(crate) fn summary(&self) -> Vec<String> {
        let location = match (self.well_known, &self.not_found_at) {
            (WellKnown::OpenIdConfiguration, _) => "OpenID Connect Discovery".to_owned(),
            (WellKnown::OAuthAuthorizationServer, None) => "RFC 8414".to_owned(),
            (WellKnown::OAuthAuthorizationServer, Some(openid)) => {
                format!("RFC 8414; {openid} answered 404")
            }
        };
        let mut lines = vec![format!(
            "discovered {} at {} ({location})",
            self.issuer, self.url
        )];
        lines.extend(self.notes.iter().map(|note| format!("  {note}")));
        lines
    }

    /// The value of setting `key` for the profile: `given` on the command line if any
    /// (it wins, and the summary says so), else the discovered one; `None` for a
    /// setting discovery says nothing of. `so_far`: the settings before this one.
    pub(crate) fn setting(
        &mut self,
        key: &str,
        given: Option<&str>,
        so_far: &Settings<'_>,
    ) -> Result<Option<String>, Failure> {
        let found = match key {
            TOKEN_URL => Found::Value(self.metadata.token_endpoint().uri().to_string()),
            REVOCATION_URL => match self.metadata.revocation_endpoint() {
                Some(endpoint) => Found::Value(endpoint.uri().to_string()),
                None => Found::None("the server names no revocation endpoint"),
            },
            // A public client sends no secret: nothing to choose.
            CLIENT_AUTH if so_far.get(CLIENT_SECRET).is_none() => {
                return Ok(given.map(str::to_owned))
            }
            CLIENT_AUTH => self.client_auth(),
            DEVICE_AUTHORIZATION_URL if so_far.get(GRANT) == Some(DEVICE_GRANT) => {
                match self.metadata.device_authorization_endpoint() {
                    Some(endpoint) => Found::Value(endpoint.uri().to_string()),
                    None if given.is_none() => return Err(self.no_endpoint(DEVICE_GRANT)),
                    None => Found::None("the server names no device authorization endpoint"),
                }
            }
            AUTHORIZATION_URL if so_far.get(GRANT) == Some(BROWSER_GRANT) => {
                match self.metadata.authorization_endpoint() {
                    Some(endpoint) => Found::Value(endpoint.uri().to_string()),
                    None if given.is_none() => return Err(self.no_endpoint(BROWSER_GRANT)),
                    None => Found::None("the server names no authorization endpoint"),
                }
            }
            // A browser login checks the redirect's `iss` against the issuer discovered.
            ISSUER if so_far.get(GRANT) == Some(BROWSER_GRANT) => {
                Found::Value(self.metadata.issuer().to_owned())
            }
            // Only with an issuer, and only when the server says it always sends `iss`:
            // the default (`if-present`) needs no line.
            ISS_PARAMETER
                if so_far.get(ISSUER).is_some()
                    && self
                        .metadata
                        .authorization_response_iss_parameter_supported() =>
            {
                Found::Value("required".to_owned())
            }
            _ => return Ok(given.map(str::to_owned)),
        };
        let note = match (given, &found) {
            (Some(given), Found::Value(value)) if given == value => {
                format!("{key} = {given} (given on the command line; discovered the same)")
            }
            (Some(given), Found::Value(value)) => format!(
                "{key} = {given} (given on the command line; discovered: {value}{})",
                self.unlisted(key, given)
            ),
            (Some(given), Found::None(why)) => {
                format!("{key} = {given} (given on the command line; {why})")
            }
            (None, Found::Value(value)) if key == CLIENT_AUTH => {
                let method = |choice| {
                    AUTH_METHODS
                        .iter()
                        .find(|(name, _)| *name == choice)
                        .map_or("", |(_, method)| *method)
                };
                let but = match value.as_str() {
                    "basic" => String::new(),
                    _ => format!(", not {}", method("basic")),
                };
                format!(
                    "{key} = {value} (discovered: the server supports {}{but})",
                    method(value.as_str())
                )
            }
            (None, Found::Value(value)) if key == ISS_PARAMETER => format!(
                "{key} = {value} (discovered: the server always sends `iss` in its redirects)"
            ),
            (None, Found::Value(value)) => format!("{key} = {value} (discovered)"),
            (None, Found::None(_)) if key == CLIENT_AUTH => {
                return Err(self.unsupported_client_auth());
            }
            (None, Found::None(why)) => format!("{key}: none ({why})"),
        };
        self.notes.push(note);
        Ok(match (given, found) {
            (Some(given), _) => Some(given.to_owned()),
            (None, Found::Value(value)) => Some(value),
            (None, Found::None(_)) => None,
        })
    }

    /// `basic` if the token endpoint takes `client_secret_basic`, else `post` if it takes
    /// `client_secret_post`.
    fn client_auth(&self) -> Found {
        AUTH_METHODS
            .iter()
            .find(|(_, method)| self.metadata.supports_token_endpoint_auth(method))
            .map_or(
                Found::None(
                    "the server supports neither client_secret_basic nor client_secret_post",
                ),
                |(choice, _)| Found::Value((*choice).to_owned()),
            )
    }

    /// `; the server does not list client_secret_post` for a `client_auth` given on the
    /// command line that the server does not list; empty otherwise.
    fn unlisted(&self, key: &str, given: &str) -> String {
        if key != CLIENT_AUTH {
            return String::new();
        }
        match AUTH_METHODS.iter().find(|(name, _)| *name == given) {
            Some((_, method)) if !self.metadata.supports_token_endpoint_auth(method) => {
                format!("; the server does not list {method}")
            }
            _ => String::new(),
        }
    }

    /// A person's login with `grant` was asked for, and the server names no endpoint for
    /// it: a config error, before anything is written.
    fn no_endpoint(&self, grant: &str) -> Failure {
        let (what, flag) = if grant == DEVICE_GRANT {
            (
                "device authorization endpoint",
                "--device-authorization-url",
            )
        } else {
            ("authorization endpoint", "--authorization-url")
        };
        Failure::new(
            Exit::Config,
            format!(
                "cannot configure --grant {grant} from issuer {}: its metadata names no {what}",
                self.issuer
            ),
        )
        .fix(format!(
            "give {flag} if the server has one, or another --grant"
        ))
    }

    /// The client has a secret, and the server takes it neither way: the core's words
    /// for it, which quote the server's methods bounded.
    fn unsupported_client_auth(&self) -> Failure {
        let methods = self.metadata.token_endpoint_auth_methods_supported();
        let error = DiscoveryError::UnsupportedClientAuth {
            with_secret: true,
            supported: methods.iter().take(MAX_LISTED_METHODS).cloned().collect(),
            more: methods.len().saturating_sub(MAX_LISTED_METHODS),
        };
        Failure::new(
            Exit::Config,
            format!("cannot configure from issuer {}: {error}", self.issuer),
        )
        .fix("give --client-auth basic or post if the client is registered for one of them, or leave out --client-secret-env for a public client")
    }
}

/// What the metadata says of one setting.
enum Found {
    Value(String),
    /// Nothing, and why.
    None(&'static str),
}

/// Discovers `issuer`: the OpenID Connect location first, RFC 8414's if that answers
/// 404. Every request ends within `timeout` (the command's `--timeout`) and the core's
/// response timeout, both together too.
pub(crate) fn discover(issuer: &str, timeout: Duration) -> Result<Discovered, Failure> {
    let deadline = Instant::now() + timeout;
    let policy = crate::context::policy(timeout);
    let agent = oauth_lifecycle_blocking::default_agent(&policy);
    let openid = Discovery::new(issuer).map_err(|error| invalid_issuer(&error))?;
    let mut tried = vec![openid.url().to_string()];
    let answer = fetch(&agent, &openid, &policy, deadline)?;
    let (discovery, read) = match openid.read(&answer) {
        Err(DiscoveryError::Status { status }) if status == StatusCode::NOT_FOUND => {
            let oauth = Discovery::with_well_known(issuer, WellKnown::OAuthAuthorizationServer)
                .map_err(|error| invalid_issuer(&error))?;
            tried.push(oauth.url().to_string());
            let answer = fetch(&agent, &oauth, &policy, deadline)?;
            let read = oauth.read(&answer);
            (oauth, read)
        }
        read => (openid, read),
    };
    let metadata = read.map_err(|error| failed(issuer, &error, &tried))?;
    Ok(Discovered {
        issuer: issuer.to_owned(),
        well_known: discovery.well_known(),
        url: discovery.url().to_string(),
        not_found_at: (tried.len() > 1).then(|| tried[0].clone()),
        metadata,
        notes: Vec::new(),
    })
}

/// What `--dry-run` shows instead of discovering: the requests, sent to nobody.
pub(crate) fn dry_run(issuer: &str) -> Result<String, Failure> {
    let openid = Discovery::new(issuer).map_err(|error| invalid_issuer(&error))?;
    let oauth = Discovery::with_well_known(issuer, WellKnown::OAuthAuthorizationServer)
        .map_err(|error| invalid_issuer(&error))?;
    let mut text =
        format!("would send (discovery of {issuer}), and sends nothing nor writes the profile:\n");
    text.push_str(&render(&openid.request()));
    text.push_str(&format!(
        "and if that answers 404:\n{}",
        render(&oauth.request())
    ));
    Ok(text.trim_end().to_owned())
}

fn render(request: &http::Request<Vec<u8>>) -> String {
    let mut text = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text
}

/// Sends `discovery`'s request and reads the answer, the body no further than one byte
/// past the core's cap (the core refuses a larger one whole). No answer is a failure of
/// its own: the issuer is unreachable (exit 7).
fn fetch(
    agent: &ureq::Agent,
    discovery: &Discovery,
    policy: &Policy,
    deadline: Instant,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let url = discovery.url().to_string();
    let no_answer = |cause: &dyn fmt::Display| {
        Failure::new(
            Exit::Unavailable,
            format!(
                "cannot discover issuer {}: no answer from {url} ({cause})",
                discovery.issuer()
            ),
        )
        .fix(format!(
            "check the issuer URL and the network, then try again; {BY_HAND}"
        ))
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(no_answer(&"the --timeout ran out"));
    }
    let timeout = Duration::try_from(policy.response_timeout)
        .unwrap_or(left)
        .min(left);
    tracing::debug!(url = %url, "discovery request");
    let started = Instant::now();
    let answer = oauth_lifecycle_blocking::send_request(
        agent,
        discovery.request(),
        timeout,
        MAX_METADATA_BYTES,
    );
    match answer {
        Ok(response) => {
            tracing::debug!(status = response.status().as_u16(), "discovery answer");
            Ok(response)
        }
        // The transport says whether the request left, not why: refused, unresolved and
        // unreachable read alike.
        Err(TransportError::NotSent) => Err(no_answer(&"cannot connect")),
        Err(_) if started.elapsed() >= timeout => Err(no_answer(&format_args!(
            "no answer within {}",
            // Rounded up: what is left of `--timeout 2s` is a hair under 2 s.
            crate::time_format::span(timeout.as_millis().div_ceil(1000).max(1) as i64)
        ))),
        Err(_) => Err(no_answer(
            &"the connection broke before the answer was read",
        )),
    }
}

/// `--issuer` is not an issuer discovery can ask: a usage error. The value is not
/// repeated (it may hold user information).
fn invalid_issuer(error: &DiscoveryError) -> Failure {
    Failure::new(Exit::Usage, format!("--issuer: {error}")).fix(format!(
        "give the issuer's URL as the server writes it (https://…, no query or fragment), {BY_HAND}"
    ))
}

/// Discovery got an answer that does not do, from the last location in `tried`.
fn failed(issuer: &str, error: &DiscoveryError, tried: &[String]) -> Failure {
    let message = format!(
        "cannot discover issuer {issuer} (asked {}): {error}",
        tried.join(", then ")
    );
    let now = crate::context::now();
    match error {
        DiscoveryError::Unavailable { status, .. } => {
            let at = crate::time_format::rfc3339(error.retry_at(now).unwrap_or(now));
            if *status == StatusCode::TOO_MANY_REQUESTS {
                Failure::new(Exit::Throttled, message).fix(format!("try again after {at}"))
            } else {
                Failure::new(Exit::Unavailable, message)
                    .fix(format!("try again after {at}; {BY_HAND}"))
            }
        }
        DiscoveryError::IssuerMismatch { .. } => Failure::new(Exit::Config, message).fix(format!(
            "check the issuer URL and give it exactly as the server names itself (nothing from another issuer's document is used); {BY_HAND}"
        )),
        _ => Failure::new(Exit::Config, message)
            .fix(format!("check the issuer URL; {BY_HAND}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;

    /// The provider discovery configures takes every setting it fills, so a rename in
    /// the core fails here rather than writing a key the profile refuses.
    #[test]
    fn the_discovered_provider_takes_the_settings_discovery_fills() {
        let provider =
            Provider::from_name(crate::providers::DISCOVERED).expect("a provider tokenctl speaks");
        for key in [
            TOKEN_URL,
            REVOCATION_URL,
            CLIENT_AUTH,
            CLIENT_SECRET,
            GRANT,
            DEVICE_AUTHORIZATION_URL,
            AUTHORIZATION_URL,
            ISSUER,
            ISS_PARAMETER,
        ] {
            assert!(provider.takes(key), "{key}");
        }
        let grants = provider.setting(GRANT).unwrap().choices;
        assert!(grants.contains(&DEVICE_GRANT) && grants.contains(&BROWSER_GRANT));
        assert!(provider
            .setting(ISS_PARAMETER)
            .unwrap()
            .choices
            .contains(&"required"));
        let choices = provider.setting(CLIENT_AUTH).unwrap().choices;
        for (choice, _) in AUTH_METHODS {
            assert!(choices.contains(choice), "{choice}");
        }
    }

    fn discovered(metadata: &str) -> Discovered {
        let discovery = Discovery::new("https://a.example").unwrap();
        let response = http::Response::builder()
            .status(200)
            .body(metadata.as_bytes().to_vec())
            .unwrap();
        Discovered {
            issuer: "https://a.example".into(),
            well_known: WellKnown::OpenIdConfiguration,
            url: discovery.url().to_string(),
            not_found_at: None,
            metadata: discovery.read(&response).unwrap(),
            notes: Vec::new(),
        }
    }

    const BOTH: &str = r#"{"issuer":"https://a.example","token_endpoint":"https://a.example/t",
        "token_endpoint_auth_methods_supported":["client_secret_post","client_secret_basic"]}"#;

    #[test]
    fn client_auth_is_basic_then_post_and_nothing_without_a_secret() {
        let secret = Settings::new().with(CLIENT_SECRET, "s");
        let public = Settings::new();
        let mut both = discovered(BOTH);
        assert_eq!(
            both.setting(CLIENT_AUTH, None, &secret).unwrap().as_deref(),
            Some("basic")
        );
        assert_eq!(both.setting(CLIENT_AUTH, None, &public).unwrap(), None);
        let mut post = discovered(
            r#"{"issuer":"https://a.example","token_endpoint":"https://a.example/t",
                "token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt"]}"#,
        );
        assert_eq!(
            post.setting(CLIENT_AUTH, None, &secret).unwrap().as_deref(),
            Some("post")
        );
        // Omitted: RFC 8414's default, client_secret_basic.
        let mut omitted =
            discovered(r#"{"issuer":"https://a.example","token_endpoint":"https://a.example/t"}"#);
        assert_eq!(
            omitted
                .setting(CLIENT_AUTH, None, &secret)
                .unwrap()
                .as_deref(),
            Some("basic")
        );
        assert_eq!(
            omitted.setting(REVOCATION_URL, None, &secret).unwrap(),
            None
        );
        assert!(
            omitted.notes.last().unwrap().contains("none"),
            "{:?}",
            omitted.notes
        );
    }

    #[test]
    fn neither_method_is_a_config_error_quoting_the_server_bounded() {
        let forged = format!("{}\n[ERROR] forged", "x".repeat(500));
        let mut jwt = discovered(
            &serde_json::json!({
                "issuer": "https://a.example",
                "token_endpoint": "https://a.example/t",
                "token_endpoint_auth_methods_supported": ["private_key_jwt", forged],
            })
            .to_string(),
        );
        let secret = Settings::new().with(CLIENT_SECRET, "s");
        let error = jwt.setting(CLIENT_AUTH, None, &secret).unwrap_err();
        assert_eq!(error.exit, Exit::Config);
        assert!(
            error.message.contains("private_key_jwt"),
            "{}",
            error.message
        );
        assert!(!error.message.contains('\n'), "{}", error.message);
        assert!(error.message.len() < 400, "{}", error.message);
        // Given on the command line, it wins, and the summary says what the server lists.
        assert_eq!(
            jwt.setting(CLIENT_AUTH, Some("post"), &secret)
                .unwrap()
                .as_deref(),
            Some("post")
        );
        assert!(
            jwt.notes.last().unwrap().contains(
                "client_auth = post (given on the command line; the server supports neither"
            ),
            "{:?}",
            jwt.notes
        );
    }

    /// A person's login takes its endpoint (and, in a browser, the issuer) from the
    /// metadata, only for the grant asked; a server without the endpoint is a config
    /// error, unless it is given.
    #[test]
    fn a_persons_login_takes_its_endpoint_and_the_issuer() {
        const PEOPLE: &str = r#"{"issuer":"https://a.example","token_endpoint":"https://a.example/t",
            "device_authorization_endpoint":"https://a.example/d",
            "authorization_endpoint":"https://a.example/a",
            "authorization_response_iss_parameter_supported":true}"#;
        let device = Settings::new().with(GRANT, DEVICE_GRANT);
        let browser = Settings::new().with(GRANT, BROWSER_GRANT);
        let with_issuer = browser.clone().with(ISSUER, "https://a.example");
        let machine = Settings::new();
        let mut people = discovered(PEOPLE);
        let found = |people: &mut Discovered, key, so_far: &Settings<'_>| {
            people.setting(key, None, so_far).unwrap()
        };
        assert_eq!(
            found(&mut people, DEVICE_AUTHORIZATION_URL, &device).as_deref(),
            Some("https://a.example/d")
        );
        assert_eq!(found(&mut people, AUTHORIZATION_URL, &device), None);
        assert_eq!(found(&mut people, ISSUER, &device), None);
        assert_eq!(
            found(&mut people, AUTHORIZATION_URL, &browser).as_deref(),
            Some("https://a.example/a")
        );
        assert_eq!(
            found(&mut people, ISSUER, &browser).as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            found(&mut people, ISS_PARAMETER, &with_issuer).as_deref(),
            Some("required")
        );
        for key in [
            DEVICE_AUTHORIZATION_URL,
            AUTHORIZATION_URL,
            ISSUER,
            ISS_PARAMETER,
        ] {
            assert_eq!(found(&mut people, key, &machine), None, "{key}");
        }
        // A server that does not say it always sends `iss`: the default, unwritten.
        let mut plain = discovered(BOTH);
        assert_eq!(found(&mut plain, ISS_PARAMETER, &with_issuer), None);
        let error = plain
            .setting(DEVICE_AUTHORIZATION_URL, None, &device)
            .unwrap_err();
        assert_eq!(error.exit, Exit::Config);
        assert!(
            error
                .message
                .contains("names no device authorization endpoint"),
            "{}",
            error.message
        );
        assert_eq!(
            plain
                .setting(AUTHORIZATION_URL, Some("https://a.example/x"), &browser)
                .unwrap()
                .as_deref(),
            Some("https://a.example/x")
        );
    }

    #[test]
    fn given_settings_win_and_the_summary_says_so() {
        let mut both = discovered(BOTH);
        let secret = Settings::new().with(CLIENT_SECRET, "s");
        assert_eq!(
            both.setting(CLIENT_AUTH, Some("post"), &secret)
                .unwrap()
                .as_deref(),
            Some("post")
        );
        assert_eq!(
            both.setting(REVOCATION_URL, Some("https://a.example/r"), &secret)
                .unwrap()
                .as_deref(),
            Some("https://a.example/r")
        );
        assert_eq!(
            both.setting("scope", Some("a b"), &secret)
                .unwrap()
                .as_deref(),
            Some("a b")
        );
        let summary = both.summary().join("\n");
        assert!(
            summary.contains("client_auth = post (given on the command line; discovered: basic)"),
            "{summary}"
        );
        assert!(
            summary.contains("revocation_url = https://a.example/r (given on the command line; the server names no revocation endpoint)"),
            "{summary}"
        );
        assert!(!summary.contains("scope"), "{summary}");
    }
}
