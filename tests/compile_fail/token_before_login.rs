// No token exists before a login.
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Session, Unauthenticated};
use time::macros::utc_datetime;

fn token(session: &Session<Unauthenticated, Standard>) {
    let _ = session.access_token(utc_datetime!(2026-01-01 00:00:00));
}

fn main() {}
