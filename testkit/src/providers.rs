//! Every provider, one row each: its emulator, the settings that configure its dialect
//! for that emulator, and what a lifecycle against it shows. Suites that run the same
//! scenario against every provider take the rows from [`providers!`](macro@crate::providers)
//! instead of keeping their own list, so a provider added here is run by all of them:
//! the runtimes' suites and the provider model with the row's dialect, `tokenctl`'s with
//! a profile written from the row's settings. Every provider of the core's registry
//! ([`oauth_lifecycle::providers!`]) has a row at least: a test below fails for one that
//! has none.

use oauth_lifecycle::dialect::{Provider, Settings};
use oauth_lifecycle::time::Duration;

use crate::fixtures::{
    CONVERCUS_CLIENT_SECRET, CONVERCUS_PROGRAM, CONVERCUS_USER, CONVIRZA_V2_CLIENT,
    CONVIRZA_V2_USER, CONVIRZA_V3_USER, LEGACY_ORG, LEGACY_USER, STANDARD_CLIENT, STANDARD_USER,
};

/// A row's settings for an emulator at a base URL: keys and values as a provider's
/// [`Settings`] take them, secrets included.
pub type RowSettings = fn(base: &str) -> Vec<(&'static str, String)>;

/// What the testkit knows of a provider row: what a lifecycle against its emulator, in
/// its default configuration, shows, and the credentials its dialect is configured with.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    /// The provider's name, as `tokenctl` profiles spell it: its dialect's
    /// [`Provider::NAME`].
    pub name: &'static str,
    /// The settings the row's dialect is configured with.
    pub settings: RowSettings,
    /// The credentials the dialect is configured with (client secret, password): no
    /// output may ever show one. The values of the row's secret settings.
    pub secrets: &'static [&'static str],
    /// The access token's lifetime.
    pub lifetime: Duration,
    /// Whether renewal is a refresh (else a new login).
    pub refreshes: bool,
    /// How many revocation requests a revoke sends: 0 where the provider has no
    /// revocation endpoint.
    pub revocation_requests: u64,
}

impl Facts {
    /// How far to move time after the login for the token to be renewed: nine tenths of
    /// its lifetime, past the refresh moment (at most four fifths) and before the hard
    /// expiry.
    pub fn renew_after(&self) -> Duration {
        self.lifetime * 9 / 10
    }

    /// Whether a revoke reaches the provider.
    pub fn revocable(&self) -> bool {
        self.revocation_requests > 0
    }
}

/// Provider `P`'s dialect, configured with `settings` for an emulator at `base`.
pub fn configure<P: Provider>(base: &str, settings: RowSettings) -> P {
    let values = settings(base);
    let mut given = Settings::new();
    for (key, value) in &values {
        given.set(key, value);
    }
    P::configure(&given).unwrap_or_else(|error| panic!("{}'s row: {error}", P::NAME))
}

/// The settings of each row.
pub mod settings {
    use super::*;

    /// The standard emulator's client, logging in with the password grant, revoking at
    /// `{base}/revoke`.
    pub fn standard(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("token_url", format!("{base}/token")),
            ("revocation_url", format!("{base}/revoke")),
            ("client_id", STANDARD_CLIENT.0.into()),
            ("client_secret", STANDARD_CLIENT.1.into()),
            ("grant", "password".into()),
            ("username", STANDARD_USER.0.into()),
            ("password", STANDARD_USER.1.into()),
        ]
    }

    /// Convirza V2's client and user.
    pub fn convirza_v2(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("token_url", format!("{base}/oauth/token")),
            ("client_id", CONVIRZA_V2_CLIENT.0.into()),
            ("client_secret", CONVIRZA_V2_CLIENT.1.into()),
            ("username", CONVIRZA_V2_USER.0.into()),
            ("password", CONVIRZA_V2_USER.1.into()),
        ]
    }

    /// Convirza V3's user.
    pub fn convirza_v3(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("base_url", base.into()),
            ("username", CONVIRZA_V3_USER.0.into()),
            ("password", CONVIRZA_V3_USER.1.into()),
        ]
    }

    /// Convercus's staging program, logging in with client credentials.
    pub fn convercus_client_credentials(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("program", CONVERCUS_PROGRAM.into()),
            ("environment", "staging".into()),
            ("auth_url", base.into()),
            ("client_secret", CONVERCUS_CLIENT_SECRET.into()),
        ]
    }

    /// Convercus's staging program, logging in with the password grant.
    pub fn convercus_password(base: &str) -> Vec<(&'static str, String)> {
        let mut settings = convercus_client_credentials(base);
        settings.extend([
            ("grant", "password".into()),
            ("username", CONVERCUS_USER.0.into()),
            ("password", CONVERCUS_USER.1.into()),
        ]);
        settings
    }

    /// The Convercus legacy login's organization and API user.
    pub fn convercus_legacy(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("org", LEGACY_ORG.into()),
            ("api_url", base.into()),
            ("username", LEGACY_USER.0.into()),
            ("password", LEGACY_USER.1.into()),
        ]
    }
}

/// Calls `$callback!(name, emulator, dialect, facts)` once per provider row: `name` an
/// identifier, `emulator` an expression building the emulator, `dialect` a closure from
/// the emulator's base URL to the dialect configured for it (from the row's settings),
/// `facts` its [`Facts`].
///
/// ```text
/// macro_rules! lifecycle_test {
///     ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
///         #[test]
///         fn $name() { run($emulator, $dialect, $facts) }
///     };
/// }
/// oauth_lifecycle_testkit::providers!(lifecycle_test);
/// ```
#[macro_export]
macro_rules! providers {
    ($callback:ident) => {
        $crate::providers!(@row $callback, standard, oauth_lifecycle::dialect::Standard,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::default(),
            ),
            secrets: &[$crate::fixtures::STANDARD_CLIENT.1, $crate::fixtures::STANDARD_USER.1],
            lifetime: $crate::emulator::StandardServerConfig::default().access_token_lifetime,
            refreshes: true,
            revocation_requests: 2,
        );
        $crate::providers!(@row $callback, convirza_v2, oauth_lifecycle::dialect::ConvirzaV2,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::convirza_v2(),
            ),
            secrets: &[
                $crate::fixtures::CONVIRZA_V2_CLIENT.1,
                $crate::fixtures::CONVIRZA_V2_USER.1,
            ],
            lifetime: $crate::emulator::StandardServerConfig::convirza_v2().access_token_lifetime,
            refreshes: true,
            revocation_requests: 0,
        );
        $crate::providers!(@row $callback, convirza_v3, oauth_lifecycle::dialect::ConvirzaV3,
            $crate::emulator::ConvirzaV3Server::new(
                $crate::emulator::ConvirzaV3ServerConfig::default(),
            ),
            secrets: &[$crate::fixtures::CONVIRZA_V3_USER.1],
            lifetime: $crate::emulator::ConvirzaV3ServerConfig::default().access_token_lifetime,
            refreshes: true,
            revocation_requests: 2,
        );
        $crate::providers!(@row $callback, convercus_password, oauth_lifecycle::dialect::Convercus,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::keycloak($crate::fixtures::CONVERCUS_REALM),
            ),
            secrets: &[$crate::fixtures::CONVERCUS_CLIENT_SECRET, $crate::fixtures::CONVERCUS_USER.1],
            lifetime: $crate::emulator::StandardServerConfig::keycloak(
                $crate::fixtures::CONVERCUS_REALM,
            )
            .access_token_lifetime,
            refreshes: true,
            revocation_requests: 2,
        );
        $crate::providers!(@row $callback, convercus_client_credentials,
            oauth_lifecycle::dialect::Convercus,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::keycloak($crate::fixtures::CONVERCUS_REALM),
            ),
            secrets: &[$crate::fixtures::CONVERCUS_CLIENT_SECRET],
            lifetime: $crate::emulator::StandardServerConfig::keycloak(
                $crate::fixtures::CONVERCUS_REALM,
            )
            .access_token_lifetime,
            refreshes: false,
            revocation_requests: 1,
        );
        $crate::providers!(@row $callback, convercus_legacy,
            oauth_lifecycle::dialect::ConvercusLegacy,
            $crate::emulator::ConvercusLegacyServer::new(
                $crate::emulator::ConvercusLegacyServerConfig::default(),
            ),
            secrets: &[$crate::fixtures::LEGACY_USER.1],
            // The legacy login states no expiry: the dialect's documented one.
            lifetime: oauth_lifecycle::dialect::ConvercusLegacy::TOKEN_LIFETIME,
            refreshes: false,
            revocation_requests: 0,
        );
    };
    // One row: its settings are `settings::$name`, its dialect `$dialect` configured
    // with them, its name the dialect's.
    (@row $callback:ident, $name:ident, $dialect:ty, $emulator:expr,
        secrets: $secrets:expr,
        lifetime: $lifetime:expr,
        refreshes: $refreshes:expr,
        revocation_requests: $revocation_requests:expr $(,)?
    ) => {
        $callback!(
            $name,
            $emulator,
            |base: &str| {
                $crate::providers::configure::<$dialect>(base, $crate::providers::settings::$name)
            },
            $crate::providers::Facts {
                name: <$dialect as oauth_lifecycle::dialect::Provider>::NAME,
                settings: $crate::providers::settings::$name,
                secrets: $secrets,
                lifetime: $lifetime,
                refreshes: $refreshes,
                revocation_requests: $revocation_requests,
            }
        );
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use oauth_lifecycle::dialect::Provider;

    use super::Facts;

    /// The name of the provider whose dialect `dialect` builds, and its secret settings.
    fn provider_of<D: Provider>(_dialect: impl Fn(&str) -> D) -> (&'static str, Vec<&'static str>) {
        let secret = D::SETTINGS
            .iter()
            .filter(|s| s.secret)
            .map(|s| s.key)
            .collect();
        (D::NAME, secret)
    }

    /// The rows name exactly the core's providers: each row by its own dialect, and
    /// every provider of the core by one row at least. Each row's secrets are the values
    /// of its secret settings.
    #[test]
    fn the_rows_are_the_providers_of_the_core() {
        let mut rows = BTreeSet::new();
        macro_rules! row {
            ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {{
                let facts: Facts = $facts;
                let (name, secret_keys) = provider_of($dialect);
                assert_eq!(facts.name, name, "{}", stringify!($name));
                let secrets: BTreeSet<String> = (facts.settings)("http://127.0.0.1")
                    .into_iter()
                    .filter(|(key, _)| secret_keys.contains(key))
                    .map(|(_, value)| value)
                    .collect();
                let listed = facts.secrets.iter().map(|s| (*s).to_owned()).collect();
                assert_eq!(secrets, listed, "{}", stringify!($name));
                rows.insert(facts.name);
            }};
        }
        crate::providers!(row);
        macro_rules! names {
            ($($name:ident: $dialect:path),* $(,)?) => {
                BTreeSet::from([$(<$dialect as Provider>::NAME),*])
            };
        }
        let core: BTreeSet<&str> = oauth_lifecycle::providers!(names);
        assert_eq!(
            rows, core,
            "every provider of the core needs an emulator row in testkit/src/providers.rs"
        );
    }
}
