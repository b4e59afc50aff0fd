//! Secrets overwritten with zeros when dropped: the bytes behind a sensitive header
//! value, and the strings inside `oauth2`'s secret types, which do not wipe themselves.

use std::sync::Arc;

use http::HeaderValue;
use oauth2::ResourceOwnerPassword;
use zeroize::Zeroize;

/// Bytes overwritten with zeros when the last `Bytes` handle to them is dropped.
struct WipedOnDrop(Vec<u8>);

impl AsRef<[u8]> for WipedOnDrop {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A string overwritten with zeros when dropped.
pub(crate) struct WipedString(pub(crate) String);

impl Drop for WipedString {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A shared string as the owner of a header value's bytes.
struct SharedText(Arc<WipedString>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0 .0.as_bytes()
    }
}

/// A header value marked [sensitive](HeaderValue::set_sensitive) over the bytes of
/// `text` itself, not a copy: the text is wiped when it and every clone of the value are
/// dropped. `None` if the text cannot be a header value.
pub(crate) fn shared_sensitive_header_value(text: &Arc<WipedString>) -> Option<HeaderValue> {
    let bytes = bytes::Bytes::from_owner(SharedText(Arc::clone(text)));
    let mut value = HeaderValue::from_maybe_shared(bytes).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A header value marked [sensitive](HeaderValue::set_sensitive) whose bytes are wiped
/// when the value and every clone of it are dropped. `None` if the bytes cannot be a
/// header value (the buffer is wiped all the same).
pub(crate) fn sensitive_header_value(bytes: Vec<u8>) -> Option<HeaderValue> {
    let bytes = bytes::Bytes::from_owner(WipedOnDrop(bytes));
    let mut value = HeaderValue::from_maybe_shared(bytes).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Wipes the string an `oauth2` secret type holds, leaving an empty one in its place.
pub(crate) fn wipe_secret<T>(
    secret: &mut T,
    empty: impl FnOnce() -> T,
    into: impl FnOnce(T) -> String,
) {
    into(std::mem::replace(secret, empty())).zeroize();
}

/// Wipes a password and the login body built from it: what a dialect that logs in with a
/// user's password holds.
pub(crate) fn wipe_login(password: &mut ResourceOwnerPassword, login_body: &mut Vec<u8>) {
    wipe_secret(
        password,
        || ResourceOwnerPassword::new(String::new()),
        ResourceOwnerPassword::into_secret,
    );
    login_body.zeroize();
}
