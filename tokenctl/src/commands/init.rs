//! `tokenctl init`: writes a commented profile to the config file, from the options
//! given and, on a terminal, answers to questions. Secrets are never asked for here:
//! the profile names the environment variables that will hold them.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum as _;

use oauth_lifecycle::dialect::{Need, Setting, Settings};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};

use crate::assertion::{self, Asked};
use crate::cli::{setting_flags, Global, InitArgs, SettingArgs};
use crate::config::{self, Locations, Profile};
use crate::context::check_timeout;
use crate::dialects;
use crate::discover::{self, Discovered};
use crate::failure::{Exit, Failure};
use crate::providers::{self, Provider};
use crate::secrets::{Prompting, Secrets};
use crate::session_file::{write_new_key, write_new_private};

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
    let mut private_key = PrivateKey::None;
    if let Some(written) = config.profiles.remove(name.as_str()) {
        dialects::build(name, &written, &Secrets::default(), None).map_err(|failure| {
            Failure::new(
                Exit::Config,
                format!("the new profile is invalid: {}", failure.message),
            )
            .fix("give other options (tokenctl init --help)")
        })?;
        private_key = PrivateKey::plan(name, &written, args.generate_private_key.as_deref())?;
    }
    if let Some(path) = &new_key {
        write_new_key(path)?;
    }
    let public_jwk = private_key.generate()?;
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
    match (&private_key, public_jwk) {
        (PrivateKey::Generate { path, algorithm, .. }, Some(jwk)) => {
            println!(
                "wrote a new {algorithm} private key to {}; register its public key with the server:\n{jwk}",
                path.display()
            );
        }
        (PrivateKey::Missing(path), _) => eprintln!(
            "note: the private key file {} is not there yet; put the key there, readable by its owner only (chmod 600), before the first login",
            path.display()
        ),
        _ => {}
    }
    println!("next: tokenctl login -p {name}");
    Ok(ExitCode::SUCCESS)
}

/// The private key file a new profile names: one to generate (`--generate-private-key`),
/// one checked as a request would read it (owner-only, a key tokenctl signs with), or
/// one not there yet, which is only noted: it may be put there before the first login.
enum PrivateKey {
    /// The profile names none, or it was checked.
    None,
    /// To be generated.
    Generate {
        path: PathBuf,
        algorithm: Algorithm,
        key_id: Option<String>,
    },
    /// Not there yet.
    Missing(PathBuf),
}

impl PrivateKey {
    /// What to do about the private key file of `profile` (profile `name`), with
    /// `--generate-private-key` (`generate`, its algorithm). Writes nothing.
    fn plan(name: &str, profile: &Profile, generate: Option<&str>) -> Result<Self, Failure> {
        let path = profile.get(assertion::PRIVATE_KEY_FILE).map(PathBuf::from);
        let Some(path) = path else {
            if generate.is_some() {
                return Err(Failure::new(
                    Exit::Usage,
                    "--generate-private-key: the profile names no private key file",
                )
                .fix("give --private-key-file PATH too (with --client-auth private-key-jwt or --grant jwt-bearer)"));
            }
            return Ok(PrivateKey::None);
        };
        if let Some(algorithm) = generate {
            if std::fs::symlink_metadata(&path).is_ok() {
                return Err(Failure::new(
                    Exit::Usage,
                    format!(
                        "--generate-private-key: {} exists; tokenctl never replaces a key",
                        path.display()
                    ),
                )
                .fix("give another --private-key-file, or leave out --generate-private-key to use this key"));
            }
            let algorithm = algorithm.parse::<Algorithm>().map_err(|error| {
                Failure::new(Exit::Usage, format!("--generate-private-key: {error}"))
            })?;
            return Ok(PrivateKey::Generate {
                path,
                algorithm,
                key_id: profile.get(assertion::KEY_ID).map(str::to_owned),
            });
        }
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(PrivateKey::Missing(path));
        }
        assertion::source(&profile.settings(), None).map_err(|error| {
            let failure = error.failure(name, None);
            Failure {
                message: format!("the new profile is invalid: {}", failure.message),
                ..failure
            }
        })?;
        Ok(PrivateKey::None)
    }

    /// Writes the key to generate, if any, and gives its public JWK.
    fn generate(&self) -> Result<Option<serde_json::Value>, Failure> {
        let PrivateKey::Generate {
            path,
            algorithm,
            key_id,
        } = self
        else {
            return Ok(None);
        };
        let (signer, pem) = JwtSigner::generate(*algorithm).map_err(|error| {
            Failure::new(
                Exit::Internal,
                format!("cannot generate a private key: {error}"),
            )
        })?;
        let signer = match key_id {
            Some(kid) => signer.with_key_id(kid),
            None => signer,
        };
        write_new_private(path, "private key file", pem.as_bytes())?;
        Ok(signer.public_jwk())
    }
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
        // The choices left: without its partner, a setting takes only the values that
        // need none (`client_auth` without a client secret: `private-key-jwt`).
        let mut choices = setting.choices;
        let partner = providers::GOES_WITH
            .iter()
            .filter(|goes_with| goes_with.key == setting.key)
            .find_map(|goes_with| Some((provider.setting(goes_with.partner)?, goes_with)));
        if let Some((partner, goes_with)) = partner {
            if so_far.get(partner.key).is_none() {
                match value.as_deref() {
                    Some(value) if goes_with.needs_partner(value) => {
                        return Err(Failure::new(
                            Exit::Usage,
                            format!(
                                "{} {}, and the profile has no `{}`",
                                flag(setting),
                                goes_with.what,
                                providers::profile_key(partner)
                            ),
                        )
                        .fix(format!(
                            "give {} too, or leave out {}",
                            flag(partner),
                            flag(setting)
                        )));
                    }
                    Some(_) => {}
                    None if goes_with.unless.is_empty() => continue,
                    None => choices = goes_with.unless,
                }
            }
        }
        // The assertion settings, only where the profile's assertions use them.
        let mut needed = setting.is_needed(&so_far);
        let mut empty = None;
        match assertion::asked(setting.key, &so_far) {
            None | Some(Asked::Optional) => {}
            Some(Asked::OrNext(means)) => empty = Some(means),
            Some(Asked::Required) => needed = true,
            Some(Asked::Not(why)) => {
                if value.is_some() {
                    return Err(
                        Failure::new(Exit::Usage, format!("{} {why}", flag(setting)))
                            .fix(format!("leave out {}", flag(setting))),
                    );
                }
                continue;
            }
        }
        // Without its partner, empty leaves the setting out.
        if choices != setting.choices {
            empty = Some("empty: none");
        }
        // A password may be typed at the terminal at login instead.
        let required = needed && !(setting.secret && providers::is_prompted(setting.key));
        let question = match empty {
            Some(means) => format!("{} ({means})", question(setting, choices, true)),
            None => question(setting, choices, needed),
        };
        let answer = ask
            .field(&value, &question, required)?
            .filter(|answer| !answer.is_empty());
        let Some(answer) = answer else {
            continue;
        };
        if !choices.is_empty() && !choices.contains(&answer.as_str()) {
            return Err(Failure::new(
                Exit::Usage,
                format!("{} takes one of: {}", flag(setting), choices.join(", ")),
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

/// The question for `setting`, taking one of `choices` (all of its own, or those left),
/// on a terminal.
fn question(setting: &Setting, choices: &'static [&'static str], needed: bool) -> String {
    let question = format!(
        "{}, {}",
        providers::profile_key(setting),
        providers::about(&setting.choices(choices))
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
