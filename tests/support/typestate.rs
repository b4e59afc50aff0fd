//! Moves through the typestate API that several tests share.

use oauth_lifecycle::{Active, Dialect, Expiring, Session};
use time::UtcDateTime;

/// Makes renewal due at once, as a resource server's 401 about the current token does.
pub fn renewal_due<D: Dialect>(
    active: Session<Active, D>,
    now: UtcDateTime,
) -> Session<Expiring, D> {
    let generation = active.tokens().generation();
    active
        .on_unauthorized(generation, now)
        .into_next()
        .expect("a 401 about the current token makes renewal due")
}
