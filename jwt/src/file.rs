//! [`AssertionFile`]: an assertion the platform issues into a file.

use std::fmt;
use std::fs::{self, File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionClaims, AssertionError, AssertionMethod, AssertionSource, MAX_ASSERTION_LEN,
};
use time::UtcDateTime;
use zeroize::Zeroizing;

/// How long before its `exp` a cached assertion is read again unless configured: the
/// platform rotates its token well before then.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// An assertion the platform writes into a file and rotates: a Kubernetes projected
/// service-account token, a CI system's OIDC token. Each request carries the file's
/// current assertion; the session's claims are not used, except their `issued_at`, taken
/// as "now" (this source never reads the clock, so the session's clock rules).
///
/// The last assertion read is kept (wiped when replaced or dropped) and served until the
/// file changes (its length, modification time, or on Unix its inode: a rotation by
/// symlink swap or rename) or until its `exp` is within the
/// [`refresh_margin`](Self::refresh_margin) of now. Then the file is read again, at most
/// [`MAX_ASSERTION_LEN`] bytes, trimmed of surrounding whitespace.
///
/// A missing or unreadable file is [`AssertionError::Unavailable`], naming the path and
/// the error's kind; an assertion already expired is [`AssertionError::Expired`]; text
/// that is not a JWT with an `exp` is [`AssertionError::Malformed`]. `Debug` shows the
/// path only.
pub struct AssertionFile {
    path: PathBuf,
    margin: time::Duration,
    method: AssertionMethod,
    cache: Mutex<Option<Cached>>,
}

/// The last assertion read and the file's state when it was read.
struct Cached {
    stamp: Stamp,
    compact: Zeroizing<String>,
    expires_at: UtcDateTime,
}

/// What tells that a file changed without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl Stamp {
    fn of(metadata: &Metadata) -> Stamp {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Stamp {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            inode: (metadata.dev(), metadata.ino()),
        }
    }
}

impl fmt::Debug for AssertionFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AssertionFile {
    /// The assertion in the file at `path`, refreshed [`DEFAULT_REFRESH_MARGIN`] before
    /// its `exp`, serving [`AssertionMethod::PrivateKeyJwt`]. The file is first read
    /// when the first request asks.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        AssertionFile {
            path: path.into(),
            margin: time::Duration::seconds(60),
            method: AssertionMethod::PrivateKeyJwt,
            cache: Mutex::new(None),
        }
    }

    /// Read the file again once the cached assertion's `exp` is within `margin` of now.
    #[must_use]
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = time::Duration::try_from(margin).unwrap_or(time::Duration::MAX);
        self
    }

    /// The client authentication method the assertions serve
    /// ([`AssertionMethod::PrivateKeyJwt`] unless set).
    #[must_use]
    pub fn with_method(mut self, method: AssertionMethod) -> Self {
        self.method = method;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn unavailable(&self, error: &io::Error) -> AssertionError {
        AssertionError::Unavailable {
            reason: format!("cannot read {}: {}", self.path.display(), error.kind()),
        }
    }

    /// Reads the file: the assertion, its `exp`, and the file's state.
    fn read(&self) -> Result<Cached, AssertionError> {
        let file = File::open(&self.path).map_err(|e| self.unavailable(&e))?;
        let stamp = Stamp::of(&file.metadata().map_err(|e| self.unavailable(&e))?);
        let mut buffer = Zeroizing::new(vec![0u8; MAX_ASSERTION_LEN + 1]);
        let len = crate::read_bounded(file, &mut buffer).map_err(|e| self.unavailable(&e))?;
        if len > MAX_ASSERTION_LEN {
            return Err(AssertionError::Malformed {
                what: "it is longer than 16 KiB",
            });
        }
        let text = std::str::from_utf8(&buffer[..len]).map_err(|_| AssertionError::Malformed {
            what: "it is not UTF-8 text",
        })?;
        let compact = Zeroizing::new(text.trim().to_owned());
        let assertion = Assertion::new(String::clone(&compact))?;
        let expires_at = assertion.expires_at().ok_or(AssertionError::Malformed {
            what: "it has no `exp`",
        })?;
        Ok(Cached {
            stamp,
            compact,
            expires_at,
        })
    }
}

impl AssertionSource for AssertionFile {
    fn method(&self) -> AssertionMethod {
        self.method
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        let now = claims.issued_at;
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let metadata = match fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) => {
                *cache = None;
                return Err(self.unavailable(&error));
            }
        };
        let stamp = Stamp::of(&metadata);
        let fresh = cache.as_ref().is_some_and(|cached| {
            cached.stamp == stamp && cached.expires_at > now.saturating_add(self.margin)
        });
        // Taken out first: a failed read leaves nothing cached.
        let cached: &Cached = match cache.take() {
            Some(cached) if fresh => cache.insert(cached),
            _ => cache.insert(self.read()?),
        };
        if cached.expires_at <= now {
            return Err(AssertionError::Expired {
                expired_at: cached.expires_at,
            });
        }
        Assertion::new(String::clone(&cached.compact))
    }
}
