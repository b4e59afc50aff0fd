//! The emulators' default accounts, and each provider's dialect pointed at an emulator:
//! in process (any base URL: nothing is sent) or served by an [`HttpFront`].
//!
//! Every constant here is what the emulator's default configuration knows (the tests
//! below check it), so a test that changes neither side logs in.

use oauth_lifecycle::dialect::{
    Convercus, ConvercusBuilder, ConvercusLegacy, ConvercusLegacyBuilder, ConvirzaV2, ConvirzaV3,
    Environment, Standard, StandardBuilder,
};
use oauth_lifecycle_emulator::HttpFront;

/// A base URL for an emulator called in process: requests are handed to the emulator,
/// never sent, so only their paths matter.
pub const IN_PROCESS: &str = "http://127.0.0.1";

/// `StandardServerConfig::default()`'s client: id and secret.
pub const STANDARD_CLIENT: (&str, &str) = ("emulated-client", "emulated-secret");
/// `StandardServerConfig::default()`'s user for the password grant.
pub const STANDARD_USER: (&str, &str) = ("alice", "alice-password");

/// `StandardServerConfig::convirza_v2()`'s client: id and secret.
pub const CONVIRZA_V2_CLIENT: (&str, &str) = ("system", "convirza-v2-secret");
/// `StandardServerConfig::convirza_v2()`'s user.
pub const CONVIRZA_V2_USER: (&str, &str) = ("user@convirza.com", "mySecurePassword123");

/// `ConvirzaV3ServerConfig::default()`'s account: email and password.
pub const CONVIRZA_V3_USER: (&str, &str) = ("user@example.com", "SecurePassword123!");

/// The loyalty program of `StandardServerConfig::keycloak(CONVERCUS_REALM)`, on staging.
pub const CONVERCUS_PROGRAM: &str = "ABC";
/// The realm [`convercus`] speaks to: `StandardServerConfig::keycloak(CONVERCUS_REALM)`.
pub const CONVERCUS_REALM: &str = "abc-staging";
/// `StandardServerConfig::keycloak`'s client secret (the client is the dialect's
/// default, `machine-2-machine`).
pub const CONVERCUS_CLIENT_SECRET: &str = "convercus-secret";
/// `StandardServerConfig::keycloak`'s user for the password grant.
pub const CONVERCUS_USER: (&str, &str) = ("api-user", "api-password");

/// `ConvercusLegacyServerConfig::default()`'s organization.
pub const LEGACY_ORG: &str = "ACME";
/// `ConvercusLegacyServerConfig::default()`'s API user and password.
pub const LEGACY_USER: (&str, &str) = ("api-user", "api-password");

/// Where an emulator is: a base URL (`http://host:port`, no trailing slash), or the
/// front serving it.
pub trait BaseUrl {
    /// `http://host:port`.
    fn base_url(&self) -> String;
}

impl BaseUrl for str {
    fn base_url(&self) -> String {
        self.trim_end_matches('/').to_owned()
    }
}

impl BaseUrl for String {
    fn base_url(&self) -> String {
        self.as_str().base_url()
    }
}

impl<E> BaseUrl for HttpFront<E> {
    fn base_url(&self) -> String {
        HttpFront::base_url(self)
    }
}

/// The standard emulator's default client at `{base}/token`, authenticating with HTTP
/// Basic, logging in with client credentials: add a grant, a revocation endpoint… to
/// taste.
pub fn standard_client(base: &(impl BaseUrl + ?Sized)) -> StandardBuilder {
    let base = base.base_url();
    let (id, secret) = STANDARD_CLIENT;
    Standard::builder(format!("{base}/token"), id).client_secret(secret)
}

/// The standard dialect for a `StandardServer` with its default configuration: the
/// password grant as [`STANDARD_USER`], the client's secret, revocation at
/// `{base}/revoke`.
pub fn standard(base: &(impl BaseUrl + ?Sized)) -> Standard {
    let (username, password) = STANDARD_USER;
    standard_client(base)
        .password(username, password)
        .revocation_url(format!("{}/revoke", base.base_url()))
        .build()
        .expect("a valid dialect")
}

/// Convirza V2 against `StandardServerConfig::convirza_v2()`.
pub fn convirza_v2(base: &(impl BaseUrl + ?Sized)) -> ConvirzaV2 {
    let ((id, secret), (username, password)) = (CONVIRZA_V2_CLIENT, CONVIRZA_V2_USER);
    ConvirzaV2::builder(id, secret, username, password)
        .token_url(format!("{}/oauth/token", base.base_url()))
        .build()
        .expect("a valid dialect")
}

/// Convirza V3 against `ConvirzaV3Server` with its default configuration.
pub fn convirza_v3(base: &(impl BaseUrl + ?Sized)) -> ConvirzaV3 {
    let (email, password) = CONVIRZA_V3_USER;
    ConvirzaV3::builder(email, password)
        .base_url(base.base_url())
        .build()
        .expect("a valid dialect")
}

/// Convercus's client for `StandardServerConfig::keycloak(CONVERCUS_REALM)`, logging in
/// with client credentials: add [`CONVERCUS_USER`]'s password grant to taste.
pub fn convercus_client(base: &(impl BaseUrl + ?Sized)) -> ConvercusBuilder {
    Convercus::builder(
        CONVERCUS_PROGRAM,
        Environment::Staging,
        CONVERCUS_CLIENT_SECRET,
    )
    .auth_url(base.base_url())
}

/// Convercus (a Keycloak realm) against `StandardServerConfig::keycloak(CONVERCUS_REALM)`,
/// with the password grant.
pub fn convercus(base: &(impl BaseUrl + ?Sized)) -> Convercus {
    let (username, password) = CONVERCUS_USER;
    convercus_client(base)
        .password(username, password)
        .build()
        .expect("a valid dialect")
}

/// Convercus legacy for `ConvercusLegacyServer` with its default configuration, to
/// customise (where the token goes, its lifetime).
pub fn convercus_legacy_builder(base: &(impl BaseUrl + ?Sized)) -> ConvercusLegacyBuilder {
    let (user, password) = LEGACY_USER;
    ConvercusLegacy::builder(LEGACY_ORG, user, password, Environment::Production)
        .api_url(base.base_url())
}

/// Convercus legacy against `ConvercusLegacyServer` with its default configuration.
pub fn convercus_legacy(base: &(impl BaseUrl + ?Sized)) -> ConvercusLegacy {
    convercus_legacy_builder(base)
        .build()
        .expect("a valid dialect")
}

#[cfg(test)]
mod tests {
    use oauth_lifecycle::Dialect;
    use oauth_lifecycle_emulator::{
        ConvercusLegacyServerConfig, ConvirzaV3ServerConfig, Emulator, StandardServer,
        StandardServerConfig,
    };

    use super::*;
    use crate::drain::drain;

    const NOW: oauth_lifecycle::time::UtcDateTime =
        time::macros::utc_datetime!(2026-01-01 00:00:00);

    /// Logs in with `dialect` at `server`: whether a token was issued.
    fn logs_in<D: Dialect>(dialect: D, mut server: impl Emulator) -> bool {
        let mut driver =
            oauth_lifecycle::Driver::new(dialect, oauth_lifecycle::Policy::default()).unwrap();
        driver.handle_timeout(NOW);
        drain(&mut driver, &mut server, NOW);
        server.stats().logins == 1 && driver.access_token(NOW).is_some()
    }

    #[test]
    fn the_accounts_are_the_emulators_defaults() {
        let standard_config = StandardServerConfig::default();
        let client = &standard_config.clients[0];
        assert_eq!(
            (client.client_id.as_str(), client.client_secret.as_str()),
            STANDARD_CLIENT
        );
        let (user, password) = &standard_config.users[0];
        assert_eq!((user.as_str(), password.as_str()), STANDARD_USER);
        let v2 = StandardServerConfig::convirza_v2();
        let client = &v2.clients[0];
        assert_eq!(
            (client.client_id.as_str(), client.client_secret.as_str()),
            CONVIRZA_V2_CLIENT
        );
        let (user, password) = &v2.users[0];
        assert_eq!((user.as_str(), password.as_str()), CONVIRZA_V2_USER);
        let v3 = ConvirzaV3ServerConfig::default();
        let account = &v3.accounts[0];
        assert_eq!(
            (account.email.as_str(), account.password.as_str()),
            CONVIRZA_V3_USER
        );
        let keycloak = StandardServerConfig::keycloak(CONVERCUS_REALM);
        assert_eq!(keycloak.clients[0].client_secret, CONVERCUS_CLIENT_SECRET);
        let (user, password) = &keycloak.users[0];
        assert_eq!((user.as_str(), password.as_str()), CONVERCUS_USER);
        let legacy = ConvercusLegacyServerConfig::default();
        assert_eq!(
            (
                legacy.org.as_str(),
                legacy.user_name.as_str(),
                legacy.password.as_str()
            ),
            (LEGACY_ORG, LEGACY_USER.0, LEGACY_USER.1)
        );
    }

    /// Each provider row's dialect logs in to its emulator.
    macro_rules! logs_in_to_its_emulator {
        ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
            assert!(
                logs_in(($dialect)(IN_PROCESS), $emulator),
                "{}",
                stringify!($name)
            );
        };
    }

    #[test]
    fn every_dialect_logs_in_to_its_emulator() {
        crate::providers!(logs_in_to_its_emulator);
        // The builders' own client-credentials defaults log in too.
        assert!(logs_in(
            standard_client(IN_PROCESS).build().unwrap(),
            StandardServer::new(StandardServerConfig::default())
        ));
    }
}
