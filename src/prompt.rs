//! What a person must see or do for a login to go on: the device grant's code and
//! address, or the browser's authorization URL. The session hands one out with
//! [`Event::LoginPrompt`](crate::Event::LoginPrompt) when the login starts, and shows it
//! again in its [`Status::AwaitingPerson`](crate::Status::AwaitingPerson) until the login
//! ends.

use std::fmt;

use http::Uri;
use serde::{Deserialize, Serialize};
use time::UtcDateTime;

/// What a person must do for a login to go on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LoginPrompt {
    /// The device grant (RFC 8628 §3.3): show the person the code and where to enter it.
    EnterCode(DevicePrompt),
    /// The authorization code grant: open the URL in the person's browser.
    OpenBrowser(BrowserPrompt),
}

impl LoginPrompt {
    /// Until when the person has to act.
    pub fn expires_at(&self) -> UtcDateTime {
        match self {
            LoginPrompt::EnterCode(prompt) => prompt.expires_at,
            LoginPrompt::OpenBrowser(prompt) => prompt.expires_at,
        }
    }
}

/// The device grant's prompt (RFC 8628 §3.3): the code a person enters, and where. None
/// of it is a secret: the device code the session polls with is not here.
///
/// Every text was checked when the server's answer was read: the code is printable and
/// short, the URIs are absolute `http(s)` URIs of printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevicePrompt {
    /// The code the person enters (`user_code`).
    pub user_code: String,
    /// Where the person enters it (`verification_uri`).
    pub verification_uri: String,
    /// A URI that carries the code (`verification_uri_complete`), for a link or a QR
    /// code, if the server gave one.
    pub verification_uri_complete: Option<String>,
    /// Until when the code may be entered: the server's `expires_in`, cut to the policy's
    /// [`person_login_timeout`](crate::Policy::person_login_timeout).
    pub expires_at: UtcDateTime,
}

/// The authorization code grant's prompt: the URL to open in the person's browser.
///
/// The URL carries the request's `state`: hand it to the browser, not to a log. `Debug`
/// shows it without its query.
#[derive(Clone, PartialEq)]
pub struct BrowserPrompt {
    pub(crate) url: Uri,
    /// Until when the session waits for the redirect: the policy's
    /// [`person_login_timeout`](crate::Policy::person_login_timeout) from the start.
    pub expires_at: UtcDateTime,
}

impl BrowserPrompt {
    /// The authorization URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }
}

impl fmt::Debug for BrowserPrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.url;
        let shown = format!(
            "{}://{}{}?[redacted]",
            url.scheme_str().unwrap_or("https"),
            url.authority().map_or("", |a| a.as_str()),
            url.path()
        );
        f.debug_struct("BrowserPrompt")
            .field("url", &shown)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}
