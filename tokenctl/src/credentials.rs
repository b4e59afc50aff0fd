//! The record of a rejection of the credentials, kept beside the session
//! (`….session.rejection`): when the provider rejected them, what it answered, and a
//! keyed hash of each credential the rejected attempt had at hand, so that a later run can
//! tell whether they changed since, without the credentials themselves ever being stored.
//!
//! Changed credentials (a fixed password) are tried at once, by an explicit login; the
//! same ones are not sent again before the session's own slow retry, and the command says
//! that the rejection is from an earlier attempt, and when.
//!
//! The hash is HMAC-SHA256, keyed with a random salt written with the record and, for an
//! encrypted session, the session key: without the key, the record says nothing about the
//! credentials; for a plaintext session (a file only its owner can read, which holds the
//! tokens themselves), a guess can be checked against it.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac as _};
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Error, Status, WaitReason};
use oauth_lifecycle_adapter::StoreKey;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::config::Profile;
use crate::limited::Refusal;
use crate::secrets::Secrets;
use crate::session_file::{key_material, write_private, SessionFile};

/// A rejection of the credentials, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Rejection {
    /// When the provider rejected them: RFC 3339, UTC.
    pub(crate) at: String,
    /// What it rejected: `login`, `refresh`.
    pub(crate) purpose: String,
    /// What it answered: kind, status and error code, never the server's words.
    pub(crate) evidence: String,
    /// Random; with the session key of an encrypted session, the key of the hashes.
    salt: String,
    /// HMAC-SHA256 (hex) of each secret the rejected attempt had, by the key of the
    /// provider's setting: `client_secret`, `password`.
    #[serde(flatten)]
    digests: BTreeMap<String, Option<String>>,
}

impl Rejection {
    /// The recorded rejection of the session in `file`, if any.
    pub(crate) fn load(file: &SessionFile) -> Option<Self> {
        let text = std::fs::read(file.rejection_path()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// When the provider rejected the credentials.
    pub(crate) fn at(&self) -> Option<UtcDateTime> {
        crate::time_format::parse_rfc3339(&self.at)
    }

    /// Whether a credential at hand now differs from the one the rejected attempt had,
    /// or was not at hand then. A credential not at hand now tells nothing.
    pub(crate) fn changed(&self, name: &str, profile: &Profile, now: &Secrets) -> bool {
        let Ok(key) = Key::new(name, profile, &self.salt) else {
            return false;
        };
        now.iter().any(|(setting, now)| {
            let then = self.digests.get(setting).cloned().flatten();
            Some(key.digest(setting, now)) != then
        })
    }
}

/// The key of the hashes: the salt, and the session key when there is one.
struct Key(Zeroizing<Vec<u8>>);

impl Key {
    fn new(name: &str, profile: &Profile, salt: &str) -> Result<Self, crate::failure::Failure> {
        let mut key = Zeroizing::new(b"tokenctl credentials v1\0".to_vec());
        key.extend_from_slice(salt.as_bytes());
        if let Some(material) = key_material(name, profile)? {
            key.push(0);
            key.extend_from_slice(material.as_bytes());
        }
        Ok(Key(key))
    }

    /// The hash of the secret of setting `setting`: labelled with the setting's key in
    /// words (`client secret`), as records have been from the first.
    fn digest(&self, setting: &str, secret: &str) -> String {
        let label = setting.replace('_', " ");
        let mut message = Zeroizing::new(Vec::with_capacity(label.len() + 1 + secret.len()));
        message.extend_from_slice(label.as_bytes());
        message.push(0);
        message.extend_from_slice(secret.as_bytes());
        hex(&hmac_sha256(&self.0, &message))
    }
}

/// After a run that went to the provider with `secrets`: if the session now stands
/// rejected and this run met the rejection, records it with a hash of `secrets`; if the
/// session is past any rejection, forgets the record. `status` is the stored session's,
/// after the run (`None`: none is stored).
pub(crate) fn settle(
    file: &SessionFile,
    name: &str,
    profile: &Profile,
    secrets: &Secrets,
    status: Option<&Status>,
) {
    match status {
        Some(status) if is_rejection(status) => {
            if let Some(refusal) = crate::limited::last_refusal() {
                record(file, name, profile, secrets, &refusal);
            }
        }
        _ => forget(file),
    }
}

/// Forgets the recorded rejection.
pub(crate) fn forget(file: &SessionFile) {
    let _ = std::fs::remove_file(file.rejection_path());
}

fn record(file: &SessionFile, name: &str, profile: &Profile, secrets: &Secrets, refusal: &Refusal) {
    // 32 random bytes from the operating system's generator (a store key's own source).
    let salt = StoreKey::generate().to_base64();
    let Ok(key) = Key::new(name, profile, &salt) else {
        return;
    };
    let rejection = Rejection {
        at: crate::time_format::rfc3339(refusal.at),
        purpose: refusal.purpose.clone(),
        evidence: refusal.evidence.clone(),
        digests: secrets
            .iter()
            .map(|(setting, secret)| (setting.to_owned(), Some(key.digest(setting, secret))))
            .collect(),
        salt: salt.as_str().to_owned(),
    };
    write_private(&file.rejection_path(), &rejection);
}

/// Whether `status` is a rejection of the credentials or the client: retried slowly by
/// the session, or given up.
pub(crate) fn is_rejection(status: &Status) -> bool {
    matches!(
        status,
        Status::Waiting {
            reason: WaitReason::Rejected { .. },
            ..
        } | Status::NeedsLogin {
            error: Error::Rejected { .. } | Error::Reauthenticate { .. },
        }
    )
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231's test cases 1, 2 and 6 (a key longer than the block): the keyed hash is
    /// the standard one, so a record written today is read the same by any later version.
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let table: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in table {
            assert_eq!(hex(&hmac_sha256(key, message)), expected);
        }
    }

    /// A record written when the secrets were two fixed fields (`client_secret`,
    /// `password`, hashed with labels `client secret` and `password`) reads the same now
    /// that they are a provider's secret settings.
    #[test]
    fn a_record_of_the_fixed_fields_reads_the_same() {
        let profile = crate::config::parse(
            "[profiles.p]\nprovider = \"convirza-v2\"\nclient_id = \"c\"\nclient_secret_env = \"S\"\nusername = \"u\"\npassword_env = \"P\"\nplaintext_storage = true",
        )
        .unwrap()
        .profiles
        .remove("p")
        .unwrap();
        let salt = "c2FsdA==";
        let mut key = b"tokenctl credentials v1\0".to_vec();
        key.extend_from_slice(salt.as_bytes());
        let old = |label: &str, secret: &str| {
            hex(&hmac_sha256(&key, format!("{label}\0{secret}").as_bytes()))
        };
        let record = serde_json::json!({
            "at": "2026-01-01T00:00:00Z",
            "purpose": "login",
            "evidence": "endpoint error",
            "salt": salt,
            "client_secret": old("client secret", "the-secret"),
            "password": old("password", "the-password"),
        });
        let rejection: Rejection = serde_json::from_value(record).unwrap();
        let secrets = |client_secret: &str, password: &str| {
            let mut secrets = Secrets::default();
            secrets.insert("client_secret", client_secret);
            secrets.insert("password", password);
            secrets
        };
        assert!(!rejection.changed("p", &profile, &secrets("the-secret", "the-password")));
        assert!(rejection.changed("p", &profile, &secrets("the-secret", "fixed")));
        assert!(rejection.changed("p", &profile, &secrets("fixed", "the-password")));
        assert!(!rejection.changed("p", &profile, &Secrets::default()));
        // Written back, the fields are where they were.
        let written = serde_json::to_value(&rejection).unwrap();
        assert_eq!(written["password"], old("password", "the-password"));
        // A record with a secret not at hand then (`null`) reads too.
        let record = serde_json::json!({
            "at": "2026-01-01T00:00:00Z", "purpose": "login", "evidence": "e",
            "salt": salt, "client_secret": null, "password": old("password", "p"),
        });
        let rejection: Rejection = serde_json::from_value(record).unwrap();
        assert!(rejection.changed("p", &profile, &secrets("now-at-hand", "p")));
    }
}
