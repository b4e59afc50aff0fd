//! A profile's provider as one of the core's dialects, configured from the profile and
//! the secrets at hand.

use oauth_lifecycle::dialect::{
    ClientAuth, Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Environment, Standard,
    TokenLocation,
};
use oauth_lifecycle::http::HeaderName;
use oauth_lifecycle::ConfigError;

use crate::config::{ClientAuthMethod, EnvironmentName, GrantKind, Profile, Provider};
use crate::failure::{Exit, Failure};
use crate::secrets::Secrets;

/// Stands in for a secret that is not at hand. A [`Limited`](crate::limited::Limited)
/// dialect never sends a request that would carry it.
const NOT_AT_HAND: &str = "tokenctl-secret-not-at-hand";

/// One of the dialects, chosen by the profile.
#[derive(Debug)]
pub(crate) enum AnyDialect {
    Standard(Standard),
    ConvirzaV2(ConvirzaV2),
    ConvirzaV3(ConvirzaV3),
    Convercus(Convercus),
    ConvercusLegacy(ConvercusLegacy),
}

/// Runs `$body` with `$dialect` bound to the profile's dialect, limited to `$sends`:
/// the one place a command meets the concrete dialect types.
macro_rules! with_dialect {
    ($any:expr, $sends:expr, |$dialect:ident| $body:expr) => {
        match $any {
            $crate::dialects::AnyDialect::Standard(inner) => {
                let $dialect = $crate::limited::Limited::new(inner, $sends);
                $body
            }
            $crate::dialects::AnyDialect::ConvirzaV2(inner) => {
                let $dialect = $crate::limited::Limited::new(inner, $sends);
                $body
            }
            $crate::dialects::AnyDialect::ConvirzaV3(inner) => {
                let $dialect = $crate::limited::Limited::new(inner, $sends);
                $body
            }
            $crate::dialects::AnyDialect::Convercus(inner) => {
                let $dialect = $crate::limited::Limited::new(inner, $sends);
                $body
            }
            $crate::dialects::AnyDialect::ConvercusLegacy(inner) => {
                let $dialect = $crate::limited::Limited::new(inner, $sends);
                $body
            }
        }
    };
}
pub(crate) use with_dialect;

fn environment(profile: &Profile) -> Environment {
    match profile.environment {
        Some(EnvironmentName::Staging) => Environment::Staging,
        Some(EnvironmentName::Production) | None => Environment::Production,
    }
}

/// Builds the profile's dialect with `secrets`, standing in for those not at hand, and
/// `scope` (for providers with scopes) instead of the profile's.
pub(crate) fn build(
    name: &str,
    profile: &Profile,
    secrets: &Secrets,
    scope: Option<&str>,
) -> Result<AnyDialect, Failure> {
    let client_secret = secrets.client_secret.as_deref().map_or(NOT_AT_HAND, |s| s);
    let password = secrets.password.as_deref().map_or(NOT_AT_HAND, |s| s);
    let username = profile.username.clone().unwrap_or_default();
    let client_id = profile.client_id.clone().unwrap_or_default();
    let built: Result<AnyDialect, ConfigError> = match profile.provider {
        Provider::Standard => {
            let mut builder =
                Standard::builder(profile.token_url.clone().unwrap_or_default(), client_id);
            if profile.client_secret_env.is_some() {
                builder = builder.client_secret(client_secret);
            }
            builder = builder.client_auth(match profile.client_auth {
                Some(ClientAuthMethod::Basic) | None => ClientAuth::Basic,
                Some(ClientAuthMethod::Post) => ClientAuth::Post,
            });
            if profile.grant == Some(GrantKind::Password) {
                builder = builder.password(username, password);
            }
            for scope in scope
                .or(profile.scope.as_deref())
                .into_iter()
                .flat_map(str::split_whitespace)
            {
                builder = builder.scope(scope);
            }
            if let Some(url) = &profile.revocation_url {
                builder = builder.revocation_url(url.clone());
            }
            builder.build().map(AnyDialect::Standard)
        }
        Provider::ConvirzaV2 => {
            let mut builder = ConvirzaV2::builder(client_id, client_secret, username, password);
            if let Some(url) = &profile.token_url {
                builder = builder.token_url(url.clone());
            }
            builder.build().map(AnyDialect::ConvirzaV2)
        }
        Provider::ConvirzaV3 => {
            let mut builder = ConvirzaV3::builder(username, password);
            if let Some(url) = &profile.base_url {
                builder = builder.base_url(url.clone());
            }
            builder.build().map(AnyDialect::ConvirzaV3)
        }
        Provider::Convercus => {
            let program = profile.program.clone().unwrap_or_default();
            let mut builder = Convercus::builder(program, environment(profile), client_secret);
            if let Some(id) = &profile.client_id {
                builder = builder.client_id(id.clone());
            }
            if profile.grant == Some(GrantKind::Password) {
                builder = builder.password(username, password);
            }
            if let Some(url) = &profile.auth_url {
                builder = builder.auth_url(url.clone());
            }
            builder.build().map(AnyDialect::Convercus)
        }
        Provider::ConvercusLegacy => {
            let org = profile.org.clone().unwrap_or_default();
            let mut builder =
                ConvercusLegacy::builder(org, username, password, environment(profile));
            if let Some(url) = &profile.api_url {
                builder = builder.api_url(url.clone());
            }
            if let Some(field) = &profile.token_field {
                builder = builder.token_location(TokenLocation::json_field(field));
            }
            if let Some(header) = &profile.token_header {
                let header = HeaderName::try_from(header.as_str()).map_err(|_| {
                    Failure::new(
                        Exit::Config,
                        format!("profile `{name}`: `token_header` is not a header name"),
                    )
                })?;
                builder = builder.token_location(TokenLocation::Header(header));
            }
            builder.build().map(AnyDialect::ConvercusLegacy)
        }
    };
    built.map_err(|error| {
        Failure::new(Exit::Config, format!("profile `{name}`: {error}"))
            .fix("edit the profile in the config file")
    })
}
