//! The command line: global options, commands and their arguments.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};
use oauth_lifecycle::dialect::Setting;

use crate::config;
use crate::providers::{self, Provider};
use crate::time_format::parse_duration;

/// The commands a new user types first.
const EXAMPLES: &str = "\
Examples:
  tokenctl init -p v3 --provider convirza-v3 --username me@example.com --password-env CONVIRZA_PASSWORD
  tokenctl init -p idp --provider standard --issuer https://auth.example.com --client-id my-client --client-secret-env IDP_SECRET
  tokenctl init -p me --issuer https://auth.example.com --client-id my-cli --grant device
  tokenctl login -p v3                      # asks for the password on the terminal
  tokenctl login -p me                      # prints a code and where to enter it
  tokenctl login -p web --no-browser        # a browser login: prints the URL to open
  tokenctl token -p v3 --format header | curl -H @- https://platform-api.convirza.com/v3/...
  tokenctl token -p v3 --format curl-config | curl -K - https://platform-api.convirza.com/v3/...
  tokenctl exec -p v3 -- ./sync-calls.sh    # the token in $ACCESS_TOKEN, not on a command line
  tokenctl inspect -p v3
  (The token stays out of every command line, where others on the machine could read it.)";

const EXIT_CODES: &str = "\
Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 a login or a secret is needed,
5 credentials rejected, 6 throttled, 7 provider unreachable or failing, 8 revoked,
9 stored session unreadable.";

/// `tokenctl --help` after the options: examples, a profile for every provider (from
/// the core's examples of its settings), the exit codes.
fn after_long_help() -> String {
    let mut text = format!(
        "{EXAMPLES}\n\nProfiles, one per provider (in the config file; `tokenctl init --help` lists every\nprovider's settings):\n"
    );
    for provider in Provider::ALL {
        text.push_str(&format!("  [profiles.{provider}]\n"));
        for line in config::example(*provider) {
            text.push_str(&format!("  {line}\n"));
        }
        text.push('\n');
    }
    text.push_str(EXIT_CODES);
    text
}

/// What `setting` is, as a profile names it, and (a secret a person may type) that it
/// may be left out.
fn about(setting: &Setting) -> String {
    let about = providers::about(setting);
    if setting.secret && providers::is_prompted(setting.key) {
        format!("{about}; {}", providers::PROMPTED_NOTE)
    } else {
        about
    }
}

/// `tokenctl init --help` after the options: every provider and its settings, from the
/// core's registry, and tokenctl's own keys.
fn provider_settings() -> String {
    let mut text = String::from(
        "Providers and their settings: `--provider NAME`, and a flag per setting (in the config\nfile, a key: `client_id = \"…\"`). A secret is never on the command line nor in the\nconfig file: the profile names the environment variable that holds it (`client_secret_env`).\n",
    );
    for provider in Provider::ALL {
        text.push_str(&format!("\n{provider}: {}\n", provider.about()));
        for setting in provider.settings() {
            text.push_str(&format!(
                "  {}: {} ({})\n",
                providers::profile_key(setting),
                about(setting),
                providers::need(setting)
            ));
        }
    }
    text.push_str(&format!(
        "\nConfigure from discovery: with `--issuer URL`, a `{}` profile takes token_url,\nrevocation_url and client_auth from the metadata the issuer publishes (flags given\nwin), and says where they came from in a comment. With `--grant device` it takes\ndevice_authorization_url too; with `--grant authorization-code`, authorization_url,\nthe issuer (checked against the browser's redirect) and iss_parameter.\n",
        crate::providers::DISCOVERED
    ));
    text.push_str(
        "\nJWT assertions (RFC 7523): with `--client-auth private-key-jwt` or `--grant jwt-bearer`,\ngive `--private-key-file PATH` (a PEM or JWK private key, readable by its owner only) or\n`--client-assertion-file PATH` (an assertion the platform writes there, e.g. a Kubernetes\nprojected service-account token); `--generate-private-key` writes a new key to the\nprivate key file and prints its public JWK to register with the server. With\n`--client-auth client-secret-jwt`, the client secret (32 bytes or more) signs.\n",
    );
    text.push_str(
        "\nEvery profile says how the stored session is kept, with exactly one of `key_env`,\n`key_file` and `plaintext_storage = true`, and may give `exec_env`:\n",
    );
    for (key, about) in config::OWN_KEYS {
        text.push_str(&format!("  {key}: {about}\n"));
    }
    text
}

/// A flag of `tokenctl init` for a setting, as every provider that takes it says.
#[derive(Debug)]
pub(crate) struct SettingFlag {
    /// The setting's key: `client_secret`.
    pub(crate) key: &'static str,
    /// Its key in a profile, and the flag's id: `client_secret_env`.
    pub(crate) id: String,
    /// The flag, without its dashes: `client-secret-env`.
    pub(crate) long: String,
    /// Each provider that takes the setting, with its setting.
    pub(crate) takers: Vec<(Provider, &'static Setting)>,
}

/// The placeholders of flags whose key says too little (a presentation only: a setting
/// not here shows its key).
const VALUE_NAMES: &[(&str, &str)] = &[("client_auth", "METHOD")];

impl SettingFlag {
    /// The names of the providers that take the setting: `standard, convercus`.
    pub(crate) fn takers(&self) -> String {
        self.takers
            .iter()
            .map(|(provider, _)| provider.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn arg(&self) -> Arg {
        let (_, first) = self.takers[0];
        let value_name = match VALUE_NAMES.iter().find(|(key, _)| *key == self.key) {
            _ if first.secret => "NAME".to_owned(),
            Some((_, name)) => (*name).to_owned(),
            None => self.key.to_uppercase(),
        };
        // The first provider's words, then each provider's need (and its own words,
        // where they differ).
        let mut long_help = format!("{}:", capitalized(&about(first)));
        for (provider, setting) in &self.takers {
            if setting.about == first.about {
                long_help.push_str(&format!("\n  {provider}: {}", providers::need(setting)));
            } else {
                long_help.push_str(&format!(
                    "\n  {provider}: {}; {}",
                    setting.about,
                    providers::need(setting)
                ));
            }
        }
        let mut choices: Vec<&'static str> = Vec::new();
        for (_, setting) in &self.takers {
            for choice in setting.choices {
                if !choices.contains(choice) {
                    choices.push(choice);
                }
            }
        }
        let arg = Arg::new(self.id.clone())
            .long(self.long.clone())
            .value_name(value_name)
            .help(format!(
                "{} [{}]",
                capitalized(&about(first)),
                self.takers()
            ))
            .long_help(long_help)
            .help_heading("Provider settings")
            .hide_possible_values(true);
        if choices.is_empty() {
            arg.value_parser(clap::value_parser!(String))
        } else {
            arg.value_parser(PossibleValuesParser::new(choices))
        }
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Settings whose flag `init` has for a use of its own: `--issuer URL` discovers the
/// issuer, and a browser login's profile then takes the issuer discovered (without
/// discovery, the setting is written in the profile by hand).
pub(crate) const OWN_FLAGS: &[&str] = &["issuer"];

/// A flag for every setting of every provider, in the core's order (first seen), but
/// those [`OWN_FLAGS`] names.
pub(crate) fn setting_flags() -> &'static [SettingFlag] {
    static FLAGS: OnceLock<Vec<SettingFlag>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        let mut flags: Vec<SettingFlag> = Vec::new();
        for provider in Provider::ALL {
            for setting in provider.settings() {
                if OWN_FLAGS.contains(&setting.key) {
                    continue;
                }
                match flags.iter_mut().find(|flag| flag.key == setting.key) {
                    Some(flag) => flag.takers.push((*provider, setting)),
                    None => {
                        let id = providers::profile_key(setting);
                        flags.push(SettingFlag {
                            key: setting.key,
                            long: id.replace('_', "-"),
                            id,
                            takers: vec![(*provider, setting)],
                        });
                    }
                }
            }
        }
        flags
    })
}

/// The settings given to `tokenctl init`, by the setting's key: a flag per setting of
/// every provider (`--token-url`; a secret's variable: `--client-secret-env`).
#[derive(Debug, Clone, Default)]
pub(crate) struct SettingArgs {
    pub(crate) values: BTreeMap<&'static str, String>,
}

impl FromArgMatches for SettingArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = SettingArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for flag in setting_flags() {
            if let Some(value) = matches.get_one::<String>(&flag.id) {
                self.values.insert(flag.key, value.clone());
            }
        }
        Ok(())
    }
}

impl Args for SettingArgs {
    fn augment_args(command: clap::Command) -> clap::Command {
        setting_flags()
            .iter()
            .fold(command, |command, flag| command.arg(flag.arg()))
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// Get, inspect, renew and revoke OAuth access tokens for Convirza, Convercus and any
/// standard OAuth 2.0 server. Secrets come from environment variables or a prompt, never
/// from the command line; sessions are kept encrypted between runs.
#[derive(Debug, Parser)]
#[command(name = "tokenctl", version, after_long_help = after_long_help())]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// The profile to use.
    #[arg(
        short,
        long,
        global = true,
        env = "TOKENCTL_PROFILE",
        default_value = "default"
    )]
    pub(crate) profile: String,
    /// The config file [default: the platform's config directory, tokenctl/config.toml].
    #[arg(long, global = true, env = "TOKENCTL_CONFIG", value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Where sessions are kept [default: the platform's state directory, tokenctl].
    #[arg(long, global = true, env = "TOKENCTL_STATE_DIR", value_name = "DIR")]
    pub(crate) state_dir: Option<PathBuf>,
    /// Never prompt; fail at once with what to do instead. Implied when stdin is not a
    /// terminal.
    #[arg(long, global = true)]
    pub(crate) non_interactive: bool,
    /// Print the exact request that would be sent, secrets redacted, and send nothing.
    #[arg(long, global = true)]
    pub(crate) dry_run: bool,
    /// Show every request and answer on stderr, secrets redacted.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// The longest the command waits for the provider or for another tokenctl using the
    /// same session (e.g. 30s, 2m).
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a valid access token, logging in or renewing as needed.
    Token(TokenArgs),
    /// Run a command with a valid access token in an environment variable.
    Exec(ExecArgs),
    /// Show the stored session, without secrets.
    Inspect(InspectArgs),
    /// Log in (asking for the password on a terminal, or showing a person where to log
    /// in) and store the session.
    Login(LoginArgs),
    /// Renew the token now.
    Refresh(ScopeArg),
    /// Revoke the session at the provider; it stays stored as revoked.
    Revoke(ScopeArg),
    /// Revoke the session and delete it.
    Logout(ScopeArg),
    /// Keep the session fresh in the foreground, printing each event.
    Watch(WatchArgs),
    /// Write a commented profile to the config file.
    #[command(after_long_help = provider_settings())]
    Init(Box<InitArgs>),
    /// Print shell completions.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The scope a session is for.
#[derive(Debug, Clone, Args)]
pub(crate) struct ScopeArg {
    /// Ask for this scope instead of the profile's (a separate stored session).
    #[arg(long)]
    pub(crate) scope: Option<String>,
}

/// `tokenctl login`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    pub(crate) scope: ScopeArg,
    /// Log in with a code entered on another device (the device grant), whatever the
    /// profile's grant [default: the profile's grant].
    #[arg(long, conflicts_with = "browser")]
    pub(crate) device: bool,
    /// Log in in a browser (the authorization code grant), whatever the profile's grant
    /// [default: the profile's grant].
    #[arg(long)]
    pub(crate) browser: bool,
    /// With a browser login: print the URL to open instead of opening a browser.
    #[arg(long, conflicts_with = "device")]
    pub(crate) no_browser: bool,
}

/// What the token must be like.
#[derive(Debug, Clone, Args)]
pub(crate) struct Want {
    #[command(flatten)]
    pub(crate) scope: ScopeArg,
    /// Renew first if the token has less than this left (e.g. 5m).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) min_ttl: Option<Duration>,
    /// Renew now, whatever is left.
    #[arg(long)]
    pub(crate) force_refresh: bool,
}

/// `tokenctl token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    pub(crate) want: Want,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = Format::Plain)]
    pub(crate) format: Format,
}

/// How `tokenctl token` prints the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The token alone, for `$(tokenctl token)`.
    Plain,
    /// The token, its expiry (RFC 3339 UTC and epoch seconds), scope and generation.
    Json,
    /// `Authorization: Bearer …`.
    Header,
    /// A curl config line, for `curl -K -` (the token stays out of argv).
    CurlConfig,
    /// kubectl's credential-plugin JSON (`client.authentication.k8s.io/v1`).
    ExecCredential,
}

/// `tokenctl exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    #[command(flatten)]
    pub(crate) want: Want,
    /// The environment variable to pass the token in [default: the profile's
    /// `exec_env`, else ACCESS_TOKEN].
    #[arg(long, value_name = "NAME")]
    pub(crate) env_var: Option<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

/// `tokenctl inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub(crate) scope: ScopeArg,
    /// Print JSON, for scripts.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `tokenctl watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    pub(crate) scope: ScopeArg,
    /// Stop after this long (e.g. 1h) [default: run until interrupted].
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) duration: Option<Duration>,
    /// Stop after this many new tokens.
    #[arg(long, value_name = "N")]
    pub(crate) renewals: Option<u64>,
}

/// `tokenctl init`: every setting may be given; on a terminal, the missing ones are
/// asked for.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The provider.
    #[arg(long, value_enum)]
    pub(crate) provider: Option<Provider>,
    /// Configure a standard OAuth server from its issuer's metadata.
    ///
    /// Asks URL/.well-known/openid-configuration (OpenID Connect Discovery) and, if that
    /// answers 404, RFC 8414's /.well-known/oauth-authorization-server location, and
    /// takes token_url, revocation_url if the server has one, and client_auth for a
    /// client with a secret (basic if the server supports client_secret_basic, else
    /// post); with --grant device, device_authorization_url; with --grant
    /// authorization-code, authorization_url, the issuer (checked against the browser's
    /// redirect) and iss_parameter. Settings given as flags win. Implies --provider
    /// standard; not with --token-url. Give the issuer exactly as the server names
    /// itself: a document naming another issuer is refused.
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// The provider's settings.
    #[command(flatten)]
    pub(crate) settings: SettingArgs,
    /// The environment variable holding the session key.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["key_file", "plaintext_storage"])]
    pub(crate) key_env: Option<String>,
    /// A file holding the session key.
    #[arg(long, value_name = "PATH", conflicts_with = "plaintext_storage")]
    pub(crate) key_file: Option<PathBuf>,
    /// Write a new random key to the key file [default: a new file beside the config].
    #[arg(long)]
    pub(crate) generate_key: bool,
    /// Keep the session unencrypted (a file only you can read).
    #[arg(long)]
    pub(crate) plaintext_storage: bool,
    /// Write a new private key to the profile's --private-key-file (mode 0600) and print
    /// its public key, as a JWK to register with the server [ALG: ES256 (default),
    /// RS256, PS256 or EdDSA].
    #[arg(
        long,
        value_name = "ALG",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "ES256",
        value_parser = PossibleValuesParser::new(GENERATED_ALGORITHMS)
    )]
    pub(crate) generate_private_key: Option<String>,
}

/// The algorithms `init --generate-private-key` makes keys for (HS256's key is the
/// server's client secret).
pub(crate) const GENERATED_ALGORITHMS: [&str; 4] = ["ES256", "RS256", "PS256", "EdDSA"];

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every setting of every provider has its flag in `init`, and is in `init --help`
    /// under its provider; every provider has an example profile in `--help`.
    #[test]
    fn every_setting_has_a_flag_and_help() {
        let mut command = Cli::command();
        let help = command.render_long_help().to_string();
        let init = command.find_subcommand_mut("init").expect("init");
        let init_help = init.render_long_help().to_string();
        for provider in Provider::ALL {
            assert!(
                help.contains(&format!("provider = \"{provider}\"")),
                "{provider}"
            );
            assert!(
                init_help.contains(&format!("\n{provider}: {}", provider.about())),
                "{provider}"
            );
            for setting in provider.settings() {
                let key = providers::profile_key(setting);
                let flag = format!("--{}", key.replace('_', "-"));
                assert!(init_help.contains(&flag), "{provider}: {flag}");
                assert!(
                    init_help.contains(&format!("  {key}: ")),
                    "{provider}: {key}"
                );
                assert!(init.get_arguments().any(|arg| arg.get_id() == key.as_str()));
            }
        }
    }

    /// Flags parse into the settings they are for; a secret's flag names its variable.
    #[test]
    fn setting_flags_parse_by_setting_key() {
        let cli = Cli::try_parse_from([
            "tokenctl",
            "init",
            "--provider",
            "convercus",
            "--program",
            "abc",
            "--client-secret-env",
            "S",
            "--environment",
            "staging",
        ])
        .unwrap();
        let Command::Init(args) = cli.command else {
            panic!("init")
        };
        assert_eq!(args.provider, Some(Provider::Convercus));
        let values: Vec<(&str, &str)> = args
            .settings
            .values
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        assert_eq!(
            values,
            [
                ("client_secret", "S"),
                ("environment", "staging"),
                ("program", "abc")
            ]
        );
        // A choice is checked against the values any provider takes.
        let refused = Cli::try_parse_from(["tokenctl", "init", "--environment", "moon"]);
        assert_eq!(
            refused.unwrap_err().kind(),
            clap::error::ErrorKind::InvalidValue
        );
    }
}
