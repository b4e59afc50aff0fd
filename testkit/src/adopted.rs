//! A session adopted from a refresh token obtained elsewhere (an authorization code
//! flow, a token minted by a server's test helper): how a test starts from a refresh
//! grant without a person's login.

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{AccessToken, AnySession, Dialect, Policy, RefreshToken, Session};

/// The session `dialect` adopts at `now` from `refresh_token`, with a placeholder access
/// token that expires within the minute, so the next renewal is a refresh.
#[track_caller]
pub fn adopted<D: Dialect<Extra = ()>>(
    dialect: D,
    policy: Policy,
    refresh_token: String,
    now: UtcDateTime,
) -> AnySession<D> {
    let grant = TokenGrant {
        access_token: AccessToken::new("obtained-elsewhere".into()),
        refresh_token: Some(RefreshToken::new(refresh_token)),
        expires: Expiry::In(60),
        refresh_expires: None,
        scope: None,
        extra: (),
    };
    let active = Session::new(dialect, policy)
        .expect("a valid configuration")
        .adopt(grant, now)
        .expect("the grant is adopted");
    active.into()
}
