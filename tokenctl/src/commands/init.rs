//! `tokenctl init`: writes a commented profile to the config file, from the options
//! given and, on a terminal, answers to questions. Secrets are never asked for here:
//! the profile names the environment variables that will hold them.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum as _;

use oauth_lifecycle::dialect::{Need, Setting, Settings};

use crate::cli::{setting_flags, Global, InitArgs, SettingArgs};
use crate::config::{self, Locations};
use crate::context::check_timeout;
use crate::dialects;
use crate::discover::{self, Discovered};
use crate::failure::{Exit, Failure};
use crate::providers::{self, Provider};
use crate::secrets::{Prompting, Secrets};
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
    refuse_issuer_with_token_url(args)?;
    let provider = match args.provider {
        Some(provider) => provider,
        // Discovery configures one provider only.
        None if args.issuer.is_some() => Provider::from_name(providers::DISCOVERED)
            .ok_or_else(|| Failure::new(Exit::Internal, "no provider takes --issuer"))?,
        None => {
            let answer = ask.required(&format!("provider ({})", Provider::names()), None)?;
            Provider::from_str(&answer, true).map_err(|_| {
                Failure::new(
                    Exit::Usage,
                    format!("unknown provider `{}`", answer.escape_debug()),
                )
                .fix(format!("give one of: {}", Provider::names()))
            })?
        }
    };
    refuse_settings_not_taken(provider, &args.settings)?;
    let mut discovered = match &args.issuer {
        Some(issuer) => {
            refuse_issuer_for(provider)?;
            check_timeout(global.timeout)?;
            if global.dry_run {
                println!("{}", discover::dry_run(issuer)?);
                return Ok(ExitCode::SUCCESS);
            }
            Some(discover::discover(issuer, global.timeout)?)
        }
        None => None,
    };
    let mut profile = Draft::new(name, provider);
    if let Some(discovered) = &discovered {
        profile.comment(&discovered.comment());
    }
    settings(
        provider,
        &args.settings,
        &mut ask,
        &mut profile,
        discovered.as_mut(),
    )?;

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
            variable,
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
            &path.display().to_string(),
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
    let mut config = config::parse(&combined).map_err(|message| {
        Failure::new(
            Exit::Config,
            format!("the new profile is incomplete: {message}"),
        )
        .fix("give the missing options (tokenctl init --help)")
    })?;
    // Its values too (URLs, header names), as a command would build the dialect.
    if let Some(written) = config.profiles.remove(name.as_str()) {
        dialects::build(name, &written, &Secrets::default(), None).map_err(|failure| {
            Failure::new(
                Exit::Config,
                format!("the new profile is invalid: {}", failure.message),
            )
            .fix("give other options (tokenctl init --help)")
        })?;
    }
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
    for line in discovered.iter().flat_map(Discovered::summary) {
        println!("{line}");
    }
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

/// Refuses `--issuer` beside `--token-url`: discovery finds the token endpoint. A usage
/// error, before anything is sent.
fn refuse_issuer_with_token_url(args: &InitArgs) -> Result<(), Failure> {
    if args.issuer.is_some() && args.settings.values.contains_key(discover::TOKEN_URL) {
        return Err(Failure::new(
            Exit::Usage,
            "--issuer and --token-url: give one (discovery finds the token endpoint)",
        )
        .fix("leave out --token-url to use the issuer's, or leave out --issuer to give the endpoints by hand"));
    }
    Ok(())
}

/// Refuses `--issuer` for a provider discovery does not configure: a usage error.
fn refuse_issuer_for(provider: Provider) -> Result<(), Failure> {
    if provider.name() != providers::DISCOVERED {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "--issuer: provider `{provider}` is not configured by discovery (only `{}` is)",
                providers::DISCOVERED
            ),
        )
        .fix(format!(
            "leave out --issuer, or give --provider {}",
            providers::DISCOVERED
        )));
    }
    Ok(())
}

/// Refuses a flag for a setting `provider` does not take: a usage error.
fn refuse_settings_not_taken(provider: Provider, given: &SettingArgs) -> Result<(), Failure> {
    for flag in setting_flags() {
        if given.values.contains_key(flag.key) && !provider.takes(flag.key) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--{}: provider `{provider}` has no setting `{}`",
                    flag.long, flag.id
                ),
            )
            .fix(format!(
                "leave out --{} (it is for --provider {})",
                flag.long,
                flag.takers().replace(", ", " or ")
            )));
        }
    }
    Ok(())
}

/// `setting`'s flag: `--client-secret-env`.
fn flag(setting: &Setting) -> String {
    format!("--{}", providers::profile_key(setting).replace('_', "-"))
}

/// Sets each of `provider`'s settings the profile uses, from `given`, what was
/// `discovered` (where nothing is given) and, on a terminal, answers: in the provider's
/// order, so that a setting another depends on (`grant`, `client_secret`) is known before
/// it (`username`, `client_auth`).
fn settings(
    provider: Provider,
    given: &SettingArgs,
    ask: &mut Asker,
    profile: &mut Draft,
    mut discovered: Option<&mut Discovered>,
) -> Result<(), Failure> {
    // The settings so far, a secret by its variable.
    let mut answers: Vec<(&'static str, String)> = Vec::new();
    for setting in provider.settings() {
        let so_far = answers
            .iter()
            .fold(Settings::new(), |settings, (key, value)| {
                settings.with(key, value)
            });
        let flagged = given.values.get(setting.key).map(String::as_str);
        let value = match discovered.as_deref_mut() {
            Some(discovered) => discovered.setting(setting.key, flagged, &so_far)?,
            None => flagged.map(str::to_owned),
        };
        let from_discovery = flagged.is_none() && value.is_some();
        if let Need::When { key, value: when } = setting.need {
            if so_far.get(key) != Some(when) {
                if value.is_some() {
                    let depended = format!("--{}", key.replace('_', "-"));
                    return Err(Failure::new(
                        Exit::Usage,
                        format!("{} is used only when {depended} is {when}", flag(setting)),
                    )
                    .fix(format!(
                        "give {depended} {when} too, or leave out {}",
                        flag(setting)
                    )));
                }
                continue;
            }
        }
        let partner = providers::GOES_WITH
            .iter()
            .filter(|(key, ..)| *key == setting.key)
            .find_map(|(_, partner, what)| Some((provider.setting(partner)?, what)));
        if let Some((partner, what)) = partner {
            if so_far.get(partner.key).is_none() {
                if value.is_some() {
                    return Err(Failure::new(
                        Exit::Usage,
                        format!(
                            "{} {what}, and the profile has no `{}`",
                            flag(setting),
                            providers::profile_key(partner)
                        ),
                    )
                    .fix(format!(
                        "give {} too, or leave out {}",
                        flag(partner),
                        flag(setting)
                    )));
                }
                continue;
            }
        }
        let needed = setting.is_needed(&so_far);
        // A password may be typed at the terminal at login instead.
        let required = needed && !(setting.secret && providers::is_prompted(setting.key));
        let answer = ask
            .field(&value, &question(setting, needed), required)?
            .filter(|answer| !answer.is_empty());
        let Some(answer) = answer else {
            continue;
        };
        if !setting.choices.is_empty() && !setting.choices.contains(&answer.as_str()) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "{} takes one of: {}",
                    flag(setting),
                    setting.choices.join(", ")
                ),
            ));
        }
        let mut about = comment(setting);
        if from_discovery {
            about.push_str("; discovered");
        }
        profile.set(&providers::profile_key(setting), &about, &answer);
        answers.push((setting.key, answer));
    }
    Ok(())
}

/// The comment over `setting`'s line in the profile.
fn comment(setting: &Setting) -> String {
    let about = providers::about(setting);
    match (setting.need, setting.default) {
        _ if setting.secret && providers::is_prompted(setting.key) => {
            format!("{about}; {}", providers::PROMPTED_NOTE)
        }
        (Need::Optional, Some(default)) => format!("{about}; optional, default: {default}"),
        _ => about,
    }
}

/// The question for `setting` on a terminal.
fn question(setting: &Setting, needed: bool) -> String {
    let question = format!(
        "{}, {}",
        providers::profile_key(setting),
        providers::about(setting)
    );
    if setting.secret && providers::is_prompted(setting.key) {
        format!("{question} (empty: ask on the terminal)")
    } else if needed {
        question
    } else {
        format!(
            "{question} (empty for the default: {})",
            setting.default.unwrap_or("none")
        )
    }
}

/// A profile's TOML, with a comment over every line.
struct Draft {
    text: String,
}

impl Draft {
    fn new(name: &str, provider: Provider) -> Self {
        Draft {
            text: format!(
                "# Written by tokenctl init. Secrets are never in this file: it names the\n# environment variables that hold them.\n[profiles.{name}]\n# {}\nprovider = \"{}\"\n",
                provider.about(),
                provider.name()
            ),
        }
    }

    /// A comment line of its own.
    fn comment(&mut self, comment: &str) {
        self.text.push_str(&format!("# {comment}\n"));
    }

    fn set(&mut self, key: &str, comment: &str, value: &str) {
        if !value.is_empty() {
            self.set_raw(
                key,
                comment,
                &toml::Value::String(value.to_owned()).to_string(),
            );
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
