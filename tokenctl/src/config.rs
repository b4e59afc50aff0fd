//! The config file: named profiles, each a provider and an account on it. Secrets are
//! never in it: a profile names the environment variables that hold them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::failure::{Exit, Failure};

/// The whole config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// The providers tokenctl speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Provider {
    /// Any RFC 6749 server.
    Standard,
    /// Convirza V2: password grant, 10 token requests a minute.
    ConvirzaV2,
    /// Convirza V3: JSON login, sliding tokens, single-use refresh tokens.
    ConvirzaV3,
    /// Convercus through Keycloak, a realm per loyalty program.
    Convercus,
    /// Convercus legacy login: a 24-hour token, no refresh.
    ConvercusLegacy,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::Standard => "standard",
            Provider::ConvirzaV2 => "convirza-v2",
            Provider::ConvirzaV3 => "convirza-v3",
            Provider::Convercus => "convercus",
            Provider::ConvercusLegacy => "convercus-legacy",
        }
    }
}

/// How a standard client authenticates (`oauth_lifecycle::dialect::ClientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ClientAuthMethod {
    /// HTTP Basic (`client_secret_basic`), the default.
    Basic,
    /// In the body (`client_secret_post`).
    Post,
}

impl ClientAuthMethod {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClientAuthMethod::Basic => "basic",
            ClientAuthMethod::Post => "post",
        }
    }
}

/// The grant a profile logs in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum GrantKind {
    /// The client's own credentials.
    ClientCredentials,
    /// A user's name and password.
    Password,
}

/// Staging or production, for the Convercus providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum EnvironmentName {
    Staging,
    Production,
}

/// One profile: a provider, its endpoints, an account, and where the session is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) provider: Provider,

    // Endpoints: each provider's documented default, overridable (staging, a proxy).
    /// `standard`: the token endpoint (required). `convirza-v2`: overrides the default.
    pub(crate) token_url: Option<String>,
    /// `standard`: the RFC 7009 revocation endpoint, if any.
    pub(crate) revocation_url: Option<String>,
    /// `convirza-v3`: overrides `https://platform-oauth.convirza.com`.
    pub(crate) base_url: Option<String>,
    /// `convercus`: another Keycloak host than Convercus's.
    pub(crate) auth_url: Option<String>,
    /// `convercus-legacy`: overrides the environment's API host.
    pub(crate) api_url: Option<String>,
    /// `convercus`: the loyalty program (realm).
    pub(crate) program: Option<String>,
    /// `convercus` and `convercus-legacy`: `staging` or `production` (default).
    pub(crate) environment: Option<EnvironmentName>,
    /// `convercus-legacy`: the organization code.
    pub(crate) org: Option<String>,
    /// `convercus-legacy`: where the token is in the login response: a JSON field path
    /// (default `token`) ...
    pub(crate) token_field: Option<String>,
    /// ... or a response header.
    pub(crate) token_header: Option<String>,

    // The account.
    /// The OAuth client id (`standard`, `convirza-v2`, `convercus`).
    pub(crate) client_id: Option<String>,
    /// The environment variable holding the client secret.
    pub(crate) client_secret_env: Option<String>,
    /// `standard`: `basic` (default) or `post`.
    pub(crate) client_auth: Option<ClientAuthMethod>,
    /// `standard` and `convercus`: `client-credentials` (default) or `password`.
    pub(crate) grant: Option<GrantKind>,
    /// The user (an email for Convirza).
    pub(crate) username: Option<String>,
    /// The environment variable holding the user's password; without it, tokenctl
    /// prompts on a terminal.
    pub(crate) password_env: Option<String>,
    /// `standard`: the scope to ask for.
    pub(crate) scope: Option<String>,

    // The stored session.
    /// The environment variable holding the session key (base64 of 32 bytes).
    pub(crate) key_env: Option<String>,
    /// A file holding the session key (base64 of 32 bytes), readable by its owner only.
    pub(crate) key_file: Option<PathBuf>,
    /// Store the session unencrypted (a file only its owner can read). Default false.
    #[serde(default)]
    pub(crate) plaintext_storage: bool,

    /// `tokenctl exec`: the variable the token is passed in. Default `ACCESS_TOKEN`.
    pub(crate) exec_env: Option<String>,
}

/// Keys that would put a secret in the file, and what to write instead.
const SECRET_KEYS: &[(&str, &str)] = &[
    ("client_secret", "client_secret_env"),
    ("password", "password_env"),
    ("secret", "client_secret_env"),
    ("key", "key_env` or `key_file"),
    ("access_token", "nothing: tokenctl obtains tokens itself"),
    ("refresh_token", "nothing: tokenctl obtains tokens itself"),
    ("token", "nothing: tokenctl obtains tokens itself"),
];

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
    if let Some(toml::Value::Table(profiles)) = raw.get("profiles") {
        for (name, profile) in profiles {
            check_name(name)?;
            if let toml::Value::Table(fields) = profile {
                for (key, instead) in SECRET_KEYS {
                    if fields.contains_key(*key) {
                        return Err(format!(
                            "profile `{name}`: `{key}` may not be in the config file (secrets never are); use `{instead}`"
                        ));
                    }
                }
            }
        }
    }
    let config: ConfigFile = raw
        .try_into()
        .map_err(|error: toml::de::Error| without_source(&error))?;
    for (name, profile) in &config.profiles {
        profile
            .check()
            .map_err(|reason| format!("profile `{name}`: {reason}"))?;
    }
    Ok(config)
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

impl Profile {
    /// Checks that the profile names what its provider needs, and nothing it ignores.
    fn check(&self) -> Result<(), String> {
        let provider = self.provider.name();
        let require = |present: bool, field: &str| {
            if present {
                Ok(())
            } else {
                Err(format!("provider `{provider}` needs `{field}`"))
            }
        };
        let refuse = |present: bool, field: &str| {
            if present {
                Err(format!("provider `{provider}` has no use for `{field}`"))
            } else {
                Ok(())
            }
        };
        match self.provider {
            Provider::Standard => {
                require(self.token_url.is_some(), "token_url")?;
                require(self.client_id.is_some(), "client_id")?;
            }
            Provider::ConvirzaV2 => {
                require(self.client_id.is_some(), "client_id")?;
                require(self.client_secret_env.is_some(), "client_secret_env")?;
                require(self.username.is_some(), "username")?;
            }
            Provider::ConvirzaV3 => {
                require(self.username.is_some(), "username")?;
                refuse(self.client_id.is_some(), "client_id")?;
                refuse(self.client_secret_env.is_some(), "client_secret_env")?;
            }
            Provider::Convercus => {
                require(self.program.is_some(), "program")?;
                require(self.client_secret_env.is_some(), "client_secret_env")?;
            }
            Provider::ConvercusLegacy => {
                require(self.org.is_some(), "org")?;
                require(self.username.is_some(), "username")?;
                refuse(self.client_secret_env.is_some(), "client_secret_env")?;
                if self.token_field.is_some() && self.token_header.is_some() {
                    return Err("give `token_field` or `token_header`, not both".into());
                }
            }
        }
        let logs_in_as_user = match self.provider {
            Provider::Standard | Provider::Convercus => self.grant == Some(GrantKind::Password),
            _ => true,
        };
        if logs_in_as_user {
            require(self.username.is_some(), "username")?;
        }
        if self.scope.is_some() && self.provider != Provider::Standard {
            return Err(format!("provider `{provider}` takes no `scope`"));
        }
        if self.client_auth.is_some() {
            // Only a standard server lets the client choose; the others have their way.
            refuse(self.provider != Provider::Standard, "client_auth")?;
            if self.client_secret_env.is_none() {
                return Err(
                    "`client_auth` says how the client secret is sent: give `client_secret_env` too"
                        .into(),
                );
            }
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

    /// Whether the profile logs in as a user (with a password).
    pub(crate) fn logs_in_as_user(&self) -> bool {
        match self.provider {
            Provider::Standard | Provider::Convercus => self.grant == Some(GrantKind::Password),
            Provider::ConvirzaV2 | Provider::ConvirzaV3 | Provider::ConvercusLegacy => true,
        }
    }

    /// The account, as a person names it: the user, else the client.
    pub(crate) fn account(&self) -> &str {
        match (&self.username, &self.client_id, self.provider) {
            (Some(user), _, _) => user,
            (None, Some(client), _) => client,
            (None, None, Provider::Convercus) => "machine-2-machine",
            (None, None, _) => "",
        }
    }

    /// The endpoint and account the session belongs to, for the stored session's key:
    /// edit any of them and the old session is no longer used.
    pub(crate) fn identity(&self) -> String {
        let fields = [
            Some(self.provider.name()),
            self.token_url.as_deref(),
            self.base_url.as_deref(),
            self.auth_url.as_deref(),
            self.api_url.as_deref(),
            self.program.as_deref(),
            self.org.as_deref(),
            self.client_id.as_deref(),
            self.username.as_deref(),
        ];
        let environment = format!("{:?}", self.environment);
        let mut identity: Vec<&str> = fields.iter().map(|f| f.unwrap_or("")).collect();
        identity.push(&environment);
        identity.join("\n")
    }
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

    #[test]
    fn a_profile_reads_back() {
        let config = parse(V3).unwrap();
        let profile = &config.profiles["v3"];
        assert_eq!(profile.provider, Provider::ConvirzaV3);
        assert_eq!(profile.password_env.as_deref(), Some("CONVIRZA_PASSWORD"));
        assert!(profile.logs_in_as_user());
    }

    /// Every way of putting a secret in the file is refused, and the error never
    /// repeats the value.
    #[test]
    fn secrets_in_the_file_are_refused_without_being_repeated() {
        for (key, _) in SECRET_KEYS {
            let text = format!("{V3}\n{key} = \"hunter2-very-secret\"\n");
            let error = parse(&text).unwrap_err();
            assert!(error.contains(key), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
        // An unknown key's error does not quote the file either.
        let error = parse(&format!("{V3}\npasswd = \"hunter2-very-secret\"\n")).unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        // Nor does a syntax error on the line of a secret.
        let error = parse("[profiles.v3]\nusername = \"hunter2-very-secret").unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
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
            ("provider = \"nope\"\nplaintext_storage = true", "unknown variant"),
            (
                "provider = \"convirza-v3\"\nusername = \"u\"\nclient_auth = \"post\"\nplaintext_storage = true",
                "client_auth",
            ),
            (
                "provider = \"standard\"\ntoken_url = \"http://127.0.0.1/t\"\nclient_id = \"c\"\nclient_auth = \"post\"\nplaintext_storage = true",
                "client_secret_env",
            ),
        ];
        for (body, expected) in table {
            let error = parse(&format!("[profiles.p]\n{body}\n")).unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
        }
        let error = parse("[profiles.\"a b\"]\nprovider = \"standard\"").unwrap_err();
        assert!(error.contains("profile name"), "{error}");
    }
}
