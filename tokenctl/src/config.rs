//! The config file: named profiles, each a provider, the provider's settings and how
//! tokenctl keeps the session. Secrets are never in it: a profile names the environment
//! variables that hold them.
//!
//! The providers and their settings are the core's ([`oauth_lifecycle::providers!`] and
//! each provider's [`SETTINGS`](oauth_lifecycle::dialect::Provider::SETTINGS)): a
//! provider added there is a provider here, with no edit to tokenctl.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oauth_lifecycle::dialect::{Setting, Settings};
use oauth_lifecycle::ConfigError;

use crate::assertion;
use crate::failure::{Exit, Failure};
use crate::providers::{
    is_prompted, profile_key, unknown_provider, variable_key, Provider, GOES_WITH, VARIABLE_SUFFIX,
};

/// The whole config file.
#[derive(Debug)]
pub(crate) struct ConfigFile {
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// tokenctl's own keys in a profile, beside `provider` and the provider's settings, and
/// what each is.
pub(crate) const OWN_KEYS: &[(&str, &str)] = &[
    (
        "key_env",
        "the environment variable holding the session key (base64 of 32 bytes)",
    ),
    (
        "key_file",
        "a file holding the session key (base64 of 32 bytes), readable by its owner only",
    ),
    (
        "plaintext_storage",
        "`true`: the session is stored unencrypted (a file only its owner can read)",
    ),
    (
        "exec_env",
        "the variable `tokenctl exec` passes the token in (default ACCESS_TOKEN)",
    ),
    (
        "redirect_port",
        "with `grant = \"authorization-code\"`: the port on 127.0.0.1 the browser comes back to (default: one the system picks)",
    ),
];

/// The `grant` that makes a browser login, and so the one `redirect_port` is for.
pub(crate) const BROWSER_GRANT: &str = "authorization-code";

/// One profile: a provider, its settings, and where the session is kept.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) provider: Provider,
    /// The provider's settings that are no secret, by key.
    values: BTreeMap<&'static str, String>,
    /// The environment variables holding the provider's secret settings, by the
    /// setting's key (`client_secret`, from `client_secret_env`).
    variables: BTreeMap<&'static str, String>,

    // The stored session.
    /// The environment variable holding the session key (base64 of 32 bytes).
    pub(crate) key_env: Option<String>,
    /// A file holding the session key (base64 of 32 bytes), readable by its owner only.
    pub(crate) key_file: Option<PathBuf>,
    /// Store the session unencrypted (a file only its owner can read). Default false.
    pub(crate) plaintext_storage: bool,

    /// `tokenctl exec`: the variable the token is passed in. Default `ACCESS_TOKEN`.
    pub(crate) exec_env: Option<String>,

    /// A browser login: the fixed port of the loopback redirect listener, for a server
    /// that matches redirect URIs port included. Default: one the system picks.
    pub(crate) redirect_port: Option<u16>,
}

/// Keys that would put a secret in the file, and what to write instead. Every
/// provider's secret settings are refused too (write `KEY_env` instead).
const SECRET_KEYS: &[(&str, &str)] = &[
    ("client_secret", "client_secret_env"),
    ("password", "password_env"),
    ("secret", "client_secret_env"),
    ("key", "key_env` or `key_file"),
    ("access_token", "nothing: tokenctl obtains tokens itself"),
    ("refresh_token", "nothing: tokenctl obtains tokens itself"),
    ("token", "nothing: tokenctl obtains tokens itself"),
];

/// What to write instead of `key`, if `key` would put a secret in the file.
fn instead_of_secret(key: &str) -> Option<String> {
    if let Some((_, instead)) = SECRET_KEYS.iter().find(|(secret, _)| *secret == key) {
        return Some((*instead).to_owned());
    }
    Provider::ALL
        .iter()
        .filter_map(|provider| provider.setting(key))
        .find(|setting| setting.secret)
        .map(profile_key)
}

/// Reads the config file at `path`.
pub(crate) fn load(path: &Path) -> Result<ConfigFile, Failure> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        let failure = Failure::new(
            Exit::Config,
            format!("cannot read the config file {}: {error}", path.display()),
        );
        if error.kind() == std::io::ErrorKind::NotFound {
            failure.fix("run: tokenctl init (or give --config PATH)")
        } else {
            failure
        }
    })?;
    parse(&text).map_err(|message| {
        Failure::new(
            Exit::Config,
            format!("config file {}: {message}", path.display()),
        )
        .fix("edit the config file; `tokenctl init --help` shows every field")
    })
}

/// Parses a config file's text. Errors name the place, never a value.
pub(crate) fn parse(text: &str) -> Result<ConfigFile, String> {
    let raw: toml::Table = text
        .parse()
        .map_err(|error: toml::de::Error| without_source(&error))?;
    let mut tables = BTreeMap::new();
    for (key, value) in &raw {
        if key != "profiles" {
            return Err(format!(
                "unknown key `{}`: the file holds `[profiles.NAME]` tables",
                shown(key)
            ));
        }
        let toml::Value::Table(profiles) = value else {
            return Err("`profiles` must be a table of `[profiles.NAME]` tables".into());
        };
        tables = profiles.iter().collect();
    }
    // Secrets first, in every profile: refused before anything else is said about it.
    for (name, profile) in &tables {
        check_name(name)?;
        if let toml::Value::Table(fields) = profile {
            for key in fields.keys() {
                if let Some(instead) = instead_of_secret(key) {
                    return Err(format!(
                        "profile `{name}`: `{key}` may not be in the config file (secrets never are); use `{instead}`"
                    ));
                }
            }
        }
    }
    let mut profiles = BTreeMap::new();
    for (name, profile) in tables {
        let toml::Value::Table(fields) = profile else {
            return Err(format!("profile `{name}` must be a table"));
        };
        let profile =
            Profile::from_table(fields).map_err(|reason| format!("profile `{name}`: {reason}"))?;
        profiles.insert(name.clone(), profile);
    }
    Ok(ConfigFile { profiles })
}

/// A TOML error's message without the excerpt of the file it quotes (which could hold
/// a value someone pasted by mistake).
fn without_source(error: &toml::de::Error) -> String {
    let place = error
        .span()
        .map(|span| format!(" (at byte {})", span.start))
        .unwrap_or_default();
    format!("{}{place}", error.message())
}

/// A key as a message shows it: at most 64 characters, escaped.
fn shown(key: &str) -> String {
    key.chars()
        .take(64)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Profile names become file names: letters, digits, `-` and `_` only.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "profile name `{}`: use 1 to 64 letters, digits, `-` or `_`",
            name.escape_debug()
        ))
    }
}

/// `value` as a string, or an error naming `key` (never the value).
fn string(key: &str, value: &toml::Value) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{key}` must be a string"))
}

/// `value` as the name of an environment variable, or an error naming `key`.
fn variable(key: &str, value: &toml::Value) -> Result<String, String> {
    let name = string(key, value)?;
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(format!("`{key}` must name an environment variable"));
    }
    Ok(name)
}

/// `value` as a port to listen on (1 to 65535), or an error naming `key`.
fn port(key: &str, value: &toml::Value) -> Result<u16, String> {
    value
        .as_integer()
        .and_then(|port| u16::try_from(port).ok())
        .filter(|port| *port != 0)
        .ok_or_else(|| format!("`{key}` must be a port number, 1 to 65535"))
}

/// Says what is wrong with the settings of a profile for `provider`, as the profile
/// names them: a secret setting by its variable's key (`client_secret_env`). Never a
/// value.
pub(crate) fn describe(provider: Provider, error: &ConfigError) -> String {
    let secret = |key: &str| provider.setting(key).is_some_and(|setting| setting.secret);
    let named = |key: &str| {
        if secret(key) {
            variable_key(key)
        } else {
            key.to_owned()
        }
    };
    match error {
        ConfigError::MissingSetting { setting } => {
            let about = provider
                .setting(setting)
                .map(|known| {
                    if known.secret {
                        format!(": the environment variable holding {}", known.about)
                    } else {
                        format!(": {}", known.about)
                    }
                })
                .unwrap_or_default();
            format!("missing setting `{}`{about}", named(setting))
        }
        ConfigError::UnusedSetting {
            setting,
            key,
            value,
        } => format!(
            "setting `{}` is used only when `{key}` is `{value}`",
            named(setting)
        ),
        ConfigError::InvalidSetting { setting, reason } if secret(setting) => {
            format!("invalid setting {}: {reason}", named(setting))
        }
        other => other.to_string(),
    }
}

/// Stands in for a secret in settings that are only checked, never built.
const CHECKED_ONLY: &str = "checked";

impl Profile {
    /// Reads a profile's table: `provider`, the provider's settings (a secret one as
    /// the variable holding it), tokenctl's own keys, and nothing else.
    fn from_table(fields: &toml::Table) -> Result<Self, String> {
        let provider = match fields.get("provider") {
            Some(toml::Value::String(name)) => {
                Provider::from_name(name).ok_or_else(unknown_provider)?
            }
            Some(_) => return Err(unknown_provider()),
            None => {
                return Err(format!(
                    "missing `provider` (one of: {})",
                    Provider::names()
                ))
            }
        };
        let mut profile = Profile {
            provider,
            values: BTreeMap::new(),
            variables: BTreeMap::new(),
            key_env: None,
            key_file: None,
            plaintext_storage: false,
            exec_env: None,
            redirect_port: None,
        };
        for (key, value) in fields {
            match key.as_str() {
                "provider" => {}
                "key_env" => profile.key_env = Some(variable(key, value)?),
                "key_file" => profile.key_file = Some(PathBuf::from(string(key, value)?)),
                "plaintext_storage" => {
                    profile.plaintext_storage = value
                        .as_bool()
                        .ok_or_else(|| format!("`{key}` must be true or false"))?;
                }
                "exec_env" => profile.exec_env = Some(variable(key, value)?),
                "redirect_port" => profile.redirect_port = Some(port(key, value)?),
                _ => {
                    let plain = provider.setting(key).filter(|setting| !setting.secret);
                    let secret = key
                        .strip_suffix(VARIABLE_SUFFIX)
                        .and_then(|key| provider.setting(key))
                        .filter(|setting| setting.secret);
                    if let Some(setting) = plain {
                        profile.values.insert(setting.key, string(key, value)?);
                    } else if let Some(setting) = secret {
                        profile.variables.insert(setting.key, variable(key, value)?);
                    } else {
                        return Err(ConfigError::UnknownSetting {
                            provider: provider.name(),
                            setting: shown(key),
                        }
                        .to_string());
                    }
                }
            }
        }
        profile.check()?;
        Ok(profile)
    }

    /// Checks that the profile gives what its provider needs, nothing it has no use
    /// for, and one way of keeping the session.
    fn check(&self) -> Result<(), String> {
        let mut settings = self.settings();
        for setting in self.secret_settings() {
            let prompted = is_prompted(setting.key) && setting.is_needed(&settings);
            if self.variables.contains_key(setting.key) || prompted {
                settings.set(setting.key, CHECKED_ONLY);
            }
        }
        self.provider
            .check(&settings)
            .map_err(|error| describe(self.provider, &error))?;
        for goes_with in GOES_WITH {
            let (Some(value), Some(partner)) = (
                settings.get(goes_with.key),
                self.provider.setting(goes_with.partner),
            ) else {
                continue;
            };
            if goes_with.needs_partner(value) && settings.get(partner.key).is_none() {
                return Err(format!(
                    "`{}` {}: give `{}` too",
                    goes_with.key,
                    goes_with.what,
                    profile_key(partner)
                ));
            }
        }
        assertion::check(&settings)?;
        if self.redirect_port.is_some() && settings.get("grant") != Some(BROWSER_GRANT) {
            return Err(format!(
                "`redirect_port` is used only when `grant` is `{BROWSER_GRANT}`"
            ));
        }
        let keys = [
            self.key_env.is_some(),
            self.key_file.is_some(),
            self.plaintext_storage,
        ];
        match keys.iter().filter(|set| **set).count() {
            1 => Ok(()),
            0 => Err("say how the session is stored: `key_env`, `key_file`, or `plaintext_storage = true`".into()),
            _ => Err("give one of `key_env`, `key_file` and `plaintext_storage`".into()),
        }
    }

    /// The value of the provider's setting `key`, if the profile gives it (never a
    /// secret: those are in the environment).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The environment variable the profile names for secret setting `key`.
    pub(crate) fn variable(&self, key: &str) -> Option<&str> {
        self.variables.get(key).map(String::as_str)
    }

    /// The provider's secret settings.
    pub(crate) fn secret_settings(&self) -> impl Iterator<Item = &'static Setting> {
        self.provider
            .settings()
            .iter()
            .filter(|setting| setting.secret)
    }

    /// The settings the profile gives that are no secret.
    pub(crate) fn settings(&self) -> Settings<'_> {
        let mut settings = Settings::new();
        for (key, value) in &self.values {
            settings.set(key, value);
        }
        settings
    }

    /// Whether secret `setting` goes into the dialect: the profile names its variable,
    /// or the provider needs it with `settings`.
    pub(crate) fn uses_secret(&self, setting: &Setting, settings: &Settings<'_>) -> bool {
        self.variables.contains_key(setting.key) || setting.is_needed(settings)
    }

    /// Whether the profile logs in as a user: its provider needs a `password` with it.
    pub(crate) fn logs_in_as_user(&self) -> bool {
        self.provider
            .setting("password")
            .is_some_and(|password| password.is_needed(&self.settings()))
    }

    /// The account, as a person names it: the user, else the client (the provider's
    /// default one, if the profile names none).
    pub(crate) fn account(&self) -> &str {
        self.get("username")
            .or_else(|| self.get("client_id"))
            .or_else(|| {
                self.provider
                    .setting("client_id")
                    .and_then(|setting| setting.default)
            })
            .unwrap_or("")
    }

    /// The provider and every setting that is no secret (endpoints, account,
    /// environment), for the stored session's key: edit any of them and the old
    /// session is no longer used. The settings the key was made of before profiles were
    /// lists of settings come first, as they were written then, so a profile that sets
    /// no other keeps the session it stored then.
    pub(crate) fn identity(&self) -> String {
        let value = |key: &str| self.get(key).unwrap_or("").to_owned();
        let mut identity = vec![self.provider.name().to_owned()];
        identity.extend(FIRST_IDENTITY.iter().map(|key| value(key)));
        identity.push(
            match self.get("environment") {
                Some("staging") => "Some(Staging)",
                Some("production") => "Some(Production)",
                _ => "None",
            }
            .to_owned(),
        );
        // The others, sorted by key (a BTreeMap); values escaped, so no value can forge
        // a line.
        identity.extend(
            self.values
                .iter()
                .filter(|(key, _)| !FIRST_IDENTITY.contains(key) && **key != "environment")
                .map(|(key, value)| format!("{key}={}", value.escape_debug())),
        );
        identity.join("\n")
    }
}

/// The settings a stored session's key was made of first, in that order (then the
/// environment), before profiles were lists of a provider's settings.
const FIRST_IDENTITY: &[&str] = &[
    "token_url",
    "base_url",
    "auth_url",
    "api_url",
    "program",
    "org",
    "client_id",
    "username",
];

/// A profile for `provider` of the right shape, as the lines of its TOML table: the
/// example value of every setting the provider needs (a secret by a variable named
/// after it: `CONVIRZA_V2_CLIENT_SECRET`), and a session key in `TOKENCTL_KEY`.
pub(crate) fn example(provider: Provider) -> Vec<String> {
    let quoted = |value: &str| toml::Value::String(value.to_owned()).to_string();
    let mut lines = vec![format!("provider = {}", quoted(provider.name()))];
    let examples = Settings::examples(provider.settings());
    for setting in examples.keys().filter_map(|key| provider.setting(key)) {
        let value = if setting.secret {
            example_variable(provider, setting)
        } else {
            examples.get(setting.key).unwrap_or_default().to_owned()
        };
        lines.push(format!("{} = {}", profile_key(setting), quoted(&value)));
    }
    lines.push(format!("key_env = {}", quoted("TOKENCTL_KEY")));
    lines
}

/// The variable [`example`] names for secret `setting` of `provider`.
pub(crate) fn example_variable(provider: Provider, setting: &Setting) -> String {
    format!("{}_{}", provider.name(), setting.key)
        .to_uppercase()
        .replace('-', "_")
}

/// Where tokenctl keeps its files when not told otherwise.
pub(crate) struct Locations {
    pub(crate) config_file: PathBuf,
    pub(crate) state_dir: PathBuf,
}

impl Locations {
    /// The platform's directories (`$XDG_CONFIG_HOME/tokenctl/config.toml` and
    /// `$XDG_STATE_HOME/tokenctl` on Linux), overridden by `config` and `state`.
    pub(crate) fn resolve(
        config: Option<PathBuf>,
        state: Option<PathBuf>,
    ) -> Result<Self, Failure> {
        let dirs = directories::ProjectDirs::from("", "", "tokenctl");
        let missing = || {
            Failure::new(
                Exit::Config,
                "no home directory to keep tokenctl's files in",
            )
            .fix("give --config PATH and --state-dir DIR")
        };
        let config_file = match config {
            Some(path) => path,
            None => dirs
                .as_ref()
                .ok_or_else(missing)?
                .config_dir()
                .join("config.toml"),
        };
        let state_dir = match state {
            Some(path) => path,
            None => {
                let dirs = dirs.as_ref().ok_or_else(missing)?;
                dirs.state_dir()
                    .unwrap_or_else(|| dirs.data_local_dir())
                    .to_path_buf()
            }
        };
        Ok(Locations {
            config_file,
            state_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = r#"
        [profiles.v3]
        provider = "convirza-v3"
        username = "user@example.com"
        password_env = "CONVIRZA_PASSWORD"
        key_env = "TOKENCTL_KEY"
    "#;

    /// `body` as the only profile, `p`.
    fn one(body: &str) -> Result<Profile, String> {
        parse(&format!("[profiles.p]\n{body}\n")).map(|mut config| {
            config
                .profiles
                .remove("p")
                .expect("the profile that was written")
        })
    }

    #[test]
    fn a_profile_reads_back() {
        let config = parse(V3).unwrap();
        let profile = &config.profiles["v3"];
        assert_eq!(profile.provider, Provider::ConvirzaV3);
        assert_eq!(profile.variable("password"), Some("CONVIRZA_PASSWORD"));
        assert_eq!(profile.get("username"), Some("user@example.com"));
        assert_eq!(profile.key_env.as_deref(), Some("TOKENCTL_KEY"));
        assert!(profile.logs_in_as_user());
        assert_eq!(profile.account(), "user@example.com");
    }

    /// Every way of putting a secret in the file is refused, and the error never
    /// repeats the value.
    #[test]
    fn secrets_in_the_file_are_refused_without_being_repeated() {
        let every_secret_setting = Provider::ALL
            .iter()
            .flat_map(|provider| provider.settings())
            .filter(|setting| setting.secret)
            .map(|setting| setting.key);
        let keys: Vec<&str> = SECRET_KEYS
            .iter()
            .map(|(key, _)| *key)
            .chain(every_secret_setting)
            .collect();
        for key in keys {
            let text = format!("{V3}\n{key} = \"hunter2-very-secret\"\n");
            let error = parse(&text).unwrap_err();
            assert!(
                error.contains(&format!("`{key}` may not be in the config file")),
                "{error}"
            );
            assert!(!error.contains("hunter2"), "{error}");
        }
        // Whatever the provider, and before anything else is said about the profile.
        for provider in Provider::ALL {
            let error = one(&format!(
                "provider = \"{provider}\"\nclient_secret = \"hunter2-very-secret\""
            ))
            .unwrap_err();
            assert!(
                error.contains("`client_secret` may not be in the config file")
                    && error.contains("use `client_secret_env`"),
                "{error}"
            );
        }
        // An unknown key's error does not quote the file either.
        let error = parse(&format!("{V3}\npasswd = \"hunter2-very-secret\"\n")).unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        // Nor does a syntax error on the line of a secret.
        let error = parse("[profiles.v3]\nusername = \"hunter2-very-secret").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        // Nor a value of the wrong type, nor a provider that is none.
        for body in [
            "provider = \"convirza-v3\"\nusername = 12345678\nplaintext_storage = true",
            "provider = \"hunter2-very-secret\"\nplaintext_storage = true",
            "provider = \"convirza-v3\"\nusername = \"u\"\nplaintext_storage = \"hunter2\"",
        ] {
            let error = one(body).unwrap_err();
            assert!(
                !error.contains("hunter2") && !error.contains("12345678"),
                "{error}"
            );
        }
    }

    #[test]
    fn profiles_missing_what_their_provider_needs_are_refused() {
        let table: &[(&str, &str)] = &[
            ("provider = \"standard\"\nplaintext_storage = true", "token_url"),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\ngrant = \"password\"\nplaintext_storage = true",
                "username",
            ),
            ("provider = \"convirza-v3\"\nplaintext_storage = true", "username"),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nclient_id = \"c\"\nplaintext_storage = true",
                "client_id",
            ),
            ("provider = \"convercus\"\nplaintext_storage = true", "program"),
            ("provider = \"convercus-legacy\"\nusername = \"u\"\nplaintext_storage = true", "org"),
            ("provider = \"convirza-v3\"\nusername = \"u\"", "key_env"),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nkey_env = \"K\"\nplaintext_storage = true",
                "one of",
            ),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nscope = \"s\"\nplaintext_storage = true",
                "scope",
            ),
            ("provider = \"nope\"\nplaintext_storage = true", "unknown provider"),
            ("plaintext_storage = true", "missing `provider`"),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nclient_auth = \"post\"\nplaintext_storage = true",
                "client_auth",
            ),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\nclient_auth = \"post\"\nplaintext_storage = true",
                "client_secret_env",
            ),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\nclient_auth = \"both\"\nclient_secret_env = \"S\"\nplaintext_storage = true",
                "setting `client_auth` takes one of: basic, post",
            ),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\npassword_env = \"P\"\nplaintext_storage = true",
                "setting `password_env` is used only when `grant` is `password`",
            ),
            (
                "provider = \"convercus\"\nprogram = \"abc\"\nplaintext_storage = true",
                "missing setting `client_secret_env`",
            ),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nplaintext_storage = true\nextra = 1",
                "has no setting `extra`",
            ),
        ];
        for (body, expected) in table {
            let error = one(body).unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
            assert!(error.starts_with("profile `p`: "), "{body}: {error}");
        }
        let error = parse("[profiles.\"a b\"]\nprovider = \"standard\"").unwrap_err();
        assert!(error.contains("profile name"), "{error}");
        let error = parse("[other]\nprovider = \"standard\"").unwrap_err();
        assert!(error.contains("unknown key `other`"), "{error}");
    }

    /// Every provider: its example profile reads back with every setting as written.
    #[test]
    fn every_provider_reads_its_example_profile() {
        for provider in Provider::ALL {
            let body = example(*provider).join("\n");
            let profile = one(&body).unwrap_or_else(|e| panic!("{provider}: {e}\n{body}"));
            assert_eq!(profile.provider, *provider);
            let examples = Settings::examples(provider.settings());
            for setting in examples.keys().filter_map(|key| provider.setting(key)) {
                if setting.secret {
                    let variable = example_variable(*provider, setting);
                    assert_eq!(profile.variable(setting.key), Some(variable.as_str()));
                } else {
                    assert_eq!(profile.get(setting.key), examples.get(setting.key));
                }
            }
        }
    }

    /// Every provider refuses, by name, each setting only other providers take, and
    /// names each needed setting left out of its example.
    #[test]
    fn settings_a_provider_does_not_take_or_needs_are_named() {
        for provider in Provider::ALL {
            let example = example(*provider);
            let others = Provider::ALL
                .iter()
                .flat_map(|other| other.settings())
                .filter(|setting| !provider.takes(setting.key));
            for setting in others {
                let key = profile_key(setting);
                let body = format!("{}\n{key} = \"x\"", example.join("\n"));
                let error = one(&body).unwrap_err();
                assert_eq!(
                    error,
                    format!("profile `p`: provider {provider} has no setting `{key}`"),
                    "{body}"
                );
            }
            // Each line of the example left out: a needed setting is named.
            for (index, line) in example.iter().enumerate().skip(1) {
                let key = line.split(' ').next().unwrap();
                let Some(setting) = provider
                    .settings()
                    .iter()
                    .find(|setting| profile_key(setting) == key)
                else {
                    continue; // tokenctl's own key_env
                };
                let mut without = example.clone();
                without.remove(index);
                let result = one(&without.join("\n"));
                if setting.secret && is_prompted(setting.key) {
                    // A password may be typed at the terminal instead.
                    result.unwrap_or_else(|e| panic!("{provider} without {key}: {e}"));
                } else {
                    let error = result.unwrap_err();
                    assert!(error.contains(&format!("`{key}`")), "{provider}: {error}");
                }
            }
        }
    }

    #[test]
    fn the_provider_reads_as_serde_and_clap_name_it() {
        #[derive(serde::Deserialize)]
        struct Named {
            provider: Provider,
        }
        for provider in Provider::ALL {
            let named: Named = toml::from_str(&format!("provider = \"{provider}\"")).unwrap();
            assert_eq!(named.provider, *provider);
            let parsed = <Provider as clap::ValueEnum>::from_str(provider.name(), false);
            assert_eq!(parsed, Ok(*provider));
        }
        let error = toml::from_str::<Named>("provider = \"hunter2\"")
            .err()
            .unwrap();
        assert!(error.message().contains("unknown provider"), "{error}");
        assert!(!error.message().contains("hunter2"), "{error}");
    }

    /// The session's identity changes with the provider and every setting that is no
    /// secret; naming another variable for a secret keeps it.
    #[test]
    fn every_setting_but_the_secrets_is_in_the_identity() {
        for provider in Provider::ALL {
            let example = example(*provider);
            let base = one(&example.join("\n")).unwrap().identity();
            for (index, line) in example.iter().enumerate().skip(1) {
                let (key, _) = line.split_once(" = ").unwrap();
                let mut edited = example.clone();
                edited[index] = format!("{key} = \"ANOTHER\"");
                let Ok(profile) = one(&edited.join("\n")) else {
                    continue; // a choice: no other value is one
                };
                let changed = profile.identity() != base;
                let secret = key.ends_with("_env");
                assert_eq!(changed, !secret, "{provider}: {key}");
            }
        }
        // A profile of an earlier tokenctl keeps the key its stored session has.
        let earlier = one(
            "provider = \"convercus\"\nprogram = \"abc\"\nenvironment = \"staging\"\nclient_secret_env = \"S\"\nplaintext_storage = true",
        );
        assert_eq!(
            earlier.unwrap().identity(),
            "convercus\n\n\n\n\nabc\n\n\n\nSome(Staging)"
        );
        let a = one("provider = \"convirza-v3\"\nusername = \"u\"\nplaintext_storage = true");
        let b = one("provider = \"convercus-legacy\"\norg = \"o\"\nusername = \"u\"\nplaintext_storage = true");
        assert_ne!(a.unwrap().identity(), b.unwrap().identity());
    }

    #[test]
    fn the_account_and_whether_a_user_logs_in() {
        let table: &[(&str, &str, bool)] = &[
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"",
                "c",
                false,
            ),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\ngrant = \"password\"\nusername = \"alice\"",
                "alice",
                true,
            ),
            (
                "provider = \"convercus\"\nprogram = \"abc\"\nclient_secret_env = \"S\"",
                "machine-2-machine",
                false,
            ),
            (
                "provider = \"convercus-legacy\"\norg = \"o\"\nusername = \"api\"",
                "api",
                true,
            ),
        ];
        for (body, account, user) in table {
            let profile = one(&format!("{body}\nplaintext_storage = true")).unwrap();
            assert_eq!(profile.account(), *account, "{body}");
            assert_eq!(profile.logs_in_as_user(), *user, "{body}");
        }
    }

    /// `redirect_port` is a port, and for a browser login only.
    #[test]
    fn redirect_port_is_a_port_for_a_browser_login_only() {
        let browser = "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\ngrant = \"authorization-code\"\nauthorization_url = \"http://127.0.0.1/a\"\nplaintext_storage = true";
        let fixed = one(&format!("{browser}\nredirect_port = 8765")).unwrap();
        assert_eq!(fixed.redirect_port, Some(8765));
        assert_eq!(one(browser).unwrap().redirect_port, None);
        // Not part of the session's identity: another port keeps the session.
        assert_eq!(fixed.identity(), one(browser).unwrap().identity());
        for bad in ["0", "65536", "-1", "\"8765\"", "87.65"] {
            let error = one(&format!("{browser}\nredirect_port = {bad}")).unwrap_err();
            assert!(
                error.contains("`redirect_port` must be a port number, 1 to 65535"),
                "{bad}: {error}"
            );
        }
        let device = "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\ngrant = \"device\"\ndevice_authorization_url = \"http://127.0.0.1/d\"\nplaintext_storage = true";
        one(device).unwrap();
        let error = one(&format!("{device}\nredirect_port = 8765")).unwrap_err();
        assert_eq!(
            error,
            "profile `p`: `redirect_port` is used only when `grant` is `authorization-code`"
        );
    }

    /// tokenctl's own keys are no provider's, nor any secret's variable.
    #[test]
    fn no_setting_is_named_like_tokenctls_own_keys() {
        for provider in Provider::ALL {
            for setting in provider.settings() {
                let key = profile_key(setting);
                assert!(
                    key != "provider" && !OWN_KEYS.iter().any(|(own, _)| *own == key),
                    "{provider}: {key}"
                );
            }
        }
    }
}
