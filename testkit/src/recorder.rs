//! An emulator that remembers every secret it hands out or is sent, for tests that prove
//! no output shows one: the tokens and device codes in its JSON answers, the codes and
//! `state`s in its redirects, and the assertions (RFC 7523) the requests carry.

use oauth_lifecycle::http;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle_emulator::{Emulator, InjectedFailure, Reply, ServerStats};
use serde_json::Value;

/// `server`, recording into `secrets` every secret its answers carry.
pub struct Recorder<E> {
    /// The emulator answering.
    pub server: E,
    /// Every secret handed out so far, in the order they were.
    pub secrets: Vec<String>,
}

impl<E> Recorder<E> {
    /// Records what `server` hands out from now on.
    pub fn new(server: E) -> Self {
        Recorder {
            server,
            secrets: Vec::new(),
        }
    }

    fn record_json(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        Value::String(secret)
                            if matches!(
                                key.as_str(),
                                "access_token" | "refresh_token" | "device_code" | "id_token"
                            ) =>
                        {
                            self.secrets.push(secret.clone())
                        }
                        other => self.record_json(other),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| self.record_json(item)),
            _ => {}
        }
    }

    /// The assertions a form body carries: the client's and the JWT bearer grant's.
    fn record_assertions(&mut self, body: &[u8]) {
        for (name, value) in form_urlencoded::parse(body) {
            if name == "client_assertion" || name == "assertion" {
                self.secrets.push(value.into_owned());
            }
        }
    }

    fn record_redirect(&mut self, location: &str) {
        let query = location.split_once('?').map_or("", |(_, query)| query);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if name == "code" || name == "state" {
                self.secrets.push(value.into_owned());
            }
        }
    }
}

impl<E: Emulator> Emulator for Recorder<E> {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        self.record_assertions(request.body());
        let reply = self.server.handle(request, now);
        if let Ok(json) = serde_json::from_slice::<Value>(reply.body()) {
            self.record_json(&json);
        }
        if let Some(location) = reply.headers().get("location") {
            let location = location.to_str().unwrap_or_default().to_owned();
            self.record_redirect(&location);
        }
        reply
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        self.server.resource_request(request, now)
    }

    fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
        self.server.is_access_token_valid(token, now)
    }

    fn fail_next(&mut self, failure: InjectedFailure) {
        self.server.fail_next(failure);
    }

    fn revoke_all(&mut self) {
        self.server.revoke_all();
    }

    fn stats(&self) -> &ServerStats {
        self.server.stats()
    }
}
