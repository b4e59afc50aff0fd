//! A person's login: the device authorization grant (RFC 8628) with its verification
//! page, and the authorization code grant with S256 PKCE (RFC 7636), loopback redirects
//! (RFC 8252 §7.3) and the `iss` parameter (RFC 9207).

use std::collections::HashMap;

use base64::Engine as _;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA};
use http::{HeaderValue, Method, StatusCode, Uri};
use sha2::{Digest as _, Sha256};
use time::{Duration, UtcDateTime};

use super::discovery::{base_url, no_base_url};
use super::{form, AuthorizationDecision, EmulatedClient, StandardServer, DEVICE_GRANT};
use crate::store::{json, json_error, json_error_described, response, Reply};

/// The longest device code, authorization code or client id accepted.
const MAX_CODE: usize = 256;
/// The longest user code accepted, separators and spaces included.
const MAX_USER_CODE: usize = 64;
/// The longest redirect URI accepted.
const MAX_URI: usize = 2048;
/// The longest `state` accepted.
const MAX_STATE: usize = 1024;
/// The longest `scope` accepted.
const MAX_SCOPE: usize = 1024;
/// The longest query the authorization endpoint reads.
const MAX_QUERY: usize = 16 * 1024;
/// The most device codes, and the most authorization codes, kept at once.
const MAX_LIVE: usize = 10_000;
/// How long a device code or authorization code is remembered after it expires, so
/// that late polls get `expired_token` and late replays still revoke.
const MEMORY: Duration = Duration::DAY;
/// What a `slow_down` adds to the polling interval (RFC 8628 §3.5).
const SLOW_DOWN: Duration = Duration::seconds(5);
/// The user code's alphabet: consonants, no vowels and no look-alikes (RFC 8628 §6.1).
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// The state of people's logins in progress.
#[derive(Debug, Default)]
pub(super) struct People {
    /// Device grants by device code.
    devices: HashMap<String, DeviceGrant>,
    /// Device codes by normalized user code.
    user_codes: HashMap<String, String>,
    /// Authorization codes.
    codes: HashMap<String, AuthorizationCode>,
    /// Counts device grants, to list pending user codes in the order they were issued.
    issued: u64,
}

#[derive(Debug)]
struct DeviceGrant {
    client_id: String,
    /// As shown to the person: `BCDF-GHJK`.
    user_code: String,
    scope: Option<String>,
    expires_at: UtcDateTime,
    /// The least time between polls now; it grows with each `slow_down`.
    interval: Duration,
    last_poll: Option<UtcDateTime>,
    state: DeviceState,
    order: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceState {
    Pending,
    Approved,
    Denied,
    /// Exchanged for tokens.
    Redeemed,
}

#[derive(Debug)]
struct AuthorizationCode {
    client_id: String,
    redirect_uri: String,
    /// The S256 code challenge.
    challenge: String,
    scope: Option<String>,
    expires_at: UtcDateTime,
    state: CodeState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeState {
    Fresh,
    /// Exchanged for tokens of this family.
    Redeemed(u64),
    /// Presented with something wrong (expired, another redirect URI, a verifier that
    /// does not match): no longer exchangeable.
    Spent,
}

/// `BCDFGHJK` (separators and spaces dropped, upper case) from what a person typed.
fn normalize_user_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A 400 `invalid_request` saying what is wrong.
fn invalid_request(description: &str) -> Reply {
    json_error_described(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// The form parameter `name`, refused when longer than `max` bytes.
fn bounded<'a>(
    form: &'a HashMap<String, String>,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, Reply> {
    match form.get(name) {
        Some(value) if value.len() > max => Err(invalid_request(&format!("{name} is too long"))),
        value => Ok(value.map(String::as_str)),
    }
}

/// Like [`bounded`], and required.
fn required<'a>(
    form: &'a HashMap<String, String>,
    name: &str,
    max: usize,
) -> Result<&'a str, Reply> {
    bounded(form, name, max)?.ok_or_else(|| invalid_request(&format!("{name} is missing")))
}

/// A 200 JSON answer that no cache keeps.
fn no_store(body: &serde_json::Value) -> Reply {
    let mut reply = json(StatusCode::OK, body);
    reply
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
        .headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    reply
}

/// Whether `value` is 43 to 128 unreserved characters (RFC 7636 §4.1).
fn is_code_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `value` can be an S256 challenge: a SHA-256 hash in unpadded base64url, 43
/// characters (RFC 7636 §4.2).
fn is_s256_challenge(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether two redirect URIs are the same loopback redirect but for the port
/// (RFC 8252 §7.3): `http`, host `127.0.0.1` or `[::1]`, same path and query.
fn same_loopback_but_port(registered: &str, requested: &str) -> bool {
    let (Ok(registered), Ok(requested)) = (registered.parse::<Uri>(), requested.parse::<Uri>())
    else {
        return false;
    };
    let loopback = |uri: &Uri| {
        uri.scheme_str() == Some("http")
            && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
            && matches!(uri.host(), Some("127.0.0.1" | "[::1]"))
    };
    loopback(&registered)
        && loopback(&requested)
        && registered.host() == requested.host()
        && registered.path() == requested.path()
        && registered.query() == requested.query()
}

/// A 302 to `redirect_uri` with `params` added to its query.
fn redirect(redirect_uri: &str, params: &[(&str, &str)]) -> Reply {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = match redirect_uri.find('?') {
        None => "?",
        Some(at) if at + 1 == redirect_uri.len() || redirect_uri.ends_with('&') => "",
        Some(_) => "&",
    };
    let Ok(location) = HeaderValue::try_from(format!("{redirect_uri}{separator}{query}")) else {
        return invalid_request("redirect_uri cannot be redirected to");
    };
    let mut reply = response(StatusCode::FOUND, Vec::new());
    reply.headers_mut().insert(LOCATION, location);
    reply
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// `text` with the characters HTML gives meaning to escaped.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A 200 HTML page.
fn html(body: &str) -> Reply {
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Device login</title>\
         </head><body>\n{body}\n</body></html>\n"
    );
    let mut reply = response(StatusCode::OK, page.into_bytes());
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    reply
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

/// The parameters of a query, each at most once; `None` when one repeats.
fn query_parameters(query: &str) -> Option<HashMap<String, String>> {
    let mut parameters = HashMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if parameters
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return None;
        }
    }
    Some(parameters)
}

impl StandardServer {
    /// Approves the device login with `user_code` (typed as a person would: case and
    /// dashes do not matter), as the person would on the verification page. Whether a
    /// login was waiting for that code; an expired one is approved too, but its next poll
    /// still gets `expired_token`.
    pub fn approve_user_code(&mut self, user_code: &str) -> bool {
        self.decide_user_code(user_code, DeviceState::Approved, None)
    }

    /// Denies the device login with `user_code`: its next poll gets `access_denied`.
    /// Whether a login was waiting for that code.
    pub fn deny_user_code(&mut self, user_code: &str) -> bool {
        self.decide_user_code(user_code, DeviceState::Denied, None)
    }

    /// The user codes of device logins still waiting for the person, as shown
    /// (`BCDF-GHJK`), oldest first; expired ones that have not been forgotten yet
    /// included.
    pub fn pending_user_codes(&self) -> Vec<String> {
        let mut pending: Vec<&DeviceGrant> = self
            .people
            .devices
            .values()
            .filter(|d| d.state == DeviceState::Pending)
            .collect();
        pending.sort_by_key(|d| d.order);
        pending.into_iter().map(|d| d.user_code.clone()).collect()
    }

    /// Sets what the person answers at the authorization endpoint from now on.
    pub fn set_authorization_decision(&mut self, decision: AuthorizationDecision) {
        self.config.authorization_decision = decision;
    }

    /// Moves the pending device login with `user_code` to `decision`; with `now`, only
    /// if it has not expired.
    fn decide_user_code(
        &mut self,
        user_code: &str,
        decision: DeviceState,
        now: Option<UtcDateTime>,
    ) -> bool {
        if user_code.len() > MAX_USER_CODE {
            return false;
        }
        let people = &mut self.people;
        let Some(device_code) = people.user_codes.get(&normalize_user_code(user_code)) else {
            return false;
        };
        match people.devices.get_mut(device_code) {
            Some(device)
                if device.state == DeviceState::Pending
                    && now.is_none_or(|now| now < device.expires_at) =>
            {
                device.state = decision;
                true
            }
            _ => false,
        }
    }

    /// Forgets device and authorization codes long expired.
    fn forget_expired(&mut self, now: UtcDateTime) {
        let people = &mut self.people;
        people
            .devices
            .retain(|_, d| now < d.expires_at.saturating_add(MEMORY));
        let devices = &people.devices;
        people
            .user_codes
            .retain(|_, device_code| devices.contains_key(device_code));
        people
            .codes
            .retain(|_, c| now < c.expires_at.saturating_add(MEMORY));
    }

    /// A user code no pending login has: eight letters of the RFC 8628 §6.1 alphabet.
    fn new_user_code(&mut self) -> String {
        loop {
            let mut number = self.store.fresh_number();
            let mut code = String::with_capacity(8);
            for _ in 0..8 {
                code.push(char::from(USER_CODE_ALPHABET[(number % 20) as usize]));
                number /= 20;
            }
            if !self.people.user_codes.contains_key(&code) {
                return code;
            }
        }
    }

    /// The device authorization endpoint (RFC 8628 §3.1, §3.2).
    pub(super) fn device_authorization_endpoint(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now: UtcDateTime,
    ) -> Reply {
        if request.method() != Method::POST {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        if let Err(reply) = self.store.admit(now) {
            return reply;
        }
        let (form, client) = match self.authenticated_form(request, now) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        if !client.grants.iter().any(|g| g == DEVICE_GRANT) {
            return json_error(StatusCode::BAD_REQUEST, "unauthorized_client");
        }
        let scope = match bounded(&form, "scope", MAX_SCOPE) {
            Ok(scope) => scope.map(str::to_owned),
            Err(reply) => return reply,
        };
        let Some(base) = base_url(&self.config, request) else {
            return no_base_url();
        };
        self.forget_expired(now);
        if self.people.devices.len() >= MAX_LIVE {
            return json_error_described(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many device logins in progress",
            );
        }
        let device_code = self.store.fresh("dc");
        let letters = self.new_user_code();
        let user_code = format!("{}-{}", &letters[..4], &letters[4..]);
        let lifetime = self.config.device_code_lifetime;
        let interval = self.config.device_poll_interval;
        self.people.issued += 1;
        self.people.user_codes.insert(letters, device_code.clone());
        self.people.devices.insert(
            device_code.clone(),
            DeviceGrant {
                client_id: client.client_id,
                user_code: user_code.clone(),
                scope,
                expires_at: now.saturating_add(lifetime),
                interval,
                last_poll: None,
                state: DeviceState::Pending,
                order: self.people.issued,
            },
        );
        self.store.stats.device_authorizations += 1;
        let verification_uri = format!("{base}{}", self.config.verification_path);
        let complete = format!("{verification_uri}?user_code={user_code}");
        no_store(&serde_json::json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": lifetime.whole_seconds(),
            "interval": interval.whole_seconds(),
        }))
    }

    /// The token endpoint's device grant (RFC 8628 §3.4, §3.5).
    pub(super) fn device_token(
        &mut self,
        client: &EmulatedClient,
        form: &HashMap<String, String>,
        now: UtcDateTime,
    ) -> Reply {
        let device_code = match required(form, "device_code", MAX_CODE) {
            Ok(code) => code,
            Err(reply) => return reply,
        };
        let stats = &mut self.store.stats;
        stats.device_polls += 1;
        let error = |code: &str| json_error(StatusCode::BAD_REQUEST, code);
        let device = match self.people.devices.get_mut(device_code) {
            Some(device)
                if device.client_id == client.client_id
                    && device.state != DeviceState::Redeemed =>
            {
                device
            }
            _ => return error("invalid_grant"),
        };
        if now >= device.expires_at {
            return error("expired_token");
        }
        let too_soon = device
            .last_poll
            .is_some_and(|last| now - last < device.interval);
        device.last_poll = Some(now);
        if too_soon {
            stats.slow_downs += 1;
            device.interval = device.interval.saturating_add(SLOW_DOWN);
            return error("slow_down");
        }
        match device.state {
            DeviceState::Pending => error("authorization_pending"),
            DeviceState::Denied => error("access_denied"),
            DeviceState::Redeemed => error("invalid_grant"),
            DeviceState::Approved => {
                device.state = DeviceState::Redeemed;
                let scope = device.scope.clone();
                stats.logins += 1;
                let family = self.store.new_family();
                self.grant(&client.client_id, scope, true, family, true, now)
            }
        }
    }

    /// The verification page (RFC 8628 §3.3): GET shows a form for the user code, with
    /// `user_code` filled in from the query; POST with `user_code` and
    /// `decision=approve|deny` acts on it.
    pub(super) fn verification_page(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now: UtcDateTime,
    ) -> Reply {
        let method = request.method();
        if *method == Method::GET || *method == Method::HEAD {
            let query = request.uri().query().unwrap_or_default();
            if query.len() > MAX_QUERY {
                return invalid_request("the query is too long");
            }
            let Some(parameters) = query_parameters(query) else {
                return invalid_request("a parameter is repeated");
            };
            let user_code = match bounded(&parameters, "user_code", MAX_USER_CODE) {
                Ok(code) => code.unwrap_or_default(),
                Err(reply) => return reply,
            };
            let action = escape_html(&self.config.verification_path);
            let user_code = escape_html(user_code);
            return html(&format!(
                "<h1>Connect a device</h1>\n\
                 <form method=\"post\" action=\"{action}\">\n\
                 <label>Code <input name=\"user_code\" value=\"{user_code}\"></label>\n\
                 <button name=\"decision\" value=\"approve\">Approve</button>\n\
                 <button name=\"decision\" value=\"deny\">Deny</button>\n\
                 </form>"
            ));
        }
        if *method != Method::POST {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        let form = match form(request) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let (user_code, decision) = match (
            required(&form, "user_code", MAX_USER_CODE),
            required(&form, "decision", 16),
        ) {
            (Ok(user_code), Ok(decision)) => (user_code, decision),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        };
        let (state, outcome) = match decision {
            "approve" => (DeviceState::Approved, "approved: return to your device"),
            "deny" => (DeviceState::Denied, "denied"),
            _ => return invalid_request("decision is approve or deny"),
        };
        if !self.decide_user_code(user_code, state, Some(now)) {
            return invalid_request("no device login waits for that code");
        }
        html(&format!("<h1>Device login {outcome}</h1>"))
    }

    /// Whether `requested` is one of `client_id`'s redirect URIs.
    fn is_registered_redirect(&self, client_id: &str, requested: &str) -> bool {
        let config = &self.config;
        !requested.contains('#')
            && config
                .redirect_uris
                .iter()
                .filter(|(id, _)| id == client_id)
                .any(|(_, registered)| {
                    registered == requested
                        || (config.loopback_any_port
                            && same_loopback_but_port(registered, requested))
                })
    }

    /// The authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3): the person decides
    /// at once, as [`set_authorization_decision`](Self::set_authorization_decision)
    /// says, and the answer is the redirect. Errors about the client or the redirect URI
    /// are shown (400 and a JSON error object), not redirected (RFC 6749 §4.1.2.1).
    pub(super) fn authorization_endpoint(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now: UtcDateTime,
    ) -> Reply {
        if ![Method::GET, Method::HEAD].contains(request.method()) {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        let query = request.uri().query().unwrap_or_default();
        if query.len() > MAX_QUERY {
            return invalid_request("the query is too long");
        }
        let Some(parameters) = query_parameters(query) else {
            return invalid_request("a parameter is repeated");
        };
        let Some(base) = base_url(&self.config, request) else {
            return no_base_url();
        };
        let get = |name: &str, max: usize| bounded(&parameters, name, max);
        let (client_id, redirect_uri, state) = match (
            get("client_id", MAX_CODE),
            get("redirect_uri", MAX_URI),
            get("state", MAX_STATE),
        ) {
            (Ok(client_id), Ok(redirect_uri), Ok(state)) => (client_id, redirect_uri, state),
            (Err(reply), ..) | (_, Err(reply), _) | (.., Err(reply)) => return reply,
        };
        let Some(client) = client_id
            .and_then(|id| self.config.clients.iter().find(|c| c.client_id == id))
            .cloned()
        else {
            return invalid_request("client_id is missing or unknown");
        };
        let Some(redirect_uri) =
            redirect_uri.filter(|uri| self.is_registered_redirect(&client.client_id, uri))
        else {
            return invalid_request("redirect_uri is missing or not registered for the client");
        };
        let issuer = self.issuer(&base);
        let answer = |params: &[(&str, &str)]| {
            let mut all: Vec<(&str, &str)> = params.to_vec();
            if let Some(state) = state {
                all.push(("state", state));
            }
            all.push(("iss", &issuer));
            redirect(redirect_uri, &all)
        };
        let refuse = |code: &str, description: &str| {
            answer(&[("error", code), ("error_description", description)])
        };
        let response_type = parameters.get("response_type").map(String::as_str);
        match response_type {
            Some("code") => {}
            None => return refuse("invalid_request", "response_type is missing"),
            Some(_) => return refuse("unsupported_response_type", "only code is supported"),
        }
        if !client.grants.iter().any(|g| g == "authorization_code") {
            return refuse("unauthorized_client", "the client may not use codes");
        }
        if parameters.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return refuse(
                "invalid_request",
                "PKCE with code_challenge_method S256 is required",
            );
        }
        let challenge = match parameters.get("code_challenge") {
            Some(challenge) if is_s256_challenge(challenge) => challenge.clone(),
            _ => return refuse("invalid_request", "code_challenge is missing or malformed"),
        };
        let scope = match get("scope", MAX_SCOPE) {
            Ok(scope) => scope.map(str::to_owned),
            Err(_) => return refuse("invalid_scope", "scope is too long"),
        };
        if self.config.authorization_decision == AuthorizationDecision::Deny {
            return refuse("access_denied", "the person refused");
        }
        self.forget_expired(now);
        if self.people.codes.len() >= MAX_LIVE {
            return refuse("temporarily_unavailable", "too many codes outstanding");
        }
        let code = self.store.fresh("ac");
        self.people.codes.insert(
            code.clone(),
            AuthorizationCode {
                client_id: client.client_id,
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                scope,
                expires_at: now.saturating_add(self.config.authorization_code_lifetime),
                state: CodeState::Fresh,
            },
        );
        self.store.stats.authorization_codes += 1;
        answer(&[("code", &code)])
    }

    /// The token endpoint's authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.5).
    /// A request that is malformed changes nothing; a code presented with anything wrong
    /// is spent; a code presented again after its exchange revokes the tokens issued
    /// from it (RFC 6749 §4.1.2).
    pub(super) fn code_token(
        &mut self,
        client: &EmulatedClient,
        form: &HashMap<String, String>,
        now: UtcDateTime,
    ) -> Reply {
        let (code, redirect_uri, verifier) = match (
            required(form, "code", MAX_CODE),
            required(form, "redirect_uri", MAX_URI),
            required(form, "code_verifier", 128),
        ) {
            (Ok(code), Ok(redirect_uri), Ok(verifier)) => (code, redirect_uri, verifier),
            (Err(reply), ..) | (_, Err(reply), _) | (.., Err(reply)) => return reply,
        };
        if !is_code_verifier(verifier) {
            return invalid_request("code_verifier is not 43 to 128 unreserved characters");
        }
        let invalid_grant = |description: &str| {
            json_error_described(StatusCode::BAD_REQUEST, "invalid_grant", description)
        };
        let stats = &mut self.store.stats;
        let entry = match self.people.codes.get_mut(code) {
            Some(entry) if entry.client_id == client.client_id => entry,
            _ => return invalid_grant("unknown code"),
        };
        match entry.state {
            CodeState::Fresh => {}
            CodeState::Redeemed(family) => {
                stats.code_replays += 1;
                self.store.revoke_family(family);
                return invalid_grant("the code was used already: its tokens are revoked");
            }
            CodeState::Spent => return invalid_grant("the code is spent"),
        }
        let wrong = if now >= entry.expires_at {
            Some("the code has expired")
        } else if entry.redirect_uri != redirect_uri {
            Some("redirect_uri differs from the authorization request's")
        } else if s256(verifier) != entry.challenge {
            Some("code_verifier does not match the code_challenge")
        } else {
            None
        };
        if let Some(wrong) = wrong {
            entry.state = CodeState::Spent;
            return invalid_grant(wrong);
        }
        let family = self.store.new_family();
        entry.state = CodeState::Redeemed(family);
        let scope = entry.scope.clone();
        let stats = &mut self.store.stats;
        stats.code_exchanges += 1;
        stats.logins += 1;
        self.grant(&client.client_id, scope, true, family, true, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn loopback_redirects_match_on_any_port_only() {
        let registered = "http://127.0.0.1/callback";
        assert!(same_loopback_but_port(
            registered,
            "http://127.0.0.1:49152/callback"
        ));
        assert!(same_loopback_but_port(registered, registered));
        assert!(same_loopback_but_port(
            "http://[::1]/cb",
            "http://[::1]:8080/cb"
        ));
        for other in [
            "http://127.0.0.1:49152/other",
            "http://127.0.0.1:49152/callback?x=1",
            "http://localhost:49152/callback",
            "https://127.0.0.1:49152/callback",
            "http://[::1]:49152/callback",
            "http://user@127.0.0.1:49152/callback",
            "http://127.0.0.2:49152/callback",
            "not a uri",
        ] {
            assert!(!same_loopback_but_port(registered, other), "{other}");
        }
        assert!(!same_loopback_but_port(
            "http://example.com/callback",
            "http://example.com:8080/callback"
        ));
    }

    #[test]
    fn redirects_keep_the_registered_query() {
        let location = |uri: &str| {
            redirect(uri, &[("code", "c d")]).headers()[LOCATION]
                .to_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(location("http://a/cb"), "http://a/cb?code=c+d");
        assert_eq!(location("http://a/cb?x=1"), "http://a/cb?x=1&code=c+d");
        assert_eq!(location("http://a/cb?"), "http://a/cb?code=c+d");
    }

    #[test]
    fn user_codes_are_read_as_people_type_them() {
        assert_eq!(normalize_user_code("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalize_user_code(" BCDF GHJK "), "BCDFGHJK");
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
