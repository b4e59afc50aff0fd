//! The command line: global options, commands and their arguments.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ClientAuthMethod, Provider};
use crate::time_format::parse_duration;

const EXAMPLES: &str = "\
Examples:
  tokenctl init -p v3 --provider convirza-v3 --username me@example.com --password-env CONVIRZA_PASSWORD
  tokenctl login -p v3                      # asks for the password on the terminal
  tokenctl token -p v3 --format header | curl -H @- https://platform-api.convirza.com/v3/...
  tokenctl token -p v3 --format curl-config | curl -K - https://platform-api.convirza.com/v3/...
  tokenctl exec -p v3 -- ./sync-calls.sh    # the token in $ACCESS_TOKEN, not on a command line
  tokenctl inspect -p v3
  (The token stays out of every command line, where others on the machine could read it.)

Profiles, one per provider (in the config file, `tokenctl init --help` for every field):
  [profiles.v2]                            [profiles.v3]
  provider = \"convirza-v2\"                 provider = \"convirza-v3\"
  client_id = \"system\"                     username = \"me@example.com\"
  client_secret_env = \"CONVIRZA_SECRET\"    password_env = \"CONVIRZA_PASSWORD\"
  username = \"me@example.com\"              key_file = \"~/.config/tokenctl/v3.key\"
  password_env = \"CONVIRZA_PASSWORD\"
  key_env = \"TOKENCTL_KEY\"

  [profiles.loyalty]                       [profiles.legacy]
  provider = \"convercus\"                   provider = \"convercus-legacy\"
  program = \"ABC\"                          org = \"ACME\"
  environment = \"staging\"                  username = \"api-user\"
  client_secret_env = \"CONVERCUS_SECRET\"   password_env = \"CONVERCUS_PASSWORD\"
  key_env = \"TOKENCTL_KEY\"                 key_env = \"TOKENCTL_KEY\"

  [profiles.idp]
  provider = \"standard\"
  token_url = \"https://idp.example.com/oauth/token\"
  revocation_url = \"https://idp.example.com/oauth/revoke\"
  client_id = \"billing\"
  client_secret_env = \"IDP_SECRET\"
  scope = \"read write\"
  key_env = \"TOKENCTL_KEY\"

Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 a login or a secret is needed,
5 credentials rejected, 6 throttled, 7 provider unreachable or failing, 8 revoked,
9 stored session unreadable.";

/// Get, inspect, renew and revoke OAuth access tokens for Convirza, Convercus and any
/// standard OAuth 2.0 server. Secrets come from environment variables or a prompt, never
/// from the command line; sessions are kept encrypted between runs.
#[derive(Debug, Parser)]
#[command(name = "tokenctl", version, after_long_help = EXAMPLES)]
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
    /// Log in (asking for the password on a terminal) and store the session.
    Login(ScopeArg),
    /// Renew the token now.
    Refresh(ScopeArg),
    /// Revoke the session at the provider; it stays stored as revoked.
    Revoke(ScopeArg),
    /// Revoke the session and delete it.
    Logout(ScopeArg),
    /// Keep the session fresh in the foreground, printing each event.
    Watch(WatchArgs),
    /// Write a commented profile to the config file.
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

/// `tokenctl init`: every field may be given; on a terminal, the missing ones are asked
/// for.
#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The provider.
    #[arg(long, value_enum)]
    pub(crate) provider: Option<Provider>,
    /// `standard`: the token endpoint; `convirza-v2`: another than the documented one.
    #[arg(long)]
    pub(crate) token_url: Option<String>,
    /// `standard`: the RFC 7009 revocation endpoint.
    #[arg(long)]
    pub(crate) revocation_url: Option<String>,
    /// `convirza-v3`: another base URL than the documented one.
    #[arg(long)]
    pub(crate) base_url: Option<String>,
    /// `convercus`: another Keycloak host.
    #[arg(long)]
    pub(crate) auth_url: Option<String>,
    /// `convercus-legacy`: another API host.
    #[arg(long)]
    pub(crate) api_url: Option<String>,
    /// `convercus`: the loyalty program.
    #[arg(long)]
    pub(crate) program: Option<String>,
    /// `convercus`, `convercus-legacy`: staging or production.
    #[arg(long)]
    pub(crate) environment: Option<String>,
    /// `convercus-legacy`: the organization code.
    #[arg(long)]
    pub(crate) org: Option<String>,
    /// The OAuth client id.
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    /// The environment variable holding the client secret.
    #[arg(long, value_name = "NAME")]
    pub(crate) client_secret_env: Option<String>,
    /// `standard`: how the client secret is sent: `basic` (HTTP Basic,
    /// client_secret_basic, the default) or `post` (in the body, client_secret_post).
    #[arg(long, value_enum, value_name = "METHOD")]
    pub(crate) client_auth: Option<ClientAuthMethod>,
    /// `standard`, `convercus`: client-credentials or password.
    #[arg(long)]
    pub(crate) grant: Option<String>,
    /// The user (an email for Convirza).
    #[arg(long)]
    pub(crate) username: Option<String>,
    /// The environment variable holding the user's password.
    #[arg(long, value_name = "NAME")]
    pub(crate) password_env: Option<String>,
    /// `standard`: the scope.
    #[arg(long)]
    pub(crate) scope: Option<String>,
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
}
