//! A profile's provider as one of the core's dialects, configured from the profile and
//! the secrets at hand. The dialect types come from [`oauth_lifecycle::providers!`]: a
//! provider the core adds is one here, with no edit.

use oauth_lifecycle::dialect::{self, Settings};
use oauth_lifecycle::ConfigError;

use crate::assertion;
use crate::config::{self, Profile};
use crate::failure::{Exit, Failure};
use crate::providers::Provider;
use crate::secrets::Secrets;

/// Stands in for a secret that is not at hand. A [`Limited`](crate::limited::Limited)
/// dialect never sends a request that would carry it.
const NOT_AT_HAND: &str = "tokenctl-secret-not-at-hand";

/// Writes [`AnyDialect`], [`configure`] and [`with_dialect!`], one arm per row of
/// [`oauth_lifecycle::providers!`] (the variants are [`Provider`]'s).
macro_rules! dialect_types {
    ($($name:ident: $path:path),* $(,)?) => {
        /// One of the dialects, chosen by the profile.
        #[derive(Debug)]
        pub(crate) enum AnyDialect {
            $($name($path),)*
        }

        /// Checks `settings` and builds `provider`'s dialect from them.
        fn configure(
            provider: Provider,
            settings: &Settings<'_>,
        ) -> Result<AnyDialect, ConfigError> {
            match provider {
                $(Provider::$name => {
                    <$path as dialect::Provider>::configure(settings).map(AnyDialect::$name)
                })*
            }
        }

        /// Runs `$body` with `$dialect` bound to the profile's dialect, limited to
        /// `$sends`: the one place a command meets the concrete dialect types.
        macro_rules! with_dialect {
            ($any:expr, $sends:expr, |$bound:ident| $body:expr) => {
                match $any {
                    $($crate::dialects::AnyDialect::$name(inner) => {
                        let $bound = $crate::limited::Limited::new(inner, $sends);
                        $body
                    })*
                }
            };
        }
    };
}
oauth_lifecycle::providers!(dialect_types);
// Not redundant: the commands import the macro by path (`crate::dialects::with_dialect`),
// which a `macro_rules!` written by another macro only has through this `use`.
#[allow(clippy::single_component_path_imports)]
pub(crate) use with_dialect;

/// Builds the profile's dialect with `secrets`, standing in for those not at hand, and
/// `scope` (for providers with scopes) instead of the profile's.
pub(crate) fn build(
    name: &str,
    profile: &Profile,
    secrets: &Secrets,
    scope: Option<&str>,
) -> Result<AnyDialect, Failure> {
    let mut settings = profile.settings();
    if let Some(scope) = scope {
        settings.set("scope", scope);
    }
    for setting in profile.secret_settings() {
        if profile.uses_secret(setting, &settings) {
            settings.set(setting.key, secrets.get(setting.key).unwrap_or(NOT_AT_HAND));
        }
    }
    // The assertions' source: the one read with the secrets, else a stand-in, which gives
    // none (a dialect without the secrets sends nothing).
    let source = secrets
        .assertion()
        .cloned()
        .or_else(|| assertion::not_at_hand(&settings));
    if let Some(source) = source {
        settings = settings.with_assertion_source(source);
    }
    configure(profile.provider, &settings).map_err(|error| {
        Failure::new(
            Exit::Config,
            format!(
                "profile `{name}`: {}",
                config::describe(profile.provider, &error)
            ),
        )
        .fix("edit the profile in the config file")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limited::Sends;
    use oauth_lifecycle::Dialect as _;

    fn profile(body: &str) -> Profile {
        config::parse(&format!("[profiles.p]\n{body}\n"))
            .unwrap_or_else(|e| panic!("{e}\n{body}"))
            .profiles
            .remove("p")
            .unwrap()
    }

    /// Every provider's example profile builds, with its secrets at hand and without
    /// them (the stand-ins), and the dialect is that provider's.
    #[test]
    fn every_provider_builds_from_its_example_profile() {
        for provider in Provider::ALL {
            let profile = profile(&config::example(*provider).join("\n"));
            let examples = Settings::examples(provider.settings());
            let mut secrets = Secrets::default();
            for setting in profile.secret_settings() {
                if let Some(value) = examples.get(setting.key) {
                    secrets.insert(setting.key, value);
                }
            }
            for secrets in [&secrets, &Secrets::default()] {
                let built = build("p", &profile, secrets, None)
                    .unwrap_or_else(|e| panic!("{provider}: {e}"));
                let debug = format!("{built:?}");
                let variant = with_dialect!(built, Sends::Nothing, |dialect| {
                    assert!(
                        dialect.login_request().is_none(),
                        "{provider}: sends nothing"
                    );
                    debug
                });
                assert!(
                    variant
                        .to_lowercase()
                        .replace(['-', '_'], "")
                        .starts_with(&provider.name().replace('-', "")),
                    "{provider}: {variant}"
                );
            }
        }
    }

    /// An error of the core names the profile and the setting, never a value, and says
    /// to edit the profile; a secret is named by its variable's key.
    #[test]
    fn errors_name_the_profile_and_the_setting() {
        let table: &[(&str, Option<&str>, &str)] = &[
            (
                "provider = \"standard\"\ntoken_url = \"not a url hunter2\"\nclient_id = \"c\"\nplaintext_storage = true",
                None,
                "profile `p`: token endpoint is not a valid absolute URL",
            ),
            (
                "provider = \"convercus-legacy\"\norg = \"o\"\nusername = \"u\"\ntoken_field = \"a\"\ntoken_header = \"x-t\"\nplaintext_storage = true",
                None,
                "profile `p`: invalid setting token_header: give `token_field` or `token_header`, not both",
            ),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nplaintext_storage = true",
                Some("hunter2"),
                "profile `p`: provider convirza-v3 has no setting `scope`",
            ),
        ];
        for (body, scope, expected) in table {
            let error = build("p", &profile(body), &Secrets::default(), *scope).unwrap_err();
            assert_eq!(error.message, *expected);
            assert_eq!(error.exit, Exit::Config);
            assert!(!error.to_string().contains("hunter2"), "{error}");
            assert!(error.to_string().contains("edit the profile"), "{error}");
        }
    }

    /// A profile whose assertions need a key builds without it, for reading a session:
    /// a stand-in that gives no assertion, and so no request.
    #[test]
    fn assertion_profiles_build_without_their_key() {
        for body in [
            "client_auth = \"private-key-jwt\"\nprivate_key_file = \"/nonexistent/key.pem\"",
            "client_auth = \"client-secret-jwt\"\nclient_secret_env = \"S\"",
            "grant = \"jwt-bearer\"\nassertion_issuer = \"i\"\nassertion_subject = \"s\"\nclient_assertion_file = \"/nonexistent/token\"",
        ] {
            let profile = profile(&format!(
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\nplaintext_storage = true\n{body}"
            ));
            let built = build("p", &profile, &Secrets::default(), None)
                .unwrap_or_else(|e| panic!("{body}: {e}"));
            with_dialect!(built, Sends::Nothing, |dialect| {
                assert!(dialect.login_request().is_none(), "{body}");
            });
        }
    }

    /// A `--scope` replaces the profile's; a stand-in is put for a secret the profile
    /// names, so a dry run shows where it would go.
    #[test]
    fn scope_and_stand_ins() {
        let profile = profile(
            "provider = \"standard\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\nscope = \"a b\"\nplaintext_storage = true",
        );
        for (scope, expected) in [(None, "scope=a+b"), (Some("c"), "scope=c")] {
            let built = build("p", &profile, &Secrets::default(), scope).unwrap();
            let request = with_dialect!(built, Sends::Everything, |dialect| dialect
                .login_request()
                .expect("a login request"));
            let body = String::from_utf8(request.body().clone()).unwrap();
            assert!(body.contains(expected), "{body}");
            assert!(request.headers().contains_key("authorization"), "{body}");
        }
    }
}
