//! An issuer's metadata, read and checked, and the `Standard` configuration it gives.

use serde_json::{Map, Value};

use super::error::{excerpt, excerpt_of, DiscoveryError, Expected};
use super::{MAX_LISTED_METHODS, MAX_METHOD_EXCERPT};
use crate::dialect::url::Endpoint;
use crate::error::ConfigError;

/// An issuer's metadata, checked: what [`Discovery::read`](super::Discovery::read) returns.
///
/// Lists the server omitted read as RFC 8414 §2 says they default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMetadata {
    issuer: String,
    token_endpoint: Endpoint,
    revocation_endpoint: Option<Endpoint>,
    device_authorization_endpoint: Option<Endpoint>,
    authorization_endpoint: Option<Endpoint>,
    token_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    code_challenge_methods_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    scopes_supported: Option<Vec<String>>,
    authorization_response_iss_parameter_supported: bool,
}

/// The metadata fields read, by name.
mod field {
    pub(super) const ISSUER: &str = "issuer";
    pub(super) const TOKEN_ENDPOINT: &str = "token_endpoint";
    pub(super) const REVOCATION_ENDPOINT: &str = "revocation_endpoint";
    pub(super) const DEVICE_AUTHORIZATION_ENDPOINT: &str = "device_authorization_endpoint";
    pub(super) const AUTHORIZATION_ENDPOINT: &str = "authorization_endpoint";
    pub(super) const TOKEN_AUTH_METHODS: &str = "token_endpoint_auth_methods_supported";
    pub(super) const REVOCATION_AUTH_METHODS: &str = "revocation_endpoint_auth_methods_supported";
    pub(super) const CODE_CHALLENGE_METHODS: &str = "code_challenge_methods_supported";
    pub(super) const GRANT_TYPES: &str = "grant_types_supported";
    pub(super) const SCOPES: &str = "scopes_supported";
    pub(super) const ISS_PARAMETER: &str = "authorization_response_iss_parameter_supported";
}

const CLIENT_SECRET_BASIC: &str = "client_secret_basic";

impl ServerMetadata {
    pub(super) fn from_fields(
        asked: &str,
        fields: &Map<String, Value>,
    ) -> Result<Self, DiscoveryError> {
        let read = Fields(fields);
        // The issuer first: nothing else in a document served for another issuer matters.
        let issuer = read
            .string(field::ISSUER)?
            .ok_or(DiscoveryError::MissingField {
                field: field::ISSUER,
            })?;
        if issuer != asked {
            return Err(DiscoveryError::IssuerMismatch {
                found: excerpt(issuer),
                only_trailing_slash: issuer.trim_end_matches('/') == asked.trim_end_matches('/'),
            });
        }
        let token_endpoint =
            read.endpoint(field::TOKEN_ENDPOINT, "token")?
                .ok_or(DiscoveryError::MissingField {
                    field: field::TOKEN_ENDPOINT,
                })?;
        let methods_or = |name, default: &[&str]| {
            read.strings(name)
                .map(|list| list.unwrap_or_else(|| default.iter().map(|&s| s.to_owned()).collect()))
        };
        Ok(ServerMetadata {
            issuer: issuer.to_owned(),
            token_endpoint,
            revocation_endpoint: read.endpoint(field::REVOCATION_ENDPOINT, "revocation")?,
            device_authorization_endpoint: read
                .endpoint(field::DEVICE_AUTHORIZATION_ENDPOINT, "device authorization")?,
            authorization_endpoint: read
                .endpoint(field::AUTHORIZATION_ENDPOINT, "authorization")?,
            token_endpoint_auth_methods_supported: methods_or(
                field::TOKEN_AUTH_METHODS,
                &[CLIENT_SECRET_BASIC],
            )?,
            revocation_endpoint_auth_methods_supported: methods_or(
                field::REVOCATION_AUTH_METHODS,
                &[CLIENT_SECRET_BASIC],
            )?,
            code_challenge_methods_supported: methods_or(field::CODE_CHALLENGE_METHODS, &[])?,
            grant_types_supported: methods_or(
                field::GRANT_TYPES,
                &["authorization_code", "implicit"],
            )?,
            scopes_supported: read.strings(field::SCOPES)?,
            authorization_response_iss_parameter_supported: read
                .boolean(field::ISS_PARAMETER)?
                .unwrap_or(false),
        })
    }

    /// The issuer: the one discovery asked for.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `token_endpoint`.
    pub fn token_endpoint(&self) -> &Endpoint {
        &self.token_endpoint
    }

    /// `revocation_endpoint` (RFC 7009), if the server has one.
    pub fn revocation_endpoint(&self) -> Option<&Endpoint> {
        self.revocation_endpoint.as_ref()
    }

    /// `device_authorization_endpoint` (RFC 8628), if the server has one.
    pub fn device_authorization_endpoint(&self) -> Option<&Endpoint> {
        self.device_authorization_endpoint.as_ref()
    }

    /// `authorization_endpoint`, if the server has one.
    pub fn authorization_endpoint(&self) -> Option<&Endpoint> {
        self.authorization_endpoint.as_ref()
    }

    /// `token_endpoint_auth_methods_supported`; `client_secret_basic` if omitted.
    pub fn token_endpoint_auth_methods_supported(&self) -> &[String] {
        &self.token_endpoint_auth_methods_supported
    }

    /// `revocation_endpoint_auth_methods_supported`; `client_secret_basic` if omitted.
    pub fn revocation_endpoint_auth_methods_supported(&self) -> &[String] {
        &self.revocation_endpoint_auth_methods_supported
    }

    /// `code_challenge_methods_supported`; empty if omitted (the server does not
    /// support PKCE, RFC 8414 §2).
    pub fn code_challenge_methods_supported(&self) -> &[String] {
        &self.code_challenge_methods_supported
    }

    /// `grant_types_supported`; `authorization_code` and `implicit` if omitted.
    pub fn grant_types_supported(&self) -> &[String] {
        &self.grant_types_supported
    }

    /// `scopes_supported`, or `None` if the server does not say.
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.scopes_supported.as_deref()
    }

    /// `authorization_response_iss_parameter_supported` (RFC 9207); false if omitted.
    pub fn authorization_response_iss_parameter_supported(&self) -> bool {
        self.authorization_response_iss_parameter_supported
    }

    /// Whether the server lists `grant_type` (`client_credentials`, `refresh_token`,
    /// `urn:ietf:params:oauth:grant-type:device_code`…) among its grant types.
    pub fn supports_grant(&self, grant_type: &str) -> bool {
        self.grant_types_supported.iter().any(|g| g == grant_type)
    }

    /// Whether the server supports PKCE with `S256` (RFC 7636).
    pub fn supports_pkce_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }

    /// Whether the token endpoint takes the client authentication `method`
    /// (`client_secret_basic`, `client_secret_post`, `none`…).
    pub fn supports_token_endpoint_auth(&self, method: &str) -> bool {
        self.token_endpoint_auth_methods_supported
            .iter()
            .any(|m| m == method)
    }

    /// The error of a client whose authentication (with or without a secret) the server
    /// does not support: the methods it does support, listed.
    pub(crate) fn unsupported_client_auth(&self, with_secret: bool) -> DiscoveryError {
        let methods = &self.token_endpoint_auth_methods_supported;
        DiscoveryError::UnsupportedClientAuth {
            with_secret,
            supported: methods
                .iter()
                .take(MAX_LISTED_METHODS)
                .map(|m| excerpt_of(m, MAX_METHOD_EXCERPT))
                .collect(),
            more: methods.len().saturating_sub(MAX_LISTED_METHODS),
        }
    }
}

/// Reads typed fields of a metadata object.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// The field's value; `null` reads as absent.
    fn get(&self, name: &'static str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn string(&self, name: &'static str) -> Result<Option<&'a str>, DiscoveryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(wrong_type(name, Expected::String)),
        }
    }

    fn boolean(&self, name: &'static str) -> Result<Option<bool>, DiscoveryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(yes)) => Ok(Some(*yes)),
            Some(_) => Err(wrong_type(name, Expected::Boolean)),
        }
    }

    fn strings(&self, name: &'static str) -> Result<Option<Vec<String>>, DiscoveryError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    _ => Err(wrong_type(name, Expected::Strings)),
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some(_) => Err(wrong_type(name, Expected::Strings)),
        }
    }

    /// An endpoint URL, checked as every dialect's endpoints are.
    fn endpoint(
        &self,
        name: &'static str,
        endpoint: &'static str,
    ) -> Result<Option<Endpoint>, DiscoveryError> {
        let Some(url) = self.string(name)? else {
            return Ok(None);
        };
        Endpoint::parse(url, endpoint)
            .map(Some)
            .map_err(|error| match error {
                ConfigError::InsecureUrl { .. } => DiscoveryError::InsecureEndpoint { field: name },
                _ => DiscoveryError::InvalidEndpoint { field: name },
            })
    }
}

fn wrong_type(field: &'static str, expected: Expected) -> DiscoveryError {
    DiscoveryError::WrongType { field, expected }
}
