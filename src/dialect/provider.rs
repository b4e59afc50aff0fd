//! Providers as configuration names them: each dialect says which settings it is
//! configured by and builds itself from them, and [`providers!`](crate::providers) lists
//! every one. A config file, a command line, a fuzz target or a test that takes "a
//! provider and its settings" reads this list instead of keeping its own.

use std::fmt;
use std::sync::Arc;

use super::assertion::AssertionSource;
use super::{Dialect, RefreshTokenUse};
use crate::error::ConfigError;

/// A provider this crate speaks: a [`Dialect`] that can be built from [`Settings`].
///
/// ```
/// use oauth_lifecycle::dialect::{ConvirzaV3, Provider, Settings};
///
/// let settings = Settings::new()
///     .with("username", "user@example.com")
///     .with("password", "correct horse battery staple");
/// let dialect = ConvirzaV3::configure(&settings)?;
/// assert_eq!(ConvirzaV3::NAME, "convirza-v3");
/// // A setting the provider has no use for is refused, by name.
/// let error = ConvirzaV3::configure(&settings.with("program", "abc")).unwrap_err();
/// assert_eq!(error.to_string(), "provider convirza-v3 has no setting `program`");
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub trait Provider: Dialect + Sized {
    /// The provider's name in configuration: `convercus-legacy`.
    const NAME: &'static str;
    /// The provider in a line.
    const ABOUT: &'static str;
    /// Every setting the provider is configured by.
    const SETTINGS: &'static [Setting];

    /// Builds the dialect from settings [`check`]ed against [`SETTINGS`](Self::SETTINGS).
    /// Call [`configure`](Self::configure), which checks them first.
    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError>;

    /// Checks `settings` against [`SETTINGS`](Self::SETTINGS) and builds the dialect.
    fn configure(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        check(Self::NAME, Self::SETTINGS, settings)?;
        Self::from_settings(settings)
    }
}

/// When a setting must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Always.
    Required,
    /// Never: the provider has a default.
    Optional,
    /// When setting `key` is `value` (a password when `grant` is `password`).
    When {
        /// The setting it depends on.
        key: &'static str,
        /// The value of that setting that makes this one required.
        value: &'static str,
    },
}

/// One setting a provider is configured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// Its key: `client_id`.
    pub key: &'static str,
    /// What it is, in a line.
    pub about: &'static str,
    /// When it must be given.
    pub need: Need,
    /// Whether its value is a secret (a password, a client secret): never written to a
    /// config file, never shown.
    pub secret: bool,
    /// The values it takes, when it is a choice; empty for free text.
    pub choices: &'static [&'static str],
    /// What the provider uses when it is not given, in words.
    pub default: Option<&'static str>,
    /// A value of the right shape, for documentation, examples and fuzzing.
    pub example: &'static str,
}

impl Setting {
    /// A setting that must be given.
    pub const fn required(key: &'static str, about: &'static str, example: &'static str) -> Self {
        Setting {
            key,
            about,
            need: Need::Required,
            secret: false,
            choices: &[],
            default: None,
            example,
        }
    }

    /// A setting that may be left out: the provider then uses `default`.
    pub const fn optional(
        key: &'static str,
        about: &'static str,
        default: &'static str,
        example: &'static str,
    ) -> Self {
        Setting {
            need: Need::Optional,
            default: Some(default),
            ..Setting::required(key, about, example)
        }
    }

    /// The same setting, required when setting `key` is `value`.
    pub const fn needed_when(self, key: &'static str, value: &'static str) -> Self {
        Setting {
            need: Need::When { key, value },
            ..self
        }
    }

    /// The same setting, holding a secret.
    pub const fn secret(self) -> Self {
        Setting {
            secret: true,
            ..self
        }
    }

    /// The same setting, taking one of `choices`.
    pub const fn choices(self, choices: &'static [&'static str]) -> Self {
        Setting { choices, ..self }
    }

    /// Whether the setting must be given, with `settings` given so far.
    pub fn is_needed(&self, settings: &Settings<'_>) -> bool {
        match self.need {
            Need::Required => true,
            Need::Optional => false,
            Need::When { key, value } => settings.get(key) == Some(value),
        }
    }
}

/// Settings by key, as a config file or a form gives them. Values are borrowed; `Debug`
/// shows the keys only, since some values are secrets.
///
/// A setting that names a file of key material (`private_key_file`,
/// `client_assertion_file`) is read by the application, not the core, which does no
/// I/O: it supplies the source built from it with
/// [`with_assertion_source`](Self::with_assertion_source).
#[derive(Clone, Default)]
pub struct Settings<'a> {
    values: Vec<(&'a str, &'a str)>,
    assertion_source: Option<Arc<dyn AssertionSource>>,
}

/// Equal when they hold the same values and the same assertion source (the same `Arc`).
impl PartialEq for Settings<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
            && match (&self.assertion_source, &other.assertion_source) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for Settings<'_> {}

impl<'a> Settings<'a> {
    /// No settings.
    pub fn new() -> Self {
        Settings::default()
    }

    /// A configuration of the right shape: the example value of every setting that is
    /// not optional, and the values that make the conditional ones needed. Of settings
    /// needed for different values of one choice (`username` for `grant = password`,
    /// `authorization_url` for `grant = authorization-code`), those of the first value
    /// named.
    pub fn examples(settings: &'static [Setting]) -> Settings<'static> {
        let mut examples = Settings::new();
        for setting in settings {
            match setting.need {
                Need::Optional => continue,
                Need::Required => {}
                // The first choice a dependent setting names is the one the examples
                // take; settings needed for another choice are left out.
                Need::When { key, value } => match examples.get(key) {
                    Some(chosen) if chosen != value => continue,
                    Some(_) => {}
                    None => examples.set(key, value),
                },
            }
            examples.set(setting.key, setting.example);
        }
        examples
    }

    /// These settings with `key` set to `value` (replacing an earlier value).
    #[must_use]
    pub fn with(mut self, key: &'a str, value: &'a str) -> Self {
        self.set(key, value);
        self
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: &'a str, value: &'a str) {
        match self.values.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.values.push((key, value)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        self.values.retain(|(k, _)| *k != key);
    }

    /// The value of `key`, if given.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| *value)
    }

    /// These settings with the source of the assertions the settings call for: the
    /// signer built from `private_key_file` or the client secret, or the reader of
    /// `client_assertion_file`.
    #[must_use]
    pub fn with_assertion_source(mut self, source: Arc<dyn AssertionSource>) -> Self {
        self.assertion_source = Some(source);
        self
    }

    /// The assertion source supplied, if any.
    pub fn assertion_source(&self) -> Option<&Arc<dyn AssertionSource>> {
        self.assertion_source.as_ref()
    }

    /// The keys given, in the order they were first set.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.values.iter().map(|(key, _)| *key)
    }

    /// The value of `key`, which [`check`] made sure is given.
    pub fn required(&self, key: &'static str) -> Result<&'a str, ConfigError> {
        self.get(key)
            .ok_or(ConfigError::MissingSetting { setting: key })
    }
}

impl fmt::Debug for Settings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Checks `settings` against `known`, the settings of provider `provider`: every key
/// known, every needed one given, every choice one of its values. Errors name the
/// setting, never a value.
pub fn check(
    provider: &'static str,
    known: &'static [Setting],
    settings: &Settings<'_>,
) -> Result<(), ConfigError> {
    for key in settings.keys() {
        let Some(setting) = known.iter().find(|setting| setting.key == key) else {
            return Err(ConfigError::UnknownSetting {
                provider,
                setting: key.chars().take(64).collect(),
            });
        };
        if let Need::When { key, value } = setting.need {
            if settings.get(key) != Some(value) {
                return Err(ConfigError::UnusedSetting {
                    setting: setting.key,
                    key,
                    value,
                });
            }
        }
        let value = settings.get(key).unwrap_or_default();
        if !setting.choices.is_empty() && !setting.choices.contains(&value) {
            return Err(ConfigError::NotAChoice {
                setting: setting.key,
                choices: setting.choices,
            });
        }
    }
    match known
        .iter()
        .find(|setting| setting.is_needed(settings) && settings.get(setting.key).is_none())
    {
        Some(missing) => Err(ConfigError::MissingSetting {
            setting: missing.key,
        }),
        None => Ok(()),
    }
}

/// The settings of a provider that logs in with client credentials or, when `grant` is
/// `password`, as a user: the grant, the user and the password.
pub(crate) const PASSWORD_GRANT_SETTINGS: [Setting; 3] = [
    Setting::optional(
        "grant",
        "the grant to log in with",
        "client-credentials",
        "password",
    )
    .choices(&["client-credentials", "password"]),
    Setting::required("username", "the user", "user@example.com").needed_when("grant", "password"),
    Setting::required("password", "the user's password", "example-password")
        .secret()
        .needed_when("grant", "password"),
];

/// The user's name and password, when [`PASSWORD_GRANT_SETTINGS`] say the provider logs
/// in as a user.
pub(crate) fn password_grant<'a>(
    settings: &Settings<'a>,
) -> Result<Option<(&'a str, &'a str)>, ConfigError> {
    if settings.get("grant") != Some("password") {
        return Ok(None);
    }
    Ok(Some((
        settings.required("username")?,
        settings.required("password")?,
    )))
}

/// The values of a [`RefreshTokenUse`] setting.
pub(crate) const REFRESH_TOKEN_USE: &[&str] = &["single-use", "reusable"];

/// Reads a `refresh_token_use` setting [`check`]ed against [`REFRESH_TOKEN_USE`].
pub(crate) fn refresh_token_use(settings: &Settings<'_>) -> Option<RefreshTokenUse> {
    settings.get("refresh_token_use").map(|value| match value {
        "reusable" => RefreshTokenUse::Reusable,
        _ => RefreshTokenUse::SingleUse,
    })
}

/// The `refresh_token_use` setting every provider with refresh tokens takes.
pub(crate) const REFRESH_TOKEN_USE_SETTING: Setting = Setting::optional(
    "refresh_token_use",
    "whether a refresh token may be presented twice",
    "single-use",
    "reusable",
)
.choices(REFRESH_TOKEN_USE);

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Setting] = &[
        Setting::required("org", "the organization", "ACME"),
        Setting::optional("grant", "the grant", "client-credentials", "password")
            .choices(&["client-credentials", "password"]),
        Setting::required("password", "the password", "pw")
            .secret()
            .needed_when("grant", "password"),
    ];

    #[test]
    fn settings_are_checked_by_name_and_never_quote_a_value() {
        type Given = &'static [(&'static str, &'static str)];
        let cases: &[(Given, Option<&str>)] = &[
            (&[("org", "A")], None),
            (&[], Some("missing setting `org`")),
            (
                &[("org", "A"), ("grant", "password")],
                Some("missing setting `password`"),
            ),
            (
                &[("org", "A"), ("grant", "password"), ("password", "p")],
                None,
            ),
            (
                &[("org", "A"), ("password", "p")],
                Some("setting `password` is used only when `grant` is `password`"),
            ),
            (
                &[("org", "A"), ("grant", "hunter2")],
                Some("setting `grant` takes one of: client-credentials, password"),
            ),
            (
                &[("org", "A"), ("hunter2", "x")],
                Some("provider p has no setting `hunter2`"),
            ),
        ];
        for (given, expected) in cases {
            let mut settings = Settings::new();
            for (key, value) in *given {
                settings.set(key, value);
            }
            let result = check("p", KNOWN, &settings).map_err(|e| e.to_string());
            assert_eq!(result.err().as_deref(), *expected, "{given:?}");
        }
    }

    /// Every provider builds from its examples, and refuses them with any needed setting
    /// left out, naming it.
    #[test]
    fn every_provider_builds_from_its_examples_and_names_what_is_missing() {
        fn run<P: Provider>(names: &mut Vec<&'static str>) {
            assert!(!names.contains(&P::NAME), "{} twice", P::NAME);
            names.push(P::NAME);
            let examples = Settings::examples(P::SETTINGS);
            P::configure(&examples).unwrap_or_else(|e| panic!("{}: {e}", P::NAME));
            for key in examples.keys() {
                let mut without = examples.clone();
                without.remove(key);
                let Some(setting) = P::SETTINGS.iter().find(|s| s.key == key) else {
                    panic!("{}: example of an unknown setting {key}", P::NAME);
                };
                match P::configure(&without) {
                    Err(ConfigError::MissingSetting { setting: missing }) => {
                        assert_eq!(missing, key, "{}", P::NAME)
                    }
                    // A setting others depend on: leaving it out leaves them unused.
                    Err(ConfigError::UnusedSetting { key: depended, .. }) => {
                        assert_eq!(depended, key, "{}", P::NAME)
                    }
                    other => panic!("{} without {key}: {other:?}", P::NAME),
                }
                assert!(setting.need != Need::Optional || !setting.is_needed(&examples));
            }
        }
        macro_rules! each {
            ($($name:ident: $dialect:path),* $(,)?) => {{
                let mut names = Vec::new();
                $(run::<$dialect>(&mut names);)*
                names
            }};
        }
        let names = crate::providers!(each);
        assert_eq!(names.len(), 5);
    }

    #[test]
    fn debug_shows_keys_only() {
        let settings = Settings::new().with("password", "hunter2");
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("password") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn examples_fill_every_needed_setting() {
        let examples = Settings::examples(KNOWN);
        assert_eq!(
            examples.keys().collect::<Vec<_>>(),
            ["org", "grant", "password"]
        );
        check("p", KNOWN, &examples).expect("the examples are a valid configuration");
    }
}
