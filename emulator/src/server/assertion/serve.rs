//! The standard emulator's side: the JWT bearer grant at the token endpoint, and client
//! authentication by assertion on every endpoint that authenticates the client.

use std::collections::HashMap;

use http::StatusCode;
use time::UtcDateTime;

use super::*;
use crate::server::discovery::base_url;
use crate::server::{
    invalid_client, EmulatedClient, StandardServer, StandardServerConfig, CLIENT_ASSERTION_TYPE,
};
use crate::store::{json_error_described, Reply};

/// Finds the key for an assertion's issuer in the configuration.
type KeyLookup = for<'c> fn(&'c StandardServerConfig, &str) -> Option<&'c AssertionKey>;

impl StandardServer {
    /// The key `client_id` authenticates by assertion with, if it has one.
    pub(crate) fn client_key(&self, client_id: &str) -> Option<&AssertionKey> {
        self.config
            .client_assertion_keys
            .iter()
            .find(|(id, _)| id == client_id)
            .map(|(_, key)| key)
    }

    /// The `aud` values accepted on a request: the token endpoint's URL, and the issuer
    /// when the rules allow it. `None` when the request does not say where the client
    /// reached the server.
    fn audiences(&self, request: &http::Request<Vec<u8>>) -> Option<Vec<String>> {
        let base = base_url(&self.config, request)?;
        let mut audiences = vec![format!("{base}{}", self.config.token_path)];
        if self.config.assertion_rules.accept_issuer_audience {
            audiences.push(self.issuer(&base));
        }
        Some(audiences)
    }

    /// Verifies `compact` at `now` by the server's clock with the key `key_for` finds
    /// for its issuer, and remembers its `jti`; counts the outcome.
    fn check_assertion(
        &mut self,
        request: &http::Request<Vec<u8>>,
        compact: &str,
        key_for: KeyLookup,
        now: UtcDateTime,
    ) -> Result<Verified, Refusal> {
        let now = self.store.server_time(now);
        let audiences = self.audiences(request).ok_or(Refusal::WrongAudience)?;
        let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
        let config = &self.config;
        let expect = Expectations {
            audiences: &audiences,
            rules: &config.assertion_rules,
            now,
        };
        let outcome =
            verify(compact, |issuer| key_for(config, issuer), &expect).and_then(|verified| {
                self.replay
                    .admit(&verified, &config.assertion_rules, now)
                    .map(|()| verified)
            });
        match outcome {
            Ok(_) => self.store.stats.assertions_accepted += 1,
            Err(_) => self.store.stats.assertions_refused += 1,
        }
        outcome
    }

    /// The client a JWT client assertion (RFC 7523 §2.2) authenticates: `iss` and `sub`
    /// are its id, signed with its registered key. Refusals are `invalid_client`.
    pub(crate) fn client_by_assertion(
        &mut self,
        request: &http::Request<Vec<u8>>,
        form: &HashMap<String, String>,
        now: UtcDateTime,
    ) -> Result<EmulatedClient, Reply> {
        let (Some(kind), Some(compact)) = (
            form.get("client_assertion_type"),
            form.get("client_assertion"),
        ) else {
            return Err(json_error_described(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_assertion_type and client_assertion go together",
            ));
        };
        let refuse = |refusal: Refusal| {
            let mut reply = invalid_client(false);
            *reply.body_mut() = serde_json::json!({
                "error": "invalid_client",
                "error_description": refusal.description(),
            })
            .to_string()
            .into_bytes();
            reply
        };
        if kind != CLIENT_ASSERTION_TYPE {
            return Err(refuse(Refusal::UnsupportedType));
        }
        let verified = self
            .check_assertion(
                request,
                compact,
                |config, issuer| {
                    config
                        .client_assertion_keys
                        .iter()
                        .find(|(id, _)| id == issuer)
                        .map(|(_, key)| key)
                },
                now,
            )
            .map_err(refuse)?;
        if verified.subject != verified.issuer {
            return Err(refuse(Refusal::NotTheClient));
        }
        // RFC 7521 §4.2: a `client_id` beside the assertion must name the same client.
        if form
            .get("client_id")
            .is_some_and(|id| *id != verified.issuer)
        {
            return Err(refuse(Refusal::NotTheClient));
        }
        self.config
            .clients
            .iter()
            .find(|c| c.client_id == verified.issuer)
            .cloned()
            .ok_or_else(|| refuse(Refusal::UnknownIssuer))
    }

    /// The token endpoint's JWT bearer grant (RFC 7523 §2.1): an access token, no
    /// refresh token. Refusals are `invalid_grant`.
    pub(crate) fn jwt_bearer_token(
        &mut self,
        request: &http::Request<Vec<u8>>,
        client: &EmulatedClient,
        form: &HashMap<String, String>,
        now: UtcDateTime,
    ) -> Reply {
        let Some(compact) = form.get("assertion") else {
            return json_error_described(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "assertion is missing",
            );
        };
        let checked = self.check_assertion(
            request,
            compact,
            |config, issuer| {
                config
                    .jwt_bearer_issuers
                    .iter()
                    .find(|(name, _)| name == issuer)
                    .map(|(_, key)| key)
            },
            now,
        );
        if let Err(refusal) = checked {
            return json_error_described(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &refusal.description(),
            );
        }
        let scope = form.get("scope").cloned();
        self.store.stats.logins += 1;
        let family = self.store.new_family();
        self.grant(&client.client_id, scope, false, family, true, now)
    }
}
