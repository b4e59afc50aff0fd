//! The authorization code a redirect carries, with what its exchange needs.

use super::*;

/// The authorization code a redirect carried, with what its exchange needs: the PKCE code
/// verifier and the redirect URI of the request (RFC 6749 §4.1.3, RFC 7636 §4.5), the
/// client id and the issuer it was issued for.
///
/// Hand it to [`Dialect::code_exchange_request`](crate::Dialect::code_exchange_request), or to a
/// session awaiting its redirect ([`Driver::handle_redirect`](crate::Driver::handle_redirect)).
/// A code is single-use (RFC 6749 §4.1.2: a server that sees one twice should revoke
/// what it issued for it): send its exchange once, and persist the code before sending
/// it if a restart must not send it again. It serializes with its secrets for that
/// snapshot; deserializing checks it again.
///
/// The code and the verifier are wiped when it is dropped; `Debug` shows neither.
pub struct AuthorizationCode {
    pub(super) code: WipedString,
    pub(super) verifier: WipedString,
    pub(super) redirect_uri: String,
    pub(super) client_id: String,
    pub(super) issuer: Option<String>,
}

impl AuthorizationCode {
    /// The code. Send it only to the token endpoint of [`issuer`](AuthorizationCode::issuer).
    pub fn secret(&self) -> &str {
        &self.code.0
    }

    /// The PKCE code verifier (RFC 7636 §4.1): the secret that proves the exchange is the
    /// request's. Send it only with the code.
    pub fn code_verifier(&self) -> &str {
        &self.verifier.0
    }

    /// The redirect URI the request was made with, exactly as given: the exchange sends
    /// it again (RFC 6749 §4.1.3).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The client id the request was made for: exchange the code as that client.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The issuer the request was made to, if it knew it: the code was checked to come
    /// from it when the redirect carried `iss`, and must be exchanged at its token
    /// endpoint.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The code and the verifier, with the forms a server may echo them in: for keeping
    /// them out of what the exchange's error shows.
    pub fn secrets(&self) -> Secrets {
        Secrets::new([self.code.0.as_str(), self.verifier.0.as_str()])
    }

    /// A copy whose code and verifier read `[redacted]`, for a snapshot safe to log. It
    /// cannot be deserialized; its exchange would be refused by any server.
    pub fn redacted(&self) -> Self {
        AuthorizationCode {
            code: WipedString(REDACTED.to_owned()),
            verifier: WipedString(REDACTED.to_owned()),
            redirect_uri: self.redirect_uri.clone(),
            client_id: self.client_id.clone(),
            issuer: self.issuer.clone(),
        }
    }

    /// Whether this is a [`redacted`](AuthorizationCode::redacted) copy.
    pub fn is_redacted(&self) -> bool {
        self.verifier.0 == REDACTED
    }
}

impl Clone for AuthorizationCode {
    fn clone(&self) -> Self {
        AuthorizationCode {
            code: WipedString(self.code.0.clone()),
            verifier: WipedString(self.verifier.0.clone()),
            redirect_uri: self.redirect_uri.clone(),
            client_id: self.client_id.clone(),
            issuer: self.issuer.clone(),
        }
    }
}

/// Equal fields, the secrets compared in constant time.
impl PartialEq for AuthorizationCode {
    fn eq(&self, other: &Self) -> bool {
        let code = constant_time_eq(self.code.0.as_bytes(), other.code.0.as_bytes());
        let verifier = constant_time_eq(self.verifier.0.as_bytes(), other.verifier.0.as_bytes());
        code & verifier
            & (self.redirect_uri == other.redirect_uri)
            & (self.client_id == other.client_id)
            & (self.issuer == other.issuer)
    }
}

impl Eq for AuthorizationCode {}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("code", &REDACTED)
            .field("code_verifier", &REDACTED)
            .field("redirect_uri", &self.redirect_uri)
            .field("client_id", &self.client_id)
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// A code as a snapshot keeps it, borrowed for writing.
#[derive(Serialize)]
pub(super) struct CodeFormRef<'a> {
    pub(super) code: &'a str,
    pub(super) code_verifier: &'a str,
    pub(super) redirect_uri: &'a str,
    pub(super) client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) issuer: Option<&'a str>,
}

/// A code as a snapshot keeps it, read back.
#[derive(Deserialize)]
pub(super) struct CodeForm {
    pub(super) code: SecretText,
    pub(super) code_verifier: SecretText,
    pub(super) redirect_uri: String,
    pub(super) client_id: String,
    #[serde(default)]
    pub(super) issuer: Option<String>,
}

/// Written with its secrets: only a snapshot made with them should hold it.
impl Serialize for AuthorizationCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        CodeFormRef {
            code: &self.code.0,
            code_verifier: &self.verifier.0,
            redirect_uri: &self.redirect_uri,
            client_id: &self.client_id,
            issuer: self.issuer.as_deref(),
        }
        .serialize(serializer)
    }
}

/// Checked as a redirect's code is: a code of printable ASCII within [`MAX_CODE_BYTES`],
/// a verifier this module could have made, a valid redirect URI, client id and issuer. A
/// [`redacted`](AuthorizationCode::redacted) one is refused.
impl<'de> Deserialize<'de> for AuthorizationCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut form = CodeForm::deserialize(deserializer)?;
        let code = form.code.take();
        let verifier = form.code_verifier.take();
        if code.0.len() > MAX_CODE_BYTES || !is_vschar_text(&code.0) {
            return Err(D::Error::custom(
                "the stored authorization code is empty, too long or not printable ASCII",
            ));
        }
        if !is_secret_text(&verifier.0) {
            return Err(D::Error::custom(
                AuthorizationRequestError::InvalidStoredSecret,
            ));
        }
        RedirectTarget::parse(&form.redirect_uri).map_err(|problem| {
            D::Error::custom(AuthorizationRequestError::InvalidRedirectUri { problem })
        })?;
        if !is_vschar_text(&form.client_id) {
            return Err(D::Error::custom(AuthorizationRequestError::InvalidClientId));
        }
        if let Some(issuer) = &form.issuer {
            check_issuer(issuer).map_err(D::Error::custom)?;
        }
        Ok(AuthorizationCode {
            code,
            verifier,
            redirect_uri: form.redirect_uri,
            client_id: form.client_id,
            issuer: form.issuer,
        })
    }
}

/// A secret read from a snapshot: wiped when dropped unless taken.
pub(super) struct SecretText(WipedString);

impl SecretText {
    pub(super) fn take(&mut self) -> WipedString {
        WipedString(std::mem::take(&mut self.0 .0))
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|text| SecretText(WipedString(text)))
    }
}
