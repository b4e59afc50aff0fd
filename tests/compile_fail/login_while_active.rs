// An active session already has a token: login exists only on Unauthenticated.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Active, Session};
use time::macros::utc_datetime;

fn relogin(session: Session<Active, Standard>) {
    let _ = session.login(utc_datetime!(2026-01-01 00:00:00));
}

fn main() {}
