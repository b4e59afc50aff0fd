//! The assertions (RFC 7523) a profile may call for: a JWT signed with the client's
//! private key (`client_auth = "private-key-jwt"`) or with its secret
//! (`client_auth = "client-secret-jwt"`), or the JWT bearer grant's
//! (`grant = "jwt-bearer"`), signed with a private key or issued by the platform into a
//! file (`client_assertion_file`).
//!
//! The core does no I/O: tokenctl reads the files and hands the core the source of the
//! assertions. A private key file must be readable by its owner only, as the session's
//! key file is ([`owner_only`]); it is read only by a command that goes to the provider
//! (or shows, with `--dry-run`, what it would send), never to read a stored session.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionClaims, AssertionError, AssertionMethod, AssertionSource, MAX_ASSERTION_LEN,
};
use oauth_lifecycle::dialect::Settings;
use oauth_lifecycle_jwt::{Algorithm, AssertionFile, JwtSigner, KeyError, MAX_KEY_FILE_LEN};
use zeroize::Zeroizing;

use crate::failure::{Exit, Failure};
use crate::private_file::{owner_only, ReadableByOthers};

/// The setting naming the key that signs the assertions.
pub(crate) const PRIVATE_KEY_FILE: &str = "private_key_file";
/// The setting naming a file the platform writes an assertion to.
pub(crate) const CLIENT_ASSERTION_FILE: &str = "client_assertion_file";
/// The setting naming the `kid` of the assertions tokenctl signs.
pub(crate) const KEY_ID: &str = "key_id";

/// The setting naming the algorithm an RSA key signs with.
pub(crate) const ALGORITHM: &str = "assertion_algorithm";

/// The settings that mean something only with an assertion.
pub(crate) const ASSERTION_SETTINGS: &[&str] =
    oauth_lifecycle::dialect::Standard::ASSERTION_SETTINGS;

/// What a profile's assertions are for, and so what makes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// The client authenticates with a JWT signed by its private key, or one the
    /// platform issued (`client_auth = "private-key-jwt"`).
    PrivateKeyJwt,
    /// The client authenticates with a JWT signed with its secret (HS256,
    /// `client_auth = "client-secret-jwt"`).
    ClientSecretJwt,
    /// The grant is an assertion (`grant = "jwt-bearer"`), signed by a private key or
    /// issued by the platform.
    JwtBearer,
}

impl Use {
    /// The use `settings` call for, if any.
    pub(crate) fn of(settings: &Settings<'_>) -> Option<Self> {
        match settings.get("client_auth") {
            Some("private-key-jwt") => Some(Use::PrivateKeyJwt),
            Some("client-secret-jwt") => Some(Use::ClientSecretJwt),
            _ if settings.get("grant") == Some("jwt-bearer") => Some(Use::JwtBearer),
            _ => None,
        }
    }

    /// Whether the assertions come from a file the profile names (a private key, or the
    /// platform's assertion), rather than from the client secret.
    pub(crate) fn takes_a_file(self) -> bool {
        matches!(self, Use::PrivateKeyJwt | Use::JwtBearer)
    }

    /// The setting and value that call for it, as messages name them.
    fn named(self) -> &'static str {
        match self {
            Use::PrivateKeyJwt => "`client_auth = \"private-key-jwt\"`",
            Use::ClientSecretJwt => "`client_auth = \"client-secret-jwt\"`",
            Use::JwtBearer => "`grant = \"jwt-bearer\"`",
        }
    }

    /// The authentication method the core expects of the source.
    fn method(self) -> AssertionMethod {
        match self {
            Use::ClientSecretJwt => AssertionMethod::ClientSecretJwt,
            Use::PrivateKeyJwt | Use::JwtBearer => AssertionMethod::PrivateKeyJwt,
        }
    }
}

/// Checks the assertion settings of a profile whose other settings the core has checked:
/// a file for the assertions that need one (exactly one of [`PRIVATE_KEY_FILE`] and
/// [`CLIENT_ASSERTION_FILE`]), none for those the client secret signs, no assertion
/// setting without an assertion, and no two assertions at once. Errors name settings,
/// never values.
pub(crate) fn check(settings: &Settings<'_>) -> Result<(), String> {
    let given = |key: &str| settings.get(key).is_some();
    let Some(use_) = Use::of(settings) else {
        return match ASSERTION_SETTINGS.iter().find(|key| given(key)) {
            Some(key) => Err(format!(
                "setting `{key}` is used only when `client_auth` is `private-key-jwt` or \
                 `client-secret-jwt`, or `grant` is `jwt-bearer`"
            )),
            None => Ok(()),
        };
    };
    if use_ != Use::JwtBearer && settings.get("grant") == Some("jwt-bearer") {
        return Err(format!(
            "{} and `grant = \"jwt-bearer\"` would take two assertions: with the JWT bearer \
             grant, give `client_auth = \"basic\"` or `\"post\"` (with `client_secret_env`), \
             or leave `client_auth` out",
            use_.named()
        ));
    }
    let key = given(PRIVATE_KEY_FILE);
    let platform = given(CLIENT_ASSERTION_FILE);
    if use_.takes_a_file() {
        match (key, platform) {
            (true, true) => {
                return Err(format!(
                    "give one of `{PRIVATE_KEY_FILE}` and `{CLIENT_ASSERTION_FILE}`, not both"
                ))
            }
            (false, false) => {
                return Err(format!(
                    "missing setting `{PRIVATE_KEY_FILE}` or `{CLIENT_ASSERTION_FILE}`: {} \
                     needs the key that signs the assertions, or the file the platform \
                     writes them to",
                    use_.named()
                ))
            }
            _ => {}
        }
        for setting in [KEY_ID, ALGORITHM] {
            if platform && given(setting) {
                return Err(format!(
                    "setting `{setting}` is used only with `{PRIVATE_KEY_FILE}` (the platform \
                     names its own key and algorithm in the assertions it issues)"
                ));
            }
        }
    } else if let Some(file) = [PRIVATE_KEY_FILE, CLIENT_ASSERTION_FILE, ALGORITHM]
        .into_iter()
        .find(|key| given(key))
    {
        return Err(format!(
            "setting `{file}` is not used with {}: the client secret signs the assertions",
            use_.named()
        ));
    }
    Ok(())
}

/// Whether `tokenctl init` asks for an assertion setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Asked {
    /// Not: the profile has no use for it, for the reason given (after the flag).
    Not(&'static str),
    /// It may be left out.
    Optional,
    /// It may be left out, for the other way to the assertions, asked next: what empty
    /// means, for the question.
    OrNext(&'static str),
    /// It must be given.
    Required,
}

/// Whether `init` asks for setting `key` of a profile whose settings before it, in the
/// provider's order, are `so_far`; `None` for a setting that is no assertion's. The
/// same rules as [`check`], as the flags name the settings.
pub(crate) fn asked(key: &str, so_far: &Settings<'_>) -> Option<Asked> {
    if !ASSERTION_SETTINGS.contains(&key) {
        return None;
    }
    let Some(use_) = Use::of(so_far) else {
        return Some(Asked::Not(
            "is used only with --client-auth private-key-jwt or client-secret-jwt, or --grant \
             jwt-bearer",
        ));
    };
    let file = use_.takes_a_file();
    Some(match key {
        PRIVATE_KEY_FILE if file => {
            Asked::OrNext("empty: the platform writes the assertions to a file, asked next")
        }
        CLIENT_ASSERTION_FILE if file && so_far.get(PRIVATE_KEY_FILE).is_some() => Asked::Not(
            "is the other way to the assertions: give --private-key-file or \
             --client-assertion-file, not both",
        ),
        CLIENT_ASSERTION_FILE if file => Asked::Required,
        PRIVATE_KEY_FILE | CLIENT_ASSERTION_FILE => Asked::Not(
            "is not used with --client-auth client-secret-jwt: the client secret signs the \
             assertions",
        ),
        KEY_ID if so_far.get(CLIENT_ASSERTION_FILE).is_some() => Asked::Not(
            "is used only with --private-key-file (the platform names its own key in the \
             assertions it issues)",
        ),
        _ => Asked::Optional,
    })
}

/// Why the source of a profile's assertions could not be made. Never holds key
/// material: paths, kinds of key and the reasons of the signer's crate only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SourceError {
    /// The private key file may be read by others than its owner.
    #[error(transparent)]
    ReadableByOthers(#[from] ReadableByOthers),
    /// The private key file cannot be read (missing, a directory, no permission).
    #[error("private key file {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    /// The private key file holds no key tokenctl can sign with.
    #[error("private key file {}: {error}", path.display())]
    Key { path: PathBuf, error: KeyError },
    /// The client secret is too short to sign: HS256 needs at least 32 bytes. (Its
    /// length is not said: it would tell a little of the secret.)
    #[error(
        "the client secret is too short to sign client-secret-jwt assertions: HS256 needs at \
         least 32 bytes (256 bits)"
    )]
    ClientSecretTooShort,
    /// The client secret cannot sign, for another reason.
    #[error("the client secret cannot sign client-secret-jwt assertions: {error}")]
    ClientSecret { error: KeyError },
}

impl SourceError {
    /// The failure of a command of profile `profile` (whose client secret, if it signs,
    /// is in `variable`), with what to do about it.
    pub(crate) fn failure(self, profile: &str, variable: Option<&str>) -> Failure {
        let fix = match &self {
            SourceError::ReadableByOthers(error) => error.fix(),
            SourceError::Unreadable { .. } => {
                format!("give the path of the key in `{PRIVATE_KEY_FILE}` of profile `{profile}`")
            }
            SourceError::Key { .. } => format!(
                "give an unencrypted PEM (PKCS#8, SEC1 or PKCS#1) or JWK private key \
                 (RSA, EC P-256 or Ed25519) in `{PRIVATE_KEY_FILE}` of profile `{profile}`"
            ),
            SourceError::ClientSecretTooShort | SourceError::ClientSecret { .. } => format!(
                "set {} to the client secret the server issued (at least 32 bytes), or use \
                 `client_auth = \"private-key-jwt\"`",
                variable.unwrap_or("the client secret's variable")
            ),
        };
        Failure::new(Exit::Config, format!("profile `{profile}`: {self}")).fix(fix)
    }
}

/// The source of the assertions `settings` call for, reading the files they name;
/// `client_secret` is the secret a client-secret-jwt assertion is signed with. `None`
/// when the settings call for no assertion, or for one signed with a client secret that
/// is not at hand.
pub(crate) fn source(
    settings: &Settings<'_>,
    client_secret: Option<&str>,
) -> Result<Option<Arc<dyn AssertionSource>>, SourceError> {
    let Some(use_) = Use::of(settings) else {
        return Ok(None);
    };
    let key_id = settings.get(KEY_ID);
    let signer = if use_.takes_a_file() {
        if let Some(path) = settings.get(CLIENT_ASSERTION_FILE) {
            // Read when a request asks for it: the platform may write it later.
            return Ok(Some(Arc::new(AssertionFile::new(path))));
        }
        let Some(path) = settings.get(PRIVATE_KEY_FILE) else {
            return Ok(None);
        };
        let algorithm = settings.get(ALGORITHM).and_then(|name| name.parse().ok());
        private_key(Path::new(path), algorithm)?
    } else {
        let Some(secret) = client_secret else {
            return Ok(None);
        };
        JwtSigner::client_secret(secret).map_err(|error| match error {
            KeyError::WeakSecret { .. } => SourceError::ClientSecretTooShort,
            error => SourceError::ClientSecret { error },
        })?
    };
    let signer = match key_id {
        Some(kid) => signer.with_key_id(kid),
        None => signer,
    };
    Ok(Some(Arc::new(signer)))
}

/// The signer of the private key in the file at `path`, which only its owner may read.
fn private_key(path: &Path, algorithm: Option<Algorithm>) -> Result<JwtSigner, SourceError> {
    let metadata = std::fs::metadata(path).map_err(|error| SourceError::Unreadable {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    owner_only("private key file", path, &metadata)?;
    if !metadata.is_file() {
        return Err(SourceError::Unreadable {
            path: path.to_path_buf(),
            reason: "not a file".into(),
        });
    }
    JwtSigner::from_file(path, algorithm).map_err(|error| SourceError::Key {
        path: path.to_path_buf(),
        error,
    })
}

/// The files of the assertions `settings` call for, as credentials: the private key
/// file's or the platform's file's content, by the setting's key, for the record of a
/// rejection to tell whether it changed since (a new key, a rotated assertion). A file
/// that cannot be read, is not text, or is larger than a key or an assertion can be, is
/// left out: it tells nothing.
pub(crate) fn file_credentials(
    settings: &Settings<'_>,
) -> Option<(&'static str, Zeroizing<String>)> {
    Use::of(settings).filter(|use_| use_.takes_a_file())?;
    let (key, limit) = if settings.get(PRIVATE_KEY_FILE).is_some() {
        (PRIVATE_KEY_FILE, MAX_KEY_FILE_LEN)
    } else {
        (CLIENT_ASSERTION_FILE, MAX_ASSERTION_LEN)
    };
    let file = std::fs::File::open(settings.get(key)?).ok()?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(limit + 1));
    // Bounded: at most one byte more than the limit is read.
    file.take(limit as u64 + 1).read_to_end(&mut buffer).ok()?;
    if buffer.len() > limit {
        return None;
    }
    let text = std::str::from_utf8(&buffer).ok()?;
    Some((key, Zeroizing::new(text.to_owned())))
}

/// Stands in for the client secret when `--dry-run` shows a client-secret-jwt
/// assertion: the secret is not read for a dry run, and the signature is never shown.
const STAND_IN_SECRET: &str = "tokenctl-dry-run-stands-in-for-the-client-secret";

/// The source a dry run shows the assertions of: the private key or the platform's file
/// as a request would read them, a stand-in for the client secret.
pub(crate) fn dry_run_source(
    settings: &Settings<'_>,
) -> Result<Option<Arc<dyn AssertionSource>>, SourceError> {
    source(settings, Some(STAND_IN_SECRET))
}

/// The source of a dialect that must not read a key: one that reads a stored session,
/// or checks a profile. It has no assertion to give; such a dialect sends nothing.
pub(crate) fn not_at_hand(settings: &Settings<'_>) -> Option<Arc<dyn AssertionSource>> {
    Use::of(settings).map(|use_| Arc::new(NotAtHand(use_.method())) as Arc<dyn AssertionSource>)
}

/// See [`not_at_hand`].
struct NotAtHand(AssertionMethod);

impl fmt::Debug for NotAtHand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotAtHand")
    }
}

impl AssertionSource for NotAtHand {
    fn method(&self) -> AssertionMethod {
        self.0
    }

    fn assertion(&self, _claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        Err(AssertionError::Unavailable {
            reason: "tokenctl reads the key only for a request it sends".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&'static str, &'static str)]) -> Settings<'static> {
        pairs
            .iter()
            .fold(Settings::new(), |settings, (key, value)| {
                settings.with(key, value)
            })
    }

    /// Each wrong combination of assertion settings is refused by name, and each right
    /// one passes.
    #[test]
    fn the_assertion_settings_are_checked() {
        type Given = &'static [(&'static str, &'static str)];
        let cases: &[(Given, Option<&str>)] = &[
            (&[], None),
            (&[("client_auth", "post")], None),
            (
                &[("client_auth", "private-key-jwt"), (PRIVATE_KEY_FILE, "k")],
                None,
            ),
            (
                &[("client_auth", "private-key-jwt"), (CLIENT_ASSERTION_FILE, "t")],
                None,
            ),
            (
                &[("client_auth", "private-key-jwt")],
                Some("missing setting `private_key_file` or `client_assertion_file`: `client_auth = \"private-key-jwt\"` needs"),
            ),
            (
                &[("grant", "jwt-bearer")],
                Some("missing setting `private_key_file` or `client_assertion_file`: `grant = \"jwt-bearer\"` needs"),
            ),
            (
                &[
                    ("grant", "jwt-bearer"),
                    (PRIVATE_KEY_FILE, "k"),
                    (CLIENT_ASSERTION_FILE, "t"),
                ],
                Some("give one of `private_key_file` and `client_assertion_file`, not both"),
            ),
            (
                &[("grant", "jwt-bearer"), (CLIENT_ASSERTION_FILE, "t"), (KEY_ID, "k1")],
                Some("setting `key_id` is used only with `private_key_file`"),
            ),
            (
                &[("grant", "jwt-bearer"), (PRIVATE_KEY_FILE, "k"), (KEY_ID, "k1")],
                None,
            ),
            (
                &[("grant", "jwt-bearer"), (PRIVATE_KEY_FILE, "k"), (ALGORITHM, "PS256")],
                None,
            ),
            (
                &[("grant", "jwt-bearer"), (CLIENT_ASSERTION_FILE, "t"), (ALGORITHM, "PS256")],
                Some("setting `assertion_algorithm` is used only with `private_key_file`"),
            ),
            (
                &[("client_auth", "client-secret-jwt"), (ALGORITHM, "PS256")],
                Some("setting `assertion_algorithm` is not used with"),
            ),
            (&[("client_auth", "client-secret-jwt"), (KEY_ID, "k1")], None),
            (
                &[("client_auth", "client-secret-jwt"), (PRIVATE_KEY_FILE, "k")],
                Some("setting `private_key_file` is not used with `client_auth = \"client-secret-jwt\"`"),
            ),
            (
                &[
                    ("client_auth", "private-key-jwt"),
                    ("grant", "jwt-bearer"),
                    (PRIVATE_KEY_FILE, "k"),
                ],
                Some("`client_auth = \"private-key-jwt\"` and `grant = \"jwt-bearer\"` would take two assertions"),
            ),
            (
                &[(PRIVATE_KEY_FILE, "k")],
                Some("setting `private_key_file` is used only when `client_auth` is `private-key-jwt`"),
            ),
            (
                &[("client_auth", "basic"), ("assertion_lifetime", "30")],
                Some("setting `assertion_lifetime` is used only when"),
            ),
        ];
        for (given, expected) in cases {
            let result = check(&settings(given));
            match (result, expected) {
                (Ok(()), None) => {}
                (Err(error), Some(expected)) => {
                    assert!(error.starts_with(expected), "{given:?}: {error}")
                }
                (result, _) => panic!("{given:?}: {result:?}"),
            }
        }
    }

    /// A stand-in names the method the core expects, and gives no assertion.
    #[test]
    fn the_stand_in_gives_nothing() {
        let source = not_at_hand(&settings(&[("client_auth", "client-secret-jwt")])).unwrap();
        assert_eq!(source.method(), AssertionMethod::ClientSecretJwt);
        assert!(not_at_hand(&settings(&[("client_auth", "post")])).is_none());
        let now = oauth_lifecycle::time::UtcDateTime::UNIX_EPOCH;
        let claims = AssertionClaims {
            issuer: "c".into(),
            subject: "c".into(),
            audience: "a".into(),
            issued_at: now,
            expires_at: now,
        };
        assert!(matches!(
            source.assertion(&claims),
            Err(AssertionError::Unavailable { .. })
        ));
    }
}
