// Revoked is terminal: it cannot be revoked again.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Revoked, Session};
use time::macros::utc_datetime;

fn revoke_again(session: Session<Revoked, Standard>) {
    let _ = session.revoke(utc_datetime!(2026-01-01 00:00:00));
}

fn main() {}
