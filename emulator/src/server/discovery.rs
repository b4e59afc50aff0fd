//! Where the server is (the issuer, as the client reached it) and what it says about
//! itself: authorization server metadata (RFC 8414 §3, OpenID Connect Discovery §4).

use http::header::{CACHE_CONTROL, HOST};
use http::{HeaderValue, Method, StatusCode};
use serde_json::{json, Value};

use super::{ResponseFlavor, StandardServer, StandardServerConfig, DEVICE_GRANT, JWT_BEARER_GRANT};
use crate::store::{json, json_error_described, Reply};

/// The longest `Host` accepted (a DNS name is at most 253 octets, then a port).
const MAX_HOST: usize = 260;

const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";

/// Whether `path` is one of the places the metadata is served: OpenID Connect's
/// `{issuer_path}/.well-known/openid-configuration`, RFC 8414's
/// `/.well-known/oauth-authorization-server{issuer_path}`, and with an issuer path
/// Keycloak's `{issuer_path}/.well-known/oauth-authorization-server`.
pub(super) fn is_metadata_path(config: &StandardServerConfig, path: &str) -> bool {
    let issuer_path = config.issuer_path.as_str();
    let appended = |well_known: &str| {
        path.strip_prefix(issuer_path)
            .is_some_and(|rest| rest == well_known)
    };
    let inserted = path
        .strip_prefix(OAUTH_AUTHORIZATION_SERVER)
        .is_some_and(|rest| rest == issuer_path);
    appended(OPENID_CONFIGURATION)
        || inserted
        || (!issuer_path.is_empty() && appended(OAUTH_AUTHORIZATION_SERVER))
}

/// The base URL the client reached the server at: `scheme://authority`, without a
/// trailing slash. The configured one if any, else the request's absolute URI's, else
/// `http://` and its `Host` header; `None` when the request says neither, or says it in
/// a way that cannot be part of a URL.
pub(super) fn base_url(
    config: &StandardServerConfig,
    request: &http::Request<Vec<u8>>,
) -> Option<String> {
    if let Some(base) = &config.base_url {
        return Some(base.trim_end_matches('/').to_owned());
    }
    let uri = request.uri();
    if let Some(authority) = uri.authority() {
        let scheme = uri.scheme_str()?;
        let plain = matches!(scheme, "http" | "https") && !authority.as_str().contains('@');
        return plain.then(|| format!("{scheme}://{authority}"));
    }
    let mut hosts = request.headers().get_all(HOST).iter();
    let (Some(host), None) = (hosts.next(), hosts.next()) else {
        return None;
    };
    let host = host.to_str().ok()?.trim();
    if host.is_empty() || host.len() > MAX_HOST || host.contains('@') {
        return None;
    }
    let authority: http::uri::Authority = host.parse().ok()?;
    Some(format!("http://{authority}"))
}

/// The answer when the request does not say where the client reached the server.
pub(super) fn no_base_url() -> Reply {
    json_error_described(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "the request names no host: send an absolute URI or a Host header",
    )
}

impl StandardServer {
    /// The issuer, as the client reached it.
    pub(super) fn issuer(&self, base: &str) -> String {
        format!("{base}{}", self.config.issuer_path)
    }

    /// The grants the token endpoint serves to some client, for `grant_types_supported`.
    fn grant_types(&self) -> Vec<&'static str> {
        let config = &self.config;
        [
            "authorization_code",
            DEVICE_GRANT,
            "refresh_token",
            "client_credentials",
            "password",
            JWT_BEARER_GRANT,
        ]
        .into_iter()
        .filter(|grant| self.supports_grant(grant))
        .filter(|grant| *grant != "refresh_token" || config.refresh_token_lifetime.is_some())
        .filter(|grant| *grant != "password" || !config.users.is_empty())
        .filter(|grant| {
            config
                .clients
                .iter()
                .any(|c| c.grants.iter().any(|g| g == grant))
        })
        .collect()
    }

    /// The metadata document (RFC 8414 §2), for GET (or HEAD).
    pub(super) fn metadata(&mut self, request: &http::Request<Vec<u8>>) -> Reply {
        if ![Method::GET, Method::HEAD].contains(request.method()) {
            return json_error_described(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "metadata is read with GET",
            );
        }
        let Some(base) = base_url(&self.config, request) else {
            return no_base_url();
        };
        self.store.stats.metadata_requests += 1;
        let config = &self.config;
        let mut auth_methods = vec!["client_secret_basic", "client_secret_post"];
        if config
            .clients
            .iter()
            .any(|c| c.is_public() && self.client_key(&c.client_id).is_none())
        {
            auth_methods.push("none");
        }
        for method in ["private_key_jwt", "client_secret_jwt"] {
            let keys = &config.client_assertion_keys;
            if keys.iter().any(|(_, key)| key.method() == method) {
                auth_methods.push(method);
            }
        }
        let mut body = json!({
            "issuer": self.issuer(&base),
            "token_endpoint": format!("{base}{}", config.token_path),
            "token_endpoint_auth_methods_supported": auth_methods,
            "grant_types_supported": self.grant_types(),
        });
        let mut set = |name: &str, value: Value| {
            if let Some(object) = body.as_object_mut() {
                object.insert(name.to_owned(), value);
            }
        };
        if !config.client_assertion_keys.is_empty() {
            set(
                "token_endpoint_auth_signing_alg_values_supported",
                json!(["RS256", "PS256", "ES256", "EdDSA", "HS256"]),
            );
        }
        if let Some(path) = &config.revocation_path {
            set("revocation_endpoint", format!("{base}{path}").into());
            set(
                "revocation_endpoint_auth_methods_supported",
                json!(auth_methods),
            );
        }
        if let Some(path) = &config.device_authorization_path {
            set(
                "device_authorization_endpoint",
                format!("{base}{path}").into(),
            );
        }
        if let Some(path) = &config.authorization_path {
            set("authorization_endpoint", format!("{base}{path}").into());
            set("response_types_supported", json!(["code"]));
            set("response_modes_supported", json!(["query"]));
            set("code_challenge_methods_supported", json!(["S256"]));
            set(
                "authorization_response_iss_parameter_supported",
                true.into(),
            );
        } else {
            // RFC 8414 §2: required, and empty when there is no authorization endpoint.
            set("response_types_supported", json!([]));
        }
        if config.flavor == ResponseFlavor::Keycloak {
            set("subject_types_supported", json!(["public"]));
            set("id_token_signing_alg_values_supported", json!(["RS256"]));
            set("scopes_supported", json!(["openid", "profile", "email"]));
        }
        let mut reply = json(StatusCode::OK, &body);
        reply
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        reply
    }
}
