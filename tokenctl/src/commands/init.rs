//! `tokenctl init`: writes a commented profile to the config file, from the options
//! given and, on a terminal, answers to questions. Secrets are never asked for here:
//! the profile names the environment variables that will hold them.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum as _;

use crate::cli::{Global, InitArgs};
use crate::config::{self, ClientAuthMethod, Locations, Provider};
use crate::failure::{Exit, Failure};
use crate::secrets::Prompting;
use crate::session_file::write_new_key;

pub(crate) fn init(global: &Global, args: &InitArgs) -> Result<ExitCode, Failure> {
    let locations = Locations::resolve(global.config.clone(), global.state_dir.clone())?;
    let prompting = Prompting::new(global.non_interactive);
    let name = &global.profile;
    let existing = match std::fs::read_to_string(&locations.config_file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(Failure::new(
                Exit::Config,
                format!("cannot read {}: {error}", locations.config_file.display()),
            ))
        }
    };
    let config = config::parse(&existing).map_err(|message| {
        Failure::new(
            Exit::Config,
            format!("config file {}: {message}", locations.config_file.display()),
        )
        .fix("fix the config file before adding a profile")
    })?;
    if config.profiles.contains_key(name) {
        return Err(Failure::new(
            Exit::Config,
            format!(
                "profile `{name}` already exists in {}",
                locations.config_file.display()
            ),
        )
        .fix("edit it there, or choose another name with -p"));
    }

    let mut ask = Asker { prompting };
    let provider = match args.provider {
        Some(provider) => provider,
        None => {
            let answer = ask.required(
                "provider (standard, convirza-v2, convirza-v3, convercus, convercus-legacy)",
                None,
            )?;
            Provider::from_str(&answer, true).map_err(|_| {
                Failure::new(
                    Exit::Usage,
                    format!("unknown provider `{}`", answer.escape_debug()),
                )
            })?
        }
    };
    if args.client_auth.is_some() && provider != Provider::Standard {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--client-auth: provider `{}` sends the client secret its own way",
                provider.name()
            ),
        )
        .fix("leave out --client-auth (it is for --provider standard)"));
    }
    let mut profile = Profile::new(name, provider);
    match provider {
        Provider::Standard => {
            profile.set(
                "token_url",
                "the token endpoint",
                ask.field(&args.token_url, "token endpoint URL", true)?,
            );
            profile.set(
                "revocation_url",
                "the RFC 7009 revocation endpoint (optional)",
                ask.field(
                    &args.revocation_url,
                    "revocation endpoint URL (empty for none)",
                    false,
                )?,
            );
            profile.set(
                "client_id",
                "the OAuth client",
                ask.field(&args.client_id, "client id", true)?,
            );
            let confidential = client_secret(&mut profile, &mut ask, args, false)?;
            client_auth(&mut profile, &mut ask, args, confidential)?;
            let grant = ask.field(&args.grant, "grant (client-credentials or password)", false)?;
            let password_grant = grant.as_deref() == Some("password");
            profile.set("grant", "client-credentials or password", grant);
            if password_grant {
                user(&mut profile, &mut ask, args)?;
            }
            profile.set(
                "scope",
                "the scope to ask for (optional)",
                ask.field(&args.scope, "scope (empty for none)", false)?,
            );
        }
        Provider::ConvirzaV2 => {
            profile.set(
                "token_url",
                "another token endpoint than https://apicfa.convirza.com/oauth/token (optional)",
                args.token_url.clone(),
            );
            profile.set(
                "client_id",
                "the OAuth client",
                ask.field(&args.client_id, "client id", true)?,
            );
            client_secret(&mut profile, &mut ask, args, true)?;
            user(&mut profile, &mut ask, args)?;
        }
        Provider::ConvirzaV3 => {
            profile.set(
                "base_url",
                "another base URL than https://platform-oauth.convirza.com (optional)",
                args.base_url.clone(),
            );
            user(&mut profile, &mut ask, args)?;
        }
        Provider::Convercus => {
            profile.set(
                "program",
                "the loyalty program (realm)",
                ask.field(&args.program, "loyalty program", true)?,
            );
            environment(&mut profile, &mut ask, args)?;
            profile.set(
                "auth_url",
                "another Keycloak host (optional)",
                args.auth_url.clone(),
            );
            profile.set(
                "client_id",
                "the client, machine-2-machine unless given",
                args.client_id.clone(),
            );
            client_secret(&mut profile, &mut ask, args, true)?;
            if args.grant.as_deref() == Some("password") {
                profile.set(
                    "grant",
                    "client-credentials or password",
                    args.grant.clone(),
                );
                user(&mut profile, &mut ask, args)?;
            }
        }
        Provider::ConvercusLegacy => {
            profile.set(
                "org",
                "the organization code",
                ask.field(&args.org, "organization code", true)?,
            );
            environment(&mut profile, &mut ask, args)?;
            profile.set(
                "api_url",
                "another API host (optional)",
                args.api_url.clone(),
            );
            user(&mut profile, &mut ask, args)?;
        }
    }

    // Where the session key comes from: by default a new key file beside the config.
    let config_dir = locations
        .config_file
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let mut new_key: Option<PathBuf> = None;
    if args.plaintext_storage {
        profile.set_raw(
            "plaintext_storage",
            "the session is stored unencrypted (mode 0600)",
            "true",
        );
    } else if let Some(variable) = &args.key_env {
        profile.set(
            "key_env",
            "the environment variable holding the session key (base64 of 32 bytes)",
            Some(variable.clone()),
        );
    } else {
        let path = args
            .key_file
            .clone()
            .unwrap_or_else(|| config_dir.join(format!("{name}.key")));
        if args.generate_key || args.key_file.is_none() {
            new_key = Some(path.clone());
        }
        profile.set(
            "key_file",
            "the file holding the session key (mode 0600)",
            Some(path.display().to_string()),
        );
    }

    let text = profile.finish();
    let mut combined = existing.clone();
    if !combined.is_empty() && !combined.ends_with("\n\n") {
        combined.push_str(if combined.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        });
    }
    combined.push_str(&text);
    config::parse(&combined).map_err(|message| {
        Failure::new(
            Exit::Config,
            format!("the new profile is incomplete: {message}"),
        )
        .fix("give the missing options (tokenctl init --help)")
    })?;
    if let Some(path) = &new_key {
        write_new_key(path)?;
    }
    std::fs::create_dir_all(&config_dir)
        .and_then(|()| std::fs::write(&locations.config_file, combined))
        .map_err(|error| {
            Failure::new(
                Exit::Config,
                format!("cannot write {}: {error}", locations.config_file.display()),
            )
        })?;
    println!(
        "wrote profile `{name}` to {}",
        locations.config_file.display()
    );
    if let Some(path) = new_key {
        println!("wrote a new session key to {}", path.display());
    }
    println!("next: tokenctl login -p {name}");
    Ok(ExitCode::SUCCESS)
}

/// Sets `client_secret_env`; whether the profile has one.
fn client_secret(
    profile: &mut Profile,
    ask: &mut Asker,
    args: &InitArgs,
    required: bool,
) -> Result<bool, Failure> {
    let question = if required {
        "variable holding the client secret"
    } else {
        "variable holding the client secret (empty for a public client)"
    };
    let variable = ask.field(&args.client_secret_env, question, required)?;
    let given = variable.as_deref().is_some_and(|name| !name.is_empty());
    profile.set(
        "client_secret_env",
        "the environment variable holding the client secret",
        variable,
    );
    Ok(given)
}

/// `standard`: how the client secret is sent, for a client that has one.
fn client_auth(
    profile: &mut Profile,
    ask: &mut Asker,
    args: &InitArgs,
    confidential: bool,
) -> Result<(), Failure> {
    let method = match args.client_auth {
        Some(_) if !confidential => {
            return Err(Failure::new(
                Exit::Usage,
                "--client-auth says how the client secret is sent, and the profile has none",
            )
            .fix("give --client-secret-env too, or leave out --client-auth"))
        }
        Some(method) => Some(method),
        None if !confidential => None,
        None => match ask.field(
            &None,
            "client authentication (basic or post; empty for basic)",
            false,
        )? {
            None => None,
            Some(answer) => Some(ClientAuthMethod::from_str(&answer, true).map_err(|_| {
                Failure::new(
                    Exit::Usage,
                    format!(
                        "client authentication `{}`: basic or post",
                        answer.escape_debug()
                    ),
                )
            })?),
        },
    };
    profile.set(
        "client_auth",
        "how the client secret is sent: basic (HTTP Basic, the default) or post (in the body)",
        method.map(|method| method.name().to_owned()),
    );
    Ok(())
}

fn environment(profile: &mut Profile, ask: &mut Asker, args: &InitArgs) -> Result<(), Failure> {
    profile.set(
        "environment",
        "staging or production",
        ask.field(
            &args.environment,
            "environment (staging or production)",
            false,
        )?,
    );
    Ok(())
}

fn user(profile: &mut Profile, ask: &mut Asker, args: &InitArgs) -> Result<(), Failure> {
    profile.set(
        "username",
        "the user (an email for Convirza)",
        ask.field(&args.username, "username", true)?,
    );
    let variable = ask.field(
        &args.password_env,
        "variable holding the password (empty: ask on the terminal)",
        false,
    )?;
    profile.set(
        "password_env",
        "the environment variable holding the password; without it, tokenctl asks on a terminal",
        variable,
    );
    Ok(())
}

/// A profile's TOML, with a comment over every line.
struct Profile {
    text: String,
}

impl Profile {
    fn new(name: &str, provider: Provider) -> Self {
        Profile {
            text: format!(
                "# Written by tokenctl init. Secrets are never in this file: it names the\n# environment variables that hold them.\n[profiles.{name}]\nprovider = \"{}\"\n",
                provider.name()
            ),
        }
    }

    fn set(&mut self, key: &str, comment: &str, value: Option<String>) {
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            self.set_raw(key, comment, &toml::Value::String(value).to_string());
        }
    }

    fn set_raw(&mut self, key: &str, comment: &str, value: &str) {
        self.text
            .push_str(&format!("# {comment}\n{key} = {value}\n"));
    }

    fn finish(self) -> String {
        self.text
    }
}

/// Asks for what the options left out, on a terminal only.
struct Asker {
    prompting: Prompting,
}

impl Asker {
    fn field(
        &mut self,
        given: &Option<String>,
        question: &str,
        required: bool,
    ) -> Result<Option<String>, Failure> {
        if given.is_some() {
            return Ok(given.clone());
        }
        if !self.prompting.allowed() {
            return Ok(None);
        }
        let answer = self.line(question)?;
        match (answer.is_empty(), required) {
            (true, true) => Err(Failure::new(Exit::Usage, format!("{question} is needed"))),
            (true, false) => Ok(None),
            (false, _) => Ok(Some(answer)),
        }
    }

    fn required(&mut self, question: &str, given: Option<String>) -> Result<String, Failure> {
        match self.field(&given, question, true)? {
            Some(answer) => Ok(answer),
            None => Err(Failure::new(Exit::Usage, format!("{question}: not given"))
                .fix("give it as an option (tokenctl init --help), or run on a terminal")),
        }
    }

    fn line(&mut self, question: &str) -> Result<String, Failure> {
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "{question}: ");
        let _ = stderr.flush();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|error| {
                Failure::new(Exit::Internal, format!("cannot read the answer: {error}"))
            })?;
        Ok(answer.trim().to_owned())
    }
}
