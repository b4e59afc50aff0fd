//! Token sets and expiry arithmetic: relative `expires_in` seconds, absolute ISO 8601
//! timestamps, server clock offsets taken from the `Date` header.

use std::fmt;

use oauth2::{AccessToken, RefreshToken};
use serde::{Deserialize, Serialize};
use time::{Duration, UtcDateTime};

pub use crate::bearer::access_token_with_room;
use crate::bearer::{BearerToken, CurrentToken, Generation, Withdrawal};
use crate::echo::Secrets;
use crate::error::Malformed;
use crate::policy::{Policy, MAX_LIFETIME};
pub use crate::timestamp::parse_timestamp;
use crate::wipe::wipe_secret;

/// How a token response states an expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Seconds from issue (RFC 6749 `expires_in`). May be zero or negative when the
    /// server misbehaves: the session refuses those.
    In(i64),
    /// An absolute moment in the server's clock (Convirza V3 sends ISO 8601 timestamps).
    At(UtcDateTime),
    /// Not stated: the policy's default lifetime applies.
    Unstated,
}

/// A parsed, successful token response, before the session does its time arithmetic.
///
/// Dialects produce it; [`TokenSet::from_grant`] turns it into a token set.
#[derive(Debug, Clone)]
pub struct TokenGrant<E> {
    /// The access token.
    pub access_token: AccessToken,
    /// The refresh token, if the server issued one.
    pub refresh_token: Option<RefreshToken>,
    /// The access token's expiry.
    pub expires: Expiry,
    /// The refresh token's expiry, if the server states one.
    pub refresh_expires: Option<Expiry>,
    /// The granted scope, if the server states it.
    pub scope: Option<String>,
    /// The dialect's extra fields.
    pub extra: E,
}

/// One access token with its refresh token, expiries and the dialect's extra fields.
///
/// All moments are in the caller's clock: absolute expiries from the server have been
/// corrected by the offset measured from the response's `Date` header. `Debug` never
/// shows a token.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenSet<E> {
    #[serde(rename = "access_token", with = "secret_string")]
    pub(crate) bearer: BearerToken,
    /// Which of the session's tokens this is (0 until a session adopts it).
    #[serde(default)]
    pub(crate) generation: Generation,
    #[serde(with = "optional_secret_string", default)]
    pub(crate) refresh_token: Option<RefreshToken>,
    pub(crate) issued_at: UtcDateTime,
    pub(crate) expires_at: UtcDateTime,
    #[serde(default)]
    pub(crate) refresh_expires_at: Option<UtcDateTime>,
    #[serde(default)]
    pub(crate) scope: Option<Box<str>>,
    pub(crate) extra: E,
    /// When renewal starts (policy applied at creation).
    pub(crate) refresh_at: UtcDateTime,
    /// Last moment the access token may be handed out.
    pub(crate) hard_expiry: UtcDateTime,
    /// Why the access token is no longer handed out, if it was withdrawn before its
    /// replacement arrived.
    #[serde(default)]
    pub(crate) withdrawn: Option<Withdrawal>,
    /// The tokens' echo forms, built the first time a text long enough to hold one of
    /// them is checked, then kept: never persisted, compared or shown.
    #[serde(skip)]
    pub(crate) echoes: TokenEchoes,
}

/// The lazily built [`Secrets`] of a token set, boxed so a set that never needs them
/// grows by one word. A copy builds its own, so no clone of a set carries another's
/// forms.
#[derive(Default)]
pub(crate) struct TokenEchoes(Option<Box<Secrets>>);

impl Clone for TokenEchoes {
    fn clone(&self) -> Self {
        TokenEchoes::default()
    }
}

/// Why a token response could not become a token set.
pub(crate) type GrantError = Malformed;

impl<E> TokenSet<E> {
    /// Builds a token set from a parsed response.
    ///
    /// `sent_at` is when the request left (relative lifetimes count from there, the
    /// conservative choice); `received_at` and `server_date` (the response's `Date`
    /// header) measure the server's clock offset, which corrects absolute expiries when
    /// it exceeds one second (the header's resolution).
    pub fn from_grant(
        grant: TokenGrant<E>,
        policy: &Policy,
        sent_at: UtcDateTime,
        received_at: UtcDateTime,
        server_date: Option<UtcDateTime>,
    ) -> Result<Self, GrantError> {
        let bearer = BearerToken::new(grant.access_token)?;
        let offset = server_date
            .map(|date| date - received_at)
            .filter(|offset| offset.abs() > Duration::SECOND)
            .unwrap_or(Duration::ZERO);
        let issued_at = sent_at.min(received_at);
        let expires_at = resolve(
            grant.expires,
            issued_at,
            offset,
            Some(policy.default_lifetime),
            policy.max_lifetime,
        )
        .ok_or(Malformed::LifetimeOutOfRange)?
        .ok_or(Malformed::UnreadableExpiry)?;
        let refresh_expires_at = match grant.refresh_expires {
            None => None,
            Some(expiry) => resolve(expiry, issued_at, offset, None, MAX_LIFETIME)
                .ok_or(Malformed::LifetimeOutOfRange)?,
        };
        let (refresh_at, hard_expiry) =
            policy.moments(issued_at, expires_at, bearer.secret().as_bytes());
        Ok(TokenSet {
            bearer,
            generation: Generation::default(),
            refresh_token: grant
                .refresh_token
                .filter(|token| !token.secret().is_empty()),
            issued_at,
            expires_at,
            refresh_expires_at,
            scope: grant.scope.map(String::into_boxed_str),
            extra: grant.extra,
            refresh_at,
            hard_expiry,
            withdrawn: None,
            echoes: TokenEchoes::default(),
        })
    }

    /// The access token. Prefer the session's `access_token(now)`, which checks expiry.
    pub fn access_token(&self) -> &str {
        self.bearer.secret()
    }

    /// The access token with its ready-made `Authorization` header value, shared.
    pub fn bearer(&self) -> &BearerToken {
        &self.bearer
    }

    /// Which of the session's tokens this is.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Why the access token is no longer handed out, if it was withdrawn (rejected by a
    /// resource server, or past its hard expiry) before a replacement arrived.
    pub fn withdrawn(&self) -> Option<Withdrawal> {
        self.withdrawn
    }

    /// The refresh token, if any (it is gone once spent on a single-use refresh).
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// When the access token was issued (when its request was sent), local clock.
    pub fn issued_at(&self) -> UtcDateTime {
        self.issued_at
    }

    /// When the access token expires, local clock.
    pub fn expires_at(&self) -> UtcDateTime {
        self.expires_at
    }

    /// When the refresh token expires, if the server said.
    pub fn refresh_expires_at(&self) -> Option<UtcDateTime> {
        self.refresh_expires_at
    }

    /// When renewal starts.
    pub fn refresh_at(&self) -> UtcDateTime {
        self.refresh_at
    }

    /// The last moment the access token is handed out.
    pub fn hard_expiry(&self) -> UtcDateTime {
        self.hard_expiry
    }

    /// The granted scope, if stated.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The dialect's extra fields.
    pub fn extra(&self) -> &E {
        &self.extra
    }

    /// Whether the access token may be handed out at `now`.
    #[inline]
    pub fn is_usable(&self, now: UtcDateTime) -> bool {
        now < self.hard_expiry && self.withdrawn.is_none()
    }

    /// The access token as handed out at `now`, if it may be.
    #[inline]
    pub fn current(&self, now: UtcDateTime) -> Option<CurrentToken<'_>> {
        self.is_usable(now).then_some(CurrentToken {
            bearer: &self.bearer,
            generation: self.generation,
            valid_until: &self.hard_expiry,
        })
    }

    /// Whether the refresh token is still alive at `at` (unknown expiry counts as alive).
    pub(crate) fn refresh_token_alive(&self, at: UtcDateTime) -> bool {
        self.refresh_token.is_some() && self.refresh_expires_at.is_none_or(|expiry| at < expiry)
    }

    /// The access and refresh tokens with the forms a server may echo them in, built on
    /// first use.
    pub(crate) fn secrets(&mut self) -> &Secrets {
        let refresh = self.refresh_token.as_ref().map(|t| t.secret().as_str());
        let bearer = &self.bearer;
        self.echoes.0.get_or_insert_with(|| {
            Box::new(Secrets::new(
                std::iter::once(bearer.secret()).chain(refresh),
            ))
        })
    }

    /// Whether `text` (a granted scope) holds the access or the refresh token in any form
    /// a server may echo one in. A text shorter than both cannot, and builds no forms.
    pub(crate) fn is_echoed_in(&mut self, text: &str) -> bool {
        let refresh = self
            .refresh_token
            .as_ref()
            .map_or(usize::MAX, |t| t.secret().len());
        text.len() >= self.bearer.secret().len().min(refresh) && self.secrets().is_echoed_in(text)
    }

    /// Takes over `held`'s refresh token and its expiry (RFC 6749 §6: a refresh answered
    /// without a new one leaves the old one in use).
    pub(crate) fn keep_refresh_token(&mut self, held: &mut TokenSet<E>) {
        self.refresh_token = held.refresh_token.take();
        self.refresh_expires_at = held.refresh_expires_at;
        self.echoes = TokenEchoes::default();
        held.echoes = TokenEchoes::default();
    }

    /// Drops the refresh token and its expiry, wiping the secret, so it is never
    /// presented again. Whether there was one.
    pub(crate) fn forget_refresh_token(&mut self) -> bool {
        self.refresh_expires_at = None;
        self.echoes = TokenEchoes::default();
        let Some(mut token) = self.refresh_token.take() else {
            return false;
        };
        wipe_secret(
            &mut token,
            || RefreshToken::new(String::new()),
            RefreshToken::into_secret,
        );
        true
    }
}

/// Turns a stated expiry into a local moment, believing no lifetime longer than `max`
/// ("never expires" becomes `max`). `None` when already expired (a zero or negative
/// lifetime); `Some(None)` when unstated and no default applies.
fn resolve(
    expiry: Expiry,
    issued_at: UtcDateTime,
    offset: Duration,
    default: Option<Duration>,
    max: Duration,
) -> Option<Option<UtcDateTime>> {
    let lifetime = match expiry {
        Expiry::In(seconds) => Duration::seconds(seconds),
        // Saturating: a year-9999 date minus a negative offset is still "very late".
        Expiry::At(at) => at.saturating_sub(offset) - issued_at,
        Expiry::Unstated => match default {
            Some(lifetime) => lifetime,
            None => return Some(None),
        },
    };
    if !lifetime.is_positive() {
        return None;
    }
    Some(Some(issued_at.saturating_add(lifetime.min(max))))
}

/// The refresh token is wiped when the set is dropped; the access token wipes itself
/// when its last clone goes (see [`BearerToken`]).
impl<E> Drop for TokenSet<E> {
    fn drop(&mut self) {
        if let Some(token) = &mut self.refresh_token {
            wipe_secret(
                token,
                || RefreshToken::new(String::new()),
                RefreshToken::into_secret,
            );
        }
    }
}

impl<E: PartialEq> PartialEq for TokenSet<E> {
    fn eq(&self, other: &Self) -> bool {
        fn refresh<E>(set: &TokenSet<E>) -> Option<&str> {
            set.refresh_token.as_ref().map(|t| t.secret().as_str())
        }
        self.bearer == other.bearer
            && self.generation == other.generation
            && refresh(self) == refresh(other)
            && self.issued_at == other.issued_at
            && self.expires_at == other.expires_at
            && self.refresh_expires_at == other.refresh_expires_at
            && self.scope == other.scope
            && self.extra == other.extra
            && self.refresh_at == other.refresh_at
            && self.hard_expiry == other.hard_expiry
            && self.withdrawn == other.withdrawn
    }
}

impl<E: fmt::Debug> fmt::Debug for TokenSet<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &self.bearer)
            .field("generation", &self.generation)
            .field("refresh_token", &self.refresh_token)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("refresh_at", &self.refresh_at)
            .field("scope", &self.scope)
            .field("extra", &self.extra)
            .field("withdrawn", &self.withdrawn)
            .finish()
    }
}

/// Serde for secret strings: the value only reaches a serializer through an explicit
/// opt-in (a [`Snapshot`](crate::Snapshot) made with its secrets).
mod secret_string {
    use oauth2::AccessToken;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::bearer::BearerToken;

    pub(super) fn serialize<S: Serializer>(
        token: &BearerToken,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(token.secret())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BearerToken, D::Error> {
        let token = String::deserialize(deserializer)?;
        BearerToken::new(AccessToken::new(token)).map_err(serde::de::Error::custom)
    }
}

mod optional_secret_string {
    use oauth2::RefreshToken;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        token: &Option<RefreshToken>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match token {
            Some(token) => serializer.serialize_some(token.secret()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<RefreshToken>, D::Error> {
        Option::<String>::deserialize(deserializer).map(|token| token.map(RefreshToken::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::utc_datetime;

    const SENT: UtcDateTime = utc_datetime!(2026-04-01 12:00:00);

    fn grant(expires: Expiry) -> TokenGrant<()> {
        TokenGrant {
            access_token: AccessToken::new("at".into()),
            refresh_token: Some(RefreshToken::new("rt".into())),
            expires,
            refresh_expires: None,
            scope: None,
            extra: (),
        }
    }

    fn build(expires: Expiry, date: Option<UtcDateTime>) -> Result<TokenSet<()>, GrantError> {
        TokenSet::from_grant(
            grant(expires),
            &Policy::default(),
            SENT,
            SENT + Duration::SECOND,
            date,
        )
    }

    #[test]
    fn token_forms_are_built_once_and_only_for_a_text_that_could_hold_a_token() {
        let mut set = build(Expiry::In(3600), None).unwrap();
        // "at" and "rt": a one-letter text cannot hold either, and builds nothing.
        assert!(!set.is_echoed_in("a"));
        assert!(set.echoes.0.is_none());
        assert!(set.is_echoed_in("openid at profile"));
        let built: *const Secrets = &**set.echoes.0.as_ref().unwrap();
        assert!(set.is_echoed_in("cnQ="), "the refresh token in base64");
        assert!(
            std::ptr::eq(built, &**set.echoes.0.as_ref().unwrap()),
            "built once"
        );
        // A refresh token forgotten is no longer looked for.
        set.forget_refresh_token();
        assert!(!set.is_echoed_in("cnQ="));
    }

    #[test]
    fn relative_lifetime_counts_from_when_the_request_left() {
        let set = build(Expiry::In(3600), None).unwrap();
        assert_eq!(set.expires_at, SENT + Duration::hours(1));
        assert_eq!(
            set.hard_expiry,
            SENT + Duration::hours(1) - Duration::seconds(5)
        );
    }

    #[test]
    fn absolute_expiry_is_corrected_by_the_server_clock_offset() {
        let server_ahead = Some(SENT + Duration::SECOND + Duration::minutes(10));
        let expiry = Expiry::At(SENT + Duration::days(7) + Duration::minutes(10));
        let set = build(expiry, server_ahead).unwrap();
        assert_eq!(set.expires_at, SENT + Duration::days(7));
    }

    #[test]
    fn a_one_second_offset_is_within_date_resolution_and_ignored() {
        let set = build(Expiry::At(SENT + Duration::hours(1)), Some(SENT)).unwrap();
        assert_eq!(set.expires_at, SENT + Duration::hours(1));
    }

    #[test]
    fn missing_lifetime_uses_the_default() {
        let set = build(Expiry::Unstated, None).unwrap();
        assert_eq!(set.expires_at, SENT + Duration::hours(1));
    }

    #[test]
    fn expired_on_arrival_is_refused() {
        for expiry in [
            Expiry::In(0),
            Expiry::In(-5),
            Expiry::In(i64::MIN),
            Expiry::At(SENT - Duration::hours(1)),
            Expiry::At(UtcDateTime::MIN),
        ] {
            assert!(build(expiry, None).is_err(), "{expiry:?}");
        }
    }

    #[test]
    fn never_expiring_tokens_are_clamped_to_the_maximum_lifetime() {
        let max = SENT + Policy::default().max_lifetime;
        for expiry in [
            Expiry::In(2_147_483_647),
            Expiry::In(i64::MAX),
            Expiry::In(3654 * 86400),
            Expiry::At(UtcDateTime::MAX),
            Expiry::At(time::macros::utc_datetime!(9999-12-31 23:59:59)),
        ] {
            let set = build(expiry, None).unwrap_or_else(|e| panic!("{expiry:?}: {e:?}"));
            assert_eq!(set.expires_at, max, "{expiry:?}");
        }
    }

    #[test]
    fn debug_never_shows_tokens() {
        let set = build(Expiry::In(60), None).unwrap();
        let shown = format!("{set:?}");
        assert!(
            !shown.contains("\"at\"") && !shown.contains("\"rt\""),
            "{shown}"
        );
        assert!(shown.contains("redacted"));
    }
}
