//! Every provider, one row each: its emulator, its dialect configured for that emulator,
//! and what a lifecycle against it shows. Suites that run the same scenario against
//! every provider take the rows from [`providers!`](macro@crate::providers) instead of keeping
//! their own list, so a provider added here is run by all of them. Every provider of the
//! core's registry ([`oauth_lifecycle::providers!`]) has a row at least: a test below
//! fails for one that has none.

use oauth_lifecycle::time::Duration;

/// What the testkit knows of a provider row: what a lifecycle against its emulator, in
/// its default configuration, shows, and the credentials its dialect is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The provider's name, as `tokenctl` profiles spell it: its dialect's
    /// [`Provider::NAME`](oauth_lifecycle::dialect::Provider::NAME).
    pub name: &'static str,
    /// The credentials the dialect is configured with (client secret, password): no
    /// output may ever show one.
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

/// Calls `$callback!(name, emulator, dialect, facts)` once per provider row: `name` an
/// identifier, `emulator` an expression building the emulator, `dialect` a closure from
/// the emulator's base URL to the dialect configured for it, `facts` its [`Facts`].
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
        $callback!(
            standard,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::default(),
            ),
            |base: &str| $crate::fixtures::standard(base),
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::Standard
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[
                    $crate::fixtures::STANDARD_CLIENT.1,
                    $crate::fixtures::STANDARD_USER.1
                ],
                lifetime: $crate::emulator::StandardServerConfig::default().access_token_lifetime,
                refreshes: true,
                revocation_requests: 2,
            }
        );
        $callback!(
            convirza_v2,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::convirza_v2(),
            ),
            |base: &str| $crate::fixtures::convirza_v2(base),
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::ConvirzaV2
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[
                    $crate::fixtures::CONVIRZA_V2_CLIENT.1,
                    $crate::fixtures::CONVIRZA_V2_USER.1
                ],
                lifetime: $crate::emulator::StandardServerConfig::convirza_v2()
                    .access_token_lifetime,
                refreshes: true,
                revocation_requests: 0,
            }
        );
        $callback!(
            convirza_v3,
            $crate::emulator::ConvirzaV3Server::new(
                $crate::emulator::ConvirzaV3ServerConfig::default(),
            ),
            |base: &str| $crate::fixtures::convirza_v3(base),
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::ConvirzaV3
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[$crate::fixtures::CONVIRZA_V3_USER.1],
                lifetime: $crate::emulator::ConvirzaV3ServerConfig::default().access_token_lifetime,
                refreshes: true,
                revocation_requests: 2,
            }
        );
        $callback!(
            convercus_password,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::keycloak($crate::fixtures::CONVERCUS_REALM),
            ),
            |base: &str| $crate::fixtures::convercus(base),
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::Convercus
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[
                    $crate::fixtures::CONVERCUS_CLIENT_SECRET,
                    $crate::fixtures::CONVERCUS_USER.1
                ],
                lifetime: $crate::emulator::StandardServerConfig::keycloak(
                    $crate::fixtures::CONVERCUS_REALM,
                )
                .access_token_lifetime,
                refreshes: true,
                revocation_requests: 2,
            }
        );
        $callback!(
            convercus_client_credentials,
            $crate::emulator::StandardServer::new(
                $crate::emulator::StandardServerConfig::keycloak($crate::fixtures::CONVERCUS_REALM),
            ),
            |base: &str| {
                $crate::fixtures::convercus_client(base)
                    .build()
                    .expect("a valid dialect")
            },
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::Convercus
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[$crate::fixtures::CONVERCUS_CLIENT_SECRET],
                lifetime: $crate::emulator::StandardServerConfig::keycloak(
                    $crate::fixtures::CONVERCUS_REALM,
                )
                .access_token_lifetime,
                refreshes: false,
                revocation_requests: 1,
            }
        );
        $callback!(
            convercus_legacy,
            $crate::emulator::ConvercusLegacyServer::new(
                $crate::emulator::ConvercusLegacyServerConfig::default(),
            ),
            |base: &str| $crate::fixtures::convercus_legacy(base),
            $crate::providers::Facts {
                name: <oauth_lifecycle::dialect::ConvercusLegacy
                    as oauth_lifecycle::dialect::Provider>::NAME,
                secrets: &[$crate::fixtures::LEGACY_USER.1],
                // The legacy login states no expiry: the dialect's documented one.
                lifetime: oauth_lifecycle::dialect::ConvercusLegacy::TOKEN_LIFETIME,
                refreshes: false,
                revocation_requests: 0,
            }
        );
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use oauth_lifecycle::dialect::Provider;

    use super::Facts;

    /// The name of the provider whose dialect `dialect` builds.
    fn name_of<D: Provider>(_dialect: impl Fn(&str) -> D) -> &'static str {
        D::NAME
    }

    /// The rows name exactly the core's providers: each row by its own dialect, and
    /// every provider of the core by one row at least.
    #[test]
    fn the_rows_are_the_providers_of_the_core() {
        let mut rows = BTreeSet::new();
        macro_rules! row {
            ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {{
                let facts: Facts = $facts;
                assert_eq!(facts.name, name_of($dialect), "{}", stringify!($name));
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
