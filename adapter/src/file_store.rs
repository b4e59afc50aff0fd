//! A session kept in a file: written to a temporary file, fsynced and renamed over the old
//! one, mode 0600, under a lock shared by every process using the file, and optionally
//! encrypted with a key the user provides.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use oauth_lifecycle::Generation;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::store::{compare_and_store, Saved, SessionStore, StoreError, StoredSession};

const FORMAT: u32 = 1;
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A 256-bit key that encrypts a stored session at rest (XChaCha20-Poly1305). Wiped from
/// memory when dropped; `Debug` never shows it.
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        StoreKey(bytes)
    }

    /// A key from its standard base64 form (as kept in an environment variable or a key
    /// file). Anything but 32 bytes is refused ([`StoreError::InvalidKey`], which calls
    /// it the "session key" setting).
    pub fn from_base64(encoded: &str) -> Result<Self, StoreError> {
        Self::from_setting("session key", encoded)
    }

    /// Like [`from_base64`](Self::from_base64), for the value of the setting named
    /// `setting` (an environment variable, a key file): a refusal names the setting,
    /// never its value.
    pub fn from_setting(setting: &str, encoded: &str) -> Result<Self, StoreError> {
        let invalid = |reason| StoreError::InvalidKey {
            setting: setting.to_owned(),
            reason,
        };
        let mut bytes = Zeroizing::new(
            BASE64
                .decode(encoded.trim())
                .map_err(|_| invalid("not valid base64"))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| invalid("not 32 bytes long once decoded"))?;
        bytes.zeroize();
        Ok(StoreKey(key))
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Self {
        StoreKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    /// The key's standard base64 form, to keep where the user keeps secrets.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.0))
    }

    /// Encrypts `plaintext` for a store: a fresh random 24-byte nonce followed by the
    /// XChaCha20-Poly1305 ciphertext. `bound` (what the store keeps in clear beside it,
    /// such as the revision) is authenticated with it: [`open`](Self::open) refuses the
    /// ciphertext with anything else.
    pub fn seal(&self, plaintext: &[u8], bound: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = XChaCha20Poly1305::new(&self.0.into())
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: bound,
                },
            )
            .map_err(|_| unreadable("a snapshot too large to encrypt"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) made with this key and `bound`; anything else
    /// (another key, other bound data, an altered byte) is refused.
    pub fn open(&self, sealed: &[u8], bound: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if sealed.len() < 24 {
            return Err(unreadable("a ciphertext too short to hold its nonce"));
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        XChaCha20Poly1305::new(&self.0.into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: bound,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| unreadable("a session sealed with another key, or altered"))
    }
}

impl Drop for StoreKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreKey([redacted])")
    }
}

/// How a [`FileStore`] keeps its session.
#[derive(Debug)]
#[non_exhaustive]
pub struct FileStoreOptions {
    /// The key that encrypts the session; `None` keeps it in plaintext (still mode 0600).
    pub key: Option<StoreKey>,
}

impl FileStoreOptions {
    /// Encrypted at rest with `key`.
    pub fn encrypted(key: StoreKey) -> Self {
        FileStoreOptions { key: Some(key) }
    }

    /// Plaintext at rest: a deliberate choice, readable by whoever can read the file.
    pub fn plaintext() -> Self {
        FileStoreOptions { key: None }
    }
}

/// A session in a file, for one process or several sharing it.
///
/// Every load and save holds a lock on `<file>.lock` (shared to load, exclusive to
/// save), so a save's compare-and-swap is atomic across processes. A save writes a
/// temporary file beside the target with mode 0600, fsyncs it, renames it over the
/// target and fsyncs the directory: a crash leaves the old session or the new one, never
/// a mix.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    key: Option<StoreKey>,
}

/// The file's content. The revision and generation stay in clear (they are no secret)
/// and are bound to the ciphertext as associated data.
#[derive(Serialize, Deserialize)]
struct Envelope {
    format: u32,
    revision: u64,
    generation: Generation,
    /// `"xchacha20poly1305"` or `"none"`.
    cipher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
    /// The snapshot: base64 of the ciphertext, or the snapshot's JSON itself.
    snapshot: Box<serde_json::value::RawValue>,
}

impl FileStore {
    /// A store at `path` (created on the first save; its directory must exist).
    pub fn new(path: impl Into<PathBuf>, options: FileStoreOptions) -> Self {
        let path = path.into();
        let mut lock_name = path.file_name().unwrap_or_default().to_owned();
        lock_name.push(".lock");
        FileStore {
            lock_path: path.with_file_name(lock_name),
            path,
            key: options.key,
        }
    }

    /// The file the session is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self, exclusive: bool) -> Result<File, StoreError> {
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(|error| match error.kind() {
                // The lock file is created if missing: its directory is.
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StoreError::Directory {
                    path: directory_of(&self.lock_path).to_owned(),
                    error,
                },
                _ => file_error("open the session store's lock file", &self.lock_path)(error),
            })?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(file_error(
            "lock the session store's lock file",
            &self.lock_path,
        ))?;
        Ok(file)
    }

    fn read(&self) -> Result<Option<StoredSession>, StoreError> {
        let mut raw = Zeroizing::new(Vec::new());
        let failed = file_error("read the session file", &self.path);
        match File::open(&self.path) {
            Ok(mut file) => file.read_to_end(&mut raw).map_err(failed)?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(failed(error)),
        };
        let envelope: Envelope =
            serde_json::from_slice(&raw).map_err(|_| unreadable("not a session file"))?;
        if envelope.format != FORMAT {
            return Err(unreadable("a session file of another format"));
        }
        let snapshot = match (&self.key, envelope.cipher.as_str()) {
            (None, "none") => Zeroizing::new(envelope.snapshot.get().as_bytes().to_vec()),
            (Some(key), "xchacha20poly1305") => {
                let nonce = envelope
                    .nonce
                    .as_deref()
                    .and_then(|nonce| BASE64.decode(nonce).ok())
                    .filter(|nonce| nonce.len() == 24)
                    .ok_or_else(|| unreadable("a session file with a damaged nonce"))?;
                let sealed: String = serde_json::from_str(envelope.snapshot.get())
                    .map_err(|_| unreadable("a session file with a damaged ciphertext"))?;
                let sealed = BASE64
                    .decode(sealed)
                    .map_err(|_| unreadable("a session file with a damaged ciphertext"))?;
                let aad = associated_data(envelope.revision, envelope.generation);
                let mut whole = nonce;
                whole.extend_from_slice(&sealed);
                key.open(&whole, aad.as_bytes())?
            }
            (None, _) => return Err(unreadable("an encrypted session file, and no key")),
            (Some(_), _) => {
                return Err(unreadable(
                    "a plaintext session file where a key is configured",
                ))
            }
        };
        Ok(Some(StoredSession {
            revision: envelope.revision,
            generation: envelope.generation,
            snapshot,
        }))
    }

    fn write(&self, stored: &StoredSession) -> Result<(), StoreError> {
        let (cipher, nonce, snapshot) = match &self.key {
            None => {
                // Stored as the JSON it is, so a person can read a plaintext file.
                let json = std::str::from_utf8(&stored.snapshot)
                    .map_err(|_| unreadable("a snapshot that is not JSON"))?;
                let raw = serde_json::value::RawValue::from_string(json.to_owned())
                    .map_err(|_| unreadable("a snapshot that is not JSON"))?;
                ("none", None, raw)
            }
            Some(key) => {
                let aad = associated_data(stored.revision, stored.generation);
                let whole = key.seal(&stored.snapshot, aad.as_bytes())?;
                let (nonce, sealed) = whole.split_at(24);
                let text = serde_json::to_string(&BASE64.encode(sealed))
                    .map_err(|_| unreadable("a ciphertext that cannot be written"))?;
                let raw = serde_json::value::RawValue::from_string(text)
                    .map_err(|_| unreadable("a ciphertext that cannot be written"))?;
                ("xchacha20poly1305", Some(BASE64.encode(nonce)), raw)
            }
        };
        let envelope = Envelope {
            format: FORMAT,
            revision: stored.revision,
            generation: stored.generation,
            cipher: cipher.to_owned(),
            nonce,
            snapshot,
        };
        let bytes = Zeroizing::new(
            serde_json::to_vec_pretty(&envelope)
                .map_err(|_| unreadable("an envelope that cannot be written"))?,
        );
        let mut temporary_name = std::ffi::OsString::from(".");
        temporary_name.push(self.path.file_name().unwrap_or_default());
        temporary_name.push(format!(".{}.tmp", std::process::id()));
        let temporary = self.path.with_file_name(temporary_name);
        let written = (|| {
            let mut file = private_options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &self.path)?;
            sync_directory(&self.path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(file_error("write the session file", &self.path))
    }
}

impl SessionStore for FileStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        let _lock = self.lock(false)?;
        self.read()
    }

    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError> {
        let _lock = self.lock(true)?;
        let mut held = self.read()?;
        let saved = compare_and_store(&mut held, expected, generation, snapshot)?;
        if let (Saved::Stored { .. }, Some(stored)) = (&saved, &held) {
            self.write(stored)?;
        }
        Ok(saved)
    }
}

/// Makes an I/O error about `path` a [`StoreError::File`].
fn file_error<'a>(
    operation: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |error| StoreError::File {
        operation,
        path: path.to_owned(),
        error,
    }
}

fn unreadable(reason: &'static str) -> StoreError {
    StoreError::Unreadable { reason }
}

fn associated_data(revision: u64, generation: Generation) -> String {
    format!("oauth-lifecycle session file {FORMAT}: revision {revision}, {generation}")
}

/// Options that create files readable and writable by their owner only.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// The directory `path` is in: `.` for a bare file name.
fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename in `path`'s directory durable.
fn sync_directory(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(directory_of(path))?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
