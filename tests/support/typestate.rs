//! Moves through the typestate API that several tests share.

use oauth_lifecycle::{Active, Dialect, Expiring, Session};
use time::UtcDateTime;

/// Makes renewal due by showing the session its refresh moment.
pub fn renewal_due<D: Dialect>(
    active: Session<Active, D>,
    now: UtcDateTime,
) -> Session<Expiring, D> {
    // At its refresh moment (or `now`, if later), so no wait is left before the renewal.
    let due = active.refresh_at().max(now);
    active
        .on_timeout(due)
        .into_next()
        .expect("renewal is due at the refresh moment")
}
