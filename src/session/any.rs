//! The runtime form of a session: one enum over every state.

use oauth2::AccessToken;
use time::UtcDateTime;

use super::{Active, Expiring, LoggingIn, Refreshing, Revoked, Revoking, Session, Unauthenticated};
use crate::dialect::Dialect;
use crate::io::{Purpose, RequestId};
use crate::token::TokenSet;

/// A session in any state, for storage, snapshots and adapters.
///
/// Converts from every `Session<S, D>` with `From`, and back with `TryFrom` (which gives
/// the session back unchanged when the state does not match).
#[derive(Debug)]
#[non_exhaustive]
pub enum AnySession<D: Dialect> {
    /// See [`Unauthenticated`].
    Unauthenticated(Session<Unauthenticated, D>),
    /// See [`LoggingIn`].
    LoggingIn(Session<LoggingIn, D>),
    /// See [`Active`].
    Active(Session<Active, D>),
    /// See [`Expiring`].
    Expiring(Session<Expiring, D>),
    /// See [`Refreshing`].
    Refreshing(Session<Refreshing, D>),
    /// See [`Revoking`].
    Revoking(Session<Revoking, D>),
    /// See [`Revoked`].
    Revoked(Session<Revoked, D>),
}

macro_rules! conversions {
    ($($state:ident),*) => {$(
        impl<D: Dialect> From<Session<$state, D>> for AnySession<D> {
            fn from(session: Session<$state, D>) -> Self {
                AnySession::$state(session)
            }
        }

        impl<D: Dialect> TryFrom<AnySession<D>> for Session<$state, D> {
            type Error = AnySession<D>;
            fn try_from(session: AnySession<D>) -> Result<Self, AnySession<D>> {
                match session {
                    AnySession::$state(session) => Ok(session),
                    other => Err(other),
                }
            }
        }
    )*};
}

conversions!(
    Unauthenticated,
    LoggingIn,
    Active,
    Expiring,
    Refreshing,
    Revoking,
    Revoked
);

impl<D: Dialect> AnySession<D> {
    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        match self {
            AnySession::Unauthenticated(s) => s.state_name(),
            AnySession::LoggingIn(s) => s.state_name(),
            AnySession::Active(s) => s.state_name(),
            AnySession::Expiring(s) => s.state_name(),
            AnySession::Refreshing(s) => s.state_name(),
            AnySession::Revoking(s) => s.state_name(),
            AnySession::Revoked(s) => s.state_name(),
        }
    }

    /// The access token, if one may be handed out at `now`. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<&AccessToken> {
        match self {
            AnySession::Active(s) => s.access_token(now),
            AnySession::Expiring(s) => s.access_token(now),
            AnySession::Refreshing(s) => s.access_token(now),
            _ => None,
        }
    }

    /// The token set, in the states that hold one.
    pub fn tokens(&self) -> Option<&TokenSet<D::Extra>> {
        match self {
            AnySession::Active(s) => Some(s.tokens()),
            AnySession::Expiring(s) => Some(s.tokens()),
            AnySession::Refreshing(s) => Some(s.tokens()),
            _ => None,
        }
    }

    /// The request in flight, if any, and why it was sent.
    pub fn in_flight(&self) -> Option<(RequestId, Purpose)> {
        let flight = match self {
            AnySession::LoggingIn(s) => &s.state.flight,
            AnySession::Refreshing(s) => &s.state.flight,
            AnySession::Revoking(s) => &s.state.flight,
            _ => return None,
        };
        Some((flight.id, flight.purpose))
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.core().shared.dialect
    }

    /// Whether the session is revoked (terminal).
    pub fn is_revoked(&self) -> bool {
        matches!(self, AnySession::Revoked(_))
    }

    pub(crate) fn core(&self) -> &super::Core<D> {
        match self {
            AnySession::Unauthenticated(s) => &s.core,
            AnySession::LoggingIn(s) => &s.core,
            AnySession::Active(s) => &s.core,
            AnySession::Expiring(s) => &s.core,
            AnySession::Refreshing(s) => &s.core,
            AnySession::Revoking(s) => &s.core,
            AnySession::Revoked(s) => &s.core,
        }
    }
}
