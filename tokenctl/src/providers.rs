//! The providers tokenctl speaks, as the core lists them ([`oauth_lifecycle::providers!`]),
//! and how a profile, a flag or a prompt names their settings: a secret setting by the
//! environment variable that holds it (`client_secret_env`).

use std::fmt;

use oauth_lifecycle::dialect::{self, Need, Setting, Settings};
use oauth_lifecycle::ConfigError;

/// Writes [`Provider`], one variant per row of [`oauth_lifecycle::providers!`].
macro_rules! provider_enum {
    ($($name:ident: $path:path),* $(,)?) => {
        /// The providers tokenctl speaks: every one the core lists, named as the core
        /// names it ([`NAME`](oauth_lifecycle::dialect::Provider::NAME)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(crate) enum Provider {
            $($name,)*
        }

        impl Provider {
            /// Every provider, in the core's order.
            pub(crate) const ALL: &'static [Provider] = &[$(Provider::$name,)*];

            /// Its name in the config file and on the command line: `convercus-legacy`.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Provider::$name => <$path as dialect::Provider>::NAME,)*
                }
            }

            /// The provider in a line.
            pub(crate) fn about(self) -> &'static str {
                match self {
                    $(Provider::$name => <$path as dialect::Provider>::ABOUT,)*
                }
            }

            /// Every setting the provider is configured by.
            pub(crate) fn settings(self) -> &'static [Setting] {
                match self {
                    $(Provider::$name => <$path as dialect::Provider>::SETTINGS,)*
                }
            }

            /// Checks `settings` against the provider's settings (the core's
            /// [`check`](dialect::check)).
            pub(crate) fn check(self, settings: &Settings<'_>) -> Result<(), ConfigError> {
                dialect::check(self.name(), self.settings(), settings)
            }
        }
    };
}
oauth_lifecycle::providers!(provider_enum);

impl Provider {
    /// The provider named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Provider::ALL
            .iter()
            .copied()
            .find(|provider| provider.name() == name)
    }

    /// Every provider's name, for messages: `standard, convirza-v2, …`.
    pub(crate) fn names() -> String {
        Provider::ALL
            .iter()
            .map(|provider| provider.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Its setting `key`, if it takes one.
    pub(crate) fn setting(self, key: &str) -> Option<&'static Setting> {
        self.settings().iter().find(|setting| setting.key == key)
    }

    /// Whether it takes setting `key`.
    pub(crate) fn takes(self, key: &str) -> bool {
        self.setting(key).is_some()
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl clap::ValueEnum for Provider {
    fn value_variants<'a>() -> &'a [Self] {
        Provider::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.name()).help(self.about()))
    }
}

impl<'de> serde::Deserialize<'de> for Provider {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Provider::from_name(&name).ok_or_else(|| serde::de::Error::custom(unknown_provider()))
    }
}

impl serde::Serialize for Provider {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// The message for a provider name that is none: without the name, which could be
/// anything pasted into the file.
pub(crate) fn unknown_provider() -> String {
    format!("unknown provider (one of: {})", Provider::names())
}

/// The key naming the environment variable of secret setting `key`: `client_secret_env`.
pub(crate) fn variable_key(key: &str) -> String {
    format!("{key}{VARIABLE_SUFFIX}")
}

/// What ends the key of a secret's variable.
pub(crate) const VARIABLE_SUFFIX: &str = "_env";

/// The key setting `setting` has in a profile: its own, or its variable's if a secret.
pub(crate) fn profile_key(setting: &Setting) -> String {
    if setting.secret {
        variable_key(setting.key)
    } else {
        setting.key.to_owned()
    }
}

/// Secrets a person may type at a terminal when no variable holds them (a user's
/// password): their variable may be left out of a profile.
pub(crate) const PROMPTED: &[&str] = &["password"];

/// Whether secret setting `key` may be asked for on a terminal.
pub(crate) fn is_prompted(key: &str) -> bool {
    PROMPTED.contains(&key)
}

/// What a profile says of a secret a person may type, when it names no variable.
pub(crate) const PROMPTED_NOTE: &str = "without it, tokenctl asks on a terminal";

/// What `setting` is, as a profile names it (a secret by its variable), with its
/// choices: `the grant to log in with (client-credentials or password)`.
pub(crate) fn about(setting: &Setting) -> String {
    let choices = if setting.choices.is_empty() {
        String::new()
    } else {
        format!(" ({})", setting.choices.join(" or "))
    };
    let words = OWN_WORDS
        .iter()
        .find(|(key, _)| *key == setting.key)
        .map_or(setting.about, |(_, words)| words);
    if setting.secret {
        format!("the environment variable holding {words}{choices}")
    } else {
        format!("{words}{choices}")
    }
}

/// Settings tokenctl describes in its own words, where the core's speak to a program
/// that embeds it (which reads the key file itself) rather than to a person.
const OWN_WORDS: &[(&str, &str)] = &[(
    "private_key_file",
    "the PEM or JWK file of the private key that signs the assertions (private-key-jwt, \
     jwt-bearer), readable by its owner only (chmod 600)",
)];

/// When `setting` must be given, in words: `optional, default: basic`.
pub(crate) fn need(setting: &Setting) -> String {
    match setting.need {
        Need::Required => "required".to_owned(),
        Need::Optional => format!("optional, default: {}", setting.default.unwrap_or("none")),
        Need::When { key, value } => format!("needed when {key} is {value}"),
    }
}

/// Settings that mean something only beside another, for any provider that takes both:
/// the setting, the one it goes with, and what it does.
pub(crate) const GOES_WITH: &[GoesWith] = &[
    GoesWith {
        key: "client_auth",
        partner: "client_secret",
        what: "says how the client secret is sent",
        unless: &["private-key-jwt"],
    },
    GoesWith {
        key: "iss_parameter",
        partner: "issuer",
        what: "says how a redirect's issuer is checked",
        unless: &[],
    },
];

/// A setting that means something only beside another (see [`GOES_WITH`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GoesWith {
    /// The setting: `client_auth`.
    pub(crate) key: &'static str,
    /// The one it goes with: `client_secret`.
    pub(crate) partner: &'static str,
    /// What it does, after its key: `says how the client secret is sent`.
    pub(crate) what: &'static str,
    /// Its values that need no partner: `private-key-jwt` (a key, not the secret, signs).
    pub(crate) unless: &'static [&'static str],
}

impl GoesWith {
    /// Whether the setting, set to `value`, needs its partner.
    pub(crate) fn needs_partner(&self, value: &str) -> bool {
        !self.unless.contains(&value)
    }
}

/// The provider `init --issuer` configures: the one whose dialect discovery builds
/// (`ServerMetadata::standard`).
pub(crate) const DISCOVERED: &str = <oauth_lifecycle::dialect::Standard as dialect::Provider>::NAME;
